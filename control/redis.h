/*
 * Blocking Redis helpers for control-plane threads. URLs:
 * redis://[:password@]host[:port][/db] or unix:///path/to/socket[?db=N].
 * A ctl_redis reconnects on its next use after a failure.
 */
#ifndef ML_CONTROL_REDIS_H
#define ML_CONTROL_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct ctl_redis_target {
    int is_unix;
    char host[256];
    int port;
    char path[512];
    char password[256];
    int db;
} ctl_redis_target;

/* Parse a Redis URL. 0 or -1 + err. */
int ctl_redis_parse_url(const char *url, ctl_redis_target *t, char *err, size_t errlen);

typedef struct ctl_redis {
    redisContext *ctx;
    ctl_redis_target target;
    int timeout_ms;
} ctl_redis;

int ctl_redis_init(ctl_redis *r, const char *url, int timeout_ms, char *err, size_t errlen);
/* Connect if needed. 0 or -1 + err. */
int ctl_redis_ensure(ctl_redis *r, char *err, size_t errlen);
/* PING, reconnecting first if needed. */
int ctl_redis_ping(ctl_redis *r, char *err, size_t errlen);
/* Run a command (printf-style like redisCommand); NULL + err on failure.
 * The caller frees the reply with freeReplyObject. */
redisReply *ctl_redis_command(ctl_redis *r, char *err, size_t errlen, const char *fmt, ...);
void ctl_redis_close(ctl_redis *r);

#endif
