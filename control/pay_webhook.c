/*
 * POST /api/v1/payments/webhook: provider events. The raw body is checked
 * against the Stripe-Signature header (pay_sig.h) under every configured
 * webhook secret, within payments_webhook_tolerance_s; anything else is a
 * 400 that changes nothing. A genuine event is recorded by id
 * (pay_webhook_events, primary key) in the same transaction as its effect,
 * so a replay or a duplicate delivery is acknowledged and ignored. Effects
 * go through pay_apply_intent / pay_apply_refund, which move states forward
 * only, so events in any order converge. A database failure answers 503:
 * nothing was recorded and the provider delivers again.
 */
#include "control/booking_internal.h"
#include "control/db_tx.h"
#include "control/json.h"
#include "control/pay_internal.h"
#include "control/pay_sig.h"
#include "control/payments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

/* Event types and what they say about the object. */
typedef struct event_kind {
    const char *type;
    int refund;         /* data.object is a Refund (else a PaymentIntent) */
    const char *status; /* our payment status, NULL = from the object */
} event_kind;

static const event_kind kinds[] = {
    {"payment_intent.created", 0, NULL},
    {"payment_intent.processing", 0, "processing"},
    {"payment_intent.requires_action", 0, "requires_action"},
    {"payment_intent.succeeded", 0, "succeeded"},
    {"payment_intent.payment_failed", 0, "failed"},
    {"payment_intent.canceled", 0, "canceled"},
    {"refund.created", 1, NULL},
    {"refund.updated", 1, NULL},
    {"refund.failed", 1, NULL},
};

static const event_kind *kind_of(const char *type)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].type, type) == 0)
            return &kinds[i];
    return NULL;
}

static int verify(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    ctl_pay_settings s;
    ctl_pay_settings_get(&s);
    char list[sizeof s.webhook_secrets];
    snprintf(list, sizeof list, "%s", s.webhook_secrets);
    const char *secrets[16];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t l = strlen(t);
        while (l > 0 && t[l - 1] == ' ')
            t[--l] = '\0';
        if (*t)
            secrets[n++] = t;
    }
    if (n == 0) {
        ctl_response_problem(resp, 503, "payments-unavailable", "Service Unavailable",
                             "no webhook secret is configured", req);
        return -1;
    }
    int rc = ctl_pay_sig_verify(ctl_req_header(req, "stripe-signature"), req->body ? req->body : "",
                                req->body_len, secrets, n, (long long)time(NULL),
                                ctx->cfg->payments_webhook_tolerance_s);
    if (rc == CTL_PAY_SIG_OK)
        return 0;
    const char *why = rc == CTL_PAY_SIG_STALE ? "the signature's timestamp is outside the tolerance"
                      : rc == CTL_PAY_SIG_MISMATCH ? "no signature matches"
                                                   : "missing or malformed Stripe-Signature header";
    ML_WARN("payments", "webhook refused from %s: %s", req->remote_addr, why);
    ctl_response_problem(resp, 400, "invalid-signature", "Bad Request", why, req);
    return -1;
}

/* Apply one event in the open transaction. */
static int apply(PGconn *c, const event_kind *k, const json_t *obj, char *err, size_t errlen)
{
    if (k->refund) {
        ctl_pay_refund re;
        if (ctl_pay_refund_from_json(obj, &re) != 0) {
            snprintf(err, errlen, "data.object is not a refund");
            return 1;
        }
        return ctl_pay__apply_refund(c, 0, &re, err, errlen);
    }
    ctl_pay_intent pi;
    if (ctl_pay_intent_from_json(obj, &pi) != 0) {
        snprintf(err, errlen, "data.object is not a payment intent");
        return 1;
    }
    const char *st = ctl_pay__status_of(&pi, k->status);
    if (strcmp(st, "pending_provider") == 0)
        return 0;
    return ctl_pay__apply_intent(c, 0, &pi, st, NULL, err, errlen);
}

/* Record and apply one event in one transaction (ctl_db_tx_fn: only
 * database work, so a deadlock runs it again). */
typedef struct event_args {
    const char *id, *type;
    const json_t *obj;
    int fresh;   /* out: first delivery */
    int refused; /* out: a 400 is in resp */
} event_args;

static int event_once(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, void *arg,
                      char *err, size_t errlen)
{
    event_args *a = arg;
    PGconn *c = ctx->db.conn;
    const char *oid = json_string_value(json_object_get(a->obj, "id"));
    const char *p[3] = {a->id, a->type, oid};
    a->fresh = a->refused = 0;
    if (ctl_bk__tx(c, "BEGIN") != 0) {
        snprintf(err, errlen, "BEGIN failed: %s", PQerrorMessage(c));
        return -1;
    }
    PGresult *r =
        PQexecParams(c,
                     "INSERT INTO pay_webhook_events (id, type, object_id) VALUES ($1, $2, $3) "
                     "ON CONFLICT DO NOTHING RETURNING 1",
                     3, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    a->fresh = ok && PQntuples(r) == 1;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    int rc = ok ? 0 : -1;
    const event_kind *k = kind_of(a->type);
    if (a->fresh && k)
        rc = apply(c, k, a->obj, err, errlen);
    if (rc == 1) {
        ctl_bk__tx(c, "ROLLBACK");
        ctl_response_problem(resp, 400, "invalid-body", "Bad Request", err, req);
        a->refused = 1;
        return 0;
    }
    if (rc == 0 && ctl_bk__tx(c, "COMMIT") != 0) {
        snprintf(err, errlen, "commit failed: %s", PQerrorMessage(c));
        rc = -1;
    }
    return rc == 0 ? 0 : -1;
}

void ctl_pay_webhook(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp);
void ctl_pay_webhook(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (verify(ctx, req, resp) != 0)
        return;
    json_error_t je;
    json_t *ev = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &je);
    const char *id = json_string_value(json_object_get(ev, "id"));
    const char *type = json_string_value(json_object_get(ev, "type"));
    const json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
    if (!json_is_object(ev) || !id || !type || !json_is_object(obj) || strlen(id) > 200 ||
        strlen(type) > 100) {
        ctl_response_problem(resp, 400, "invalid-body", "Bad Request",
                             "not an event: id, type and data.object are required", req);
        json_decref(ev);
        return;
    }
    event_args ea = {.id = id, .type = type, .obj = obj};
    if (ctl_db_tx_run(ctx, req, resp, "webhook event", event_once, &ea) != 0 || ea.refused) {
        json_decref(ev);
        return; /* 503: nothing was recorded and the provider delivers again; or 400 */
    }
    int fresh = ea.fresh;
    const event_kind *k = kind_of(type);
    json_t *o = json_pack("{s:b, s:b, s:b}", "received", 1, "duplicate", !fresh, "handled",
                          fresh && k != NULL);
    ctl_json_respond(resp, 200, o);
    json_decref(ev);
}
