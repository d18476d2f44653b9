/*
 * The daily refresh of the search free-slot table (schema/0007_search.sql,
 * docs/booking.md "Search"): job kind search.refresh_free.
 *
 * Changes to availability, session types and sessions update
 * search_free_days at commit; what no change triggers is time passing
 * (slots entering a mentor's booking horizon, past days). This job first
 * queues tomorrow's run (00:10 UTC, deduplicated by date, so the chain
 * survives a failed run), then recomputes every mentor with an active
 * session type in batches of 200, one transaction per batch so that the
 * per-mentor locks it takes are held briefly. Safe to run twice.
 */
#include "control/booking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define REFRESH_BATCH "200"

/* Queue the next run for 00:10 UTC tomorrow. */
static int queue_next(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT to_char(search_today() + 1, 'YYYY-MM-DD'), "
                            "(extract(epoch FROM ((search_today() + 1) + time '00:10') "
                            "AT TIME ZONE 'UTC') - extract(epoch FROM now())) * 1000");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        snprintf(err, errlen, "cannot compute the next run: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    char key[64];
    snprintf(key, sizeof key, "search.refresh_free:%s", PQgetvalue(r, 0, 0));
    ctl_job_spec s = {.kind = "search.refresh_free",
                      .delay_ms = (long long)strtod(PQgetvalue(r, 0, 1), NULL),
                      .dedupe_key = key};
    PQclear(r);
    return ctl_jobs_enqueue(c, &s, NULL, err, errlen);
}

int ctl_search_refresh_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    (void)job;
    if (ctl_db_ensure(&ctx->db, err, errlen) != 0)
        return CTL_JOB_RETRY;
    PGconn *c = ctx->db.conn;
    if (queue_next(c, err, errlen) != 0)
        return CTL_JOB_RETRY;
    char after[32] = "0";
    int batches = 0;
    for (;;) {
        const char *p[1] = {after};
        PGresult *r = PQexecParams(c, "SELECT search_refresh_batch($1::bigint, " REFRESH_BATCH ")",
                                   1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            snprintf(err, errlen, "refresh failed after mentor %s: %s", after,
                     PQresultErrorMessage(r));
            PQclear(r);
            return CTL_JOB_RETRY;
        }
        int done = PQgetisnull(r, 0, 0);
        if (!done)
            snprintf(after, sizeof after, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        if (done)
            break;
        batches++;
    }
    ML_INFO("search", "free-slot table refreshed (%d batches)", batches);
    return CTL_JOB_OK;
}
