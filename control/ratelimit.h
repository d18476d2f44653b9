/*
 * Rate limits and temporary bans, kept in Redis (what may be lost: a
 * restarted Redis forgets counters, which only lets a few extra requests
 * through).
 *
 * Limits are sliding windows: each allowed hit is a member of a sorted set
 * scored by Redis' own clock (TIME, so nodes with skewed clocks agree), and
 * one Lua script trims the window, counts, and adds atomically. Refused
 * hits are not recorded, so a client that keeps hammering does not extend
 * its own wait. Retry-After is when the oldest hit leaves the window.
 *
 * Bans: ctl_ratelimit_fail() records a failure (a wrong password, a wrong
 * OTP, an invalid submission); after `max_failures` within the window the
 * key is banned for `ban_s` seconds and its failures are cleared.
 *
 * Keys are "rl:<bucket>:<key>" (limits), "rf:<bucket>:<key>" (failures) and
 * "rb:<bucket>:<key>" (bans); keys longer than 64 bytes or with characters
 * outside [A-Za-z0-9._@:-] are replaced by their SHA-256 in hex. Use one
 * bucket per policy and purpose, e.g. bucket "login-ip" with the remote
 * address, "login-account" with the lower-cased email.
 *
 * Redis outages: every call returns CTL_RL_UNAVAILABLE when Redis cannot be
 * reached. ctl_ratelimit_check() turns that into a 503 problem for a
 * fail-closed policy (login, OTP, anything that guards secrets or costs
 * money) or lets the request through for a fail-open one (reads). See
 * docs/operations.md, "Rate limits and Redis outages".
 */
#ifndef ML_CONTROL_RATELIMIT_H
#define ML_CONTROL_RATELIMIT_H

#include <stddef.h>

#include "control/api.h"

#define CTL_RL_ALLOWED 0
#define CTL_RL_LIMITED 1      /* over the limit, or banned */
#define CTL_RL_UNAVAILABLE (-1) /* Redis unreachable or misbehaving */

/* Count one hit against `limit` per `window_s` seconds. CTL_RL_ALLOWED,
 * CTL_RL_LIMITED (with *retry_after_s >= 1), or CTL_RL_UNAVAILABLE.
 * retry_after_s may be NULL. */
int ctl_ratelimit_hit(ctl_ctx *ctx, const char *bucket, const char *key, int limit, int window_s,
                      int *retry_after_s);

/* Record one failure; after max_failures within window_s the key is banned
 * for ban_s. CTL_RL_LIMITED when this failure started a ban (retry_after_s
 * set), CTL_RL_ALLOWED when not (yet), CTL_RL_UNAVAILABLE. */
int ctl_ratelimit_fail(ctl_ctx *ctx, const char *bucket, const char *key, int max_failures,
                       int window_s, int ban_s, int *retry_after_s);

/* Is the key banned? CTL_RL_LIMITED (retry_after_s = seconds left),
 * CTL_RL_ALLOWED, or CTL_RL_UNAVAILABLE. */
int ctl_ratelimit_banned(ctl_ctx *ctx, const char *bucket, const char *key, int *retry_after_s);

/* Forget failures (after a success) and, with lift_ban, a ban too.
 * 0 or CTL_RL_UNAVAILABLE. */
int ctl_ratelimit_reset(ctl_ctx *ctx, const char *bucket, const char *key, int lift_ban);

/* A policy for ctl_ratelimit_check(). */
typedef struct ctl_rate_policy {
    const char *bucket;
    int limit;       /* hits per window; 0 = no limit, only the ban check */
    int window_s;
    int fail_closed; /* Redis down: 1 = answer 503, 0 = let the request through */
} ctl_rate_policy;

/* Check a ban on (bucket, key), then count a hit. 0: go on. -1: resp holds
 * a 429 problem with Retry-After, or (fail-closed policy, Redis down) a 503
 * problem with Retry-After. */
int ctl_ratelimit_check(ctl_ctx *ctx, const ctl_rate_policy *p, const char *key,
                        const ctl_request *req, ctl_response *resp);

/* Fill resp with 429 Too Many Requests and a Retry-After header. */
void ctl_ratelimit_problem(ctl_response *resp, const ctl_request *req, int retry_after_s);
/* Fill resp with 503 (rate limiter unavailable) and Retry-After. */
void ctl_ratelimit_unavailable_problem(ctl_response *resp, const ctl_request *req);

/* The Redis key for (prefix, bucket, key), hashed when needed (pure;
 * exposed for tests). 0, or -1 when it does not fit. */
int ctl_ratelimit_key(const char *prefix, const char *bucket, const char *key, char *out,
                      size_t cap);

#endif
