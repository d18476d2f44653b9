/*
 * A small thread pool for blocking control-plane work (database, Redis),
 * so that the libwebsockets loop never blocks. Each pool thread owns one
 * ctl_ctx (its own connections). A submitted job runs ctl_api_dispatch on a
 * pool thread; the finished job goes to a completion queue and the pool
 * calls `wake` (lws_cancel_service), after which the service thread takes
 * completions with sig_pool_take_done().
 */
#ifndef ML_SIGNALING_POOL_H
#define ML_SIGNALING_POOL_H

#include "control/api.h"

typedef struct sig_job {
    ctl_request req;
    ctl_response resp;
    void *owner; /* the HTTP request state; owned by the service thread */
    struct sig_job *next;
} sig_job;

typedef struct sig_pool sig_pool;

sig_pool *sig_pool_create(int nthreads, const ml_config *cfg, const char *database_url,
                          const char *redis_url, void (*wake)(void *), void *wake_arg, char *err,
                          size_t errlen);
/* Queue a job (ownership passes to the pool until it is taken back). */
void sig_pool_submit(sig_pool *p, sig_job *job);
/* Take every finished job (a list linked by ->next), or NULL. */
sig_job *sig_pool_take_done(sig_pool *p);
/* Jobs submitted and not yet taken back. */
int sig_pool_in_flight(sig_pool *p);
/* Stop the threads after the queued jobs have run (their completions stay
 * queued for sig_pool_take_done, which owns freeing them). */
void sig_pool_stop(sig_pool *p);
/* Free a stopped pool; every finished job must have been taken. */
void sig_pool_free(sig_pool *p);

#endif
