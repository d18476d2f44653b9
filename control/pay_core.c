/*
 * Applying provider state to our database (see pay_internal.h), used by the
 * API handlers (answers of our own provider calls), the webhook (events)
 * and the reconcile jobs (GETs): the three paths call the same SQL
 * (pay_apply_intent / pay_apply_refund), which moves states forward only
 * and books money once, so their order and repetitions do not matter.
 */
#include "control/pay_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "control/audit.h"
#include "control/booking.h"
#include "control/booking_internal.h"
#include "control/jobs.h"

void ctl_pay__create_key(long long payment_id, char *out, size_t cap)
{
    snprintf(out, cap, "ml-pay-%lld-create", payment_id);
}

void ctl_pay__refund_key(long long refund_id, char *out, size_t cap)
{
    snprintf(out, cap, "ml-refund-%lld", refund_id);
}

const char *ctl_pay__status_of(const ctl_pay_intent *pi, const char *forced)
{
    if (forced)
        return forced;
    switch (pi->status) {
    case CTL_PI_REQUIRES_PAYMENT_METHOD:
        return pi->error_code[0] || pi->error_message[0] ? "failed" : "requires_payment_method";
    case CTL_PI_REQUIRES_CONFIRMATION:
        return "requires_confirmation";
    case CTL_PI_REQUIRES_ACTION:
        return "requires_action";
    case CTL_PI_PROCESSING:
        return "processing";
    case CTL_PI_SUCCEEDED:
        return "succeeded";
    case CTL_PI_CANCELED:
        return "canceled";
    case CTL_PI_UNKNOWN:
        break;
    }
    return "pending_provider";
}

int ctl_pay__json(PGconn *c, const char *sql, int n, const char *const *p, json_t **out,
                  char *state, size_t statelen, char *err, size_t errlen)
{
    *out = NULL;
    if (state && statelen)
        state[0] = '\0';
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        if (state && statelen)
            snprintf(state, statelen, "%s", st ? st : "");
        snprintf(err, errlen, "%s", m ? m : PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
        *out = json_null();
    else
        *out = json_loads(PQgetvalue(r, 0, 0), JSON_DECODE_ANY, NULL);
    PQclear(r);
    if (!*out) {
        snprintf(err, errlen, "bad JSON from the database");
        return -1;
    }
    return 0;
}

int ctl_pay__enqueue(PGconn *c, const char *kind, const char *field, long long id,
                     const char *dedupe_key, long long delay_ms, char *err, size_t errlen)
{
    json_t *pl = json_pack("{s:I}", field, (json_int_t)id);
    ctl_job_spec s = {.kind = kind,
                      .payload = pl,
                      .delay_ms = delay_ms,
                      .max_attempts = 12,
                      .dedupe_key = dedupe_key};
    int rc = ctl_jobs_enqueue(c, &s, NULL, err, errlen);
    json_decref(pl);
    return rc;
}

int ctl_pay__enqueue_reconcile(PGconn *c, long long payment_id, long long delay_ms, char *err,
                               size_t errlen)
{
    char key[64];
    snprintf(key, sizeof key, "payment:%lld:reconcile", payment_id);
    return ctl_pay__enqueue(c, "payments.reconcile", "payment_id", payment_id, key, delay_ms, err,
                            errlen);
}

int ctl_pay__enqueue_refund(PGconn *c, long long refund_id, long long delay_ms, char *err,
                            size_t errlen)
{
    char key[64];
    snprintf(key, sizeof key, "refund:%lld", refund_id);
    return ctl_pay__enqueue(c, "payments.refund", "refund_id", refund_id, key, delay_ms, err,
                            errlen);
}

int ctl_pay__audit_refund(PGconn *c, const ctl_request *req, const json_t *refund, const char *why,
                          char *err, size_t errlen)
{
    ctl_audit_entry e;
    memset(&e, 0, sizeof e);
    if (req)
        ctl_audit_from_request(&e, req);
    else
        e.actor_role = "system";
    char pid[32];
    snprintf(pid, sizeof pid, "%lld",
             (long long)json_integer_value(json_object_get(refund, "payment_id")));
    json_t *d = json_pack("{s:O, s:O, s:O, s:s}", "refund_id", json_object_get(refund, "id"),
                          "amount_cents", json_object_get(refund, "amount_cents"), "method",
                          json_object_get(refund, "method"), "why", why);
    e.action = "payment.refund_requested";
    e.target_type = "payment";
    e.target_id = pid;
    e.details = d;
    int rc = ctl_audit_write(c, &e, err, errlen);
    json_decref(d);
    return rc;
}

/* The payment succeeded but its booking can no longer be confirmed (hold
 * expired, booking cancelled): refund it, once. */
static int refund_orphan(PGconn *c, long long payment_id, char *err, size_t errlen)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%lld", payment_id);
    const char *p[1] = {pid};
    json_t *ref;
    if (ctl_pay__json(c, "SELECT pay_request_refund($1::bigint, 'booking not confirmable')::text",
                      1, p, &ref, NULL, 0, err, errlen) != 0)
        return -1;
    int rc = 0;
    if (json_is_true(json_object_get(ref, "created")))
        rc = ctl_pay__audit_refund(c, NULL, ref, "paid after the hold was released", err, errlen);
    if (rc == 0 && strcmp(json_string_value(json_object_get(ref, "status"))
                              ? json_string_value(json_object_get(ref, "status"))
                              : "",
                          "pending_provider") == 0)
        rc = ctl_pay__enqueue_refund(c, json_integer_value(json_object_get(ref, "id")), 0, err,
                                     errlen);
    json_decref(ref);
    return rc;
}

int ctl_pay__apply_intent(PGconn *c, long long payment_id, const ctl_pay_intent *pi,
                          const char *status, json_t **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    char pid[32], amount[32];
    snprintf(pid, sizeof pid, "%lld", payment_id ? payment_id : pi->payment_id);
    long long received = pi->amount_received > 0            ? pi->amount_received
                         : strcmp(status, "succeeded") == 0 ? pi->amount
                                                            : 0;
    snprintf(amount, sizeof amount, "%lld", received);
    const char *errtext = pi->error_message[0] ? pi->error_message
                          : pi->error_code[0]  ? pi->error_code
                                               : NULL;
    const char *p[8] = {strcmp(pid, "0") ? pid : NULL,
                        pi->id[0] ? pi->id : NULL,
                        status,
                        amount,
                        pi->currency[0] ? pi->currency : NULL,
                        pi->client_secret[0] ? pi->client_secret : NULL,
                        pi->next_action_url[0] ? pi->next_action_url : NULL,
                        errtext};
    json_t *res;
    if (ctl_pay__json(
            c, "SELECT pay_apply_intent($1::bigint, $2, $3, $4::bigint, $5, $6, $7, $8)::text", 8,
            p, &res, NULL, 0, err, errlen) != 0)
        return -1;
    int rc = 0;
    long long bid = json_integer_value(json_object_get(res, "booking_id"));
    if (json_is_true(json_object_get(res, "succeeded_now")) && bid > 0) {
        /* Confirm in this transaction; a savepoint keeps the transaction
         * usable when the confirm fails (hold gone -> refund). */
        if (ctl_bk__tx(c, "SAVEPOINT pay_confirm") != 0) {
            snprintf(err, errlen, "savepoint failed");
            rc = -1;
        } else {
            char cerr[256] = "";
            int crc = ctl_booking_confirm_on_payment(c, bid, cerr, sizeof cerr);
            if (crc == 0) {
                ctl_bk__tx(c, "RELEASE SAVEPOINT pay_confirm");
            } else {
                ctl_bk__tx(c, "ROLLBACK TO SAVEPOINT pay_confirm");
                if (crc < 0) {
                    snprintf(err, errlen, "confirm: %s", cerr);
                    rc = -1;
                } else {
                    ML_INFO("payments", "payment %lld succeeded but booking %lld: %s; refunding",
                            (long long)json_integer_value(json_object_get(res, "payment_id")), bid,
                            cerr);
                    rc = refund_orphan(c, json_integer_value(json_object_get(res, "payment_id")),
                                       err, errlen);
                }
            }
        }
    }
    if (out)
        *out = res;
    else
        json_decref(res);
    return rc;
}

int ctl_pay__apply_refund(PGconn *c, long long refund_id, const ctl_pay_refund *re, char *err,
                          size_t errlen)
{
    const char *st = re->status == CTL_RE_SUCCEEDED                                 ? "succeeded"
                     : re->status == CTL_RE_FAILED || re->status == CTL_RE_CANCELED ? "failed"
                     : re->status == CTL_RE_PENDING                                 ? "pending"
                                                                                    : NULL;
    if (!st)
        return 0;
    char rid[32];
    snprintf(rid, sizeof rid, "%lld", refund_id ? refund_id : re->refund_id);
    const char *p[4] = {strcmp(rid, "0") ? rid : NULL, re->id[0] ? re->id : NULL, st,
                        re->status == CTL_RE_FAILED ? "the provider refused the refund" : NULL};
    json_t *res;
    if (ctl_pay__json(c, "SELECT pay_apply_refund($1::bigint, $2, $3, $4)::text", 4, p, &res, NULL,
                      0, err, errlen) != 0)
        return -1;
    json_decref(res);
    return 0;
}
