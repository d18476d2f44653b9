/*
 * Process-wide logging: levels, text or JSON lines on stderr, safe from any
 * thread (one write(2) per line). Wire-format code never logs; it returns
 * errors and the caller counts them.
 */
#ifndef ML_COMMON_LOG_H
#define ML_COMMON_LOG_H

#include <stdarg.h>

typedef enum { ML_LOG_DEBUG = 0, ML_LOG_INFO, ML_LOG_WARN, ML_LOG_ERROR, ML_LOG_OFF } ml_log_level;

/* Parse "debug|info|warn|error|off"; returns -1 when unknown. */
int ml_log_level_parse(const char *s, ml_log_level *out);
/* Set the minimum level and the format ("text" or "json"). */
void ml_log_setup(ml_log_level level, int json);
int ml_log_enabled(ml_log_level level);
/* Log one line. `component` is a short subsystem name ("http", "ice", ...). */
void ml_log(ml_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ml_logv(ml_log_level level, const char *component, const char *fmt, va_list ap);

#define ML_DEBUG(comp, ...)                                                                        \
    do {                                                                                           \
        if (ml_log_enabled(ML_LOG_DEBUG))                                                          \
            ml_log(ML_LOG_DEBUG, comp, __VA_ARGS__);                                               \
    } while (0)
#define ML_INFO(comp, ...) ml_log(ML_LOG_INFO, comp, __VA_ARGS__)
#define ML_WARN(comp, ...) ml_log(ML_LOG_WARN, comp, __VA_ARGS__)
#define ML_ERROR(comp, ...) ml_log(ML_LOG_ERROR, comp, __VA_ARGS__)

#endif
