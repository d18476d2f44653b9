/*
 * The job runner; see jobs.h for the model. Each worker thread owns a
 * ctl_ctx and loops: claim one due job (or one whose lease expired), run
 * its handler, record the outcome; when there is nothing to do, wait on its
 * connection's socket for a NOTIFY ml_jobs (it LISTENs on the same
 * connection), on the stop pipe, or for job_poll_ms. A notification that
 * libpq already read while a query ran is checked before waiting, so none
 * is lost. Worker 0 also deletes old finished jobs once an hour.
 *
 * Outcomes are written only while this worker still holds the lease
 * (locked_by = us and state = running); a worker that lost its lease to
 * another node after a long pause logs it and moves on. A handler that
 * reports CTL_JOB_INTERRUPTED (this node is shutting down) gets its job
 * queued again, and its worker claims nothing more until it is stopped, so
 * the job is not picked up and interrupted over and over meanwhile.
 */
#include "control/jobs.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_REGISTERED 64
#define SWEEP_INTERVAL_S 3600

static struct {
    pthread_mutex_t mu;
    ctl_job_kind kinds[MAX_REGISTERED];
    size_t n;
} registry = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};

int ctl_jobs_register(const char *kind, ctl_job_fn fn)
{
    int rc = -1;
    pthread_mutex_lock(&registry.mu);
    for (size_t i = 0; i < registry.n; i++)
        if (strcmp(registry.kinds[i].kind, kind) == 0) {
            registry.kinds[i].fn = fn;
            rc = 0;
            goto done;
        }
    if (registry.n < MAX_REGISTERED) {
        registry.kinds[registry.n].kind = kind;
        registry.kinds[registry.n].fn = fn;
        registry.n++;
        rc = 0;
    }
done:
    pthread_mutex_unlock(&registry.mu);
    return rc;
}

ctl_job_fn ctl_jobs_lookup(const char *kind)
{
    ctl_job_fn fn = NULL;
    pthread_mutex_lock(&registry.mu);
    for (size_t i = 0; i < registry.n && !fn; i++)
        if (strcmp(registry.kinds[i].kind, kind) == 0)
            fn = registry.kinds[i].fn;
    pthread_mutex_unlock(&registry.mu);
    for (size_t i = 0; i < ctl_job_kinds_count && !fn; i++)
        if (strcmp(ctl_job_kinds[i].kind, kind) == 0)
            fn = ctl_job_kinds[i].fn;
    return fn;
}

long long ctl_jobs_backoff_ms(int attempt, long long base_ms, long long max_ms)
{
    long long d = base_ms > 0 ? base_ms : 1;
    for (int i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    return d < max_ms ? d : max_ms;
}

/* Copy a libpq message into err on one line. */
static void pq_error(char *err, size_t errlen, const char *what, const char *msg)
{
    snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
    for (char *p = err; *p; p++)
        if (*p == '\n')
            *p = *(p + 1) ? ' ' : '\0';
}

int ctl_jobs_enqueue(PGconn *conn, const ctl_job_spec *spec, long long *id_out, char *err,
                     size_t errlen)
{
    char *payload = NULL, delay[32], attempts[16];
    PGresult *r = NULL;
    if (!spec->kind || !*spec->kind) {
        snprintf(err, errlen, "job kind is required");
        goto fail;
    }
    if (spec->payload && !json_is_object(spec->payload)) {
        snprintf(err, errlen, "job payload must be a JSON object");
        goto fail;
    }
    payload = spec->payload ? json_dumps(spec->payload, JSON_COMPACT) : strdup("{}");
    if (!payload) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(delay, sizeof delay, "%lld", spec->delay_ms > 0 ? spec->delay_ms : 0);
    snprintf(attempts, sizeof attempts, "%d", spec->max_attempts > 0 ? spec->max_attempts : 0);
    const char *dedupe = spec->dedupe_key && *spec->dedupe_key ? spec->dedupe_key : NULL;
    const char *params[5] = {spec->kind, payload, delay, attempts, dedupe};
    r = PQexecParams(conn,
                     "INSERT INTO jobs (kind, payload, run_at, max_attempts, dedupe_key) "
                     "VALUES ($1, $2::jsonb, now() + make_interval(secs => $3::float8 / 1000), "
                     "NULLIF($4::int, 0), $5) "
                     "ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL "
                     "AND state IN ('queued', 'running') DO NOTHING RETURNING id",
                     5, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pq_error(err, errlen, "cannot enqueue job", PQresultErrorMessage(r));
        goto fail;
    }
    if (PQntuples(r) == 0) { /* a live job with this dedupe key exists */
        PQclear(r);
        r = PQexecParams(conn,
                         "SELECT id FROM jobs WHERE dedupe_key = $1 "
                         "AND state IN ('queued', 'running')",
                         1, NULL, &dedupe, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            pq_error(err, errlen, "cannot find the existing job", PQresultErrorMessage(r));
            goto fail;
        }
    }
    if (id_out)
        *id_out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = PQexec(conn, "NOTIFY ml_jobs");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pq_error(err, errlen, "cannot notify job runners", PQresultErrorMessage(r));
        goto fail;
    }
    PQclear(r);
    free(payload);
    return 0;
fail:
    PQclear(r);
    free(payload);
    return -1;
}

int ctl_jobs_cancel(PGconn *conn, const char *dedupe_key, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(conn,
                               "UPDATE jobs SET state = 'failed', last_error = 'cancelled', "
                               "updated_at = now() WHERE dedupe_key = $1 AND state = 'queued'",
                               1, NULL, &dedupe_key, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pq_error(err, errlen, "cannot cancel job", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

int ctl_jobs_extend_lease(ctl_ctx *ctx, const ctl_job *job, int lease_s, char *err,
                          size_t errlen)
{
    char id[32], secs[16];
    snprintf(id, sizeof id, "%lld", job->id);
    snprintf(secs, sizeof secs, "%d", lease_s);
    const char *params[3] = {id, job->worker_id, secs};
    if (ctl_db_ensure(&ctx->db, err, errlen) != 0)
        return -1;
    PGresult *r = PQexecParams(ctx->db.conn,
                               "UPDATE jobs SET locked_until = now() + make_interval(secs => $3::int), "
                               "updated_at = now() WHERE id = $1 AND locked_by = $2 "
                               "AND state = 'running'",
                               3, NULL, params, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        pq_error(err, errlen, "cannot extend lease", PQresultErrorMessage(r));
    else if (strcmp(PQcmdTuples(r), "1") != 0)
        snprintf(err, errlen, "lease of job %lld was lost", job->id);
    else
        rc = 0;
    PQclear(r);
    return rc;
}

/* ---- the runner ---- */

typedef struct worker {
    struct ctl_jobs *jobs;
    int index;
    ctl_ctx ctx;
    char id[128];
    time_t last_sweep;
    int interrupted; /* a handler reported this node's shutdown: claim nothing more */
} worker;

struct ctl_jobs {
    const ml_config *cfg;
    int n;
    pthread_t *threads;
    worker *workers;
    int stop_pipe[2];
    atomic_int stopping;
};

/* LISTEN before each sleep: idempotent and cheap, and it covers a
 * connection that was replaced (reconnected) since the last sleep. */
static int listen_jobs(worker *w)
{
    PGresult *r = PQexec(w->ctx.db.conn, "LISTEN ml_jobs");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : -1;
}

/* Drop queued notifications; returns how many there were. */
static int drain_notifies(PGconn *c)
{
    int n = 0;
    PGnotify *nt;
    PQconsumeInput(c);
    while ((nt = PQnotifies(c)) != NULL) {
        PQfreemem(nt);
        n++;
    }
    return n;
}

/* Sleep up to ms, waking on the database socket (if any) or the stop pipe. */
static void wait_for_work(worker *w, int ms)
{
    struct pollfd fds[2] = {{w->jobs->stop_pipe[0], POLLIN, 0}, {-1, POLLIN, 0}};
    if (w->ctx.db.conn && PQstatus(w->ctx.db.conn) == CONNECTION_OK)
        fds[1].fd = PQsocket(w->ctx.db.conn);
    int rc = poll(fds, fds[1].fd >= 0 ? 2 : 1, ms);
    if (rc > 0 && fds[1].fd >= 0 && (fds[1].revents & POLLIN))
        drain_notifies(w->ctx.db.conn);
}

/* Record a job's outcome while we still hold its lease. */
static void finish(worker *w, long long id, int rc, int attempt, int max_attempts,
                   const char *error)
{
    const ml_config *cfg = w->jobs->cfg;
    char ids[32], delay[32];
    snprintf(ids, sizeof ids, "%lld", id);
    PGresult *r;
    const char *outcome;
    if (rc == CTL_JOB_OK) {
        const char *p[2] = {ids, w->id};
        r = PQexecParams(w->ctx.db.conn,
                         "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL, "
                         "last_error = NULL, updated_at = now() "
                         "WHERE id = $1 AND locked_by = $2 AND state = 'running'",
                         2, NULL, p, NULL, NULL, 0);
        outcome = "done";
    } else if (rc == CTL_JOB_INTERRUPTED) {
        /* Free for the first CTL_JOB_FREE_INTERRUPTIONS times (the claim
         * counted an attempt: give it back); after that the attempt stays
         * counted and a job without attempts left ends failed. */
        char free_n[16], maxa[16];
        snprintf(free_n, sizeof free_n, "%d", CTL_JOB_FREE_INTERRUPTIONS);
        snprintf(maxa, sizeof maxa, "%d", max_attempts); /* the row's, or the default */
        const char *p[5] = {ids, w->id, error, free_n, maxa};
        r = PQexecParams(
            w->ctx.db.conn,
            "UPDATE jobs SET "
            "state = CASE WHEN interruptions >= $4::int AND attempts >= $5::int "
            "THEN 'failed' ELSE 'queued' END, "
            "locked_by = NULL, locked_until = NULL, "
            "attempts = CASE WHEN interruptions < $4::int THEN greatest(attempts - 1, 0) "
            "ELSE attempts END, "
            "interruptions = interruptions + 1, run_at = now(), "
            "last_error = CASE WHEN interruptions >= $4::int "
            "THEN $3 || ' (interrupted ' || (interruptions + 1) || ' times: counted as an attempt)' "
            "ELSE $3 END, "
            "updated_at = now() "
            "WHERE id = $1 AND locked_by = $2 AND state = 'running' "
            "RETURNING state, attempts, interruptions",
            5, NULL, p, NULL, NULL, 0);
        outcome = "interrupted";
    } else if (rc == CTL_JOB_RETRY && attempt < max_attempts) {
        snprintf(delay, sizeof delay, "%lld",
                 ctl_jobs_backoff_ms(attempt, cfg->job_retry_base_ms, cfg->job_retry_max_ms));
        const char *p[4] = {ids, w->id, delay, error};
        r = PQexecParams(w->ctx.db.conn,
                         "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, "
                         "run_at = now() + make_interval(secs => $3::float8 / 1000), "
                         "last_error = $4, updated_at = now() "
                         "WHERE id = $1 AND locked_by = $2 AND state = 'running'",
                         4, NULL, p, NULL, NULL, 0);
        outcome = "retry";
    } else {
        const char *p[3] = {ids, w->id, error};
        r = PQexecParams(w->ctx.db.conn,
                         "UPDATE jobs SET state = 'failed', locked_by = NULL, locked_until = NULL, "
                         "last_error = $3, updated_at = now() "
                         "WHERE id = $1 AND locked_by = $2 AND state = 'running'",
                         3, NULL, p, NULL, NULL, 0);
        outcome = "failed";
    }
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        ML_WARN("jobs", "job %lld: cannot record outcome '%s': %s", id, outcome,
                PQresultErrorMessage(r));
    else if (strcmp(PQcmdTuples(r), "1") != 0)
        ML_WARN("jobs", "job %lld: lease lost before recording '%s'", id, outcome);
    else if (rc == CTL_JOB_OK)
        ML_DEBUG("jobs", "job %lld done (attempt %d)", id, attempt);
    else if (rc == CTL_JOB_INTERRUPTED && strcmp(PQgetvalue(r, 0, 0), "failed") == 0)
        ML_WARN("jobs", "job %lld interrupted by shutdown %s times, no attempts left: failed", id,
                PQgetvalue(r, 0, 2));
    else if (rc == CTL_JOB_INTERRUPTED)
        ML_INFO("jobs", "job %lld interrupted by shutdown (%s; %s times); queued again", id, error,
                PQgetvalue(r, 0, 2));
    else
        ML_WARN("jobs", "job %lld attempt %d/%d: %s (%s)", id, attempt, max_attempts, error,
                outcome);
    PQclear(r);
}

/* Run one claimed row. */
static void run_job(worker *w, PGresult *r)
{
    ctl_job job = {0};
    char err[1024] = "";
    job.id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    job.kind = PQgetvalue(r, 0, 1);
    job.attempt = atoi(PQgetvalue(r, 0, 3));
    job.max_attempts = atoi(PQgetvalue(r, 0, 4));
    job.interruptions = atoi(PQgetvalue(r, 0, 7));
    job.worker_id = w->id;
    if (strcmp(PQgetvalue(r, 0, 5), "running") == 0)
        ML_WARN("jobs", "job %lld (%s): lease of %s expired; taking it over", job.id, job.kind,
                PQgetvalue(r, 0, 6));
    if (job.attempt > job.max_attempts) {
        finish(w, job.id, CTL_JOB_PERMANENT, job.attempt, job.max_attempts,
               "lease expired during the last attempt (the worker died or hung)");
        return;
    }
    json_t *payload = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
    ctl_job_fn fn = ctl_jobs_lookup(job.kind);
    int rc;
    if (!json_is_object(payload)) {
        rc = CTL_JOB_PERMANENT;
        snprintf(err, sizeof err, "payload is not a JSON object");
    } else if (!fn) {
        rc = CTL_JOB_RETRY; /* another node (a newer build) may know it */
        snprintf(err, sizeof err, "no handler for job kind '%s' on this node", job.kind);
    } else {
        job.payload = payload;
        rc = fn(&w->ctx, &job, err, sizeof err);
        if (rc == CTL_JOB_INTERRUPTED)
            w->interrupted = 1;
        if (rc != CTL_JOB_OK && !err[0])
            snprintf(err, sizeof err, "handler failed without a reason");
    }
    json_decref(payload);
    /* A handler must leave the connection idle; repair it if it did not. */
    if (ctl_db_end_open_tx(w->ctx.db.conn))
        ML_ERROR("jobs", "job %lld (%s): handler left a transaction open", job.id, job.kind);
    char dberr[256];
    if (ctl_db_ensure(&w->ctx.db, dberr, sizeof dberr) != 0) {
        ML_WARN("jobs", "job %lld: outcome lost (%s); it runs again after its lease", job.id,
                dberr);
        return;
    }
    finish(w, job.id, rc, job.attempt, job.max_attempts, err);
}

/* Claim and run one job: 1 if one ran, 0 if none was due, -1 on error. */
static int claim_one(worker *w)
{
    const ml_config *cfg = w->jobs->cfg;
    char lease[16], maxa[16];
    snprintf(lease, sizeof lease, "%d", cfg->job_lease_s);
    snprintf(maxa, sizeof maxa, "%d", cfg->job_max_attempts);
    const char *params[3] = {w->id, lease, maxa};
    PGresult *r = PQexecParams(
        w->ctx.db.conn,
        "WITH c AS (SELECT id, state AS was, locked_by AS prev FROM jobs "
        "  WHERE (state = 'queued' AND run_at <= now()) "
        "     OR (state = 'running' AND locked_until < now()) "
        "  ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, locked_by = $1, "
        "  locked_until = now() + make_interval(secs => $2::int), updated_at = now() "
        "FROM c WHERE j.id = c.id "
        "RETURNING j.id, j.kind, j.payload::text, j.attempts, "
        "  COALESCE(j.max_attempts, $3::int), c.was, COALESCE(c.prev, ''), j.interruptions",
        3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ML_WARN("jobs", "claiming a job failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    if (n == 1)
        run_job(w, r);
    PQclear(r);
    return n == 1;
}

static void sweep(worker *w)
{
    time_t now = time(NULL);
    if (w->index != 0 || now - w->last_sweep < SWEEP_INTERVAL_S)
        return;
    w->last_sweep = now;
    char days[16];
    snprintf(days, sizeof days, "%d", w->jobs->cfg->job_retention_days);
    const char *p[1] = {days};
    PGresult *r = PQexecParams(w->ctx.db.conn,
                               "DELETE FROM jobs WHERE state = 'done' "
                               "AND updated_at < now() - make_interval(days => $1::int)",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        ML_WARN("jobs", "retention sweep failed: %s", PQresultErrorMessage(r));
    else if (atoi(PQcmdTuples(r)) > 0)
        ML_INFO("jobs", "deleted %s finished job(s) older than %s days", PQcmdTuples(r), days);
    PQclear(r);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ctl_jobs *j = w->jobs;
    int poll_ms = j->cfg->job_poll_ms;
    int warned = 0;
    while (!atomic_load(&j->stopping)) {
        char err[512];
        if (ctl_db_ensure(&w->ctx.db, err, sizeof err) != 0) {
            if (!warned++)
                ML_WARN("jobs", "worker %d: database unavailable: %s", w->index, err);
            wait_for_work(w, poll_ms);
            continue;
        }
        if (warned) {
            ML_INFO("jobs", "worker %d: database available again", w->index);
            warned = 0;
        }
        if (w->interrupted) { /* shutting down: leave the queue to the next start */
            wait_for_work(w, poll_ms);
            continue;
        }
        int rc = claim_one(w);
        if (rc == 1)
            continue;
        if (rc < 0 && PQstatus(w->ctx.db.conn) != CONNECTION_OK)
            continue; /* reconnect at the top */
        sweep(w);
        if (listen_jobs(w) != 0 && PQstatus(w->ctx.db.conn) != CONNECTION_OK)
            continue; /* reconnect at the top */
        if (drain_notifies(w->ctx.db.conn) > 0)
            continue;
        wait_for_work(w, poll_ms);
    }
    return NULL;
}

ctl_jobs *ctl_jobs_start(const ml_config *cfg, const char *database_url, const char *redis_url,
                         char *err, size_t errlen)
{
    ctl_jobs *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->cfg = cfg;
    j->stop_pipe[0] = j->stop_pipe[1] = -1;
    if (cfg->job_workers == 0)
        return j;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl");
        goto fail;
    }
    if (pipe(j->stop_pipe) != 0) {
        snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
        goto fail;
    }
    j->workers = calloc((size_t)cfg->job_workers, sizeof *j->workers);
    j->threads = calloc((size_t)cfg->job_workers, sizeof *j->threads);
    if (!j->workers || !j->threads) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    char host[64] = "node";
    gethostname(host, sizeof host - 1);
    for (int i = 0; i < cfg->job_workers; i++) {
        worker *w = &j->workers[i];
        w->jobs = j;
        w->index = i;
        w->last_sweep = time(NULL) - SWEEP_INTERVAL_S + 60; /* first sweep a minute in */
        snprintf(w->id, sizeof w->id, "%s:%d:%d", host, (int)getpid(), i);
        if (ctl_ctx_init(&w->ctx, cfg, database_url, redis_url, err, errlen) != 0) {
            ctl_ctx_close(&w->ctx);
            goto fail;
        }
        if (pthread_create(&j->threads[i], NULL, worker_main, w) != 0) {
            ctl_ctx_close(&w->ctx);
            snprintf(err, errlen, "cannot start job worker threads");
            goto fail;
        }
        j->n = i + 1;
    }
    ML_INFO("jobs", "%d job worker(s) started", j->n);
    return j;
fail:
    ctl_jobs_stop(j);
    return NULL;
}

void ctl_jobs_stop_claiming(ctl_jobs *j)
{
    if (!j || atomic_exchange(&j->stopping, 1))
        return;
    if (j->stop_pipe[1] >= 0) {
        ssize_t wr = write(j->stop_pipe[1], "x", 1);
        (void)wr;
    }
}

void ctl_jobs_stop(ctl_jobs *j)
{
    if (!j)
        return;
    ctl_jobs_stop_claiming(j);
    for (int i = 0; i < j->n; i++) {
        pthread_join(j->threads[i], NULL);
        ctl_ctx_close(&j->workers[i].ctx);
    }
    if (j->stop_pipe[0] >= 0) {
        close(j->stop_pipe[0]);
        close(j->stop_pipe[1]);
    }
    if (j->cfg->job_workers > 0 && j->n > 0)
        ML_INFO("jobs", "job workers stopped");
    free(j->workers);
    free(j->threads);
    free(j);
}
