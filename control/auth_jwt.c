/*
 * Access-token signing and verification; see auth_jwt.h for the rules.
 * libjwt 1.10 builds and checks the JWS, but it is never the only guard:
 * the header is parsed and judged here first (alg pinned to HS256, known
 * kid, no other header fields), the HMAC is recomputed and compared in
 * constant time, and every claim is read from our own strict parse of the
 * payload (exact types, no duplicate keys).
 */
#include "control/auth_jwt.h"

#include "control/b64url.h"

#include <errno.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_PART_MAX 3072

static json_t *decode_object(const char *p, size_t n)
{
    unsigned char buf[JSON_PART_MAX];
    int len = ctl_b64url_decode(p, n, buf, sizeof buf);
    if (len <= 0)
        return NULL;
    json_error_t jerr;
    json_t *o = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (o && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int ctl_jose_parse(const char *token, ctl_jose *out)
{
    memset(out, 0, sizeof *out);
    size_t len = strnlen(token, CTL_JWT_MAX_TOKEN + 1);
    if (len == 0 || len > CTL_JWT_MAX_TOKEN)
        return -1;
    const char *d1 = memchr(token, '.', len);
    if (!d1)
        return -1;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return -1;
    out->header = decode_object(token, (size_t)(d1 - token));
    out->payload = decode_object(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!out->header || !out->payload)
        goto fail;
    size_t slen = len - (size_t)(d2 + 1 - token);
    int n = ctl_b64url_decode(d2 + 1, slen, out->sig, sizeof out->sig);
    if (n < 0)
        goto fail;
    out->sig_len = (size_t)n;
    out->signed_len = (size_t)(d2 - token);
    return 0;
fail:
    ctl_jose_free(out);
    return -1;
}

void ctl_jose_free(ctl_jose *j)
{
    json_decref(j->header);
    json_decref(j->payload);
    j->header = j->payload = NULL;
}

int ctl_jwt_sign(const ctl_jwt_keyset *ks, const char *iss, const char *aud, long long user_id,
                 const char *role, long long now, int ttl_s, char *out, size_t cap, char *jti_out)
{
    jwt_t *jwt = NULL;
    char *text = NULL;
    unsigned char rnd[16];
    char jti[48], sub[24];
    if (ks->n < 1 || RAND_bytes(rnd, sizeof rnd) != 1)
        return -1;
    ctl_b64url_encode(rnd, sizeof rnd, jti, sizeof jti);
    snprintf(sub, sizeof sub, "%lld", user_id);
    if (jwt_new(&jwt) != 0)
        return -1;
    if (jwt_set_alg(jwt, JWT_ALG_HS256, ks->keys[0].secret, CTL_JWT_SECRET_LEN) != 0 ||
        jwt_add_header(jwt, "kid", ks->keys[0].kid) != 0 || jwt_add_grant(jwt, "iss", iss) != 0 ||
        jwt_add_grant(jwt, "aud", aud) != 0 || jwt_add_grant(jwt, "sub", sub) != 0 ||
        jwt_add_grant(jwt, "role", role) != 0 || jwt_add_grant(jwt, "jti", jti) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "nbf", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)(now + ttl_s)) != 0)
        goto fail;
    text = jwt_encode_str(jwt);
    if (!text || strlen(text) + 1 > cap)
        goto fail;
    memcpy(out, text, strlen(text) + 1);
    if (jti_out)
        memcpy(jti_out, jti, strlen(jti) + 1);
    free(text);
    jwt_free(jwt);
    return 0;
fail:
    free(text);
    jwt_free(jwt);
    return -1;
}

/* The header may carry alg, kid and typ, nothing else (no jku/jwk/x5u/crit
 * that could redirect key selection). */
static int check_header(json_t *h, const char **kid)
{
    const char *key;
    json_t *v;
    *kid = NULL;
    json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        return CTL_JWT_BAD_ALG;
    json_object_foreach(h, key, v) {
        if (!strcmp(key, "alg"))
            continue;
        if (!strcmp(key, "typ") && json_is_string(v) && !strcmp(json_string_value(v), "JWT"))
            continue;
        if (!strcmp(key, "kid") && json_is_string(v) && json_string_length(v) > 0 &&
            json_string_length(v) < 65) {
            *kid = json_string_value(v);
            continue;
        }
        return CTL_JWT_MALFORMED;
    }
    return *kid ? 0 : CTL_JWT_MALFORMED;
}

static int get_int(json_t *o, const char *name, long long *v)
{
    json_t *j = json_object_get(o, name);
    if (!json_is_integer(j))
        return -1;
    *v = json_integer_value(j);
    return 0;
}

static int get_str(json_t *o, const char *name, char *out, size_t cap)
{
    json_t *j = json_object_get(o, name);
    if (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) >= cap)
        return -1;
    memcpy(out, json_string_value(j), json_string_length(j) + 1);
    return 0;
}

static int check_claims(json_t *p, const ctl_jwt_expect *ex, ctl_jwt_claims *c)
{
    char iss[256], aud[256], sub[24];
    if (get_str(p, "iss", iss, sizeof iss) || get_str(p, "aud", aud, sizeof aud) ||
        get_str(p, "sub", sub, sizeof sub) || get_str(p, "role", c->role, sizeof c->role) ||
        get_str(p, "jti", c->jti, sizeof c->jti) || get_int(p, "iat", &c->iat) ||
        get_int(p, "nbf", &c->nbf) || get_int(p, "exp", &c->exp))
        return CTL_JWT_MALFORMED;
    if (strcmp(iss, ex->iss) != 0 || strcmp(aud, ex->aud) != 0)
        return CTL_JWT_BAD_CLAIM;
    char *end;
    errno = 0;
    long long id = strtoll(sub, &end, 10);
    if (errno || *end || id <= 0 || sub[0] < '1' || sub[0] > '9')
        return CTL_JWT_BAD_CLAIM;
    c->sub = id;
    if (strcmp(c->role, "admin") && strcmp(c->role, "mentor") && strcmp(c->role, "mentee"))
        return CTL_JWT_BAD_CLAIM;
    if (c->iat < 0 || c->nbf < 0 || c->exp < 0)
        return CTL_JWT_BAD_CLAIM;
    if (c->exp <= ex->now - ex->leeway_s)
        return CTL_JWT_EXPIRED;
    if (c->nbf > ex->now + ex->leeway_s || c->iat > ex->now + ex->leeway_s)
        return CTL_JWT_NOT_YET;
    if (c->exp <= c->iat || c->exp - c->iat > ex->max_ttl_s)
        return CTL_JWT_BAD_CLAIM;
    return 0;
}

int ctl_jwt_verify(const char *token, const ctl_jwt_keyset *ks, const ctl_jwt_expect *ex,
                   ctl_jwt_claims *out)
{
    ctl_jose j;
    jwt_t *lib = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if (ctl_jose_parse(token, &j) != 0)
        return CTL_JWT_MALFORMED;
    const char *kid;
    if ((rc = check_header(j.header, &kid)) != 0)
        goto fail;
    const ctl_jwt_key *key = NULL;
    for (int i = 0; i < ks->n && !key; i++)
        if (strcmp(ks->keys[i].kid, kid) == 0)
            key = &ks->keys[i];
    if (!key) {
        rc = CTL_JWT_UNKNOWN_KID;
        goto fail;
    }
    snprintf(out->kid, sizeof out->kid, "%s", kid);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key->secret, CTL_JWT_SECRET_LEN, (const unsigned char *)token,
              j.signed_len, mac, &maclen) ||
        j.sig_len != maclen || CRYPTO_memcmp(mac, j.sig, maclen) != 0) {
        rc = CTL_JWT_BAD_SIG;
        goto fail;
    }
    /* Belt and braces: libjwt with the key given and the result's alg pinned. */
    if (jwt_decode(&lib, token, key->secret, CTL_JWT_SECRET_LEN) != 0 ||
        jwt_get_alg(lib) != JWT_ALG_HS256) {
        rc = CTL_JWT_BAD_SIG;
        goto fail;
    }
    if ((rc = check_claims(j.payload, ex, out)) != 0)
        goto fail;
    jwt_free(lib);
    ctl_jose_free(&j);
    return 0;
fail:
    jwt_free(lib);
    ctl_jose_free(&j);
    return rc;
}

const char *ctl_jwt_strerror(int code)
{
    switch (code) {
    case 0:
        return "valid";
    case CTL_JWT_BAD_ALG:
        return "token algorithm not accepted";
    case CTL_JWT_UNKNOWN_KID:
        return "token signed with an unknown key";
    case CTL_JWT_BAD_SIG:
        return "token signature is invalid";
    case CTL_JWT_EXPIRED:
        return "token has expired";
    case CTL_JWT_NOT_YET:
        return "token is not valid yet";
    case CTL_JWT_BAD_CLAIM:
        return "token claims are not accepted";
    default:
        return "token is malformed";
    }
}
