/*
 * A JSON Web Key Set (RFC 7517) fetched over HTTP(S) with libcurl and kept
 * in one process-wide cache, for verifying Google ID tokens (RS256,
 * RFC 7518 section 3.3). The cache lives an hour; a token naming a kid we
 * do not have triggers a refetch (Google rotates keys), but never more
 * than once a minute, so forged kids cannot turn us into a traffic source.
 * Fetches happen under the cache lock: concurrent sign-ins wait for one
 * fetch instead of starting several.
 *
 * Only RSA keys usable for signatures are kept (kty RSA; alg RS256 or
 * absent; use sig or absent), with moduli of 2048 to 8192 bits. Key
 * material is stored as raw n/e bytes in a fixed array; an EVP_PKEY is
 * built per verification and freed at once.
 */
#include "control/auth_internal.h"

#include "common/log.h"
#include "control/b64url.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JWKS_MAX_KEYS 16
#define JWKS_MAX_BYTES (64 * 1024)
#define JWKS_TTL_S 3600
#define JWKS_MIN_REFETCH_S 60

typedef struct jwk {
    char kid[128];
    unsigned char n[1024];
    size_t nlen;
    unsigned char e[8];
    size_t elen;
} jwk;

static struct {
    pthread_mutex_t lock;
    jwk keys[JWKS_MAX_KEYS];
    int n;
    char url[ML_CFG_STR];
    time_t fetched_at;
    time_t attempted_at;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

typedef struct buf {
    char *data;
    size_t len;
} buf;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > JWKS_MAX_BYTES)
        return 0;
    char *d = realloc(b->data, b->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, p, n);
    b->len += n;
    d[b->len] = '\0';
    b->data = d;
    return n;
}

static int parse_key(json_t *k, jwk *out)
{
    json_t *kty = json_object_get(k, "kty"), *alg = json_object_get(k, "alg");
    json_t *use = json_object_get(k, "use"), *kid = json_object_get(k, "kid");
    json_t *n = json_object_get(k, "n"), *e = json_object_get(k, "e");
    if (!json_is_string(kty) || strcmp(json_string_value(kty), "RSA") ||
        (alg && (!json_is_string(alg) || strcmp(json_string_value(alg), "RS256"))) ||
        (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig"))) ||
        !json_is_string(kid) || json_string_length(kid) >= sizeof out->kid || !json_is_string(n) ||
        !json_is_string(e))
        return -1;
    int nl = ctl_b64url_decode(json_string_value(n), json_string_length(n), out->n, sizeof out->n);
    int el = ctl_b64url_decode(json_string_value(e), json_string_length(e), out->e, sizeof out->e);
    if (nl < 256 || el < 1 || out->n[0] == 0)
        return -1;
    out->nlen = (size_t)nl;
    out->elen = (size_t)el;
    memcpy(out->kid, json_string_value(kid), json_string_length(kid) + 1);
    return 0;
}

/* Fetch and replace the cached set (cache.lock held). 0/-1. */
static int fetch(const char *url)
{
    buf b = {0};
    json_t *doc = NULL;
    int rc = -1;
    cache.attempted_at = time(NULL);
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode cr = curl_easy_perform(h);
    if (cr != CURLE_OK || !b.data) {
        ML_WARN("auth", "cannot fetch the Google key set: %s", curl_easy_strerror(cr));
        goto fail;
    }
    json_error_t jerr;
    doc = json_loads(b.data, JSON_REJECT_DUPLICATES, &jerr);
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        ML_WARN("auth", "the Google key set is not a JWKS document");
        goto fail;
    }
    int n = 0;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        if (n < JWKS_MAX_KEYS && parse_key(k, &cache.keys[n]) == 0)
            n++;
    }
    cache.n = n;
    cache.fetched_at = time(NULL);
    snprintf(cache.url, sizeof cache.url, "%s", url);
    rc = 0;
fail:
    json_decref(doc);
    free(b.data);
    curl_easy_cleanup(h);
    return rc;
}

static const jwk *find(const char *kid)
{
    for (int i = 0; i < cache.n; i++)
        if (!strcmp(cache.keys[i].kid, kid))
            return &cache.keys[i];
    return NULL;
}

static EVP_PKEY *rsa_key(const jwk *k)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *n = BN_bin2bn(k->n, (int)k->nlen, NULL), *e = BN_bin2bn(k->e, (int)k->elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!n || !e || !bld || !pctx || BN_num_bits(n) < 2048 || BN_num_bits(n) > 8192 ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(pctx);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static int rs256_ok(const jwk *k, const ctl_jose *j, const char *token)
{
    EVP_PKEY *pkey = rsa_key(k);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = pkey && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_DigestVerify(md, j->sig, j->sig_len, (const unsigned char *)token,
                              j->signed_len) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return ok;
}

int auth__jwks_verify(const char *url, const ctl_jose *j, const char *token)
{
    json_t *alg = json_object_get(j->header, "alg"), *kid = json_object_get(j->header, "kid");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "RS256") || !json_is_string(kid) ||
        json_object_get(j->header, "crit"))
        return AUTH_JWKS_BAD;
    const char *want = json_string_value(kid);
    pthread_mutex_lock(&cache.lock);
    time_t now = time(NULL);
    int may_fetch = now - cache.attempted_at >= JWKS_MIN_REFETCH_S;
    int stale = strcmp(cache.url, url) != 0 || cache.fetched_at == 0 ||
                now - cache.fetched_at >= JWKS_TTL_S;
    if (stale && may_fetch)
        fetch(url);
    if (strcmp(cache.url, url) != 0 || cache.fetched_at == 0) {
        pthread_mutex_unlock(&cache.lock);
        return AUTH_JWKS_UNAVAILABLE;
    }
    const jwk *k = find(want);
    if (!k && now - cache.attempted_at >= JWKS_MIN_REFETCH_S && fetch(url) == 0)
        k = find(want);
    int rc = !k ? AUTH_JWKS_UNKNOWN_KID : rs256_ok(k, j, token) ? AUTH_JWKS_OK : AUTH_JWKS_BAD;
    pthread_mutex_unlock(&cache.lock);
    return rc;
}

void auth__jwks_reset(void)
{
    pthread_mutex_lock(&cache.lock);
    cache.n = 0;
    cache.url[0] = '\0';
    cache.fetched_at = cache.attempted_at = 0;
    pthread_mutex_unlock(&cache.lock);
}
