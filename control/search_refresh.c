/*
 * The daily refresh of the search free-slot table (schema/0007_search.sql,
 * docs/booking.md "Search"): job kind search.refresh_free.
 *
 * Changes to availability, session types and sessions update
 * search_free_days at commit; what no change triggers is time passing
 * (slots entering a mentor's booking horizon, past days). This job first
 * queues the next day's run (00:10 UTC, deduplicated by date, so the chain
 * survives a failed run; schema 0007 queues the first), then recomputes every mentor with an active
 * session type in batches of 20, one transaction per batch so that the
 * per-mentor locks it takes are held briefly. Safe to run twice.
 */
#include "control/booking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define REFRESH_BATCH "20"

/* Queue the next run for 00:10 UTC on the day after today, or after this
 * job's own date when it runs early (its dedupe key names the day it was
 * meant for, and a key cannot be queued while this job holds it). */
static int queue_next(PGconn *c, long long self, char *err, size_t errlen)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", self);
    const char *p[1] = {id};
    PGresult *r = PQexecParams(
        c,
        "WITH n AS (SELECT greatest(search_today(), coalesce((SELECT substring(dedupe_key "
        "FROM '^search.refresh_free:([0-9]{4}-[0-9]{2}-[0-9]{2})$')::date FROM jobs WHERE id = "
        "$1::bigint), search_today())) + 1 AS day) "
        "SELECT to_char(day, 'YYYY-MM-DD'), greatest(0, ceil((extract(epoch FROM (day + time "
        "'00:10') AT TIME ZONE 'UTC') - extract(epoch FROM now())) * 1000)) FROM n",
        1, NULL, p, NULL, NULL, 0);
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
    if (ctl_db_ensure(&ctx->db, err, errlen) != 0)
        return CTL_JOB_RETRY;
    PGconn *c = ctx->db.conn;
    if (queue_next(c, job->id, err, errlen) != 0)
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
