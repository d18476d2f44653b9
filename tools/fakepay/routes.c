/*
 * Request dispatch for mlfakepay: one table maps method + path pattern to
 * a handler and says whether the route is the Stripe API (Bearer secret
 * key, form bodies, Idempotency-Key, fail_next), a browser page (form
 * bodies, no key) or test control (JSON, loopback only). Also the response
 * helpers and the declarative parameter check every API handler uses.
 */
#include "tools/fakepay/fakepay.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*fp_handler)(const fp_request *, const ml_form *, fp_resp *);

enum { KIND_API, KIND_PAGE, KIND_CONTROL };

typedef struct route {
    const char *method;
    const char *pattern; /* '*' matches one path segment */
    int kind;
    fp_handler fn;
} route;

static const route routes[] = {
    {"POST", "/v1/payment_intents", KIND_API, fp_intents_create},
    {"GET", "/v1/payment_intents/*", KIND_API, fp_intents_get},
    {"POST", "/v1/payment_intents/*", KIND_API, fp_intents_update},
    {"POST", "/v1/payment_intents/*/confirm", KIND_API, fp_intents_confirm},
    {"POST", "/v1/payment_intents/*/cancel", KIND_API, fp_intents_cancel},
    {"POST", "/v1/refunds", KIND_API, fp_refunds_create},
    {"GET", "/v1/refunds/*", KIND_API, fp_refunds_get},
    {"GET", "/checkout/*", KIND_PAGE, fp_page_checkout_get},
    {"POST", "/checkout/*", KIND_PAGE, fp_page_checkout_post},
    {"GET", "/authenticate/*", KIND_PAGE, fp_page_auth_get},
    {"POST", "/authenticate/*", KIND_PAGE, fp_page_auth_post},
    {"GET", "/_fakepay/healthz", KIND_CONTROL, fp_control_health},
    {"GET", "/_fakepay/config", KIND_CONTROL, fp_control_config},
    {"POST", "/_fakepay/config", KIND_CONTROL, fp_control_config},
    {"GET", "/_fakepay/events", KIND_CONTROL, fp_control_events},
    {"POST", "/_fakepay/events/*/resend", KIND_CONTROL, fp_control_resend},
};

void fp_resp_free(fp_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

void fp_resp_json(fp_resp *r, int status, json_t *body)
{
    fp_resp_free(r);
    r->status = status;
    r->content_type = NULL;
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!s) {
        r->status = 500;
        s = strdup("{\"error\":{\"type\":\"api_error\",\"code\":\"internal\","
                   "\"message\":\"cannot encode the response\"}}");
    }
    r->body = s;
    r->body_len = s ? strlen(s) : 0;
}

void fp_resp_text(fp_resp *r, int status, const char *ctype, char *body)
{
    fp_resp_free(r);
    r->status = status;
    r->content_type = ctype;
    r->body = body;
    r->body_len = body ? strlen(body) : 0;
}

void fp_resp_error(fp_resp *r, int status, const char *type, const char *code, const char *param,
                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s, s:s}", "type", type, "message", msg);
    if (e && code)
        json_object_set_new(e, "code", json_string(code));
    if (e && param)
        json_object_set_new(e, "param", json_string(param));
    fp_resp_json(r, status, e ? json_pack("{s:o}", "error", e) : NULL);
}

void fp_resp_redirect(fp_resp *r, const char *url)
{
    fp_resp_text(r, 303, "text/plain; charset=utf-8", strdup("See Other\n"));
    snprintf(r->location, sizeof r->location, "%s", url);
}

int fp_check_params(const ml_form *f, const char *const *allowed, fp_resp *resp)
{
    for (size_t i = 0; i < f->n; i++) {
        const char *k = f->pairs[i].key;
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) {
            size_t al = strlen(*a);
            if (al && (*a)[al - 1] == '[')
                ok = strncmp(k, *a, al) == 0;
            else
                ok = strcmp(k, *a) == 0;
        }
        if (!ok) {
            fp_resp_error(resp, 400, "invalid_request_error", "parameter_unknown", k,
                          "Received unknown parameter: %.100s", k);
            return -1;
        }
    }
    return 0;
}

int fp_parse_metadata(const ml_form *f, json_t **out, fp_resp *resp)
{
    json_t *md = json_object();
    for (size_t i = 0; i < f->n; i++) {
        const char *sub;
        size_t sl;
        if (strncmp(f->pairs[i].key, "metadata[", 9) != 0)
            continue;
        if (!ml_form_subkey(f->pairs[i].key, "metadata", &sub, &sl) || sl > 40) {
            fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_string",
                          "metadata", "Invalid metadata key: %.64s (1 to 40 characters)",
                          f->pairs[i].key);
            goto fail;
        }
        if (strlen(f->pairs[i].value) > 500) {
            fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_string",
                          "metadata", "Metadata values can have up to 500 characters");
            goto fail;
        }
        if (json_object_size(md) >= 50) {
            fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_string",
                          "metadata", "Metadata can have up to 50 keys");
            goto fail;
        }
        char key[41];
        memcpy(key, sub, sl);
        key[sl] = '\0';
        if (f->pairs[i].value[0])
            json_object_set_new(md, key, json_string(f->pairs[i].value));
    }
    *out = md;
    return 0;
fail:
    json_decref(md);
    return -1;
}

/* Match `path` against `pattern`, capturing '*' segments into args. */
static int match(const char *pattern, const char *path, char args[2][256])
{
    int na = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '*') {
            const char *e = strchr(s, '/');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (n == 0 || n >= 256 || na >= 2)
                return 0;
            memcpy(args[na], s, n);
            args[na][n] = '\0';
            na++;
            s += n;
            p++;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

static int is_loopback_peer(const char *peer)
{
    return strncmp(peer, "127.", 4) == 0 || strcmp(peer, "::1") == 0 ||
           strncmp(peer, "::ffff:127.", 11) == 0;
}

/* "Bearer <key>", or "Basic base64(<key>:)" as Stripe's curl examples use. */
static int auth_ok(const char *auth)
{
    size_t kl = strlen(fp.secret_key);
    char basic[400];
    const char *k;
    if (strncmp(auth, "Bearer ", 7) == 0) {
        k = auth + 7;
    } else if (strncmp(auth, "Basic ", 6) == 0 && strlen(auth + 6) < 520 &&
               strlen(auth + 6) % 4 == 0) {
        int n = EVP_DecodeBlock((unsigned char *)basic, (const unsigned char *)auth + 6,
                                (int)strlen(auth + 6));
        if (n <= 0)
            return 0;
        basic[n] = '\0'; /* the decoded length counts '=' padding as zero bytes */
        char *colon = strchr(basic, ':');
        if (!colon)
            return 0;
        *colon = '\0';
        k = basic;
    } else {
        return 0;
    }
    /* constant-time compare of equal-length strings */
    if (strlen(k) != kl)
        return 0;
    unsigned char d = 0;
    for (size_t i = 0; i < kl; i++)
        d |= (unsigned char)(k[i] ^ fp.secret_key[i]);
    return d == 0;
}

/* Parse the form body (API, pages) or the query (GETs). */
static int parse_input(const fp_request *req, int kind, ml_form *f, fp_resp *resp)
{
    char err[200];
    const char *src = req->query;
    size_t len = strlen(req->query);
    if (strcmp(req->method, "POST") == 0 && kind != KIND_CONTROL) {
        src = req->body ? req->body : "";
        len = req->body_len;
    }
    if (ml_form_parse(src, len, f, err, sizeof err) != 0) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_encoding", NULL,
                      "Invalid request body: %s", err);
        return -1;
    }
    return 0;
}

void fp_route(const fp_request *req_in, fp_resp *resp, char *held_idem_key, size_t keycap)
{
    fp_request req = *req_in;
    char args[2][256] = {"", ""};
    const route *rt = NULL;
    held_idem_key[0] = '\0';
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].method, req.method) == 0 && match(routes[i].pattern, req.path, args)) {
            rt = &routes[i];
            break;
        }
    }
    if (!rt) {
        fp_resp_error(resp, 404, "invalid_request_error", "resource_missing", NULL,
                      "Unrecognized request URL (%s: %.200s).", req.method, req.path);
        return;
    }
    req.args[0] = args[0];
    req.args[1] = args[1];
    if (rt->kind == KIND_CONTROL && !is_loopback_peer(req.peer)) {
        fp_resp_error(resp, 403, "invalid_request_error", "forbidden", NULL,
                      "test control is loopback only");
        return;
    }
    if (rt->kind == KIND_API) {
        if (!auth_ok(req.auth)) {
            fp_resp_error(resp, 401, "invalid_request_error", "api_key_invalid", NULL,
                          "Invalid API Key provided.");
            return;
        }
    }
    const char *key = req.idem_key;
    int use_idem = rt->kind == KIND_API && strcmp(req.method, "POST") == 0 && key && key[0];
    if (use_idem) {
        if (strlen(key) > 255) {
            fp_resp_error(resp, 400, "invalid_request_error", "idempotency_key_too_long", NULL,
                          "Idempotency-Key may have at most 255 characters.");
            return;
        }
        switch (fp_idem_begin(key, &req, resp)) {
        case FP_IDEM_REPLAY:
            return;
        case FP_IDEM_MISMATCH:
            fp_resp_error(resp, 400, "idempotency_error", "idempotency_key_in_use", NULL,
                          "Keys for idempotent requests can only be used with the same "
                          "parameters they were first used with.");
            return;
        case FP_IDEM_BUSY:
            fp_resp_error(resp, 409, "idempotency_error", "idempotency_key_in_use", NULL,
                          "There is currently another in-progress request using this "
                          "Idempotent Key. Please try again later.");
            return;
        case FP_IDEM_NEW:
            break;
        }
    }
    ml_form f = {0};
    if (rt->kind == KIND_API && fp.fail_next_count > 0) {
        /* after the key check, so that a hanging request holds its
         * Idempotency-Key (a second use answers 409) */
        fp.fail_next_count--;
        if (fp.fail_next_timeout)
            resp->hang = 1;
        else
            fp_resp_error(resp, 500, "api_error", "fakepay_fail_next", NULL,
                          "Simulated provider failure (fail_next).");
    } else if (parse_input(&req, rt->kind, &f, resp) == 0) {
        rt->fn(&req, &f, resp);
    }
    ml_form_free(&f);
    if (use_idem) {
        if (resp->hang)
            snprintf(held_idem_key, keycap, "%s", key);
        else
            fp_idem_finish(key, resp);
    }
}
