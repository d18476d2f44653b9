/*
 * Idempotency-Key handling, as Stripe documents it: the first request with
 * a key runs and its result (status + body) is stored for 24 h; the same
 * key with the same method, path and body replays that result with
 * `Idempotent-Replayed: true`; with anything different it is a 400
 * idempotency_error; while the first request is still running (only
 * possible here when fail_next made it hang) it is a 409. Like Stripe,
 * results are kept only when the endpoint executed: 2xx and 402 card
 * errors. Validation errors and 5xx leave the key free for a retry.
 */
#include "tools/fakepay/fakepay.h"
#include "common/hex.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_MS (24LL * 3600 * 1000)

static void fingerprint(const fp_request *req, char out[65])
{
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    memset(d, 0, sizeof d);
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
        EVP_DigestUpdate(c, req->method, strlen(req->method));
        EVP_DigestUpdate(c, " ", 1);
        EVP_DigestUpdate(c, req->path, strlen(req->path));
        EVP_DigestUpdate(c, "\n", 1);
        if (req->body_len)
            EVP_DigestUpdate(c, req->body, req->body_len);
        EVP_DigestFinal_ex(c, d, &dl);
    }
    EVP_MD_CTX_free(c);
    ml_hex_encode(d, sizeof d, out);
}

fp_idem_result fp_idem_begin(const char *key, const fp_request *req, fp_resp *resp)
{
    char fpr[65];
    fingerprint(req, fpr);
    json_t *rec = json_object_get(fp.idem, key);
    if (rec && fp_now_ms() - json_integer_value(json_object_get(rec, "created")) > KEEP_MS) {
        json_object_del(fp.idem, key);
        rec = NULL;
    }
    if (!rec) {
        json_object_set_new(
            fp.idem, key,
            json_pack("{s:s, s:I, s:b}", "fp", fpr, "created", (json_int_t)fp_now_ms(), "busy", 1));
        return FP_IDEM_NEW;
    }
    if (json_is_true(json_object_get(rec, "busy")))
        return FP_IDEM_BUSY;
    if (strcmp(json_string_value(json_object_get(rec, "fp")), fpr) != 0)
        return FP_IDEM_MISMATCH;
    const char *body = json_string_value(json_object_get(rec, "body"));
    fp_resp_text(resp, (int)json_integer_value(json_object_get(rec, "status")), NULL,
                 strdup(body ? body : ""));
    resp->replayed = 1;
    return FP_IDEM_REPLAY;
}

void fp_idem_finish(const char *key, const fp_resp *resp)
{
    json_t *rec = json_object_get(fp.idem, key);
    if (!rec)
        return;
    int keep = (resp->status >= 200 && resp->status < 300) || resp->status == 402;
    if (!keep || !resp->body) {
        json_object_del(fp.idem, key);
        return;
    }
    json_object_set_new(rec, "busy", json_false());
    json_object_set_new(rec, "status", json_integer(resp->status));
    json_object_set_new(rec, "body", json_stringn(resp->body, resp->body_len));
    fp.dirty = 1;
}

void fp_idem_release(const char *key)
{
    json_t *rec = json_object_get(fp.idem, key);
    if (rec && json_is_true(json_object_get(rec, "busy")))
        json_object_del(fp.idem, key);
}

void fp_idem_prune(long long now_ms)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(fp.idem, tmp, k, v)
    {
        if (!json_is_true(json_object_get(v, "busy")) &&
            now_ms - json_integer_value(json_object_get(v, "created")) > KEEP_MS) {
            json_object_del(fp.idem, k);
            fp.dirty = 1;
        }
    }
}
