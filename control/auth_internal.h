/*
 * Internals shared by the auth_*.c files (accounts and access): small
 * PostgreSQL helpers, request helpers (cookies, origins) and the pieces one
 * file implements for another. Nothing here is used outside control/auth*.
 */
#ifndef ML_CONTROL_AUTH_INTERNAL_H
#define ML_CONTROL_AUTH_INTERNAL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "common/config.h"
#include "control/api.h"
#include "control/auth_jwt.h"

#define AUTH_COOKIE_REFRESH "ml_refresh"
#define AUTH_COOKIE_CSRF "ml_csrf"
#define AUTH_AUDIENCE "mentorlink-api"
#define AUTH_LEEWAY_S 30
#define AUTH_TOKEN_TEXT 64 /* room for a base64url 32-byte token + NUL */

/* ---- auth_util.c ---- */

/* The thread's database connection, connecting if needed; NULL with a 503
 * problem in resp when the database is unreachable. */
PGconn *auth__db(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp);
/* Run a statement; the result when its status is `want`, else NULL (the
 * error is logged). The caller PQclear()s a non-NULL result. */
PGresult *auth__exec(PGconn *c, const char *sql, int n, const char *const *params,
                     ExecStatusType want);
/* BEGIN / COMMIT (0 or -1) and ROLLBACK (best effort). */
/* Per-minute rate limit for auth routes; fail-closed (503) when Redis is
 * down. 0 = allowed, else resp holds the 429/503 problem. */
int auth__limit(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, const char *bucket,
                const char *key, int per_minute);
int auth__begin(PGconn *c);
int auth__commit(PGconn *c);
void auth__rollback(PGconn *c);
/* The origin (scheme://host[:port]) of public_url, or of listen_host:port. */
void auth__public_origin(const ml_config *cfg, char *out, size_t cap);
/* 1 when the request's Origin header is the public origin or one of
 * allowed_origins. */
int auth__origin_allowed(const ml_config *cfg, const ctl_request *req);
/* A cookie value from the Cookie header: 1 found, 0 absent. */
int auth__cookie(const ctl_request *req, const char *name, char *out, size_t cap);
/* Random bytes as base64url text (n bytes, out >= AUTH_TOKEN_TEXT). 0/-1. */
int auth__random_token(size_t n, char *out, size_t cap);
/* SHA-256 of text as 64 hex digits (for bytea via decode(..., 'hex')). */
void auth__sha256_hex(const char *text, char out[65]);
/* 500 problem for unexpected storage failures. */
void auth__internal_error(ctl_response *resp, const ctl_request *req);

/* ---- auth_keys.c ---- */

/* The signing/verification keys, cached per thread for a minute and loaded
 * (created or rotated when due) from the database. force asks for a reload
 * now (an unknown kid), at most once per few seconds. NULL on failure. */
const ctl_jwt_keyset *auth__keys(ctl_ctx *ctx, int force);

/* ---- auth_password.c ---- */

#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 256
#define AUTH_HASH_MAX 192
/* Argon2id-hash a password into an encoded string. 0/-1. */
int auth__password_hash(const ml_config *cfg, const char *pw, char *out, size_t cap);
/* 1 when pw matches the encoded hash, 0 otherwise (also for a NULL or bad
 * hash, after spending the same work on a dummy hash). */
int auth__password_check(const ml_config *cfg, const char *encoded, const char *pw);

/* ---- auth_otp.c ---- */

#define AUTH_OTP_TTL_S 300
#define AUTH_OTP_MAX_ATTEMPTS 5
/* Make a new 6-digit code for user_id (replacing any other), store its hash,
 * and queue the email, all in the caller's transaction. 0/-1. */
int auth__otp_issue(PGconn *c, const ml_config *cfg, long long user_id, const char *email,
                    const char *name);
/* Check a code in the caller's transaction: 0 match (code deleted), 1 wrong
 * (attempt counted), 2 none, expired or attempts exhausted, -1 error. */
int auth__otp_check(PGconn *c, long long user_id, const char *code);

/* ---- auth_refresh.c ---- */

typedef struct auth_session {
    long long user_id;
    long long family_id;
    char refresh[AUTH_TOKEN_TEXT];
    char csrf[AUTH_TOKEN_TEXT];
} auth_session;

/* Start a new family for user_id with a first refresh token and a CSRF
 * token, in the caller's transaction. 0/-1. */
int auth__family_create(PGconn *c, const ml_config *cfg, long long user_id, auth_session *s);

/* Rotation results. */
enum {
    AUTH_REFRESH_OK = 0,
    AUTH_REFRESH_INVALID = 1, /* unknown, expired, revoked family or disabled user */
    AUTH_REFRESH_REUSED = 2,  /* a spent token: the family was revoked */
    AUTH_REFRESH_CSRF = 3,    /* CSRF token does not match the family */
};
/* Rotate `token` in its own transaction: on OK, s holds the new refresh
 * token and the family's user. -1 on storage failure. */
int auth__refresh_rotate(PGconn *c, const ml_config *cfg, const ctl_request *req,
                         const char *token, const char *csrf, auth_session *s);
/* Revoke the family of `token` (logout) after checking csrf, in its own
 * transaction: AUTH_REFRESH_OK/INVALID/CSRF or -1. *user_id set on OK. */
int auth__refresh_logout(PGconn *c, const ctl_request *req, const char *token, const char *csrf,
                         long long *user_id);
/* End every session of a user in the caller's transaction: revoke all live
 * families (with an audit entry when any was live) and refuse access tokens
 * issued before this second. Returns how many families, or -1. */
int auth__refresh_revoke_user(PGconn *c, const ctl_request *req, long long user_id,
                              const char *reason);
/* Audit entry in the caller's transaction: actor from req (or actor_id when
 * req has no principal), target a user; steals details (may be NULL). 0/-1. */
int auth__audit(PGconn *c, const ctl_request *req, long long actor_id, const char *actor_role,
                const char *action, long long target_user, json_t *details);

/* ---- auth_session.c ---- */

/* Columns for auth__user_json, in this order. */
#define AUTH_USER_COLS                                                                             \
    "id, email, name, role, status, disabled, password_hash IS NOT NULL, "                         \
    "google_sub IS NOT NULL, to_char(created_at AT TIME ZONE 'UTC', "                              \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* One row selected with AUTH_USER_COLS as a JSON object (new reference). */
json_t *auth__user_json(PGresult *r, int row);
/* Sign-in bookkeeping in the caller's transaction: promote the bootstrap
 * admin when due (role updated in place), start a refresh family, and audit
 * the sign-in with `method`. 0/-1. */
int auth__session_begin(ctl_ctx *ctx, PGconn *c, const ctl_request *req, long long user_id,
                        const char *email, char *role, size_t role_cap, const char *method,
                        auth_session *s);
/* After COMMIT: answer `status` with {access_token, token_type, expires_in,
 * csrf_token, user} (user is stolen) and set the refresh and CSRF cookies. */
void auth__session_respond(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, int status,
                           const auth_session *s, const char *role, json_t *user);
/* Set both cookies to expire now. */
void auth__clear_cookies(ctl_response *resp);
/* SELECT AUTH_USER_COLS for one user (NULL when missing or on error). */
json_t *auth__load_user_json(PGconn *c, long long user_id);

/* ---- auth_jwks.c ---- */

enum {
    AUTH_JWKS_OK = 0,
    AUTH_JWKS_BAD = 1,        /* signature invalid, alg not RS256, key unusable */
    AUTH_JWKS_UNKNOWN_KID = 2, /* not in the key set, even after a refetch */
    AUTH_JWKS_UNAVAILABLE = -1, /* the key set could not be fetched */
};
/* Verify an RS256 compact JWS against the key set at `url` (cached for an
 * hour, refetched for an unknown kid at most once a minute). The header
 * must say alg RS256 with a kid. */
int auth__jwks_verify(const char *url, const ctl_jose *j, const char *token);
/* Forget the cached key set (tests, URL changes). */
void auth__jwks_reset(void);

/* ---- auth.c ---- */

/* Issue an access token for user_id/role; out >= CTL_JWT_MAX_TOKEN. 0/-1. */
int auth__issue_access(ctl_ctx *ctx, long long user_id, const char *role, char *out, size_t cap);

#endif
