/*
 * PaymentIntents: create, retrieve, confirm, cancel, the 3-D-Secure-like
 * authentication outcome and the processing timer. Each intent is stored
 * in fp.intents as {"pi": <the public PaymentIntent>, "x": {"pm",
 * "due_ms", "return_url"}}; every transition goes through the table in
 * intent_fsm.c and emits the matching webhook event.
 */
#include "tools/fakepay/fakepay.h"
#include "tools/fakepay/intent_fsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROCESSING_MS 1000

static const char *const currencies[] = {"usd", "eur", "gbp", "jpy", "inr", "cad", "aud"};

static const char *const create_params[] = {
    "amount",
    "currency",
    "payment_method",
    "confirm",
    "metadata[",
    "description",
    "return_url",
    "payment_method_types[",
    "automatic_payment_methods[",
    "expand[",
    "receipt_email",
    NULL,
};
static const char *const confirm_params[] = {"payment_method", "return_url", "expand[", NULL};
static const char *const cancel_params[] = {"cancellation_reason", "expand[", NULL};
static const char *const get_params[] = {"expand[", "client_secret", NULL};
static const char *const update_params[] = {
    "amount", "currency", "payment_method", "description", "metadata[", "expand[", NULL};

json_t *fp_intent_find(const char *id)
{
    return id ? json_object_get(fp.intents, id) : NULL;
}

static json_t *pi_of(json_t *rec)
{
    return json_object_get(rec, "pi");
}

static const char *str_of(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static fp_pi_state state_of(json_t *rec)
{
    int s = fp_pi_state_parse(str_of(pi_of(rec), "status"));
    return s < 0 ? FP_PI_CANCELED : (fp_pi_state)s;
}

static void set_state(json_t *rec, fp_pi_state s)
{
    json_object_set_new(pi_of(rec), "status", json_string(fp_pi_state_name(s)));
    fp.dirty = 1;
}

/* Parse a positive integer amount in 1..99999999; -1 with resp set. */
static int parse_amount(const char *s, const char *param, long long *out, fp_resp *resp)
{
    if (!s || !*s) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_missing", param,
                      "Missing required param: %s.", param);
        return -1;
    }
    const char *p = s;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    long long v = 0;
    size_t n = 0;
    for (; *p; p++, n++) {
        if (*p < '0' || *p > '9' || n >= 12) {
            fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_integer", param,
                          "Invalid integer: %.40s", s);
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    if (n == 0) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_integer", param,
                      "Invalid integer: %.40s", s);
        return -1;
    }
    if (neg || v < 1) {
        fp_resp_error(resp, 400, "invalid_request_error", "amount_too_small", param,
                      "Amount must be at least 1 (minor unit).");
        return -1;
    }
    if (v > 99999999) {
        fp_resp_error(resp, 400, "invalid_request_error", "amount_too_large", param,
                      "Amount must be no more than 99999999 (minor units).");
        return -1;
    }
    *out = v;
    return 0;
}

static int valid_currency(const char *c)
{
    for (size_t i = 0; c && i < sizeof currencies / sizeof currencies[0]; i++)
        if (strcmp(c, currencies[i]) == 0)
            return 1;
    return 0;
}

static int valid_return_url(const char *u)
{
    return !u || strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

static void respond_intent(fp_resp *resp, json_t *rec)
{
    fp_resp_json(resp, 200, json_deep_copy(pi_of(rec)));
}

static void not_found(fp_resp *resp, const char *what, const char *id, const char *param)
{
    fp_resp_error(resp, 404, "invalid_request_error", "resource_missing", param,
                  "No such %s: '%.64s'", what, id);
}

static void succeed(json_t *rec)
{
    json_t *pi = pi_of(rec);
    char ch[40];
    fp_new_id("ch_", 24, ch, sizeof ch);
    set_state(rec, FP_PI_SUCCEEDED);
    json_object_set(pi, "amount_received", json_object_get(pi, "amount"));
    json_object_set_new(pi, "latest_charge", json_string(ch));
    json_object_set_new(pi, "last_payment_error", json_null());
    json_object_set_new(pi, "next_action", json_null());
    fp_event_emit("payment_intent.succeeded", pi);
}

static void fail_with(json_t *rec, const char *code, const char *decline, const char *msg)
{
    json_t *pi = pi_of(rec);
    json_t *err = json_pack("{s:s, s:s, s:s}", "code", code, "message", msg, "type", "card_error");
    if (decline)
        json_object_set_new(err, "decline_code", json_string(decline));
    const char *pm = str_of(json_object_get(rec, "x"), "pm");
    if (pm)
        json_object_set_new(err, "payment_method", json_pack("{s:s}", "id", pm));
    set_state(rec, FP_PI_REQUIRES_PAYMENT_METHOD);
    json_object_set_new(pi, "last_payment_error", err);
    json_object_set_new(pi, "next_action", json_null());
    json_object_set_new(pi, "payment_method", json_null());
    fp_event_emit("payment_intent.payment_failed", pi);
}

int fp_intent_confirm_pm(json_t *rec, const char *pm, const char *return_url, fp_resp *resp)
{
    json_t *pi = pi_of(rec), *x = json_object_get(rec, "x");
    const char *id = str_of(pi, "id");
    fp_pi_state st = state_of(rec);
    if (fp_pi_next(st, FP_EV_CONFIRM_OK) < 0) {
        fp_resp_error(resp, 400, "invalid_request_error", "payment_intent_unexpected_state", NULL,
                      "You cannot confirm this PaymentIntent because it has a status of %s.",
                      fp_pi_state_name(st));
        return -1;
    }
    char pm_copy[64]; /* the stored string is replaced below */
    if (!pm || !*pm) {
        pm = str_of(x, "pm");
        if (pm) {
            snprintf(pm_copy, sizeof pm_copy, "%s", pm);
            pm = pm_copy;
        }
    }
    if (!pm) {
        fp_resp_error(resp, 400, "invalid_request_error", "payment_intent_unexpected_state",
                      "payment_method",
                      "You cannot confirm this PaymentIntent because it's missing a payment "
                      "method.");
        return -1;
    }
    fp_pm_kind kind = fp_pm_kind_of(pm);
    if (kind == FP_PM_UNKNOWN) {
        not_found(resp, "PaymentMethod", pm, "payment_method");
        return -1;
    }
    if (!valid_return_url(return_url)) {
        fp_resp_error(resp, 400, "invalid_request_error", "url_invalid", "return_url",
                      "Not a valid URL");
        return -1;
    }
    json_object_set_new(x, "pm", json_string(pm));
    json_object_set_new(pi, "payment_method", json_string(pm));
    if (return_url)
        json_object_set_new(x, "return_url", json_string(return_url));
    fp.dirty = 1;
    fp_pi_event ev = fp_pm_confirm_event(kind);
    switch (ev) {
    case FP_EV_CONFIRM_OK:
        succeed(rec);
        break;
    case FP_EV_CONFIRM_ACTION: {
        char url[1024];
        snprintf(url, sizeof url, "%s/authenticate/%s", fp.public_url, id);
        set_state(rec, FP_PI_REQUIRES_ACTION);
        json_t *na =
            json_pack("{s:s, s:{s:s}}", "type", "redirect_to_url", "redirect_to_url", "url", url);
        const char *ru = str_of(x, "return_url");
        if (ru)
            json_object_set_new(json_object_get(na, "redirect_to_url"), "return_url",
                                json_string(ru));
        json_object_set_new(pi, "next_action", na);
        json_object_set_new(pi, "last_payment_error", json_null());
        fp_event_emit("payment_intent.requires_action", pi);
        break;
    }
    case FP_EV_CONFIRM_PROCESSING:
        set_state(rec, FP_PI_PROCESSING);
        json_object_set_new(pi, "next_action", json_null());
        json_object_set_new(pi, "last_payment_error", json_null());
        json_object_set_new(x, "due_ms", json_integer(fp_now_ms() + PROCESSING_MS));
        fp_event_emit("payment_intent.processing", pi);
        break;
    default: {
        fail_with(rec, "card_declined", "generic_decline", "Your card was declined.");
        json_t *err = json_deep_copy(json_object_get(pi, "last_payment_error"));
        json_object_set_new(err, "payment_intent", json_deep_copy(pi));
        fp_resp_json(resp, 402, json_pack("{s:o}", "error", err));
        return 0;
    }
    }
    respond_intent(resp, rec);
    return 0;
}

int fp_intent_authenticate(json_t *rec, int ok)
{
    if (state_of(rec) != FP_PI_REQUIRES_ACTION)
        return -1;
    if (ok)
        succeed(rec);
    else
        fail_with(rec, "payment_intent_authentication_failure", NULL,
                  "The provided PaymentMethod has failed authentication.");
    return 0;
}

void fp_intents_create(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    if (fp_check_params(f, create_params, resp) != 0)
        return;
    long long amount;
    if (parse_amount(ml_form_get(f, "amount"), "amount", &amount, resp) != 0)
        return;
    const char *cur = ml_form_get(f, "currency");
    if (!cur || !*cur) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_missing", "currency",
                      "Missing required param: currency.");
        return;
    }
    if (!valid_currency(cur)) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_string", "currency",
                      "Invalid currency: %.16s. Supported: usd, eur, gbp, jpy, inr, cad, aud.",
                      cur);
        return;
    }
    const char *confirm = ml_form_get(f, "confirm");
    if (confirm && strcmp(confirm, "true") != 0 && strcmp(confirm, "false") != 0) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_boolean", "confirm",
                      "Invalid boolean: %.16s", confirm);
        return;
    }
    const char *pm = ml_form_get(f, "payment_method");
    if (pm && fp_pm_kind_of(pm) == FP_PM_UNKNOWN) {
        not_found(resp, "PaymentMethod", pm, "payment_method");
        return;
    }
    const char *return_url = ml_form_get(f, "return_url");
    if (!valid_return_url(return_url)) {
        fp_resp_error(resp, 400, "invalid_request_error", "url_invalid", "return_url",
                      "Not a valid URL");
        return;
    }
    json_t *md;
    if (fp_parse_metadata(f, &md, resp) != 0)
        return;
    char id[40], secret[80];
    fp_new_id("pi_", 24, id, sizeof id);
    char tail[40];
    fp_new_id("_secret_", 25, tail, sizeof tail);
    snprintf(secret, sizeof secret, "%s%s", id, tail);
    const char *desc = ml_form_get(f, "description");
    json_t *pi = json_pack(
        "{s:s, s:s, s:I, s:i, s:s, s:s, s:s, s:o, s:n, s:n, s:n, s:I, s:b, "
        "s:n, s:n, s:n}",
        "id", id, "object", "payment_intent", "amount", (json_int_t)amount, "amount_received", 0,
        "currency", cur, "status", "requires_payment_method", "client_secret", secret, "metadata",
        md, "last_payment_error", "next_action", "latest_charge", "created", (json_int_t)fp_now_s(),
        "livemode", 0, "payment_method", "description", "canceled_at");
    json_object_set_new(pi, "description", desc ? json_string(desc) : json_null());
    json_t *rec = json_pack("{s:o, s:{}}", "pi", pi, "x");
    json_object_set_new(fp.intents, id, rec);
    fp.dirty = 1;
    fp_event_emit("payment_intent.created", pi);
    if (pm && !(confirm && strcmp(confirm, "true") == 0)) {
        json_object_set_new(json_object_get(rec, "x"), "pm", json_string(pm));
        json_object_set_new(pi, "payment_method", json_string(pm));
        set_state(rec, (fp_pi_state)fp_pi_next(FP_PI_REQUIRES_PAYMENT_METHOD, FP_EV_ATTACH));
    }
    if (confirm && strcmp(confirm, "true") == 0) {
        fp_intent_confirm_pm(rec, pm, return_url, resp);
        return;
    }
    respond_intent(resp, rec);
}

void fp_intents_get(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    if (fp_check_params(f, get_params, resp) != 0)
        return;
    json_t *rec = fp_intent_find(req->args[0]);
    if (!rec) {
        not_found(resp, "payment_intent", req->args[0], "intent");
        return;
    }
    respond_intent(resp, rec);
}

void fp_intents_confirm(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    if (fp_check_params(f, confirm_params, resp) != 0)
        return;
    json_t *rec = fp_intent_find(req->args[0]);
    if (!rec) {
        not_found(resp, "payment_intent", req->args[0], "intent");
        return;
    }
    fp_intent_confirm_pm(rec, ml_form_get(f, "payment_method"), ml_form_get(f, "return_url"), resp);
}

/* Stripe's update: metadata and description at any time (metadata keys
 * merge; an empty value removes the key), amount, currency and
 * payment_method only before the payment is attempted. No event. */
void fp_intents_update(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    if (fp_check_params(f, update_params, resp) != 0)
        return;
    json_t *rec = fp_intent_find(req->args[0]);
    if (!rec) {
        not_found(resp, "payment_intent", req->args[0], "intent");
        return;
    }
    json_t *pi = pi_of(rec);
    const char *a = ml_form_get(f, "amount"), *cur = ml_form_get(f, "currency");
    const char *pm = ml_form_get(f, "payment_method"), *desc = ml_form_get(f, "description");
    fp_pi_state st = state_of(rec);
    long long amount = 0;
    if ((a || cur || pm) && fp_pi_next(st, FP_EV_ATTACH) < 0) {
        fp_resp_error(resp, 400, "invalid_request_error", "payment_intent_unexpected_state", NULL,
                      "You cannot update the amount, currency or payment method of a "
                      "PaymentIntent with a status of %s.",
                      fp_pi_state_name(st));
        return;
    }
    if (a && parse_amount(a, "amount", &amount, resp) != 0)
        return;
    if (cur && !valid_currency(cur)) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_string", "currency",
                      "Invalid currency: %.16s.", cur);
        return;
    }
    if (pm && fp_pm_kind_of(pm) == FP_PM_UNKNOWN) {
        not_found(resp, "PaymentMethod", pm, "payment_method");
        return;
    }
    json_t *add;
    if (fp_parse_metadata(f, &add, resp) != 0)
        return;
    json_t *md = json_deep_copy(json_object_get(pi, "metadata"));
    json_object_update(md, add);
    json_decref(add);
    for (size_t i = 0; i < f->n; i++) {
        const char *sub;
        size_t sl;
        char key[41];
        if (!f->pairs[i].value[0] && ml_form_subkey(f->pairs[i].key, "metadata", &sub, &sl) &&
            sl < sizeof key) {
            memcpy(key, sub, sl);
            key[sl] = '\0';
            json_object_del(md, key);
        }
    }
    if (json_object_size(md) > 50) {
        json_decref(md);
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_string", "metadata",
                      "Metadata can have up to 50 keys");
        return;
    }
    json_object_set_new(pi, "metadata", md);
    if (a)
        json_object_set_new(pi, "amount", json_integer(amount));
    if (cur)
        json_object_set_new(pi, "currency", json_string(cur));
    if (desc)
        json_object_set_new(pi, "description", desc[0] ? json_string(desc) : json_null());
    if (pm) {
        json_object_set_new(json_object_get(rec, "x"), "pm", json_string(pm));
        json_object_set_new(pi, "payment_method", json_string(pm));
        set_state(rec, (fp_pi_state)fp_pi_next(st, FP_EV_ATTACH));
    }
    fp.dirty = 1;
    respond_intent(resp, rec);
}

void fp_intents_cancel(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    static const char *const reasons[] = {"duplicate", "fraudulent", "requested_by_customer",
                                          "abandoned"};
    if (fp_check_params(f, cancel_params, resp) != 0)
        return;
    json_t *rec = fp_intent_find(req->args[0]);
    if (!rec) {
        not_found(resp, "payment_intent", req->args[0], "intent");
        return;
    }
    const char *reason = ml_form_get(f, "cancellation_reason");
    int ok = reason == NULL;
    for (size_t i = 0; reason && i < sizeof reasons / sizeof reasons[0]; i++)
        ok |= strcmp(reason, reasons[i]) == 0;
    if (!ok) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_string",
                      "cancellation_reason", "Invalid cancellation_reason: %.40s", reason);
        return;
    }
    fp_pi_state st = state_of(rec);
    if (fp_pi_next(st, FP_EV_CANCEL) < 0) {
        fp_resp_error(resp, 400, "invalid_request_error", "payment_intent_unexpected_state", NULL,
                      "You cannot cancel this PaymentIntent because it has a status of %s.",
                      fp_pi_state_name(st));
        return;
    }
    json_t *pi = pi_of(rec);
    set_state(rec, FP_PI_CANCELED);
    json_object_set_new(pi, "canceled_at", json_integer(fp_now_s()));
    json_object_set_new(pi, "cancellation_reason", reason ? json_string(reason) : json_null());
    json_object_set_new(pi, "next_action", json_null());
    fp_event_emit("payment_intent.canceled", pi);
    respond_intent(resp, rec);
}

void fp_intents_tick(long long now_ms)
{
    const char *k;
    json_t *rec;
    json_object_foreach(fp.intents, k, rec)
    {
        if (state_of(rec) != FP_PI_PROCESSING)
            continue;
        json_t *due = json_object_get(json_object_get(rec, "x"), "due_ms");
        if (json_integer_value(due) <= now_ms)
            succeed(rec);
    }
}

long long fp_intent_refunded(const char *pi_id)
{
    long long sum = 0;
    const char *k;
    json_t *rec;
    json_object_foreach(fp.refunds, k, rec)
    {
        json_t *re = json_object_get(rec, "re");
        const char *p = str_of(re, "payment_intent"), *st = str_of(re, "status");
        if (p && strcmp(p, pi_id) == 0 && st && strcmp(st, "failed") != 0)
            sum += json_integer_value(json_object_get(re, "amount"));
    }
    return sum;
}
