/*
 * Control-plane worker pool; see pool.h. One mutex guards both queues; the
 * work is database round trips, so the lock is never the bottleneck.
 */
#include "signaling/pool.h"
#include "common/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sig_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sig_job *todo_head, *todo_tail;
    sig_job *done;
    int in_flight;
    int stopping;
    int nthreads;
    pthread_t *threads;
    ctl_ctx *ctxs;
    void (*wake)(void *);
    void *wake_arg;
};

typedef struct worker_arg {
    sig_pool *pool;
    int index;
} worker_arg;

static void *pool_main(void *arg)
{
    worker_arg *wa = arg;
    sig_pool *p = wa->pool;
    ctl_ctx *ctx = &p->ctxs[wa->index];
    free(wa);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->todo_head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        sig_job *job = p->todo_head;
        if (!job) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        p->todo_head = job->next;
        if (!p->todo_head)
            p->todo_tail = NULL;
        pthread_mutex_unlock(&p->mu);

        ctl_api_dispatch(ctx, &job->req, &job->resp);
        /* A route must leave its connection idle; one that did not (a
         * failed statement inside a transaction it never closed) would
         * make every later request on this worker fail with 25P02. */
        if (ctl_db_end_open_tx(ctx->db.conn))
            ML_ERROR("pool", "%s %s left a database transaction open; rolled back",
                     job->req.method, job->req.path);

        pthread_mutex_lock(&p->mu);
        job->next = p->done;
        p->done = job;
        pthread_mutex_unlock(&p->mu);
        if (p->wake)
            p->wake(p->wake_arg);
    }
    return NULL;
}

sig_pool *sig_pool_create(int nthreads, const ml_config *cfg, const char *database_url,
                          const char *redis_url, void (*wake)(void *), void *wake_arg, char *err,
                          size_t errlen)
{
    sig_pool *p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->wake = wake;
    p->wake_arg = wake_arg;
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    p->ctxs = calloc((size_t)nthreads, sizeof *p->ctxs);
    if (!p->threads || !p->ctxs)
        goto oom;
    for (int i = 0; i < nthreads; i++) {
        if (ctl_ctx_init(&p->ctxs[i], cfg, database_url, redis_url, err, errlen) != 0)
            goto fail;
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa)
            goto oom;
        wa->pool = p;
        wa->index = i;
        if (pthread_create(&p->threads[i], NULL, pool_main, wa) != 0) {
            free(wa);
            snprintf(err, errlen, "cannot start pool thread");
            goto fail;
        }
        p->nthreads++;
    }
    return p;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    if (p) {
        sig_pool_stop(p);
        sig_pool_free(p);
    }
    return NULL;
}

void sig_pool_submit(sig_pool *p, sig_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->todo_tail)
        p->todo_tail->next = job;
    else
        p->todo_head = job;
    p->todo_tail = job;
    p->in_flight++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

sig_job *sig_pool_take_done(sig_pool *p)
{
    pthread_mutex_lock(&p->mu);
    sig_job *list = p->done;
    p->done = NULL;
    for (sig_job *j = list; j; j = j->next)
        p->in_flight--;
    pthread_mutex_unlock(&p->mu);
    return list;
}

int sig_pool_in_flight(sig_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->in_flight;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void sig_pool_stop(sig_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
}

void sig_pool_free(sig_pool *p)
{
    if (p->ctxs)
        for (int i = 0; i < p->nthreads; i++)
            ctl_ctx_close(&p->ctxs[i]);
    free(p->threads);
    free(p->ctxs);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
