/*
 * Payment routes (money-moving POSTs need an Idempotency-Key and are rate
 * limited per user):
 *
 *   POST /api/v1/bookings/{id}/pay            {method: card|credits, payment_method?, return_url?}
 *   POST /api/v1/credits/purchase             {amount_cents, currency?, payment_method?,
 * return_url?} GET  /api/v1/credits                      balance + entries (cursor pagination) GET
 * /api/v1/mentor/earnings              the mentor's statement GET  /api/v1/payments/{id} one
 * payment (its owner or an admin) GET  /api/v1/admin/payments/report ?from=YYYY-MM-DD&to=YYYY-MM-DD
 *   POST /api/v1/admin/payments/{id}/refund   refund a payment once
 *
 * A card payment is written as `pending_provider` and committed before the
 * provider is called (with an Idempotency-Key derived from the payment id),
 * so a timeout or 5xx leaves a row a retry or the reconcile job completes,
 * and never a charge we do not know about. Without payment_method the
 * answer carries client_secret and checkout_url for the browser; with one
 * (pm_card_visa, ...) the intent is confirmed at once.
 */
#include "control/booking.h"
#include "control/booking_internal.h"
#include "control/db_tx.h"
#include "control/idempotency.h"
#include "control/json.h"
#include "control/pagination.h"
#include "control/pay_internal.h"
#include "control/payments.h"
#include "control/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Add members of `extra` (stolen) to the problem document in resp. */
static void problem_with(ctl_response *resp, int status, const char *slug, const char *title,
                         const char *detail, const ctl_request *req, json_t *extra)
{
    ctl_response_problem(resp, status, slug, title, detail, req);
    json_t *o = resp->body ? json_loads(resp->body, 0, NULL) : NULL;
    if (o && extra) {
        json_object_update(o, extra);
        char *t = json_dumps(o, JSON_COMPACT);
        if (t) {
            free(resp->body);
            resp->body = t;
            resp->body_len = strlen(t);
        }
    }
    json_decref(o);
    json_decref(extra);
}

static void db_problem(ctl_response *resp, const ctl_request *req)
{
    ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                         "the database is unavailable", req);
}

/* SQL errors of the payment functions: MB402 is "insufficient credits",
 * the rest as for booking. */
static void sql_problem(const PGresult *r, const ctl_request *req, ctl_response *resp)
{
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (st && strcmp(st, "MB402") == 0)
        ctl_response_problem(resp, 402, "insufficient-credits", "Payment Required",
                             "your credit balance is too low for this payment", req);
    else
        ctl_bk__sql_problem(r, req, resp);
}

static int money_gate(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, int needs_provider)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", req->who.user_id);
    ctl_rate_policy p = {"payments", ctx->cfg->payments_rate_per_minute, 60, 1};
    if (ctl_ratelimit_check(ctx, &p, key, req, resp) != 0)
        return -1;
    if (needs_provider) {
        ctl_pay_settings s;
        ctl_pay_settings_get(&s);
        if (!s.ready) {
            ctl_response_problem(resp, 503, "payments-unavailable", "Service Unavailable",
                                 "no payment provider is configured or running", req);
            ctl_response_add_header(resp, "Retry-After", "30");
            return -1;
        }
    }
    return ctl_bk__db(ctx, req, resp);
}

static void urlenc(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            out[n++] = (char)*p;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
    }
    out[n] = '\0';
}

/* The payment as JSON (a new reference), with checkout_url for an intent
 * the browser still has to confirm. NULL on database error. */
static json_t *payment_view(ctl_ctx *ctx, long long id, const char *return_url)
{
    char pid[32], err[256];
    snprintf(pid, sizeof pid, "%lld", id);
    const char *p[1] = {pid};
    json_t *o;
    if (ctl_pay__json(ctx->db.conn,
                      "SELECT pay_json(p)::text FROM payments p WHERE id = $1::bigint", 1, p, &o,
                      NULL, 0, err, sizeof err) != 0)
        return NULL;
    const char *st = json_string_value(json_object_get(o, "status"));
    const char *pi = json_string_value(json_object_get(o, "provider_intent_id"));
    const char *cs = json_string_value(json_object_get(o, "client_secret"));
    if (st && pi && cs &&
        (!strcmp(st, "requires_payment_method") || !strcmp(st, "requires_confirmation"))) {
        ctl_pay_settings s;
        ctl_pay_settings_get(&s);
        char ret[600], e1[400], e2[1800], url[3000];
        if (return_url)
            snprintf(ret, sizeof ret, "%s", return_url);
        else if (ctx->cfg->public_url[0])
            snprintf(ret, sizeof ret, "%s/?payment=%lld", ctx->cfg->public_url, id);
        else
            snprintf(ret, sizeof ret, "http://%s:%d/?payment=%lld", ctx->cfg->listen_host,
                     ctx->cfg->listen_port, id);
        urlenc(cs, e1, sizeof e1);
        urlenc(ret, e2, sizeof e2);
        snprintf(url, sizeof url, "%s/checkout/%s?client_secret=%s&return_url=%s", s.public_url, pi,
                 e1, e2);
        json_object_set_new(o, "checkout_url", json_string(url));
    } else {
        json_object_set_new(o, "checkout_url", json_null());
    }
    return o;
}

/* Apply a provider answer in its own transaction (ctl_db_tx_fn; the
 * answer is already known, so the transaction may run again). */
typedef struct apply_args {
    long long id;
    const ctl_pay_intent *pi;
    const char *status;
} apply_args;

static int apply_once(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, void *arg,
                      char *err, size_t errlen)
{
    (void)req;
    (void)resp;
    apply_args *a = arg;
    PGconn *c = ctx->db.conn;
    if (ctl_bk__tx(c, "BEGIN") != 0) {
        snprintf(err, errlen, "BEGIN failed: %s", PQerrorMessage(c));
        return -1;
    }
    if (ctl_pay__apply_intent(c, a->id, a->pi, a->status, NULL, err, errlen) != 0 ||
        ctl_bk__tx(c, "COMMIT") != 0)
        return -1;
    return 0;
}

/* 0, or -1 with a 503 problem in resp (logged with the payment id). */
static int apply_tx(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, long long id,
                    const ctl_pay_intent *pi, const char *status)
{
    apply_args a = {id, pi, status};
    char what[96];
    snprintf(what, sizeof what, "payment %lld: storing the provider's answer", id);
    return ctl_db_tx_run(ctx, req, resp, what, apply_once, &a);
}

/* The provider part of a card payment `pay` (pay_json of a committed row):
 * create (and with a payment method, confirm) the intent unless that
 * already happened, apply the answer, respond. */
static void card_step(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, const json_t *pay,
                      int status_ok, const char *return_url)
{
    long long id = json_integer_value(json_object_get(pay, "id"));
    const char *st = json_string_value(json_object_get(pay, "status"));
    if (st && strcmp(st, "pending_provider") == 0) {
        char pid[32], pm[128] = "", key[64], desc[96];
        snprintf(pid, sizeof pid, "%lld", id);
        const char *p[1] = {pid};
        PGresult *r = PQexecParams(
            ctx->db.conn, "SELECT coalesce(payment_method, '') FROM payments WHERE id = $1::bigint",
            1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            snprintf(pm, sizeof pm, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        long long bid = json_integer_value(json_object_get(pay, "booking_id"));
        if (bid > 0)
            snprintf(desc, sizeof desc, "MentorLink booking %lld", bid);
        else
            snprintf(desc, sizeof desc, "MentorLink credits");
        ctl_pay__create_key(id, key, sizeof key);
        ctl_pay_create cr = {.amount = json_integer_value(json_object_get(pay, "amount_cents")),
                             .currency = json_string_value(json_object_get(pay, "currency")),
                             .payment_method = pm[0] ? pm : NULL,
                             .payment_id = id,
                             .description = desc};
        ctl_pay_intent pi;
        ctl_pay_error pe;
        ctl_pay_rc rc = ctl_pay_create_intent(ctx->cfg, &cr, key, &pi, &pe);
        if (rc == CTL_PAY_UNAVAILABLE) {
            ML_WARN("payments", "payment %lld: provider unavailable: %s", id, pe.message);
            char detail[400];
            snprintf(detail, sizeof detail,
                     "the payment provider did not answer (%s); nothing was charged twice: the "
                     "payment is pending and will be completed or released automatically; retry "
                     "with the same Idempotency-Key",
                     pe.http_status ? "error" : "timeout or connection failure");
            problem_with(resp, pe.http_status >= 500 ? 502 : 503, "payment-provider-unavailable",
                         pe.http_status >= 500 ? "Bad Gateway" : "Service Unavailable", detail, req,
                         json_pack("{s:I, s:s, s:b}", "payment_id", (json_int_t)id,
                                   "payment_status", "pending_provider", "retryable", 1));
            ctl_response_add_header(resp, "Retry-After", "5");
            return;
        }
        if (rc == CTL_PAY_DECLINED || rc == CTL_PAY_REJECTED) {
            if (!pi.id[0] && pe.message[0])
                snprintf(pi.error_message, sizeof pi.error_message, "%s", pe.message);
            if (!pi.error_message[0])
                snprintf(pi.error_message, sizeof pi.error_message, "%s",
                         pe.message[0] ? pe.message : "declined");
            if (apply_tx(ctx, req, resp, id, &pi, "failed") != 0)
                return;
            problem_with(resp, rc == CTL_PAY_DECLINED ? 402 : 422,
                         rc == CTL_PAY_DECLINED ? "payment-declined" : "payment-rejected",
                         rc == CTL_PAY_DECLINED ? "Payment Required" : "Unprocessable Content",
                         pe.message[0] ? pe.message : "the payment was refused", req,
                         json_pack("{s:I, s:s, s:s}", "payment_id", (json_int_t)id,
                                   "payment_status", "failed", "code", pe.code));
            return;
        }
        if (apply_tx(ctx, req, resp, id, &pi, ctl_pay__status_of(&pi, NULL)) != 0)
            return;
    }
    json_t *view = payment_view(ctx, id, return_url);
    if (!view) {
        db_problem(resp, req);
        return;
    }
    ctl_json_respond(resp, status_ok, view);
}

static const ctl_json_field pay_fields[] = {
    {"method", CTL_JSON_ENUM, CTL_JSON_REQUIRED, 0, 0, "card|credits"},
    {"payment_method", CTL_JSON_STRING, 0, 4, 100, NULL},
    {"return_url", CTL_JSON_STRING, 0, 8, 500, NULL},
};

static int pm_ok(const char *pm)
{
    if (!pm)
        return 1;
    if (strncmp(pm, "pm_", 3) != 0)
        return 0;
    for (const char *p = pm; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return 1;
}

static int return_ok(const char *u)
{
    return !u || strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* The optional card fields of a money POST; 0, or -1 with a 400 in resp. */
static int card_fields_ok(const ctl_request *req, ctl_response *resp, const char *pm,
                          const char *ret)
{
    if (!pm_ok(pm)) {
        ctl_json_field_problem(resp, req, "payment_method", "must be a payment method id (pm_...)");
        return -1;
    }
    if (!return_ok(ret)) {
        ctl_json_field_problem(resp, req, "return_url", "must be an http(s) URL");
        return -1;
    }
    return 0;
}

/* A money transaction: BEGIN, call the payment SQL function `sql`, whose
 * answer is a JSON object with a string member `must`, run `then` on it,
 * COMMIT. Run by ctl_db_tx_run (only database work, so it may run again). */
typedef struct money_tx {
    const char *sql;
    int n;
    const char *const *p;
    const char *must;
    /* 0: commit; 1: refused with a problem in resp (rolled back); -1 + err:
     * a database failure. */
    int (*then)(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, const json_t *o,
                void *arg, char *err, size_t errlen);
    void *arg;
    json_t *out; /* the committed answer (caller decrefs), NULL when refused */
} money_tx;

static int money_once(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, void *arg,
                      char *err, size_t errlen)
{
    money_tx *m = arg;
    PGconn *c = ctx->db.conn;
    json_decref(m->out);
    m->out = NULL;
    if (ctl_bk__tx(c, "BEGIN") != 0) {
        snprintf(err, errlen, "BEGIN failed: %s", PQerrorMessage(c));
        return -1;
    }
    PGresult *r = PQexecParams(c, m->sql, m->n, NULL, m->p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int refused = ctl_bk__refused(r);
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        if (refused) {
            ctl_bk__tx(c, "ROLLBACK");
            sql_problem(r, req, resp);
        }
        PQclear(r);
        return refused ? 0 : -1;
    }
    json_t *o = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (!json_is_object(o) || !json_is_string(json_object_get(o, m->must))) {
        json_decref(o);
        snprintf(err, errlen, "unexpected answer of the payment function");
        return -1;
    }
    int rc = m->then ? m->then(ctx, req, resp, o, m->arg, err, errlen) : 0;
    if (rc == 1) {
        ctl_bk__tx(c, "ROLLBACK");
        json_decref(o);
        return 0;
    }
    if (rc == 0 && ctl_bk__tx(c, "COMMIT") != 0) {
        snprintf(err, errlen, "commit failed: %s", PQerrorMessage(c));
        rc = -1;
    }
    if (rc != 0) {
        json_decref(o);
        return -1;
    }
    m->out = o;
    return 0;
}

/* After pay_begin_booking: a credits payment confirms the booking at once,
 * a new card payment gets its reconcile job. */
typedef struct pay_then_args {
    long long booking_id;
    int card;
} pay_then_args;

static int pay_booking_then(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp,
                            const json_t *pay, void *arg, char *err, size_t errlen)
{
    pay_then_args *a = arg;
    if (json_is_true(json_object_get(pay, "existing")))
        return 0;
    long long id = json_integer_value(json_object_get(pay, "id"));
    if (a->card)
        return ctl_pay__enqueue_reconcile(ctx->db.conn, id,
                                          (long long)ctx->cfg->payments_reconcile_s * 1000, err,
                                          errlen) == 0
                   ? 0
                   : -1;
    int rc = ctl_booking_confirm_on_payment(ctx->db.conn, a->booking_id, err, errlen);
    if (rc == 1)
        ctl_response_problem(resp, 409, "conflict", "Conflict", err, req);
    return rc;
}

static void pay_booking(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    long long bid = ctl_bk__id_param(req, resp, "id");
    if (bid <= 0)
        return;
    json_t *body = NULL;
    if (ctl_json_body(req, pay_fields, CTL_JSON_NFIELDS(pay_fields), &body, resp) != 0)
        return;
    const char *method = ctl_json_str(body, "method");
    const char *pm = ctl_json_str(body, "payment_method");
    const char *ret = ctl_json_str(body, "return_url");
    int card = strcmp(method, "card") == 0;
    ctl_idem idem = {0};
    if (card_fields_ok(req, resp, pm, ret) != 0)
        goto out;
    if (money_gate(ctx, req, resp, card) != 0 || ctl_idem_begin(ctx, req, &idem, resp) != 0)
        goto out;
    char uid[32], bids[32], fee[16];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    snprintf(bids, sizeof bids, "%lld", bid);
    snprintf(fee, sizeof fee, "%d", ctx->cfg->payments_platform_fee_pct);
    const char *p[6] = {uid, bids, method, ctx->cfg->payments_currency, fee, card ? pm : NULL};
    pay_then_args ta = {bid, card};
    money_tx m = {.sql = "SELECT pay_begin_booking($1::bigint, $2::bigint, $3, $4, $5::int, "
                         "$6)::text",
                  .n = 6, .p = p, .must = "method", .then = pay_booking_then, .arg = &ta};
    char what[64];
    snprintf(what, sizeof what, "paying booking %lld", bid);
    if (ctl_db_tx_run(ctx, req, resp, what, money_once, &m) != 0 || !m.out)
        goto done;
    json_t *pay = m.out;
    int existing = json_is_true(json_object_get(pay, "existing"));
    long long id = json_integer_value(json_object_get(pay, "id"));
    if (strcmp(json_string_value(json_object_get(pay, "method")), "card") == 0) {
        card_step(ctx, req, resp, pay, existing ? 200 : 201, ret);
    } else {
        json_t *view = payment_view(ctx, id, NULL);
        if (view)
            ctl_json_respond(resp, existing ? 200 : 201, view);
        else
            db_problem(resp, req);
    }
    json_decref(pay);
done:
    ctl_idem_finish(ctx, &idem, resp);
out:
    json_decref(body);
}

static const ctl_json_field purchase_fields[] = {
    {"amount_cents", CTL_JSON_INT, CTL_JSON_REQUIRED, 100, 1000000, NULL},
    {"currency", CTL_JSON_STRING, CTL_JSON_LOWER, 3, 3, NULL},
    {"payment_method", CTL_JSON_STRING, 0, 4, 100, NULL},
    {"return_url", CTL_JSON_STRING, 0, 8, 500, NULL},
};

static void buy_credits(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    json_t *body = NULL;
    if (ctl_json_body(req, purchase_fields, CTL_JSON_NFIELDS(purchase_fields), &body, resp) != 0)
        return;
    const char *cur = ctl_json_str(body, "currency");
    const char *pm = ctl_json_str(body, "payment_method");
    const char *ret = ctl_json_str(body, "return_url");
    ctl_idem idem = {0};
    if (cur && strcmp(cur, ctx->cfg->payments_currency) != 0) {
        char m[96];
        snprintf(m, sizeof m, "credits are sold in %s only", ctx->cfg->payments_currency);
        ctl_json_field_problem(resp, req, "currency", m);
        goto out;
    }
    if (card_fields_ok(req, resp, pm, ret) != 0)
        goto out;
    if (money_gate(ctx, req, resp, 1) != 0 || ctl_idem_begin(ctx, req, &idem, resp) != 0)
        goto out;
    char uid[32], amount[32];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    snprintf(amount, sizeof amount, "%lld", ctl_json_int(body, "amount_cents", 0));
    const char *p[4] = {uid, amount, ctx->cfg->payments_currency, pm};
    pay_then_args ta = {0, 1};
    money_tx m = {.sql = "SELECT pay_begin_credits($1::bigint, $2::bigint, $3, $4)::text",
                  .n = 4, .p = p, .must = "method", .then = pay_booking_then, .arg = &ta};
    if (ctl_db_tx_run(ctx, req, resp, "credit purchase", money_once, &m) != 0 || !m.out)
        goto done;
    json_t *pay = m.out;
    card_step(ctx, req, resp, pay, 201, ret);
    json_decref(pay);
done:
    ctl_idem_finish(ctx, &idem, resp);
out:
    json_decref(body);
}

static void get_credits(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    ctl_page page;
    if (ctl_page_from_query(ctx->cfg->cursor_secret, "credits", req, &page, resp) != 0 ||
        ctl_bk__db(ctx, req, resp) != 0)
        return;
    char uid[32], before[32], lim[16], err[256];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    snprintf(before, sizeof before, "%lld", page.after.id);
    snprintf(lim, sizeof lim, "%d", page.limit);
    const char *p[4] = {uid, ctx->cfg->payments_currency, page.has_cursor ? before : NULL, lim};
    json_t *o;
    if (ctl_pay__json(ctx->db.conn,
                      "SELECT pay_credits_json($1::bigint, $2, $3::bigint, $4::int)::text", 4, p,
                      &o, NULL, 0, err, sizeof err) != 0) {
        db_problem(resp, req);
        return;
    }
    json_t *nb = json_object_get(o, "next_before");
    if (json_is_integer(nb)) {
        char cur[CTL_CURSOR_MAX];
        ctl_cursor cc = {.key = "", .id = json_integer_value(nb)};
        if (ctl_cursor_encode(ctx->cfg->cursor_secret, "credits", &cc, cur, sizeof cur) == 0)
            json_object_set_new(o, "next_cursor", json_string(cur));
    } else {
        json_object_set_new(o, "next_cursor", json_null());
    }
    json_object_del(o, "next_before");
    ctl_json_respond(resp, 200, o);
}

static void earnings(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    char uid[32];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[2] = {uid, ctx->cfg->payments_currency};
    ctl_bk__respond(ctx, req, resp, 200, "SELECT pay_earnings_json($1::bigint, $2)::text", 2, p);
}

static void get_payment(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    long long id = ctl_bk__id_param(req, resp, "id");
    if (id <= 0 || ctl_bk__db(ctx, req, resp) != 0)
        return;
    char pid[32], uid[32];
    snprintf(pid, sizeof pid, "%lld", id);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[3] = {pid, uid, strcmp(req->who.role, "admin") == 0 ? "true" : "false"};
    PGresult *r = PQexecParams(ctx->db.conn,
                               "SELECT 1 FROM payments WHERE id = $1::bigint AND "
                               "(user_id = $2::bigint OR $3::boolean)",
                               3, NULL, p, NULL, NULL, 0);
    int mine = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!mine) {
        ctl_response_problem(resp, 404, "not-found", "Not Found", "no such payment", req);
        return;
    }
    json_t *v = payment_view(ctx, id, NULL);
    if (v)
        ctl_json_respond(resp, 200, v);
    else
        db_problem(resp, req);
}

static int date_ok(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    return 1;
}

static void report(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    char from[16], to[16];
    int hf = ctl_req_query(req, "from", from, sizeof from);
    int ht = ctl_req_query(req, "to", to, sizeof to);
    if (hf != 1 || ht != 1 || !date_ok(from) || !date_ok(to)) {
        ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request",
                             "from and to are required dates (YYYY-MM-DD)", req);
        return;
    }
    if (ctl_bk__db(ctx, req, resp) != 0)
        return;
    const char *p[2] = {from, to};
    PGresult *r = PQexecParams(ctx->db.conn,
                               "SELECT CASE WHEN $2::date < $1::date THEN 'order' WHEN $2::date - "
                               "$1::date > 366 THEN 'range' ELSE 'ok' END",
                               2, NULL, p, NULL, NULL, 0);
    const char *v = PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "bad";
    int ok = strcmp(v, "ok") == 0;
    const char *why = !strcmp(v, "order")   ? "to must not be before from"
                      : !strcmp(v, "range") ? "at most 366 days per report"
                                            : "from and to must be real dates";
    PQclear(r);
    if (!ok) {
        ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request", why, req);
        return;
    }
    ctl_bk__respond(ctx, req, resp, 200, "SELECT pay_report_json($1::date, $2::date)::text", 2, p);
}

/* After pay_request_refund: a new refund is audited and, for a card
 * payment, handed to the refund job. */
static int refund_then(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp,
                       const json_t *ref, void *arg, char *err, size_t errlen)
{
    (void)resp;
    (void)arg;
    if (!json_is_true(json_object_get(ref, "created")))
        return 0;
    if (ctl_pay__audit_refund(ctx->db.conn, req, ref, "admin", err, errlen) != 0)
        return -1;
    if (strcmp(json_string_value(json_object_get(ref, "status")), "pending_provider") == 0 &&
        ctl_pay__enqueue_refund(ctx->db.conn, json_integer_value(json_object_get(ref, "id")), 0,
                                err, errlen) != 0)
        return -1;
    return 0;
}

static void admin_refund(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    long long id = ctl_bk__id_param(req, resp, "id");
    if (id <= 0)
        return;
    ctl_idem idem = {0};
    if (money_gate(ctx, req, resp, 0) != 0 || ctl_idem_begin(ctx, req, &idem, resp) != 0)
        return;
    char pid[32];
    snprintf(pid, sizeof pid, "%lld", id);
    const char *p[1] = {pid};
    money_tx m = {.sql = "SELECT pay_request_refund($1::bigint, 'admin')::text",
                  .n = 1, .p = p, .must = "status", .then = refund_then};
    char what[64];
    snprintf(what, sizeof what, "refund of payment %lld", id);
    if (ctl_db_tx_run(ctx, req, resp, what, money_once, &m) != 0 || !m.out)
        goto done;
    json_t *ref = m.out;
    int created = json_is_true(json_object_get(ref, "created"));
    json_object_del(ref, "created");
    ctl_json_respond(resp, created ? 201 : 200, ref);
done:
    ctl_idem_finish(ctx, &idem, resp);
}

void ctl_pay_webhook(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp);

const ctl_route ctl_pay_routes[] = {
    {"POST", "/api/v1/bookings/{id}/pay", pay_booking, CTL_PERM_USER,
     "Pay a held booking by card or with credits (Idempotency-Key required)"},
    {"POST", "/api/v1/credits/purchase", buy_credits, CTL_PERM_USER,
     "Buy credits by card (Idempotency-Key required)"},
    {"GET", "/api/v1/credits", get_credits, CTL_PERM_USER,
     "The caller's credit balance and ledger entries, newest first"},
    {"GET", "/api/v1/mentor/earnings", earnings, CTL_PERM_MENTOR,
     "The mentor's earnings balance and statement"},
    {"GET", "/api/v1/payments/{id}", get_payment, CTL_PERM_USER, "One payment (owner or admin)"},
    {"GET", "/api/v1/admin/payments/report", report, CTL_PERM_ADMIN,
     "Money in and out per day and account; every day sums to zero"},
    {"POST", "/api/v1/admin/payments/{id}/refund", admin_refund, CTL_PERM_ADMIN,
     "Refund a payment (once; Idempotency-Key required)"},
    {"POST", "/api/v1/payments/webhook", ctl_pay_webhook, CTL_PERM_PUBLIC,
     "Provider events (Stripe-Signature verified)"},
};
const size_t ctl_pay_routes_count = sizeof ctl_pay_routes / sizeof ctl_pay_routes[0];
