/*
 * Helpers shared by the booking route families: the SQL entry points of
 * schema/0005_booking.sql return jsonb and raise SQLSTATE 'MB' + HTTP
 * status for business errors, so most handlers are "validate the body,
 * call one function, send its answer" and the mapping lives here once.
 */
#include "control/booking_internal.h"
#include "control/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "control/db_tx.h"

void ctl_bk__sql_problem(const PGresult *r, const ctl_request *req, ctl_response *resp)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (!state)
        state = "";
    if (!msg)
        msg = "database error";
    if (strncmp(state, "MB", 2) == 0) {
        int status = atoi(state + 2);
        const char *slug = status == 409   ? "conflict"
                           : status == 403 ? "forbidden"
                           : status == 404 ? "not-found"
                           : status == 422 ? "validation"
                                           : "invalid-parameter";
        const char *title = status == 409   ? "Conflict"
                            : status == 403 ? "Forbidden"
                            : status == 404 ? "Not Found"
                            : status == 422 ? "Unprocessable Content"
                                            : "Bad Request";
        if (status < 400 || status > 499)
            status = 400;
        ctl_response_problem(resp, status, slug, title, msg, req);
    } else if (strcmp(state, "23P01") == 0 || strcmp(state, "23505") == 0) {
        ctl_response_problem(resp, 409, "conflict", "Conflict", msg, req);
    } else if (strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0 ||
               strncmp(state, "22", 2) == 0) {
        ctl_response_problem(resp, 422, "validation", "Unprocessable Content", msg, req);
    } else {
        ctl_db_problem(resp, req, "booking statement", state, msg);
    }
}

int ctl_bk__refused(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!state)
        return 0;
    return strncmp(state, "MB", 2) == 0 || strcmp(state, "23P01") == 0 ||
           strcmp(state, "23505") == 0 || strcmp(state, "23514") == 0 ||
           strcmp(state, "23502") == 0 || strncmp(state, "22", 2) == 0;
}

int ctl_bk__db(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    char err[256];
    if (ctl_db_ensure(&ctx->db, err, sizeof err) != 0) {
        ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                             "the database is unavailable", req);
        return -1;
    }
    return 0;
}

void ctl_bk__respond(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, int status,
                     const char *sql, int n, const char *const *params)
{
    if (ctl_bk__db(ctx, req, resp) != 0)
        return;
    /* One statement in autocommit: a deadlock or serialization failure
     * rolled it back whole, so it may simply run again. */
    PGresult *r = NULL;
    int max = ctx->cfg && ctx->cfg->db_tx_attempts > 0 ? ctx->cfg->db_tx_attempts : 1;
    for (int attempt = 1;; attempt++) {
        r = PQexecParams(ctx->db.conn, sql, n, NULL, params, NULL, NULL, 0);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQresultStatus(r) == PGRES_TUPLES_OK || !ctl_db_should_retry(state, attempt, max))
            break;
        int ms = ctl_db_retry_delay_ms(attempt, (unsigned)rand());
        ML_INFO("booking", "statement failed with SQLSTATE %s (attempt %d of %d); again in %d ms",
                state, attempt, max, ms);
        PQclear(r);
        struct timespec ts = {0, (long)ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        ctl_bk__sql_problem(r, req, resp);
    else if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
        ctl_response_problem(resp, 404, "not-found", "Not Found", "no such resource", req);
    else
        ctl_response_json(resp, status, PQgetvalue(r, 0, 0));
    PQclear(r);
}

int ctl_bk__tx(PGconn *c, const char *what)
{
    PGresult *r = PQexec(c, what);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : -1;
}

long long ctl_bk__id_param(const ctl_request *req, ctl_response *resp, const char *name)
{
    const char *v = ctl_req_param(req, name);
    long long id = 0;
    size_t n = v ? strlen(v) : 0;
    int ok = n > 0 && n <= 18 && v[0] != '0';
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] >= '0' && v[i] <= '9';
    if (ok)
        id = strtoll(v, NULL, 10);
    if (id <= 0)
        ctl_response_problem(resp, 404, "not-found", "Not Found", "no such resource", req);
    return id;
}

int ctl_bk__limit(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, int kind)
{
    const ml_config *cfg = ctx->cfg;
    ctl_rate_policy p = {.bucket = kind == CTL_BK_WRITE ? "booking-write" : "booking-read",
                         .limit = kind == CTL_BK_WRITE ? cfg->booking_write_limit
                                                       : cfg->booking_read_limit,
                         .window_s = cfg->booking_rate_window_s,
                         .fail_closed = kind == CTL_BK_WRITE};
    char key[80];
    if (req->who.user_id > 0)
        snprintf(key, sizeof key, "u%lld", req->who.user_id);
    else
        snprintf(key, sizeof key, "ip:%s", req->remote_addr[0] ? req->remote_addr : "unknown");
    return ctl_ratelimit_check(ctx, &p, key, req, resp);
}
