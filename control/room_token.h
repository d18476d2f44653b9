/*
 * Room join tokens: short-lived JWTs (HS256) that let one account into one
 * session's media room with one role. The control plane signs them in
 * POST /api/v1/sessions/{id}/join (control/session_routes.c); the signaling
 * front door verifies them on the libwebsockets thread, so verification
 * never blocks: no database, no file, no lock — one HMAC over a key loaded
 * once at start-up (ctl_room_token_init) and never changed afterwards.
 *
 * Key: `room_token_secret` (config, >= 32 characters; set the same value on
 * every node of a cluster), else 32 random bytes kept in
 * data_dir/room_token.key (created 0600 on first start).
 *
 * Claims: aud "mentorlink-room", sid (session id), sub (user id), role
 * ("publish" | "subscribe"), iat, exp, jti. See docs/booking.md.
 */
#ifndef ML_CONTROL_ROOM_TOKEN_H
#define ML_CONTROL_ROOM_TOKEN_H

#include <stddef.h>

#include "common/config.h"

#define CTL_ROOM_TOKEN_MAX 768
#define CTL_ROOM_TOKEN_TTL_S 120

typedef enum { CTL_ROOM_SUBSCRIBE = 0, CTL_ROOM_PUBLISH = 1 } ctl_room_role;

typedef struct ctl_room_claims {
    long long session_id;
    long long user_id;
    ctl_room_role role;
    long long iat, exp; /* epoch seconds */
} ctl_room_claims;

/* Load the key (config secret or data_dir/room_token.key, created if
 * absent). Idempotent and thread-safe; call once at start-up before any
 * verification. 0, or -1 + err. */
int ctl_room_token_init(const ml_config *cfg, char *err, size_t errlen);
/* Use this key (>= 32 bytes) instead; for tests and tools. 0 or -1. */
int ctl_room_token_set_key(const unsigned char *key, size_t len);

/* Sign claims (iat and exp as given) into out. 0, or -1 when no key is
 * loaded or out is too small. */
int ctl_room_token_sign(const ctl_room_claims *c, char *out, size_t cap);

/* Verify a token: structure, alg HS256 only, constant-time HMAC, aud,
 * claim types, not expired (5 s leeway) and not issued in the future.
 * If out->session_id is non-zero on entry, the token must be for that
 * session (a token for another room is refused). Non-blocking; safe on any
 * thread. 0 and *out filled, or -1 + a one-line reason in err. */
int ctl_room_token_verify(const char *token, ctl_room_claims *out, char *err, size_t errlen);

#endif
