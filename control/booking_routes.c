/*
 * Bookings (any signed-in account books; mentors see bookings of their
 * sessions too).
 *
 *   POST /api/v1/bookings                  {session_type_id, start}
 *   GET  /api/v1/bookings                  the caller's upcoming bookings
 *   GET  /api/v1/bookings/{id}
 *   POST /api/v1/bookings/{id}/cancel      policy in booking_cancel()
 *   POST /api/v1/bookings/{id}/reschedule  {start}, one transaction
 *   PUT  /api/v1/bookings/{id}/agenda      {agenda} (the mentee)
 *   POST /api/v1/bookings/{id}/review      {rating, body} (the attendee)
 *   GET  /api/v1/notifications             in-app notifications
 *
 * Each change is one transaction: the seat (taken by booking_take_seat(),
 * guarded by the exclusion constraint and the seats CHECK), the
 * confirmation email with its .ics, the reminders and hold-expiry jobs
 * commit together or not at all.
 */
#include "control/booking.h"
#include "control/audit.h"
#include "control/booking_internal.h"
#include "control/db_tx.h"
#include "control/json.h"
#include "control/payments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Who cancelled or rescheduled which booking, from where: an audit entry
 * written in the change's own transaction. */
static int audit_change(PGconn *c, const ctl_request *req, int cancel, const char *bid,
                        long long old_id, char *err, size_t errlen)
{
    ctl_audit_entry e;
    memset(&e, 0, sizeof e);
    ctl_audit_from_request(&e, req);
    char old[32];
    snprintf(old, sizeof old, "%lld", old_id);
    json_t *details = cancel ? json_pack("{s:s}", "booking", bid)
                             : json_pack("{s:s, s:s}", "from_booking", old, "to_booking", bid);
    e.action = cancel ? "booking.cancelled" : "booking.rescheduled";
    e.target_type = "booking";
    e.target_id = cancel ? bid : old;
    e.details = details;
    int rc = ctl_audit_write(c, &e, err, errlen);
    json_decref(details);
    return rc;
}

/* One booking change: `sql` returns one bigint (a booking id, or an array
 * of ids as text when cancelling) and runs inside BEGIN..COMMIT with its
 * follow-ups. */
typedef struct change_args {
    const char *sql;
    int n;
    const char *const *p;
    int cancel;
    long long old_id;
    char bid[32]; /* out: the booking to answer with */
} change_args;

/* One attempt (ctl_db_tx_fn): everything here is database work, so a
 * deadlock anywhere can run the whole of it again. */
static int change_once(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, void *arg,
                       char *err, size_t errlen)
{
    change_args *a = arg;
    PGconn *c = ctx->db.conn;
    a->bid[0] = '\0';
    if (ctl_bk__tx(c, "BEGIN") != 0) {
        snprintf(err, errlen, "BEGIN failed: %s", PQerrorMessage(c));
        return -1;
    }
    PGresult *r = PQexecParams(c, a->sql, a->n, NULL, a->p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int refused = ctl_bk__refused(r);
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        if (refused) {
            ctl_bk__tx(c, "ROLLBACK");
            ctl_bk__sql_problem(r, req, resp);
        }
        PQclear(r);
        return refused ? 0 : -1;
    }
    int rc = 0;
    if (a->cancel) {
        /* "{3,4,5}": drop each booking's reminders */
        char *ids = strdup(PQgetvalue(r, 0, 0)), *save = NULL;
        for (char *t = ids ? strtok_r(ids + 1, ",}", &save) : NULL; rc == 0 && t;
             t = strtok_r(NULL, ",}", &save))
            rc = ctl_bk__on_cancelled(c, strtoll(t, NULL, 10), err, errlen);
        free(ids);
        if (rc == 0) /* refunds owed by the policy, exactly once (payments.h) */
            rc = ctl_pay_on_bookings_cancelled(c, req, PQgetvalue(r, 0, 0), err, errlen);
        snprintf(a->bid, sizeof a->bid, "%s", a->p[0]);
    } else {
        snprintf(a->bid, sizeof a->bid, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    if (rc == 0 && a->old_id > 0) /* rescheduled: the old booking's reminders go */
        rc = ctl_bk__on_cancelled(c, a->old_id, err, errlen);
    if (rc == 0 && (a->cancel || a->old_id > 0)) /* audit, in the same transaction */
        rc = audit_change(c, req, a->cancel, a->bid, a->old_id, err, errlen);
    const char *q[1] = {a->bid};
    char st[16] = "";
    if (rc == 0) {
        r = PQexecParams(c, "SELECT status FROM bookings WHERE id = $1::bigint", 1, NULL, q, NULL,
                         NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            snprintf(st, sizeof st, "%s", PQgetvalue(r, 0, 0));
        else {
            snprintf(err, errlen, "reading the booking: %s", PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    if (rc == 0 && !a->cancel && strcmp(st, "confirmed") == 0)
        rc = ctl_bk__on_confirmed(c, strtoll(a->bid, NULL, 10), err, errlen);
    if (rc == 0 && !a->cancel && strcmp(st, "held") == 0) {
        char key[64];
        snprintf(key, sizeof key, "booking:%s:expire", a->bid);
        ctl_job_spec s = {.kind = "booking.expire_holds",
                          .delay_ms = (long long)ctx->cfg->booking_hold_min * 60000 + 1000,
                          .dedupe_key = key};
        rc = ctl_jobs_enqueue(c, &s, NULL, err, errlen);
    }
    if (rc == 0 && ctl_bk__tx(c, "COMMIT") != 0) {
        snprintf(err, errlen, "commit failed: %s", PQerrorMessage(c));
        rc = -1;
    }
    if (rc != 0)
        a->bid[0] = '\0';
    return rc == 0 ? 0 : -1;
}

static void change(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, int status,
                   const char *sql, int n, const char *const *p, int cancel, long long old_id)
{
    change_args a = {.sql = sql, .n = n, .p = p, .cancel = cancel, .old_id = old_id};
    const char *what = cancel ? "booking cancel" : old_id > 0 ? "booking reschedule" : "booking";
    if (ctl_db_tx_run(ctx, req, resp, what, change_once, &a) != 0 || !a.bid[0])
        return; /* a problem is in resp */
    char uid[32];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *bp[2] = {a.bid, uid};
    ctl_bk__respond(ctx, req, resp, status, "SELECT booking_json($1::bigint, $2::bigint)::text", 2,
                    bp);
}

static const ctl_json_field book_fields[] = {
    {"session_type_id", CTL_JSON_INT, CTL_JSON_REQUIRED, 1, 0x7fffffffffffffffLL, NULL},
    {"start", CTL_JSON_TIMESTAMP, CTL_JSON_REQUIRED, 0, 0, NULL},
};

static void book(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    json_t *body = NULL;
    if (ctl_json_body(req, book_fields, CTL_JSON_NFIELDS(book_fields), &body, resp) != 0)
        return;
    char uid[32], tid[32], hold[16];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    snprintf(tid, sizeof tid, "%lld", ctl_json_int(body, "session_type_id", 0));
    snprintf(hold, sizeof hold, "%d", ctx->cfg->booking_hold_min);
    const char *p[4] = {uid, tid, ctl_json_str(body, "start"), hold};
    change(ctx, req, resp, 201,
           "SELECT booking_take_seat($1::bigint, $2::bigint, $3::timestamptz, $4::int)", 4, p, 0,
           0);
    json_decref(body);
}

static void reschedule(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    static const ctl_json_field f[] = {
        {"start", CTL_JSON_TIMESTAMP, CTL_JSON_REQUIRED, 0, 0, NULL}};
    long long id = ctl_bk__id_param(req, resp, "id");
    json_t *body = NULL;
    if (id <= 0 || ctl_json_body(req, f, 1, &body, resp) != 0)
        return;
    char bid[32], uid[32], hold[16];
    snprintf(bid, sizeof bid, "%lld", id);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    snprintf(hold, sizeof hold, "%d", ctx->cfg->booking_hold_min);
    const char *p[4] = {bid, uid, ctl_json_str(body, "start"), hold};
    /* The old booking's reminders are dropped in the same transaction. */
    change(ctx, req, resp, 200,
           "SELECT booking_reschedule($1::bigint, $2::bigint, $3::timestamptz, $4::int)", 4, p, 0,
           id);
    json_decref(body);
}

static void cancel(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    long long id = ctl_bk__id_param(req, resp, "id");
    if (id <= 0)
        return;
    char bid[32], uid[32];
    snprintf(bid, sizeof bid, "%lld", id);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[2] = {bid, uid};
    change(ctx, req, resp, 200, "SELECT booking_cancel($1::bigint, $2::bigint)::text", 2, p, 1, 0);
}

static void get_booking(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_READ) != 0)
        return;
    long long id = ctl_bk__id_param(req, resp, "id");
    if (id <= 0)
        return;
    char bid[32], uid[32];
    snprintf(bid, sizeof bid, "%lld", id);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[2] = {bid, uid};
    ctl_bk__respond(ctx, req, resp, 200, "SELECT booking_json($1::bigint, $2::bigint)::text", 2, p);
}

static void list_bookings(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_READ) != 0)
        return;
    char uid[32];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[1] = {uid};
    ctl_bk__respond(ctx, req, resp, 200,
                    "SELECT jsonb_build_object('items', booking_list($1::bigint))::text", 1, p);
}

static void put_agenda(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    static const ctl_json_field f[] = {{"agenda", CTL_JSON_STRING,
                                        CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_MULTILINE, 0,
                                        5000, NULL}};
    long long id = ctl_bk__id_param(req, resp, "id");
    json_t *body = NULL;
    if (id <= 0 || ctl_json_body(req, f, 1, &body, resp) != 0)
        return;
    char bid[32], uid[32];
    snprintf(bid, sizeof bid, "%lld", id);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[3] = {bid, uid, ctl_json_str(body, "agenda")};
    ctl_bk__respond(ctx, req, resp, 200,
                    "SELECT booking_set_agenda($1::bigint, $2::bigint, $3)::text", 3, p);
    json_decref(body);
}

static void post_review(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    static const ctl_json_field f[] = {
        {"rating", CTL_JSON_INT, CTL_JSON_REQUIRED, 1, 5, NULL},
        {"body", CTL_JSON_STRING, CTL_JSON_TRIM | CTL_JSON_MULTILINE, 0, 5000, NULL}};
    long long id = ctl_bk__id_param(req, resp, "id");
    json_t *body = NULL;
    if (id <= 0 || ctl_json_body(req, f, 2, &body, resp) != 0)
        return;
    char bid[32], uid[32], rating[8];
    snprintf(bid, sizeof bid, "%lld", id);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    snprintf(rating, sizeof rating, "%lld", ctl_json_int(body, "rating", 0));
    const char *p[4] = {bid, uid, rating, ctl_json_str(body, "body")};
    ctl_bk__respond(ctx, req, resp, 201,
                    "SELECT booking_review($1::bigint, $2::bigint, $3::int, $4)::text", 4, p);
    json_decref(body);
}

static void notifications(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_READ) != 0)
        return;
    char uid[32];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[1] = {uid};
    ctl_bk__respond(
        ctx, req, resp, 200,
        "SELECT jsonb_build_object('items', booking_notifications_json($1::bigint))::text", 1, p);
}

const ctl_route ctl_booking_routes[] = {
    {"POST", "/api/v1/bookings", book, CTL_PERM_USER,
     "Book a slot of a session type (held while paying, or confirmed when free)"},
    {"GET", "/api/v1/bookings", list_bookings, CTL_PERM_USER,
     "The caller's active bookings (as mentee or as mentor)"},
    {"GET", "/api/v1/bookings/{id}", get_booking, CTL_PERM_USER, "One booking"},
    {"POST", "/api/v1/bookings/{id}/cancel", cancel, CTL_PERM_USER,
     "Cancel a booking (mentor: the whole session) with the refund policy"},
    {"POST", "/api/v1/bookings/{id}/reschedule", reschedule, CTL_PERM_USER,
     "Move a booking to another slot atomically"},
    {"PUT", "/api/v1/bookings/{id}/agenda", put_agenda, CTL_PERM_USER,
     "Set the pre-session agenda (mentee)"},
    {"POST", "/api/v1/bookings/{id}/review", post_review, CTL_PERM_USER,
     "Rate and review an attended session (1-5)"},
    {"GET", "/api/v1/notifications", notifications, CTL_PERM_USER,
     "The caller's in-app notifications, newest first"},
};
const size_t ctl_booking_routes_count = sizeof ctl_booking_routes / sizeof ctl_booking_routes[0];
