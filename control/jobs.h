/*
 * Background jobs: a durable queue in PostgreSQL (the `jobs` table) and a
 * runner that any node may run.
 *
 * Enqueue a job inside the caller's transaction with ctl_jobs_enqueue(): it
 * becomes visible, and the runners are woken (NOTIFY ml_jobs), only when the
 * caller commits, so a job never refers to rows that were rolled back.
 *
 * The runner has `job_workers` threads, each with its own ctl_ctx (database
 * and Redis connections). A worker claims one due job at a time with
 * UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) and takes a
 * lease (locked_until = now + job_lease_s): a job whose lease expired (its
 * node died mid-run) is claimed again by anyone. It runs the handler
 * registered for the job's kind; on success the job is `done`; on failure it
 * is retried after job_retry_base_ms * 2^(attempt-1) (capped at
 * job_retry_max_ms) until max_attempts, then it is `failed` with last_error.
 * Handlers must therefore be idempotent (at-least-once execution).
 * Workers wait for work with LISTEN on their connection and wake at once on
 * NOTIFY, or after job_poll_ms at the latest (delayed jobs, expired leases).
 *
 * Kinds: a handler is registered either in the static table in
 * control/job_kinds.c (add one line) or at start-up with ctl_jobs_register()
 * before ctl_jobs_start().
 */
#ifndef ML_CONTROL_JOBS_H
#define ML_CONTROL_JOBS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "common/config.h"
#include "control/api.h"

/* One claimed job, as a handler sees it (valid during the call only). */
typedef struct ctl_job {
    long long id;
    const char *kind;
    const json_t *payload; /* an object */
    int attempt;           /* 1 on the first run */
    int max_attempts;
    const char *worker_id; /* who holds the lease ("host:pid:n") */
    int interruptions;     /* times a shutdown stopped it before this run */
} ctl_job;

/* Handler results. */
#define CTL_JOB_OK 0
#define CTL_JOB_RETRY (-1)     /* transient failure: retry with back-off */
#define CTL_JOB_PERMANENT (-2) /* hopeless: mark failed now */
#define CTL_JOB_INTERRUPTED (-3) /* stopped by this node's shutdown, not the job's fault:
                                    queued again at once, the attempt not counted
                                    for the first CTL_JOB_FREE_INTERRUPTIONS times */
/* Interruptions a job gets for free; each later one counts as an attempt
 * (a job out of attempts then ends failed), so a job whose run always
 * outlasts the time between restarts cannot cycle for ever. */
#define CTL_JOB_FREE_INTERRUPTIONS 5

/* Whether returning CTL_JOB_INTERRUPTED from this run ends the job failed
 * (its free interruptions used up, and this is its last attempt): a
 * handler with state of its own to settle does it then. */
static inline int ctl_job_interrupt_is_final(const ctl_job *j)
{
    return j->interruptions >= CTL_JOB_FREE_INTERRUPTIONS && j->attempt >= j->max_attempts;
}

/* A handler runs on a job worker thread with that thread's ctx (its own
 * connections, outside any transaction). It returns CTL_JOB_OK, or
 * CTL_JOB_RETRY / CTL_JOB_PERMANENT with a one-line reason in err. */
typedef int (*ctl_job_fn)(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen);

typedef struct ctl_job_kind {
    const char *kind; /* "email.send" */
    ctl_job_fn fn;
} ctl_job_kind;

/* The built-in kinds (control/job_kinds.c). */
extern const ctl_job_kind ctl_job_kinds[];
extern const size_t ctl_job_kinds_count;

/* Register (or replace) a handler at start-up, before ctl_jobs_start().
 * `kind` must be a static string. 0, or -1 when the registry is full. */
int ctl_jobs_register(const char *kind, ctl_job_fn fn);
/* The handler for a kind (registered first, then the static table), or NULL. */
ctl_job_fn ctl_jobs_lookup(const char *kind);

/* What to enqueue. */
typedef struct ctl_job_spec {
    const char *kind;          /* required */
    const json_t *payload;     /* an object, or NULL for {} */
    long long delay_ms;        /* run no earlier than now + delay (0 = at once) */
    int max_attempts;          /* 0 = the runner's job_max_attempts (config) */
    const char *dedupe_key;    /* optional: while a job with this key is queued or
                                  running, enqueueing another is a no-op that returns
                                  the existing id */
} ctl_job_spec;

/* Insert a job in the caller's transaction (or autocommit) and notify the
 * runners on commit. 0 and *id_out (may be NULL), or -1 + err. */
int ctl_jobs_enqueue(PGconn *conn, const ctl_job_spec *spec, long long *id_out, char *err,
                     size_t errlen);

/* Cancel a queued (not running) job by dedupe key, e.g. a reminder for a
 * booking that was cancelled. Sets state 'failed' with last_error
 * 'cancelled'. 0 (also when there was nothing to cancel) or -1 + err. */
int ctl_jobs_cancel(PGconn *conn, const char *dedupe_key, char *err, size_t errlen);

/* Push a running job's lease forward by lease_s seconds (for long jobs such
 * as transcodes, call it periodically). 0, or -1 + err when the lease was
 * lost (another worker took the job over). */
int ctl_jobs_extend_lease(ctl_ctx *ctx, const ctl_job *job, int lease_s, char *err,
                          size_t errlen);

/* Back-off before attempt `attempt + 1`, after `attempt` failed (pure). */
long long ctl_jobs_backoff_ms(int attempt, long long base_ms, long long max_ms);

typedef struct ctl_jobs ctl_jobs;

/* Start cfg->job_workers threads (none when 0: returns a valid handle that
 * does nothing). NULL + err when a connection cannot be prepared. */
ctl_jobs *ctl_jobs_start(const ml_config *cfg, const char *database_url, const char *redis_url,
                         char *err, size_t errlen);
/* Ask the workers to stop, wait for running handlers to finish, free.
 * Long handlers should notice the shutdown and return CTL_JOB_INTERRUPTED
 * (recording.process: its ffmpeg is killed by rec_tool_cancel_all first).
 * A job interrupted by a crash instead is reclaimed after its lease. NULL
 * is ok. */
void ctl_jobs_stop(ctl_jobs *j);
/* The first step of stopping, for the start of a shutdown: no worker claims
 * a job any more (running handlers go on; ctl_jobs_stop waits for them).
 * Done before cancelling running handlers, so that a job they put back in
 * the queue is not claimed and interrupted again by another worker. */
void ctl_jobs_stop_claiming(ctl_jobs *j);

#endif
