/*
 * Refunds: created "pending" against a succeeded PaymentIntent, settled by
 * the tick ~200 ms later to "succeeded" (events refund.updated and
 * charge.refunded) or, with metadata[fakepay_fail]=1, to "failed" (event
 * refund.updated; the amount becomes refundable again). Each settles
 * exactly once: the status change and the events are written to the
 * state file together, so a restart neither repeats nor loses them.
 * Stored in fp.refunds as {"re": <Refund>, "x": {"due_ms", "fail"}}.
 */
#include "tools/fakepay/fakepay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTLE_MS 200

static const char *const create_params[] = {"payment_intent", "amount",  "metadata[", "reason",
                                            "charge",         "expand[", NULL};
static const char *const get_params[] = {"expand[", NULL};

void fp_refunds_create(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    if (fp_check_params(f, create_params, resp) != 0)
        return;
    const char *pi_id = ml_form_get(f, "payment_intent");
    if (!pi_id || !*pi_id) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_missing", "payment_intent",
                      "Missing required param: payment_intent.");
        return;
    }
    json_t *rec = fp_intent_find(pi_id);
    if (!rec) {
        fp_resp_error(resp, 404, "invalid_request_error", "resource_missing", "payment_intent",
                      "No such payment_intent: '%.64s'", pi_id);
        return;
    }
    json_t *pi = json_object_get(rec, "pi");
    const char *status = json_string_value(json_object_get(pi, "status"));
    if (!status || strcmp(status, "succeeded") != 0) {
        fp_resp_error(resp, 400, "invalid_request_error", "charge_not_refundable", "payment_intent",
                      "This PaymentIntent has a status of %s; only succeeded payments can be "
                      "refunded.",
                      status ? status : "unknown");
        return;
    }
    const char *reason = ml_form_get(f, "reason");
    if (reason && strcmp(reason, "duplicate") != 0 && strcmp(reason, "fraudulent") != 0 &&
        strcmp(reason, "requested_by_customer") != 0) {
        fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_string", "reason",
                      "Invalid reason: %.40s", reason);
        return;
    }
    long long total = json_integer_value(json_object_get(pi, "amount"));
    long long left = total - fp_intent_refunded(pi_id);
    long long amount = left;
    const char *a = ml_form_get(f, "amount");
    if (a) {
        char *end = NULL;
        long long v = strtoll(a, &end, 10);
        if (!*a || *end || a[0] == '+' || a[0] == ' ' || strlen(a) > 12) {
            fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_integer", "amount",
                          "Invalid integer: %.40s", a);
            return;
        }
        if (v < 1) {
            fp_resp_error(resp, 400, "invalid_request_error", "amount_too_small", "amount",
                          "Refund amount must be at least 1.");
            return;
        }
        amount = v;
    }
    if (left <= 0) {
        fp_resp_error(resp, 400, "invalid_request_error", "charge_already_refunded", NULL,
                      "Charge for PaymentIntent %s has already been refunded.", pi_id);
        return;
    }
    if (amount > left) {
        fp_resp_error(resp, 400, "invalid_request_error", "amount_too_large", "amount",
                      "Refund amount (%lld) is greater than unrefunded amount on charge (%lld)",
                      amount, left);
        return;
    }
    json_t *md;
    if (fp_parse_metadata(f, &md, resp) != 0)
        return;
    const char *failflag = json_string_value(json_object_get(md, "fakepay_fail"));
    int fail = failflag && strcmp(failflag, "1") == 0;
    char id[40];
    fp_new_id("re_", 24, id, sizeof id);
    json_t *re = json_pack(
        "{s:s, s:s, s:I, s:O, s:s, s:O, s:s, s:o, s:I, s:o}", "id", id, "object", "refund",
        "amount", (json_int_t)amount, "currency", json_object_get(pi, "currency"), "payment_intent",
        pi_id, "charge", json_object_get(pi, "latest_charge"), "status", "pending", "metadata", md,
        "created", (json_int_t)fp_now_s(), "reason", reason ? json_string(reason) : json_null());
    json_object_set_new(fp.refunds, id,
                        json_pack("{s:o, s:{s:I, s:b}}", "re", re, "x", "due_ms",
                                  (json_int_t)(fp_now_ms() + SETTLE_MS), "fail", fail));
    fp.dirty = 1;
    fp_event_emit("refund.created", re);
    fp_resp_json(resp, 200, json_deep_copy(re));
}

void fp_refunds_get(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    if (fp_check_params(f, get_params, resp) != 0)
        return;
    json_t *rec = json_object_get(fp.refunds, req->args[0]);
    if (!rec) {
        fp_resp_error(resp, 404, "invalid_request_error", "resource_missing", "id",
                      "No such refund: '%.64s'", req->args[0]);
        return;
    }
    fp_resp_json(resp, 200, json_deep_copy(json_object_get(rec, "re")));
}

/* The Charge object sent with charge.refunded. */
static json_t *charge_of(json_t *pi_rec)
{
    json_t *pi = json_object_get(pi_rec, "pi");
    const char *id = json_string_value(json_object_get(pi, "id"));
    long long amount = json_integer_value(json_object_get(pi, "amount"));
    long long refunded = fp_intent_refunded(id);
    /* pending refunds are not refunded yet */
    const char *k;
    json_t *rec;
    json_object_foreach(fp.refunds, k, rec)
    {
        json_t *re = json_object_get(rec, "re");
        const char *p = json_string_value(json_object_get(re, "payment_intent"));
        const char *st = json_string_value(json_object_get(re, "status"));
        if (p && strcmp(p, id) == 0 && st && strcmp(st, "pending") == 0)
            refunded -= json_integer_value(json_object_get(re, "amount"));
    }
    return json_pack(
        "{s:O, s:s, s:I, s:I, s:b, s:O, s:s, s:O, s:b}", "id", json_object_get(pi, "latest_charge"),
        "object", "charge", "amount", (json_int_t)amount, "amount_refunded", (json_int_t)refunded,
        "refunded", refunded >= amount, "currency", json_object_get(pi, "currency"),
        "payment_intent", id, "metadata", json_object_get(pi, "metadata"), "livemode", 0);
}

void fp_refunds_tick(long long now_ms)
{
    const char *k;
    json_t *rec;
    json_object_foreach(fp.refunds, k, rec)
    {
        json_t *re = json_object_get(rec, "re"), *x = json_object_get(rec, "x");
        const char *st = json_string_value(json_object_get(re, "status"));
        if (!st || strcmp(st, "pending") != 0 ||
            json_integer_value(json_object_get(x, "due_ms")) > now_ms)
            continue;
        int fail = json_is_true(json_object_get(x, "fail"));
        json_object_set_new(re, "status", json_string(fail ? "failed" : "succeeded"));
        if (fail)
            json_object_set_new(re, "failure_reason", json_string("unknown"));
        fp.dirty = 1;
        fp_event_emit("refund.updated", re);
        if (!fail) {
            json_t *pi_rec =
                fp_intent_find(json_string_value(json_object_get(re, "payment_intent")));
            if (pi_rec) {
                json_t *ch = charge_of(pi_rec);
                if (ch)
                    fp_event_emit("charge.refunded", ch);
                json_decref(ch);
            }
        }
    }
}
