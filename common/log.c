/*
 * Logging. Each line is formatted into a stack buffer and written with a
 * single write(2), so lines from different threads never interleave. JSON
 * mode escapes the message so that every line is one valid JSON object.
 */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static ml_log_level min_level = ML_LOG_INFO;
static int json_mode;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int ml_log_level_parse(const char *s, ml_log_level *out)
{
    for (int i = 0; i <= ML_LOG_OFF; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (ml_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = ML_LOG_WARN;
        return 0;
    }
    return -1;
}

void ml_log_setup(ml_log_level level, int json)
{
    min_level = level;
    json_mode = json;
}

int ml_log_enabled(ml_log_level level)
{
    return level >= min_level && level < ML_LOG_OFF;
}

/* Append `s` JSON-escaped to buf at *pos (bounded). */
static void json_escape(char *buf, size_t cap, size_t *pos, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p && *pos + 7 < cap; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)c;
        } else if (c == '\n') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = 'n';
        } else if (c < 0x20) {
            *pos += (size_t)snprintf(buf + *pos, cap - *pos, "\\u%04x", c);
        } else {
            buf[(*pos)++] = (char)c;
        }
    }
}

void ml_logv(ml_log_level level, const char *component, const char *fmt, va_list ap)
{
    if (!ml_log_enabled(level))
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[80];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(tv.tv_usec / 1000));

    char line[16384];
    size_t pos = 0;
    if (json_mode) {
        pos += (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"comp\":\"",
                                ts, level_names[level]);
        json_escape(line, sizeof line, &pos, component);
        pos += (size_t)snprintf(line + pos, sizeof line - pos, "\",\"msg\":\"");
        json_escape(line, sizeof line, &pos, msg);
        pos += (size_t)snprintf(line + pos, sizeof line - pos, "\"}\n");
    } else {
        pos = (size_t)snprintf(line, sizeof line, "%s %-5s [%s] %s\n", ts, level_names[level],
                               component, msg);
    }
    if (pos >= sizeof line)
        pos = sizeof line - 1; /* cannot happen: msg is bounded at 2 KiB, escaped at most 6x */
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}

void ml_log(ml_log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ml_logv(level, component, fmt, ap);
    va_end(ap);
}
