/*
 * MentorLink access tokens: compact JWS (RFC 7515) JWTs (RFC 7519) signed
 * with HS256 under a key named by `kid`. Signing and verification are pure
 * functions over an in-memory key set (auth_keys.c loads it from the
 * database), so unit tests and the fuzzer drive them with hand-made tokens.
 *
 * Verification never trusts the token's header: the algorithm is pinned to
 * HS256 (anything else, "none" included, is refused before any key is
 * touched), the key is looked up by kid and always passed to libjwt, the
 * MAC is also compared in constant time here, and exp/nbf/iat/iss/aud are
 * checked by this code with a small leeway (libjwt 1.10 checks none).
 */
#ifndef ML_CONTROL_AUTH_JWT_H
#define ML_CONTROL_AUTH_JWT_H

#include <jansson.h>
#include <stddef.h>

#define CTL_JWT_MAX_KEYS 8
#define CTL_JWT_SECRET_LEN 32
#define CTL_JWT_MAX_TOKEN 4096

typedef struct ctl_jwt_key {
    char kid[65];
    unsigned char secret[CTL_JWT_SECRET_LEN];
} ctl_jwt_key;

/* keys[0] signs; every key verifies. */
typedef struct ctl_jwt_keyset {
    ctl_jwt_key keys[CTL_JWT_MAX_KEYS];
    int n;
} ctl_jwt_keyset;

/* What a valid token must say. */
typedef struct ctl_jwt_expect {
    const char *iss;
    const char *aud;
    long long now;  /* seconds since the epoch */
    int leeway_s;   /* clock skew allowed on exp/nbf/iat */
    int max_ttl_s;  /* exp - iat may not exceed this */
} ctl_jwt_expect;

typedef struct ctl_jwt_claims {
    long long sub; /* user id */
    char role[16];
    char jti[48];
    char kid[65];
    long long iat, nbf, exp;
} ctl_jwt_claims;

/* Verification outcomes (negative). */
enum {
    CTL_JWT_MALFORMED = -1,   /* not a well-formed compact JWS / claims set */
    CTL_JWT_BAD_ALG = -2,     /* header alg is not HS256 */
    CTL_JWT_UNKNOWN_KID = -3, /* no key with that kid (caller may reload keys) */
    CTL_JWT_BAD_SIG = -4,
    CTL_JWT_EXPIRED = -5,
    CTL_JWT_NOT_YET = -6, /* nbf or iat in the future */
    CTL_JWT_BAD_CLAIM = -7, /* iss, aud, sub, role or lifetime wrong */
};

/* A decoded compact JWS: header and payload objects plus the signature.
 * Only the structure is checked (three base64url parts, two JSON objects
 * without duplicate keys); nothing is verified. */
typedef struct ctl_jose {
    json_t *header;
    json_t *payload;
    unsigned char sig[1024];
    size_t sig_len;
    size_t signed_len; /* bytes of "header.payload" at the start of the token */
} ctl_jose;

/* Parse a compact JWS of at most CTL_JWT_MAX_TOKEN bytes. 0 or -1; on 0
 * the caller frees with ctl_jose_free. */
int ctl_jose_parse(const char *token, ctl_jose *out);
void ctl_jose_free(ctl_jose *j);

/* Sign an access token with ks->keys[0]. out gets the token (NUL-terminated)
 * and jti_out (if given, >= 48 bytes) its id. 0 or -1. */
int ctl_jwt_sign(const ctl_jwt_keyset *ks, const char *iss, const char *aud, long long user_id,
                 const char *role, long long now, int ttl_s, char *out, size_t cap, char *jti_out);
/* Verify an access token; 0 and *out filled, or one of CTL_JWT_* above. */
int ctl_jwt_verify(const char *token, const ctl_jwt_keyset *ks, const ctl_jwt_expect *ex,
                   ctl_jwt_claims *out);
/* A short English reason for a CTL_JWT_* code (for problem details). */
const char *ctl_jwt_strerror(int code);

#endif
