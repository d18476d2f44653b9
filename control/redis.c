/* Redis helpers; see redis.h. */
#include "control/redis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_redis_parse_url(const char *url, ctl_redis_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->port = 6379;
    if (strncmp(url, "unix://", 7) == 0) {
        t->is_unix = 1;
        const char *p = url + 7;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || n >= sizeof t->path || p[0] != '/') {
            snprintf(err, errlen, "bad Redis URL \"%s\": expected unix:///absolute/path", url);
            return -1;
        }
        memcpy(t->path, p, n);
        t->path[n] = '\0';
        if (q && strncmp(q, "?db=", 4) == 0)
            t->db = atoi(q + 4);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "bad Redis URL \"%s\": expected redis:// or unix://", url);
        return -1;
    }
    const char *p = url + 8;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof t->password) {
            snprintf(err, errlen, "bad Redis URL: password too long");
            return -1;
        }
        memcpy(t->password, pw, n);
        t->password[n] = '\0';
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    const char *hostend = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(hostend - p));
    const char *he = colon ? colon : hostend;
    size_t hn = (size_t)(he - p);
    if (hn == 0 || hn >= sizeof t->host) {
        snprintf(err, errlen, "bad Redis URL \"%s\": missing host", url);
        return -1;
    }
    memcpy(t->host, p, hn);
    t->host[hn] = '\0';
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != hostend || port < 1 || port > 65535) {
            snprintf(err, errlen, "bad Redis URL \"%s\": bad port", url);
            return -1;
        }
        t->port = (int)port;
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000) {
            snprintf(err, errlen, "bad Redis URL \"%s\": bad database number", url);
            return -1;
        }
        t->db = (int)db;
    }
    return 0;
}

int ctl_redis_init(ctl_redis *r, const char *url, int timeout_ms, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    return ctl_redis_parse_url(url, &r->target, err, errlen);
}

static void drop(ctl_redis *r)
{
    if (r->ctx)
        redisFree(r->ctx);
    r->ctx = NULL;
}

int ctl_redis_ensure(ctl_redis *r, char *err, size_t errlen)
{
    if (r->ctx && r->ctx->err == 0)
        return 0;
    drop(r);
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    redisContext *c = r->target.is_unix ? redisConnectUnixWithTimeout(r->target.path, tv)
                                        : redisConnectWithTimeout(r->target.host, r->target.port, tv);
    if (!c) {
        snprintf(err, errlen, "cannot connect to Redis: out of memory");
        return -1;
    }
    if (c->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s: %s",
                 r->target.is_unix ? r->target.path : r->target.host, c->errstr);
        redisFree(c);
        return -1;
    }
    redisSetTimeout(c, tv);
    r->ctx = c;
    if (r->target.password[0]) {
        redisReply *rep = redisCommand(c, "AUTH %s", r->target.password);
        int bad = !rep || rep->type == REDIS_REPLY_ERROR;
        if (rep)
            freeReplyObject(rep);
        if (bad) {
            snprintf(err, errlen, "Redis AUTH failed");
            drop(r);
            return -1;
        }
    }
    if (r->target.db) {
        redisReply *rep = redisCommand(c, "SELECT %d", r->target.db);
        int bad = !rep || rep->type == REDIS_REPLY_ERROR;
        if (rep)
            freeReplyObject(rep);
        if (bad) {
            snprintf(err, errlen, "Redis SELECT %d failed", r->target.db);
            drop(r);
            return -1;
        }
    }
    return 0;
}

redisReply *ctl_redis_command(ctl_redis *r, char *err, size_t errlen, const char *fmt, ...)
{
    if (ctl_redis_ensure(r, err, errlen) != 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->ctx, fmt, ap);
    va_end(ap);
    if (!rep) {
        snprintf(err, errlen, "Redis error: %s", r->ctx->errstr[0] ? r->ctx->errstr : "no reply");
        drop(r);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis error: %s", rep->str ? rep->str : "");
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

int ctl_redis_ping(ctl_redis *r, char *err, size_t errlen)
{
    redisReply *rep = ctl_redis_command(r, err, errlen, "PING");
    if (!rep && !r->ctx)
        rep = ctl_redis_command(r, err, errlen, "PING"); /* one fresh retry */
    if (!rep)
        return -1;
    freeReplyObject(rep);
    return 0;
}

void ctl_redis_close(ctl_redis *r)
{
    drop(r);
}
