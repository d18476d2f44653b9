/*
 * Media worker threads (see worker.h). Each worker owns a GMainContext run
 * by a GMainLoop on its own thread, and a task queue: a mutex-protected
 * GQueue drained by one custom GSource on that context. Posting appends to
 * the queue and arms the source with g_source_set_ready_time(0), which is
 * thread-safe and wakes the context. Tasks therefore run strictly in posting
 * order, never re-entrantly inside the poster's stack (unlike
 * g_main_context_invoke from the owner thread). The only lock is the queue
 * lock, held for a push or a swap, never while a task runs.
 *
 * A second custom GSource serves the worker's timer heap (timer_heap.h):
 * its ready time is the earliest due timer, so N peers' timers cost GLib
 * one source to look at per iteration instead of N.
 */
#include "sfu/worker.h"

#include "common/log.h"
#include "sfu/ice_loop.h"
#include "sfu/udp_batch.h"
#include "sfu/worker_poll.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct task {
    sfu_worker_fn fn;
    sfu_worker_fn destroy;
    void *arg;
} task;

struct sfu_worker {
    int index;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    GSource *task_source;
    GSource *timer_source;
    sfu_timer_heap timers; /* worker thread only */
    GMutex lock; /* protects tasks and stopping */
    GQueue tasks;
    int stopping;
    atomic_int load;
    sfu_poll_coalesce poll; /* worker thread only (worker_poll.h) */
    sfu_ice_loop *ice_loop; /* worker thread only: the agents' contexts (ice_loop.h) */
};

struct sfu_workers {
    int n;
    sfu_worker *w;
    atomic_uint rr;
};

static __thread sfu_worker *tl_current;

static gboolean task_source_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    sfu_worker *w = data;
    (void)cb;
    g_source_set_ready_time(src, -1);
    GQueue batch = G_QUEUE_INIT;
    g_mutex_lock(&w->lock);
    batch = w->tasks;
    g_queue_init(&w->tasks);
    g_mutex_unlock(&w->lock);
    task *t;
    while ((t = g_queue_pop_head(&batch))) {
        t->fn(t->arg);
        if (t->destroy)
            t->destroy(t->arg);
        free(t);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs task_source_funcs = {
    .dispatch = task_source_dispatch,
};

#define TIMER_GRID_US 10000u

/* Point the timer source's ready time at the earliest timer. */
static void timer_source_update(sfu_worker *w)
{
    uint64_t next = sfu_timer_heap_next(&w->timers);
    g_source_set_ready_time(w->timer_source, next == UINT64_MAX ? -1 : (gint64)next);
}

/* The heap's times are g_get_monotonic_time() microseconds (CLOCK_MONOTONIC,
 * the same clock as sfu_now_us()). At most 256 callbacks per dispatch so a
 * burst of timers cannot starve the sockets. */
static gboolean timer_source_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    sfu_worker *w = data;
    (void)src;
    (void)cb;
    sfu_timer_heap_run(&w->timers, (uint64_t)g_get_monotonic_time(), 256);
    timer_source_update(w);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_source_funcs = {
    .dispatch = timer_source_dispatch,
};

int sfu_worker_timer_arm(sfu_worker *w, sfu_timer *t, uint64_t delay_ms)
{
    /* Due times snap to the nearest point of a TIMER_GRID_US grid (never
     * to now or earlier), so timers of many peers share one wake-up; a
     * periodic timer re-armed from its callback keeps its period, since
     * the dispatch delay is rounded away. */
    uint64_t now = (uint64_t)g_get_monotonic_time();
    uint64_t due = (now + delay_ms * 1000u + TIMER_GRID_US / 2) / TIMER_GRID_US * TIMER_GRID_US;
    if (due <= now)
        due += TIMER_GRID_US;
    if (sfu_timer_heap_arm(&w->timers, t, due) != 0)
        return -1;
    timer_source_update(w);
    return 0;
}

void sfu_worker_timer_cancel(sfu_worker *w, sfu_timer *t)
{
    if (!sfu_timer_armed(t))
        return;
    sfu_timer_heap_cancel(&w->timers, t);
    timer_source_update(w);
}

static gpointer worker_main(gpointer data)
{
    sfu_worker *w = data;
    tl_current = w;
    g_main_context_push_thread_default(w->ctx);
    sfu_worker_poll_install(w->ctx, &w->poll);
    w->ice_loop = sfu_ice_loop_install(w->ctx);
    g_main_loop_run(w->loop);
    /* Let asynchronous closes (libnice agents) and late tasks finish. */
    for (int i = 0; i < 1000 && g_main_context_iteration(w->ctx, FALSE); i++)
        ;
    if (w->ice_loop) {
        sfu_ice_loop_stats st;
        sfu_ice_loop_get_stats(w->ice_loop, &st);
        ML_INFO("worker",
                "media worker %d: %llu agent contexts, %llu iterations (%llu descriptor, %llu "
                "timeout, %llu touch), %llu dispatched, %llu epoll wake-ups, %llu epoll_ctl",
                w->index, (unsigned long long)st.created, (unsigned long long)st.steps,
                (unsigned long long)st.io_steps, (unsigned long long)st.timer_steps,
                (unsigned long long)st.touch_steps, (unsigned long long)st.dispatches,
                (unsigned long long)st.wakeups, (unsigned long long)st.epoll_ctl);
    }
    sfu_udp_batch_stats us;
    sfu_udp_batch_get_stats(&us);
    if (us.queued)
        ML_INFO("worker",
                "media worker %d: %llu datagrams queued, %llu sent, %llu dropped, %llu sendmmsg "
                "calls, %llu segmented messages (UDP GSO)",
                w->index, (unsigned long long)us.queued, (unsigned long long)us.sent,
                (unsigned long long)us.dropped, (unsigned long long)us.syscalls,
                (unsigned long long)us.gso_sends);
    sfu_ice_loop_free(w->ice_loop);
    w->ice_loop = NULL;
    g_main_context_pop_thread_default(w->ctx);
    tl_current = NULL;
    return NULL;
}

static void quit_task(void *arg)
{
    sfu_worker *w = arg;
    g_main_loop_quit(w->loop);
}

static int worker_init(sfu_worker *w, int index)
{
    w->index = index;
    g_mutex_init(&w->lock);
    g_queue_init(&w->tasks);
    atomic_init(&w->load, 0);
    w->ctx = g_main_context_new();
    w->loop = g_main_loop_new(w->ctx, FALSE);
    w->task_source = g_source_new(&task_source_funcs, sizeof(GSource));
    g_source_set_callback(w->task_source, NULL, w, NULL);
    g_source_set_priority(w->task_source, G_PRIORITY_DEFAULT);
    g_source_set_ready_time(w->task_source, -1);
    g_source_attach(w->task_source, w->ctx);
    w->timer_source = g_source_new(&timer_source_funcs, sizeof(GSource));
    g_source_set_callback(w->timer_source, NULL, w, NULL);
    g_source_set_priority(w->timer_source, G_PRIORITY_DEFAULT);
    g_source_set_ready_time(w->timer_source, -1);
    g_source_attach(w->timer_source, w->ctx);
    char name[16];
    snprintf(name, sizeof name, "media-%d", index);
    GError *gerr = NULL;
    w->thread = g_thread_try_new(name, worker_main, w, &gerr);
    if (!w->thread) {
        ML_ERROR("worker", "cannot start media worker %d: %s", index, gerr ? gerr->message : "?");
        g_clear_error(&gerr);
        return -1;
    }
    return 0;
}

static void worker_free(sfu_worker *w)
{
    if (w->task_source) {
        g_source_destroy(w->task_source);
        g_source_unref(w->task_source);
    }
    if (w->timer_source) {
        g_source_destroy(w->timer_source);
        g_source_unref(w->timer_source);
    }
    sfu_timer_heap_free(&w->timers);
    /* Tasks that never ran (stop raced with post): free without running. */
    task *t;
    while ((t = g_queue_pop_head(&w->tasks))) {
        if (t->destroy)
            t->destroy(t->arg);
        free(t);
    }
    if (w->loop)
        g_main_loop_unref(w->loop);
    if (w->ctx)
        g_main_context_unref(w->ctx);
    g_mutex_clear(&w->lock);
}

sfu_workers *sfu_workers_start(int n)
{
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
    }
    sfu_workers *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->w = calloc((size_t)n, sizeof *ws->w);
    if (!ws->w) {
        free(ws);
        return NULL;
    }
    atomic_init(&ws->rr, 0);
    for (int i = 0; i < n; i++) {
        if (worker_init(&ws->w[i], i) != 0) {
            ws->n = i + 1; /* stop the ones that started, free this one too */
            sfu_workers_stop(ws);
            return NULL;
        }
        ws->n = i + 1;
    }
    ML_INFO("worker", "started %d media worker%s", n, n == 1 ? "" : "s");
    return ws;
}

void sfu_workers_stop(sfu_workers *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < ws->n; i++) {
        sfu_worker *w = &ws->w[i];
        if (!w->thread)
            continue;
        /* The quit task goes last; nothing can be posted after it. */
        task *t = calloc(1, sizeof *t);
        g_mutex_lock(&w->lock);
        w->stopping = 1;
        if (t) {
            t->fn = quit_task;
            t->arg = w;
            g_queue_push_tail(&w->tasks, t);
        }
        g_mutex_unlock(&w->lock);
        if (t)
            g_source_set_ready_time(w->task_source, 0);
        else
            g_main_loop_quit(w->loop);
    }
    for (int i = 0; i < ws->n; i++) {
        sfu_worker *w = &ws->w[i];
        if (w->thread)
            g_thread_join(w->thread);
        w->thread = NULL;
        worker_free(w);
    }
    free(ws->w);
    free(ws);
}

static void set_coalesce_task(void *arg)
{
    sfu_worker *w = tl_current;
    w->poll.window_us = (uint32_t)(uintptr_t)arg;
}

void sfu_workers_set_poll_coalesce(sfu_workers *ws, int window_us)
{
    if (!ws || window_us < 0)
        return;
    for (int i = 0; i < ws->n; i++)
        sfu_worker_post(&ws->w[i], set_coalesce_task, (void *)(uintptr_t)window_us, NULL);
}

void sfu_worker_poll_stats(sfu_worker *w, uint64_t *polls, uint64_t *holds)
{
    if (polls)
        *polls = w->poll.polls;
    if (holds)
        *holds = w->poll.holds;
}

int sfu_workers_count(const sfu_workers *ws)
{
    return ws ? ws->n : 0;
}

sfu_worker *sfu_workers_get(sfu_workers *ws, int i)
{
    if (!ws || i < 0 || i >= ws->n)
        return NULL;
    return &ws->w[i];
}

sfu_worker *sfu_workers_pick(sfu_workers *ws)
{
    if (!ws || ws->n == 0)
        return NULL;
    unsigned start = atomic_fetch_add(&ws->rr, 1u) % (unsigned)ws->n;
    sfu_worker *best = NULL;
    int best_load = 0;
    for (int k = 0; k < ws->n; k++) {
        sfu_worker *w = &ws->w[(start + (unsigned)k) % (unsigned)ws->n];
        int load = atomic_load(&w->load);
        if (!best || load < best_load) {
            best = w;
            best_load = load;
        }
    }
    return best;
}

int sfu_worker_post(sfu_worker *w, sfu_worker_fn fn, void *arg, sfu_worker_fn destroy)
{
    if (!w || !fn)
        return -1;
    task *t = malloc(sizeof *t);
    if (!t)
        return -1;
    t->fn = fn;
    t->destroy = destroy;
    t->arg = arg;
    g_mutex_lock(&w->lock);
    if (w->stopping) {
        g_mutex_unlock(&w->lock);
        free(t);
        return -1;
    }
    g_queue_push_tail(&w->tasks, t);
    g_mutex_unlock(&w->lock);
    g_source_set_ready_time(w->task_source, 0);
    return 0;
}

GMainContext *sfu_worker_context(sfu_worker *w)
{
    return w->ctx;
}

int sfu_worker_index(const sfu_worker *w)
{
    return w->index;
}

int sfu_worker_is_current(const sfu_worker *w)
{
    return tl_current == w;
}

sfu_worker *sfu_worker_current(void)
{
    return tl_current;
}

void sfu_worker_load_add(sfu_worker *w, int delta)
{
    atomic_fetch_add(&w->load, delta);
}

int sfu_worker_load(const sfu_worker *w)
{
    return atomic_load(&((sfu_worker *)w)->load);
}

int sfu_worker_stopping(const sfu_worker *w)
{
    sfu_worker *mw = (sfu_worker *)w;
    g_mutex_lock(&mw->lock);
    int s = mw->stopping;
    g_mutex_unlock(&mw->lock);
    return s;
}
