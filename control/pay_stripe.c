/*
 * The provider adapter for Stripe's HTTP API (and mlfakepay, which speaks
 * the same subset): see pay_provider.h. Requests are form-encoded with
 * `Authorization: Bearer <secret key>` and an Idempotency-Key on every
 * POST; answers are JSON. A timeout, a connection failure, a 5xx or an
 * answer that is not the expected object is CTL_PAY_UNAVAILABLE: the
 * caller keeps the operation retryable and asks again later with the same
 * key. Also the pure JSON mapping of PaymentIntents and Refunds, shared
 * with the webhook handler, and the process-wide provider settings.
 */
#include "control/pay_provider.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static pthread_mutex_t settings_mu = PTHREAD_MUTEX_INITIALIZER;
static ctl_pay_settings settings;

void ctl_pay_settings_set(const ctl_pay_settings *s)
{
    pthread_mutex_lock(&settings_mu);
    settings = *s;
    pthread_mutex_unlock(&settings_mu);
}

void ctl_pay_settings_get(ctl_pay_settings *out)
{
    pthread_mutex_lock(&settings_mu);
    *out = settings;
    pthread_mutex_unlock(&settings_mu);
}

void ctl_pay_settings_from_config(const ml_config *cfg)
{
    ctl_pay_settings s;
    memset(&s, 0, sizeof s);
    snprintf(s.url, sizeof s.url, "%s", cfg->payments_provider_url);
    size_t n = strlen(s.url);
    while (n > 0 && s.url[n - 1] == '/')
        s.url[--n] = '\0';
    snprintf(s.public_url, sizeof s.public_url, "%s", s.url);
    snprintf(s.secret_key, sizeof s.secret_key, "%s", cfg->payments_secret_key);
    snprintf(s.webhook_secrets, sizeof s.webhook_secrets, "%s", cfg->payments_webhook_secrets);
    s.ready = s.url[0] != '\0';
    ctl_pay_settings_set(&s);
}

/* ---- names ---- */

static const char *const pi_names[] = {"unknown",
                                       "requires_payment_method",
                                       "requires_confirmation",
                                       "requires_action",
                                       "processing",
                                       "succeeded",
                                       "canceled"};
static const char *const re_names[] = {"unknown", "pending", "succeeded", "failed", "canceled"};

#define NNAMES(t) (sizeof t / sizeof t[0])

/* names[i], or "unknown" when i is out of the table. */
static const char *name_at(const char *const *names, size_t n, unsigned i)
{
    return i < n ? names[i] : "unknown";
}

/* The index of s in names (entry 0, "unknown", never matches), or 0. */
static unsigned name_find(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 1; s && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (unsigned)i;
    return 0;
}

const char *ctl_pi_status_name(ctl_pi_status s)
{
    return name_at(pi_names, NNAMES(pi_names), (unsigned)s);
}

ctl_pi_status ctl_pi_status_parse(const char *s)
{
    return (ctl_pi_status)name_find(pi_names, NNAMES(pi_names), s);
}

const char *ctl_re_status_name(ctl_re_status s)
{
    return name_at(re_names, NNAMES(re_names), (unsigned)s);
}

ctl_re_status ctl_re_status_parse(const char *s)
{
    return (ctl_re_status)name_find(re_names, NNAMES(re_names), s);
}

static void copy_str(char *dst, size_t cap, const json_t *v)
{
    snprintf(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static long long meta_id(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(o, "metadata"), key));
    if (!v || !*v || strlen(v) > 18)
        return 0;
    for (const char *p = v; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return strtoll(v, NULL, 10);
}

/* o is a provider object {"object": type, "id": "..."}. */
static int typed_object(const json_t *o, const char *type)
{
    const char *obj = json_string_value(json_object_get(o, "object"));
    return json_is_object(o) && obj && strcmp(obj, type) == 0 &&
           json_is_string(json_object_get(o, "id"));
}

int ctl_pay_intent_from_json(const json_t *o, ctl_pay_intent *out)
{
    memset(out, 0, sizeof *out);
    if (!typed_object(o, "payment_intent"))
        return -1;
    copy_str(out->id, sizeof out->id, json_object_get(o, "id"));
    out->status = ctl_pi_status_parse(json_string_value(json_object_get(o, "status")));
    out->amount = json_integer_value(json_object_get(o, "amount"));
    out->amount_received = json_integer_value(json_object_get(o, "amount_received"));
    copy_str(out->currency, sizeof out->currency, json_object_get(o, "currency"));
    copy_str(out->client_secret, sizeof out->client_secret, json_object_get(o, "client_secret"));
    const json_t *na = json_object_get(o, "next_action");
    copy_str(out->next_action_url, sizeof out->next_action_url,
             json_object_get(json_object_get(na, "redirect_to_url"), "url"));
    const json_t *le = json_object_get(o, "last_payment_error");
    copy_str(out->error_code, sizeof out->error_code, json_object_get(le, "code"));
    copy_str(out->error_message, sizeof out->error_message, json_object_get(le, "message"));
    out->payment_id = meta_id(o, "payment_id");
    return 0;
}

int ctl_pay_refund_from_json(const json_t *o, ctl_pay_refund *out)
{
    memset(out, 0, sizeof *out);
    if (!typed_object(o, "refund"))
        return -1;
    copy_str(out->id, sizeof out->id, json_object_get(o, "id"));
    out->status = ctl_re_status_parse(json_string_value(json_object_get(o, "status")));
    out->amount = json_integer_value(json_object_get(o, "amount"));
    copy_str(out->currency, sizeof out->currency, json_object_get(o, "currency"));
    copy_str(out->payment_intent, sizeof out->payment_intent, json_object_get(o, "payment_intent"));
    out->refund_id = meta_id(o, "refund_id");
    return 0;
}

/* ---- HTTP ---- */

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_body(char *d, size_t sz, size_t nm, void *u)
{
    buf *b = u;
    size_t len = sz * nm;
    if (b->n + len > 1 << 20)
        return 0;
    char *np = realloc(b->p, b->n + len + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, d, len);
    b->p = np;
    b->n += len;
    b->p[b->n] = '\0';
    return len;
}

/* One request; *answer is the parsed JSON body (any status) or NULL.
 * Returns the HTTP status, or 0 when there was no (complete) answer. */
static int call(const ml_config *cfg, const char *method, const char *path, const char *form,
                const char *idem_key, json_t **answer, ctl_pay_error *e)
{
    ctl_pay_settings s;
    ctl_pay_settings_get(&s);
    *answer = NULL;
    memset(e, 0, sizeof *e);
    if (!s.ready) {
        snprintf(e->message, sizeof e->message, "no payment provider is running");
        return 0;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(e->message, sizeof e->message, "curl_easy_init failed");
        return 0;
    }
    char url[1024], auth[300], idem[320];
    snprintf(url, sizeof url, "%s%s", s.url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.secret_key);
    struct curl_slist *hdrs = curl_slist_append(NULL, auth);
    if (idem_key) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", idem_key);
        hdrs = curl_slist_append(hdrs, idem);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    buf b = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->payments_timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->payments_connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, form ? form : "");
    }
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(e->message, sizeof e->message, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (rc == CURLE_OK && b.p)
        *answer = json_loads(b.p, 0, NULL);
    free(b.p);
    e->http_status = (int)status;
    if (status >= 400 && *answer) {
        const json_t *err = json_object_get(*answer, "error");
        copy_str(e->type, sizeof e->type, json_object_get(err, "type"));
        copy_str(e->code, sizeof e->code, json_object_get(err, "code"));
        copy_str(e->message, sizeof e->message, json_object_get(err, "message"));
    } else if (status >= 400) {
        snprintf(e->message, sizeof e->message, "%s %s: HTTP %ld", method, path, status);
    }
    return (int)status;
}

/* A 4xx the provider will answer the same way again is REJECTED; no
 * answer, 409 (key still running), 429 and 5xx are UNAVAILABLE. */
static ctl_pay_rc error_rc(int status)
{
    if (status >= 400 && status < 500 && status != 409 && status != 429)
        return CTL_PAY_REJECTED;
    return CTL_PAY_UNAVAILABLE;
}

/* Map an answer that should be a PaymentIntent. */
static ctl_pay_rc intent_rc(int status, json_t *a, ctl_pay_intent *out, ctl_pay_error *e)
{
    ctl_pay_rc rc;
    memset(out, 0, sizeof *out);
    if (status >= 200 && status < 300) {
        rc = ctl_pay_intent_from_json(a, out) == 0 ? CTL_PAY_OK : CTL_PAY_UNAVAILABLE;
        if (rc != CTL_PAY_OK)
            snprintf(e->message, sizeof e->message, "the provider's answer is not a PaymentIntent");
    } else if (status == 402) {
        /* card_error: Stripe puts the intent in error.payment_intent */
        ctl_pay_intent_from_json(json_object_get(json_object_get(a, "error"), "payment_intent"),
                                 out);
        rc = CTL_PAY_DECLINED;
    } else {
        rc = error_rc(status);
    }
    json_decref(a);
    return rc;
}

static ctl_pay_rc refund_rc(int status, json_t *a, ctl_pay_refund *out, ctl_pay_error *e)
{
    ctl_pay_rc rc;
    memset(out, 0, sizeof *out);
    if (status >= 200 && status < 300) {
        rc = ctl_pay_refund_from_json(a, out) == 0 ? CTL_PAY_OK : CTL_PAY_UNAVAILABLE;
        if (rc != CTL_PAY_OK)
            snprintf(e->message, sizeof e->message, "the provider's answer is not a Refund");
    } else {
        rc = error_rc(status);
    }
    json_decref(a);
    return rc;
}

/* Append key=url-encoded(value) to a form. */
static void form_add(char *form, size_t cap, const char *k, const char *v)
{
    size_t n = strlen(form);
    n += (size_t)snprintf(form + n, n < cap ? cap - n : 0, "%s%s=", n ? "&" : "", k);
    for (const unsigned char *p = (const unsigned char *)v; *p && n + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.')
            form[n++] = (char)*p;
        else
            n += (size_t)snprintf(form + n, cap - n, "%%%02X", *p);
    }
    form[n < cap ? n : cap - 1] = '\0';
}

/* Path segment check for ids we put in URLs. */
static int id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 120)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
              (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
            return 0;
    return 1;
}

/* path = prefix id suffix for a checked id; -1 (e cleared) for a bad one. */
static int id_path(char *path, size_t cap, const char *prefix, const char *id, const char *suffix,
                   ctl_pay_error *e)
{
    if (!id_ok(id)) {
        memset(e, 0, sizeof *e);
        return -1;
    }
    snprintf(path, cap, "%s%s%s", prefix, id, suffix);
    return 0;
}

ctl_pay_rc ctl_pay_create_intent(const ml_config *cfg, const ctl_pay_create *c,
                                 const char *idem_key, ctl_pay_intent *out, ctl_pay_error *e)
{
    char form[1024] = "", v[64];
    snprintf(v, sizeof v, "%lld", c->amount);
    form_add(form, sizeof form, "amount", v);
    form_add(form, sizeof form, "currency", c->currency);
    snprintf(v, sizeof v, "%lld", c->payment_id);
    form_add(form, sizeof form, "metadata[payment_id]", v);
    if (c->description)
        form_add(form, sizeof form, "description", c->description);
    if (c->payment_method) {
        form_add(form, sizeof form, "payment_method", c->payment_method);
        form_add(form, sizeof form, "confirm", "true");
    }
    json_t *a;
    int st = call(cfg, "POST", "/v1/payment_intents", form, idem_key, &a, e);
    return intent_rc(st, a, out, e);
}

ctl_pay_rc ctl_pay_get_intent(const ml_config *cfg, const char *id, ctl_pay_intent *out,
                              ctl_pay_error *e)
{
    char path[256];
    if (id_path(path, sizeof path, "/v1/payment_intents/", id, "", e) != 0) {
        snprintf(e->message, sizeof e->message, "bad intent id");
        return CTL_PAY_REJECTED;
    }
    json_t *a;
    int st = call(cfg, "GET", path, NULL, NULL, &a, e);
    return intent_rc(st, a, out, e);
}

ctl_pay_rc ctl_pay_confirm_intent(const ml_config *cfg, const char *id, const char *payment_method,
                                  const char *idem_key, ctl_pay_intent *out, ctl_pay_error *e)
{
    char path[256], form[256] = "";
    if (id_path(path, sizeof path, "/v1/payment_intents/", id, "/confirm", e) != 0)
        return CTL_PAY_REJECTED;
    if (payment_method)
        form_add(form, sizeof form, "payment_method", payment_method);
    json_t *a;
    int st = call(cfg, "POST", path, form, idem_key, &a, e);
    return intent_rc(st, a, out, e);
}

ctl_pay_rc ctl_pay_cancel_intent(const ml_config *cfg, const char *id, const char *idem_key,
                                 ctl_pay_intent *out, ctl_pay_error *e)
{
    char path[256];
    if (id_path(path, sizeof path, "/v1/payment_intents/", id, "/cancel", e) != 0)
        return CTL_PAY_REJECTED;
    json_t *a;
    int st = call(cfg, "POST", path, "", idem_key, &a, e);
    return intent_rc(st, a, out, e);
}

ctl_pay_rc ctl_pay_create_refund(const ml_config *cfg, const char *intent_id, long long amount,
                                 long long refund_id, const char *idem_key, ctl_pay_refund *out,
                                 ctl_pay_error *e)
{
    char form[512] = "", v[64];
    form_add(form, sizeof form, "payment_intent", intent_id);
    if (amount > 0) {
        snprintf(v, sizeof v, "%lld", amount);
        form_add(form, sizeof form, "amount", v);
    }
    snprintf(v, sizeof v, "%lld", refund_id);
    form_add(form, sizeof form, "metadata[refund_id]", v);
    json_t *a;
    int st = call(cfg, "POST", "/v1/refunds", form, idem_key, &a, e);
    return refund_rc(st, a, out, e);
}

ctl_pay_rc ctl_pay_get_refund(const ml_config *cfg, const char *id, ctl_pay_refund *out,
                              ctl_pay_error *e)
{
    char path[256];
    if (id_path(path, sizeof path, "/v1/refunds/", id, "", e) != 0)
        return CTL_PAY_REJECTED;
    json_t *a;
    int st = call(cfg, "GET", path, NULL, NULL, &a, e);
    return refund_rc(st, a, out, e);
}
