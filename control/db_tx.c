/*
 * The retry loop and the problem documents of database failures; see
 * db_tx.h. The decision itself (which SQLSTATE is retried, the back-off)
 * is the pure ctl_db_should_retry / ctl_db_retry_delay_ms of db.c.
 */
#include "control/db_tx.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

/* What each SQLSTATE we act on means, for the problem and the log. */
typedef struct fault_text {
    const char *state;
    const char *slug;
    const char *detail;
    const char *retry_after;
} fault_text;

static const fault_text texts[] = {
    {"55P03", "database-busy",
     "a lock the request needed was held by another transaction for longer than the lock "
     "timeout (SQLSTATE 55P03 lock_not_available); its changes were rolled back; try again",
     "2"},
    {"57014", "database-busy",
     "a database statement ran longer than the statement timeout (SQLSTATE 57014 "
     "query_canceled); its changes were rolled back; try again",
     "2"},
    {"40P01", "database-conflict",
     "the request deadlocked with concurrent ones (SQLSTATE 40P01 "
     "deadlock_detected); its changes were rolled back; try again",
     "1"},
    {"40001", "database-conflict",
     "the request conflicted with concurrent ones (SQLSTATE 40001 "
     "serialization_failure); its changes were rolled back; try again",
     "1"},
    /* An earlier failure left the connection in an aborted transaction;
     * the request runner rolls it back after answering, so the next
     * request on it works. */
    {"25P02", "database-unavailable",
     "the database connection serving the request was left in a failed transaction by an "
     "earlier error (SQLSTATE 25P02 in_failed_sql_transaction); it has been reset; try again",
     "1"},
};

void ctl_db_problem(ctl_response *resp, const ctl_request *req, const char *what,
                    const char *state, const char *msg)
{
    if (!state)
        state = "";
    ML_WARN("db", "%s failed: SQLSTATE %s: %s", what, state[0] ? state : "(none)",
            msg && msg[0] ? msg : "no message");
    const fault_text *t = NULL;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (strcmp(texts[i].state, state) == 0)
            t = &texts[i];
    if (!t) {
        ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                             "the database is unavailable", req);
        return;
    }
    ctl_response_problem(resp, 503, t->slug, "Service Unavailable", t->detail, req);
    ctl_response_add_header(resp, "Retry-After", t->retry_after);
    json_t *o = resp->body ? json_loads(resp->body, 0, NULL) : NULL;
    if (o) {
        json_object_set_new(o, "sqlstate", json_string(state));
        json_object_set_new(o, "retryable", json_true());
        char *text = json_dumps(o, JSON_COMPACT);
        if (text) {
            free(resp->body);
            resp->body = text;
            resp->body_len = strlen(text);
        }
        json_decref(o);
    }
}

/* Drop what a failed attempt put into resp, keeping the first nheaders. */
static void reset_response(ctl_response *resp, int nheaders)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->status = 0;
    resp->content_type[0] = '\0';
    resp->nheaders = nheaders;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static unsigned jitter_seed(int attempt)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)(uintptr_t)&ts << 7) ^ (uint64_t)attempt;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (unsigned)x;
}

/* After a failed attempt on c: roll back, and wait before the next one
 * when its SQLSTATE allows another. 1: run again; 0: give up. */
static int after_failure(PGconn *c, const char *what, int attempt, int max, const char *state,
                         const char *err)
{
    ctl_db_end_open_tx(c);
    if (!ctl_db_should_retry(state, attempt, max))
        return 0;
    int ms = ctl_db_retry_delay_ms(attempt, jitter_seed(attempt));
    ML_INFO("db", "%s: SQLSTATE %s on attempt %d of %d, running it again in %d ms (%s)", what,
            state, attempt, max, ms, err);
    sleep_ms(ms);
    return 1;
}

int ctl_db_tx_retry(ctl_db *db, int max_attempts, const char *what, ctl_db_work_fn fn, void *arg,
                    char *err, size_t errlen)
{
    int max = max_attempts > 0 ? max_attempts : 1;
    for (int attempt = 1;; attempt++) {
        err[0] = '\0';
        if (ctl_db_ensure(db, err, errlen) != 0)
            return -1;
        ctl_db_clear_sqlstate(db->conn);
        if (fn(db->conn, arg, err, errlen) == 0)
            return 0;
        char state[8];
        snprintf(state, sizeof state, "%s", ctl_db_sqlstate(db->conn));
        if (!after_failure(db->conn, what, attempt, max, state, err)) {
            if (state[0]) {
                size_t n = strlen(err);
                snprintf(err + n, errlen - n, " (SQLSTATE %s)", state);
            }
            return -1;
        }
    }
}

int ctl_db_tx_run(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, const char *what,
                  ctl_db_tx_fn fn, void *arg)
{
    int max = ctx->cfg && ctx->cfg->db_tx_attempts > 0 ? ctx->cfg->db_tx_attempts : 1;
    int keep = resp->nheaders;
    char err[512], state[8] = "";
    for (int attempt = 1;; attempt++) {
        err[0] = '\0';
        if (ctl_db_ensure(&ctx->db, err, sizeof err) != 0) {
            ctl_db_problem(resp, req, what, "", err);
            return -1;
        }
        PGconn *c = ctx->db.conn;
        ctl_db_clear_sqlstate(c);
        if (fn(ctx, req, resp, arg, err, sizeof err) == 0)
            return 0;
        snprintf(state, sizeof state, "%s", ctl_db_sqlstate(c));
        if (!after_failure(c, what, attempt, max, state, err))
            break;
        reset_response(resp, keep);
    }
    reset_response(resp, keep);
    ctl_db_problem(resp, req, what, state, err);
    return -1;
}
