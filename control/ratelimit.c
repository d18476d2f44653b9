/*
 * Rate limits and bans in Redis; see ratelimit.h. Each operation is one
 * EVAL of a short Lua script, so it is atomic and costs one round trip.
 * Scripts read Redis' clock (TIME; allowed since Redis 5 with effect
 * replication, the default since 7), so every node shares one time line.
 * Sorted-set members are "<ms>-<random>" so that two hits in the same
 * millisecond both count.
 */
#include "control/ratelimit.h"
#include "common/hex.h"
#include "common/log.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* KEYS[1] window set; ARGV window_ms, limit, member suffix.
 * Returns {allowed 1|0, wait_ms}. */
static const char hit_script[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "local window = tonumber(ARGV[1]) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) "
    "if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then "
    "  redis.call('ZADD', KEYS[1], now, now .. '-' .. ARGV[3]) "
    "  redis.call('PEXPIRE', KEYS[1], window) "
    "  return {1, 0} "
    "end "
    "local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES') "
    "local wait = window "
    "if oldest[2] then wait = tonumber(oldest[2]) + window - now end "
    "return {0, wait}";

/* KEYS[1] failure set, KEYS[2] ban key; ARGV window_ms, max, ban_ms,
 * member suffix. Returns {banned 1|0, ban_ms}. */
static const char fail_script[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "local window = tonumber(ARGV[1]) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) "
    "redis.call('ZADD', KEYS[1], now, now .. '-' .. ARGV[4]) "
    "redis.call('PEXPIRE', KEYS[1], window) "
    "if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then "
    "  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) "
    "  redis.call('DEL', KEYS[1]) "
    "  return {1, tonumber(ARGV[3])} "
    "end "
    "return {0, 0}";

static int key_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '@' || c == ':' || c == '-';
}

int ctl_ratelimit_key(const char *prefix, const char *bucket, const char *key, char *out,
                      size_t cap)
{
    size_t bl = strlen(bucket), kl = strlen(key);
    if (bl == 0 || bl > 32)
        return -1;
    for (size_t i = 0; i < bl; i++)
        if (!key_char_ok((unsigned char)bucket[i]) || bucket[i] == ':')
            return -1;
    int plain = kl > 0 && kl <= 64;
    for (size_t i = 0; plain && i < kl; i++)
        plain = key_char_ok((unsigned char)key[i]);
    char hashed[2 * SHA256_DIGEST_LENGTH + 3];
    const char *k = key;
    if (!plain) {
        unsigned char d[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)key, kl, d);
        hashed[0] = '#';
        ml_hex_encode(d, sizeof d, hashed + 1);
        k = hashed;
    }
    int n = snprintf(out, cap, "%s:%s:%s", prefix, bucket, k);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static void member_suffix(char out[17])
{
    unsigned char r[8];
    if (RAND_bytes(r, sizeof r) != 1)
        memset(r, 0, sizeof r);
    ml_hex_encode(r, sizeof r, out);
}

/* Log Redis trouble at most every 10 s (a dead Redis would flood the log). */
static void warn_unavailable(const char *err)
{
    static atomic_llong last;
    long long now = (long long)time(NULL);
    long long prev = atomic_load(&last);
    if (now - prev >= 10 && atomic_compare_exchange_strong(&last, &prev, now))
        ML_WARN("ratelimit", "Redis unavailable: %s", err);
}

/* Run a script returning {int, int}. 0 with a and b, or -1. */
static int eval2(ctl_ctx *ctx, redisReply *rep, const char *err, long long *a, long long *b)
{
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
             rep->element[0]->type == REDIS_REPLY_INTEGER &&
             rep->element[1]->type == REDIS_REPLY_INTEGER;
    if (ok) {
        *a = rep->element[0]->integer;
        *b = rep->element[1]->integer;
    } else {
        warn_unavailable(rep ? "unexpected script reply" : err);
    }
    (void)ctx;
    if (rep)
        freeReplyObject(rep);
    return ok ? 0 : -1;
}

static int seconds_up(long long ms)
{
    long long s = (ms + 999) / 1000;
    return s < 1 ? 1 : s > 86400 * 30 ? 86400 * 30 : (int)s;
}

int ctl_ratelimit_hit(ctl_ctx *ctx, const char *bucket, const char *key, int limit, int window_s,
                      int *retry_after_s)
{
    char k[160], err[256] = "not configured", sfx[17], win[24], lim[16];
    if (retry_after_s)
        *retry_after_s = 0;
    if (ctl_ratelimit_key("rl", bucket, key, k, sizeof k) != 0 || limit < 1 || window_s < 1)
        return CTL_RL_UNAVAILABLE;
    if (!ctx->redis_ok)
        return CTL_RL_UNAVAILABLE;
    member_suffix(sfx);
    snprintf(win, sizeof win, "%lld", (long long)window_s * 1000);
    snprintf(lim, sizeof lim, "%d", limit);
    redisReply *rep = ctl_redis_command(&ctx->redis, err, sizeof err, "EVAL %s 1 %s %s %s %s",
                                        hit_script, k, win, lim, sfx);
    long long allowed, wait_ms;
    if (eval2(ctx, rep, err, &allowed, &wait_ms) != 0)
        return CTL_RL_UNAVAILABLE;
    if (allowed)
        return CTL_RL_ALLOWED;
    if (retry_after_s)
        *retry_after_s = seconds_up(wait_ms);
    return CTL_RL_LIMITED;
}

int ctl_ratelimit_fail(ctl_ctx *ctx, const char *bucket, const char *key, int max_failures,
                       int window_s, int ban_s, int *retry_after_s)
{
    char fk[160], bk[160], err[256] = "not configured", sfx[17], win[24], mx[16], ban[24];
    if (retry_after_s)
        *retry_after_s = 0;
    if (ctl_ratelimit_key("rf", bucket, key, fk, sizeof fk) != 0 ||
        ctl_ratelimit_key("rb", bucket, key, bk, sizeof bk) != 0 || max_failures < 1 ||
        window_s < 1 || ban_s < 1 || !ctx->redis_ok)
        return CTL_RL_UNAVAILABLE;
    member_suffix(sfx);
    snprintf(win, sizeof win, "%lld", (long long)window_s * 1000);
    snprintf(mx, sizeof mx, "%d", max_failures);
    snprintf(ban, sizeof ban, "%lld", (long long)ban_s * 1000);
    redisReply *rep = ctl_redis_command(&ctx->redis, err, sizeof err,
                                        "EVAL %s 2 %s %s %s %s %s %s", fail_script, fk, bk, win,
                                        mx, ban, sfx);
    long long banned, ban_ms;
    if (eval2(ctx, rep, err, &banned, &ban_ms) != 0)
        return CTL_RL_UNAVAILABLE;
    if (!banned)
        return CTL_RL_ALLOWED;
    if (retry_after_s)
        *retry_after_s = seconds_up(ban_ms);
    return CTL_RL_LIMITED;
}

int ctl_ratelimit_banned(ctl_ctx *ctx, const char *bucket, const char *key, int *retry_after_s)
{
    char bk[160], err[256] = "not configured";
    if (retry_after_s)
        *retry_after_s = 0;
    if (ctl_ratelimit_key("rb", bucket, key, bk, sizeof bk) != 0 || !ctx->redis_ok)
        return CTL_RL_UNAVAILABLE;
    redisReply *rep = ctl_redis_command(&ctx->redis, err, sizeof err, "PTTL %s", bk);
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        warn_unavailable(rep ? "unexpected PTTL reply" : err);
        if (rep)
            freeReplyObject(rep);
        return CTL_RL_UNAVAILABLE;
    }
    long long ms = rep->integer;
    freeReplyObject(rep);
    if (ms == -1) /* a ban without expiry cannot come from us; treat as 1 s */
        ms = 1000;
    if (ms <= 0)
        return CTL_RL_ALLOWED;
    if (retry_after_s)
        *retry_after_s = seconds_up(ms);
    return CTL_RL_LIMITED;
}

int ctl_ratelimit_reset(ctl_ctx *ctx, const char *bucket, const char *key, int lift_ban)
{
    char fk[160], bk[160], err[256] = "not configured";
    if (ctl_ratelimit_key("rf", bucket, key, fk, sizeof fk) != 0 ||
        ctl_ratelimit_key("rb", bucket, key, bk, sizeof bk) != 0 || !ctx->redis_ok)
        return CTL_RL_UNAVAILABLE;
    redisReply *rep = lift_ban ? ctl_redis_command(&ctx->redis, err, sizeof err, "DEL %s %s", fk, bk)
                               : ctl_redis_command(&ctx->redis, err, sizeof err, "DEL %s", fk);
    if (!rep) {
        warn_unavailable(err);
        return CTL_RL_UNAVAILABLE;
    }
    freeReplyObject(rep);
    return 0;
}

void ctl_ratelimit_problem(ctl_response *resp, const ctl_request *req, int retry_after_s)
{
    char detail[128], ra[16];
    int s = retry_after_s > 0 ? retry_after_s : 1;
    snprintf(detail, sizeof detail, "too many requests; try again in %d second%s", s,
             s == 1 ? "" : "s");
    ctl_response_problem(resp, 429, "rate-limited", "Too Many Requests", detail, req);
    snprintf(ra, sizeof ra, "%d", s);
    ctl_response_add_header(resp, "Retry-After", ra);
}

void ctl_ratelimit_unavailable_problem(ctl_response *resp, const ctl_request *req)
{
    ctl_response_problem(resp, 503, "rate-limiter-unavailable", "Service Unavailable",
                         "this action is temporarily unavailable; try again shortly", req);
    ctl_response_add_header(resp, "Retry-After", "5");
}

int ctl_ratelimit_check(ctl_ctx *ctx, const ctl_rate_policy *p, const char *key,
                        const ctl_request *req, ctl_response *resp)
{
    int ra = 0;
    int rc = ctl_ratelimit_banned(ctx, p->bucket, key, &ra);
    if (rc == CTL_RL_ALLOWED && p->limit > 0)
        rc = ctl_ratelimit_hit(ctx, p->bucket, key, p->limit, p->window_s, &ra);
    if (rc == CTL_RL_ALLOWED)
        return 0;
    if (rc == CTL_RL_LIMITED) {
        ctl_ratelimit_problem(resp, req, ra);
        return -1;
    }
    if (!p->fail_closed)
        return 0; /* fail open: Redis is down, let reads through */
    ctl_ratelimit_unavailable_problem(resp, req);
    return -1;
}
