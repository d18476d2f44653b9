/*
 * Payment jobs and hooks (see payments.h):
 *   payments.reconcile  ask the provider about a payment without a final
 *                       state (re-send the create with the same
 *                       Idempotency-Key when it never got an answer)
 *   payments.refund     create or look up a card refund at the provider
 *   payments.cancel     cancel the intent of a payment whose seat is gone
 *   payments.sweep      expire idempotency keys, reconcile stale payments,
 *                       cancel intents left open by expired holds
 * and the booking-cancel hook that turns refund decisions into refunds.
 * Every handler is idempotent: provider calls carry keys derived from our
 * ids and the SQL moves states forward only.
 */
#include "control/pay_internal.h"
#include "control/booking_internal.h"
#include "control/db_tx.h"
#include "control/idempotency.h"
#include "control/payments.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

/* A payment state after which no job has anything left to do. */
static int pay_final(const char *status)
{
    return !strcmp(status, "succeeded") || !strcmp(status, "failed") || !strcmp(status, "canceled");
}

/* Shared start of the per-row jobs: read the id in `field` of the job's
 * payload, make sure the database is up and run `sql` with that id as $1.
 * Returns the one-row result (caller PQclears it) and the id in *id, or
 * NULL with the job code in *jobrc (PERMANENT for a bad payload or a row
 * that is gone, RETRY for a database error). */
static PGresult *job_row(ctl_ctx *ctx, const ctl_job *job, const char *field, const char *sql,
                         const char *what, long long *id, int *jobrc, char *err, size_t errlen)
{
    *id = json_integer_value(json_object_get(job->payload, field));
    if (*id <= 0) {
        snprintf(err, errlen, "bad payload");
        *jobrc = CTL_JOB_PERMANENT;
        return NULL;
    }
    if (ctl_db_ensure(&ctx->db, err, errlen) != 0) {
        *jobrc = CTL_JOB_RETRY;
        return NULL;
    }
    PGconn *c = ctx->db.conn;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", *id);
    const char *p[1] = {sid};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        int missing = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (missing)
            snprintf(err, errlen, "no such %s", what);
        else
            snprintf(err, errlen, "%s", PQerrorMessage(c));
        PQclear(r);
        *jobrc = missing ? CTL_JOB_PERMANENT : CTL_JOB_RETRY;
        return NULL;
    }
    return r;
}

/* Store the provider's view of payment `id` in one transaction (run again
 * on a deadlock: the provider's answer is already known); the job code to
 * return (RETRY when the database refused). */
typedef struct intent_args {
    long long id;
    const ctl_pay_intent *pi;
    const char *st;
} intent_args;

static int intent_once(PGconn *c, void *arg, char *err, size_t errlen)
{
    intent_args *a = arg;
    if (ctl_bk__tx(c, "BEGIN") != 0 || ctl_pay__apply_intent(c, a->id, a->pi, a->st, NULL, err,
                                                              errlen) != 0 ||
        ctl_bk__tx(c, "COMMIT") != 0)
        return -1;
    return 0;
}

static int commit_intent(ctl_ctx *ctx, long long id, const ctl_pay_intent *pi, const char *st,
                         char *err, size_t errlen)
{
    intent_args a = {id, pi, st};
    return ctl_db_tx_retry(&ctx->db, ctx->cfg->db_tx_attempts, "payment job", intent_once, &a,
                           err, errlen) == 0
               ? CTL_JOB_OK
               : CTL_JOB_RETRY;
}

static int enqueue_cancel(PGconn *c, long long payment_id, char *err, size_t errlen)
{
    char key[64];
    snprintf(key, sizeof key, "payment:%lld:cancel", payment_id);
    return ctl_pay__enqueue(c, "payments.cancel", "payment_id", payment_id, key, 0, err, errlen);
}

int ctl_pay_on_bookings_cancelled(PGconn *c, const ctl_request *req, const char *ids, char *err,
                                  size_t errlen)
{
    const char *p[1] = {ids};
    PGresult *r =
        PQexecParams(c, "SELECT unnest(pay_on_cancelled($1::bigint[]))", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "refunds: %s", PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = ctl_pay__enqueue_refund(c, strtoll(PQgetvalue(r, i, 0), NULL, 10), 0, err, errlen);
    PQclear(r);
    /* Card payments still waiting for the customer: cancel their intents
     * so that nobody pays for a seat that is gone. */
    r = PQexecParams(c,
                     "SELECT id FROM payments WHERE booking_id = ANY ($1::bigint[]) AND method = "
                     "'card' AND status IN ('pending_provider', 'requires_payment_method', "
                     "'requires_confirmation', 'requires_action')",
                     1, NULL, p, NULL, NULL, 0);
    if (rc == 0 && PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "pending payments: %s", PQerrorMessage(c));
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = enqueue_cancel(c, strtoll(PQgetvalue(r, i, 0), NULL, 10), err, errlen);
    PQclear(r);
    /* Audit every refund these cancellations created (credits ones too). */
    r = PQexecParams(
        c,
        "SELECT jsonb_build_object('id', rf.id, 'payment_id', rf.payment_id, "
        "'amount_cents', rf.amount_cents, 'method', rf.method)::text FROM pay_refunds rf "
        "JOIN payments p ON p.id = rf.payment_id WHERE p.booking_id = ANY ($1::bigint[]) "
        "AND rf.created_at = now()",
        1, NULL, p, NULL, NULL, 0);
    if (rc == 0 && PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "refund audit: %s", PQerrorMessage(c));
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *ref = json_loads(PQgetvalue(r, i, 0), 0, NULL);
        rc = ctl_pay__audit_refund(c, req, ref, "booking cancelled", err, errlen);
        json_decref(ref);
    }
    PQclear(r);
    return rc;
}

int ctl_pay_reconcile_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    long long id;
    int jobrc;
    PGresult *r =
        job_row(ctx, job, "payment_id",
                "SELECT status, coalesce(provider_intent_id, ''), amount_cents, currency, "
                "coalesce(payment_method, ''), coalesce(booking_id, 0), method "
                "FROM payments WHERE id = $1::bigint",
                "payment", &id, &jobrc, err, errlen);
    if (!r)
        return jobrc;
    char status[32], intent[128], cur[8], pm[128];
    snprintf(status, sizeof status, "%s", PQgetvalue(r, 0, 0));
    snprintf(intent, sizeof intent, "%s", PQgetvalue(r, 0, 1));
    long long amount = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    snprintf(cur, sizeof cur, "%s", PQgetvalue(r, 0, 3));
    snprintf(pm, sizeof pm, "%s", PQgetvalue(r, 0, 4));
    long long bid = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
    int by_credits = strcmp(PQgetvalue(r, 0, 6), "credits") == 0;
    PQclear(r);
    if (by_credits || pay_final(status))
        return CTL_JOB_OK;
    ctl_pay_intent pi;
    ctl_pay_error pe;
    ctl_pay_rc rc;
    if (intent[0]) {
        rc = ctl_pay_get_intent(ctx->cfg, intent, &pi, &pe);
    } else {
        char key[64], desc[96];
        ctl_pay__create_key(id, key, sizeof key);
        if (bid > 0)
            snprintf(desc, sizeof desc, "MentorLink booking %lld", bid);
        else
            snprintf(desc, sizeof desc, "MentorLink credits");
        ctl_pay_create cr = {.amount = amount,
                             .currency = cur,
                             .payment_method = pm[0] ? pm : NULL,
                             .payment_id = id,
                             .description = desc};
        rc = ctl_pay_create_intent(ctx->cfg, &cr, key, &pi, &pe);
    }
    if (rc == CTL_PAY_UNAVAILABLE) {
        snprintf(err, errlen, "provider unavailable: %s", pe.message);
        return CTL_JOB_RETRY;
    }
    const char *st = rc == CTL_PAY_OK ? ctl_pay__status_of(&pi, NULL) : "failed";
    if (rc != CTL_PAY_OK && !pi.error_message[0])
        snprintf(pi.error_message, sizeof pi.error_message, "%s",
                 pe.message[0] ? pe.message : "refused by the provider");
    if (commit_intent(ctx, id, &pi, st, err, errlen) != CTL_JOB_OK)
        return CTL_JOB_RETRY;
    ML_INFO("payments", "payment %lld reconciled: %s", id, st);
    return CTL_JOB_OK;
}

/* Store a refund's provider state in one transaction (run again on a
 * deadlock). */
typedef struct refund_args {
    long long id;
    const ctl_pay_refund *re;
} refund_args;

static int refund_once(PGconn *c, void *arg, char *err, size_t errlen)
{
    refund_args *a = arg;
    if (ctl_bk__tx(c, "BEGIN") != 0 || ctl_pay__apply_refund(c, a->id, a->re, err, errlen) != 0 ||
        ctl_bk__tx(c, "COMMIT") != 0)
        return -1;
    return 0;
}

int ctl_pay_refund_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    long long id;
    int jobrc;
    PGresult *r = job_row(ctx, job, "refund_id",
                          "SELECT r.status, coalesce(r.provider_refund_id, ''), r.amount_cents, "
                          "coalesce(p.provider_intent_id, ''), r.method FROM pay_refunds r "
                          "JOIN payments p ON p.id = r.payment_id WHERE r.id = $1::bigint",
                          "refund", &id, &jobrc, err, errlen);
    if (!r)
        return jobrc;
    char status[32], prov[128], intent[128];
    snprintf(status, sizeof status, "%s", PQgetvalue(r, 0, 0));
    snprintf(prov, sizeof prov, "%s", PQgetvalue(r, 0, 1));
    long long amount = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    snprintf(intent, sizeof intent, "%s", PQgetvalue(r, 0, 3));
    int card = strcmp(PQgetvalue(r, 0, 4), "card") == 0;
    PQclear(r);
    if (!card || !strcmp(status, "succeeded") || !strcmp(status, "failed"))
        return CTL_JOB_OK;
    ctl_pay_refund re;
    ctl_pay_error pe;
    ctl_pay_rc rc;
    if (prov[0]) {
        rc = ctl_pay_get_refund(ctx->cfg, prov, &re, &pe);
    } else {
        char key[64];
        ctl_pay__refund_key(id, key, sizeof key);
        rc = ctl_pay_create_refund(ctx->cfg, intent, amount, id, key, &re, &pe);
    }
    if (rc == CTL_PAY_UNAVAILABLE) {
        snprintf(err, errlen, "provider unavailable: %s", pe.message);
        return CTL_JOB_RETRY;
    }
    if (rc != CTL_PAY_OK) {
        memset(&re, 0, sizeof re);
        re.status = CTL_RE_FAILED;
        ML_WARN("payments", "refund %lld refused by the provider: %s", id, pe.message);
    }
    refund_args ra = {id, &re};
    if (ctl_db_tx_retry(&ctx->db, ctx->cfg->db_tx_attempts, "refund job", refund_once, &ra, err,
                        errlen) != 0)
        return CTL_JOB_RETRY;
    if (re.status == CTL_RE_PENDING) {
        snprintf(err, errlen, "refund %lld still pending at the provider", id);
        return CTL_JOB_RETRY; /* look again after the back-off (webhooks may be faster) */
    }
    return CTL_JOB_OK;
}

int ctl_pay_cancel_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    long long id;
    int jobrc;
    PGresult *r = job_row(ctx, job, "payment_id",
                          "SELECT p.status, coalesce(p.provider_intent_id, ''), "
                          "coalesce(b.status, '') FROM payments p LEFT JOIN bookings b ON "
                          "b.id = p.booking_id WHERE p.id = $1::bigint",
                          "payment", &id, &jobrc, err, errlen);
    if (!r)
        return jobrc;
    char status[32], intent[128], bstatus[32];
    snprintf(status, sizeof status, "%s", PQgetvalue(r, 0, 0));
    snprintf(intent, sizeof intent, "%s", PQgetvalue(r, 0, 1));
    snprintf(bstatus, sizeof bstatus, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    if (pay_final(status) || !strcmp(bstatus, "held") || !strcmp(bstatus, "confirmed"))
        return CTL_JOB_OK; /* final, or the seat is still wanted */
    if (!intent[0]) {
        snprintf(err, errlen, "payment %lld has no intent yet", id);
        return CTL_JOB_RETRY; /* the reconcile job creates it first */
    }
    char key[64];
    snprintf(key, sizeof key, "ml-pay-%lld-cancel", id);
    ctl_pay_intent pi;
    ctl_pay_error pe;
    ctl_pay_rc rc = ctl_pay_cancel_intent(ctx->cfg, intent, key, &pi, &pe);
    if (rc == CTL_PAY_REJECTED) /* e.g. it succeeded meanwhile: take its state */
        rc = ctl_pay_get_intent(ctx->cfg, intent, &pi, &pe);
    if (rc != CTL_PAY_OK) {
        snprintf(err, errlen, "cancel: %s", pe.message);
        return CTL_JOB_RETRY;
    }
    return commit_intent(ctx, id, &pi, ctl_pay__status_of(&pi, NULL), err, errlen);
}

static int enqueue_sweep(PGconn *c, long long delay_ms, char *err, size_t errlen)
{
    char key[64];
    snprintf(key, sizeof key, "payments:sweep:%lld",
             (long long)(time(NULL) + delay_ms / 1000) / 3600);
    ctl_job_spec s = {.kind = "payments.sweep", .delay_ms = delay_ms, .dedupe_key = key};
    return ctl_jobs_enqueue(c, &s, NULL, err, errlen);
}

int ctl_pay_sweep_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    (void)job;
    if (ctl_db_ensure(&ctx->db, err, errlen) != 0)
        return CTL_JOB_RETRY;
    PGconn *c = ctx->db.conn;
    long long gone = ctl_idem_sweep(c, err, errlen);
    if (gone < 0)
        return CTL_JOB_RETRY;
    char age[16];
    snprintf(age, sizeof age, "%d", ctx->cfg->payments_reconcile_s);
    const char *p[1] = {age};
    PGresult *r =
        PQexecParams(c,
                     "SELECT id FROM payments WHERE status IN ('pending_provider', "
                     "'requires_confirmation', 'processing', 'requires_action', "
                     "'requires_payment_method') AND method = 'card' AND updated_at < now() - "
                     "make_interval(secs => $1::int) AND created_at > now() - interval '7 days' "
                     "ORDER BY id LIMIT 500",
                     1, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = ctl_pay__enqueue_reconcile(c, strtoll(PQgetvalue(r, i, 0), NULL, 10), 0, err, errlen);
    PQclear(r);
    /* Intents still open for seats that are gone (hold expired). */
    r = PQexec(c, "SELECT p.id FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE "
                  "p.method = 'card' AND p.status IN ('requires_payment_method', "
                  "'requires_confirmation', 'requires_action') AND b.status NOT IN ('held', "
                  "'confirmed') ORDER BY p.id LIMIT 500");
    if (rc == 0 && PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = -1;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = enqueue_cancel(c, strtoll(PQgetvalue(r, i, 0), NULL, 10), err, errlen);
    PQclear(r);
    if (rc == 0)
        rc = enqueue_sweep(c, 3600 * 1000LL, err, errlen);
    ML_INFO("payments", "sweep: %lld idempotency key(s) expired", gone);
    return rc == 0 ? CTL_JOB_OK : CTL_JOB_RETRY;
}

int ctl_pay_init(const ml_config *cfg, const char *database_url, char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        return -1;
    }
    if (cfg->payments_provider_url[0])
        ctl_pay_settings_from_config(cfg);
    PGconn *c = ctl_db_connect(database_url, 5, err, errlen);
    if (!c)
        return -1;
    int rc = enqueue_sweep(c, 60 * 1000LL, err, errlen);
    PQfinish(c);
    return rc;
}
