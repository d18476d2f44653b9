/*
 * Cursor pagination; see pagination.h. A cursor is
 *   base64url( "v1|" key "|" id  ||  HMAC-SHA256(secret, scope NUL payload)[0..16) )
 * decoded strictly: only the base64url alphabet, no padding, canonical
 * trailing bits, a verified MAC, then "v1|", a printable key and a decimal
 * id. Anything else is refused the same way, so a client cannot tell which
 * check failed.
 */
#include "control/pagination.h"
#include "control/b64url.h"
#include "control/json.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_LEN 16
#define PAYLOAD_MAX 160

static unsigned char process_key[32];
static pthread_once_t process_key_once = PTHREAD_ONCE_INIT;

static void make_process_key(void)
{
    if (RAND_bytes(process_key, sizeof process_key) != 1)
        abort(); /* no randomness: nothing sensible to do */
}

static void mac(const char *secret, const char *scope, const unsigned char *payload, size_t len,
                unsigned char out[MAC_LEN])
{
    const void *key = secret;
    int keylen = secret ? (int)strlen(secret) : 0;
    if (keylen == 0) {
        pthread_once(&process_key_once, make_process_key);
        key = process_key;
        keylen = sizeof process_key;
    }
    unsigned char msg[PAYLOAD_MAX + 128];
    size_t sl = strlen(scope);
    if (sl > 127)
        sl = 127;
    memcpy(msg, scope, sl);
    msg[sl] = '\0';
    memcpy(msg + sl + 1, payload, len);
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int fl = 0;
    HMAC(EVP_sha256(), key, keylen, msg, sl + 1 + len, full, &fl);
    memcpy(out, full, MAC_LEN);
}

static int key_ok(const char *key)
{
    for (const char *p = key; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E)
            return 0;
    return 1;
}

int ctl_cursor_encode(const char *secret, const char *scope, const ctl_cursor *c, char *out,
                      size_t cap)
{
    unsigned char buf[PAYLOAD_MAX + MAC_LEN];
    if (c->id < 0 || !key_ok(c->key))
        return -1;
    int n = snprintf((char *)buf, PAYLOAD_MAX, "v1|%s|%lld", c->key, c->id);
    if (n < 0 || n >= PAYLOAD_MAX)
        return -1;
    mac(secret, scope, buf, (size_t)n, buf + n);
    return ctl_b64url_encode(buf, (size_t)n + MAC_LEN, out, cap) < 0 ? -1 : 0;
}

int ctl_cursor_decode(const char *secret, const char *scope, const char *text, ctl_cursor *c)
{
    unsigned char buf[PAYLOAD_MAX + MAC_LEN + 4], want[MAC_LEN];
    memset(c, 0, sizeof *c);
    if (!text || strlen(text) >= CTL_CURSOR_MAX)
        return -1;
    long len = ctl_b64url_decode(text, strlen(text), buf, sizeof buf - 1);
    if (len <= MAC_LEN + 3)
        return -1;
    size_t pl = (size_t)len - MAC_LEN;
    mac(secret, scope, buf, pl, want);
    if (CRYPTO_memcmp(want, buf + pl, MAC_LEN) != 0)
        return -1;
    buf[pl] = '\0';
    const char *payload = (const char *)buf;
    if (memchr(payload, '\0', pl) || strncmp(payload, "v1|", 3) != 0)
        return -1;
    const char *bar = strrchr(payload, '|');
    if (bar < payload + 3)
        return -1;
    size_t kl = (size_t)(bar - (payload + 3));
    const char *id = bar + 1;
    size_t il = strlen(id);
    if (kl >= sizeof c->key || il == 0 || il > 18 || (il > 1 && id[0] == '0'))
        return -1;
    long long v = 0;
    for (size_t i = 0; i < il; i++) {
        if (id[i] < '0' || id[i] > '9')
            return -1;
        v = v * 10 + (id[i] - '0');
    }
    memcpy(c->key, payload + 3, kl);
    c->key[kl] = '\0';
    if (!key_ok(c->key))
        return -1;
    c->id = v;
    return 0;
}

int ctl_page_from_query(const char *secret, const char *scope, const ctl_request *req,
                        ctl_page *page, ctl_response *resp)
{
    char v[CTL_CURSOR_MAX];
    memset(page, 0, sizeof *page);
    page->limit = CTL_PAGE_DEFAULT_LIMIT;
    int rc = ctl_req_query(req, "limit", v, sizeof v);
    if (rc != 0) {
        size_t n = rc > 0 ? strlen(v) : 0;
        int ok = rc > 0 && n >= 1 && n <= 3;
        int x = 0;
        for (size_t i = 0; ok && i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                ok = 0;
            else
                x = x * 10 + (v[i] - '0');
        }
        if (!ok || x < 1 || x > CTL_PAGE_MAX_LIMIT) {
            char detail[96];
            snprintf(detail, sizeof detail, "limit must be an integer from 1 to %d",
                     CTL_PAGE_MAX_LIMIT);
            ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request", detail, req);
            return -1;
        }
        page->limit = x;
    }
    rc = ctl_req_query(req, "cursor", v, sizeof v);
    if (rc < 0 || (rc > 0 && v[0] && ctl_cursor_decode(secret, scope, v, &page->after) != 0)) {
        ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request",
                             "cursor is not a cursor returned by this list", req);
        return -1;
    }
    page->has_cursor = rc > 0 && v[0];
    return 0;
}

void ctl_page_respond(ctl_response *resp, json_t *items, const char *next_cursor)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "items", items ? items : json_array());
        json_object_set_new(o, "next_cursor", next_cursor ? json_string(next_cursor) : json_null());
    } else {
        json_decref(items);
    }
    ctl_json_respond(resp, 200, o);
}
