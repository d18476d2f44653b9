/*
 * Room join tokens (see room_token.h). The key is written once, under a
 * mutex, before `key_ready` is set with release order; verifiers read the
 * flag with acquire order and then the key without a lock, so verification
 * on the libwebsockets thread never waits. Parsing is our own (three strict
 * base64url parts, header exactly {"alg":"HS256","typ":"JWT"}) so no
 * library default can accept `alg: none` or another algorithm.
 */
#include "control/room_token.h"
#include "common/hex.h"
#include "control/b64url.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_MAX 128
#define AUD "mentorlink-room"
#define HEADER_JSON "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char key[KEY_MAX];
static size_t key_len;
static atomic_int key_ready;

int ctl_room_token_set_key(const unsigned char *k, size_t len)
{
    if (len < 32 || len > KEY_MAX)
        return -1;
    pthread_mutex_lock(&key_lock);
    memcpy(key, k, len);
    key_len = len;
    atomic_store_explicit(&key_ready, 1, memory_order_release);
    pthread_mutex_unlock(&key_lock);
    return 0;
}

/* Read data_dir/room_token.key, or create it with 32 random bytes (hex). */
static int key_file(const char *dir, unsigned char *out, size_t *len, char *err, size_t errlen)
{
    char path[1200], hex[65];
    snprintf(path, sizeof path, "%s/room_token.key", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        unsigned char rnd[32];
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
            close(fd);
            unlink(path);
            snprintf(err, errlen, "no randomness for the room token key");
            return -1;
        }
        ml_hex_encode(rnd, sizeof rnd, hex);
        int ok = write(fd, hex, 64) == 64 && fsync(fd) == 0;
        close(fd);
        if (!ok) {
            unlink(path);
            snprintf(err, errlen, "cannot write %s", path);
            return -1;
        }
    } else if (errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(hex, 1, 64, f);
    fclose(f);
    if (n != 64) {
        snprintf(err, errlen, "%s: expected 64 hex digits", path);
        return -1;
    }
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        char two[3] = {hex[2 * i], hex[2 * i + 1], 0};
        if (sscanf(two, "%2x", &v) != 1) {
            snprintf(err, errlen, "%s: expected 64 hex digits", path);
            return -1;
        }
        out[i] = (unsigned char)v;
    }
    *len = 32;
    return 0;
}

int ctl_room_token_init(const ml_config *cfg, char *err, size_t errlen)
{
    if (atomic_load_explicit(&key_ready, memory_order_acquire))
        return 0;
    unsigned char k[KEY_MAX];
    size_t len = 0;
    if (cfg->room_token_secret[0]) {
        len = strlen(cfg->room_token_secret);
        if (len < 32 || len > KEY_MAX) {
            snprintf(err, errlen, "room_token_secret must be 32 to %d characters", KEY_MAX);
            return -1;
        }
        memcpy(k, cfg->room_token_secret, len);
    } else if (key_file(cfg->data_dir, k, &len, err, errlen) != 0) {
        return -1;
    }
    pthread_mutex_lock(&key_lock);
    if (!atomic_load_explicit(&key_ready, memory_order_relaxed)) {
        memcpy(key, k, len);
        key_len = len;
        atomic_store_explicit(&key_ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&key_lock);
    OPENSSL_cleanse(k, sizeof k);
    return 0;
}

static int mac(const char *input, size_t len, unsigned char out[32])
{
    unsigned int ol = 0;
    return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)input, len, out, &ol) &&
                   ol == 32
               ? 0
               : -1;
}

int ctl_room_token_sign(const ctl_room_claims *c, char *out, size_t cap)
{
    if (!atomic_load_explicit(&key_ready, memory_order_acquire) || !c || c->session_id <= 0 ||
        c->user_id <= 0)
        return -1;
    unsigned char jti[12], sig[32];
    char jti_s[24], payload[320], buf[CTL_ROOM_TOKEN_MAX];
    if (RAND_bytes(jti, sizeof jti) != 1 ||
        ctl_b64url_encode(jti, sizeof jti, jti_s, sizeof jti_s) < 0)
        return -1;
    int pl = snprintf(payload, sizeof payload,
                      "{\"aud\":\"" AUD "\",\"sid\":%lld,\"sub\":%lld,\"role\":\"%s\",\"iat\":%lld,"
                      "\"exp\":%lld,\"jti\":\"%s\"}",
                      c->session_id, c->user_id,
                      c->role == CTL_ROOM_PUBLISH ? "publish" : "subscribe", c->iat, c->exp, jti_s);
    if (pl < 0 || (size_t)pl >= sizeof payload)
        return -1;
    int h =
        ctl_b64url_encode((const unsigned char *)HEADER_JSON, strlen(HEADER_JSON), buf, sizeof buf);
    if (h < 0)
        return -1;
    buf[h] = '.';
    int p = ctl_b64url_encode((const unsigned char *)payload, (size_t)pl, buf + h + 1,
                              sizeof buf - (size_t)h - 1);
    if (p < 0)
        return -1;
    size_t n = (size_t)h + 1 + (size_t)p;
    if (mac(buf, n, sig) != 0 || n + 1 >= sizeof buf)
        return -1;
    buf[n] = '.';
    if (ctl_b64url_encode(sig, sizeof sig, buf + n + 1, sizeof buf - n - 1) < 0)
        return -1;
    if (strlen(buf) >= cap)
        return -1;
    memcpy(out, buf, strlen(buf) + 1);
    return 0;
}

static int fail(char *err, size_t errlen, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", why);
    return -1;
}

static int int_claim(json_t *o, const char *name, long long *v)
{
    json_t *x = json_object_get(o, name);
    if (!json_is_integer(x))
        return -1;
    *v = json_integer_value(x);
    return 0;
}

int ctl_room_token_verify(const char *token, ctl_room_claims *out, char *err, size_t errlen)
{
    if (!atomic_load_explicit(&key_ready, memory_order_acquire))
        return fail(err, errlen, "room tokens are not initialised");
    if (!token || !out)
        return fail(err, errlen, "no token");
    size_t n = strnlen(token, CTL_ROOM_TOKEN_MAX);
    if (n >= CTL_ROOM_TOKEN_MAX)
        return fail(err, errlen, "token too long");
    const char *d1 = memchr(token, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token)))
        return fail(err, errlen, "not a compact JWS");
    unsigned char hdr[128], pay[512], sig[40], want[32];
    int hl = ctl_b64url_decode(token, (size_t)(d1 - token), hdr, sizeof hdr - 1);
    int pl = ctl_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), pay, sizeof pay - 1);
    int sl = ctl_b64url_decode(d2 + 1, n - (size_t)(d2 + 1 - token), sig, sizeof sig);
    if (hl < 0 || pl < 0 || sl != 32)
        return fail(err, errlen, "malformed token");
    if ((size_t)hl != strlen(HEADER_JSON) || memcmp(hdr, HEADER_JSON, (size_t)hl) != 0)
        return fail(err, errlen, "header must be HS256 JWT");
    if (mac(token, (size_t)(d2 - token), want) != 0 || CRYPTO_memcmp(want, sig, 32) != 0)
        return fail(err, errlen, "bad signature");
    pay[pl] = '\0';
    json_error_t je;
    json_t *o = json_loadb((const char *)pay, (size_t)pl, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return fail(err, errlen, "payload is not an object");
    }
    ctl_room_claims c = {0};
    const char *aud = json_string_value(json_object_get(o, "aud"));
    const char *role = json_string_value(json_object_get(o, "role"));
    int bad = !aud || strcmp(aud, AUD) != 0 || !role || int_claim(o, "sid", &c.session_id) ||
              int_claim(o, "sub", &c.user_id) || int_claim(o, "iat", &c.iat) ||
              int_claim(o, "exp", &c.exp) || c.session_id <= 0 || c.user_id <= 0;
    if (!bad && strcmp(role, "publish") == 0)
        c.role = CTL_ROOM_PUBLISH;
    else if (!bad && strcmp(role, "subscribe") == 0)
        c.role = CTL_ROOM_SUBSCRIBE;
    else
        bad = 1;
    json_decref(o);
    if (bad)
        return fail(err, errlen, "claims missing or of the wrong type");
    long long now = (long long)time(NULL);
    if (c.exp + 5 < now)
        return fail(err, errlen, "token expired");
    if (c.iat > now + 5 || c.exp - c.iat > 3600)
        return fail(err, errlen, "token issued in the future or lives too long");
    if (out->session_id != 0 && out->session_id != c.session_id)
        return fail(err, errlen, "token is for another session");
    *out = c;
    return 0;
}
