/*
 * Media workers: tasks run on the worker thread in posting order, the
 * least-loaded pick, and a clean stop that still runs posted tasks.
 */
#include "sfu/worker.h"
#include "tests/unit/harness.h"

#include <stdatomic.h>
#include <stdlib.h>

typedef struct rec {
    sfu_worker *w;
    atomic_int n;
    int order[1000];
    atomic_int on_thread;
    atomic_int destroyed;
} rec;

typedef struct item {
    rec *r;
    int i;
} item;

static void record(void *arg)
{
    item *it = arg;
    int k = atomic_fetch_add(&it->r->n, 1);
    if (k < 1000)
        it->r->order[k] = it->i;
    if (sfu_worker_is_current(it->r->w) && sfu_worker_current() == it->r->w)
        atomic_fetch_add(&it->r->on_thread, 1);
}

static void destroy_item(void *arg)
{
    item *it = arg;
    atomic_fetch_add(&it->r->destroyed, 1);
    free(it);
}

TEST(worker_runs_tasks_in_order_on_its_thread)
{
    sfu_workers *ws = sfu_workers_start(2);
    REQUIRE(ws != NULL);
    CHECK_INT_EQ(sfu_workers_count(ws), 2);
    rec *r = calloc(1, sizeof *r);
    r->w = sfu_workers_get(ws, 1);
    REQUIRE(r->w != NULL);
    CHECK(sfu_worker_context(r->w) != NULL);
    CHECK_INT_EQ(sfu_worker_index(r->w), 1);
    CHECK(!sfu_worker_is_current(r->w));
    for (int i = 0; i < 1000; i++) {
        item *it = malloc(sizeof *it);
        it->r = r;
        it->i = i;
        CHECK_INT_EQ(sfu_worker_post(r->w, record, it, destroy_item), 0);
    }
    sfu_workers_stop(ws); /* posted tasks still run */
    CHECK_INT_EQ(atomic_load(&r->n), 1000);
    CHECK_INT_EQ(atomic_load(&r->on_thread), 1000);
    CHECK_INT_EQ(atomic_load(&r->destroyed), 1000);
    int ordered = 1;
    for (int i = 0; i < 1000; i++)
        if (r->order[i] != i)
            ordered = 0;
    CHECK(ordered);
    free(r);
}

TEST(worker_pick_prefers_least_loaded)
{
    sfu_workers *ws = sfu_workers_start(3);
    REQUIRE(ws != NULL);
    sfu_worker *a = sfu_workers_get(ws, 0), *b = sfu_workers_get(ws, 1),
               *c = sfu_workers_get(ws, 2);
    sfu_worker_load_add(a, 2);
    sfu_worker_load_add(b, 1);
    for (int i = 0; i < 5; i++)
        CHECK(sfu_workers_pick(ws) == c);
    sfu_worker_load_add(c, 5);
    CHECK(sfu_workers_pick(ws) == b);
    CHECK_INT_EQ(sfu_worker_load(c), 5);
    sfu_workers_stop(ws);
    CHECK(sfu_workers_get(NULL, 0) == NULL);
    sfu_workers_stop(NULL);
}

TEST(worker_default_count_is_cores)
{
    sfu_workers *ws = sfu_workers_start(0); /* one per core */
    REQUIRE(ws != NULL);
    CHECK(sfu_workers_count(ws) >= 1);
    sfu_worker *w = sfu_workers_get(ws, 0);
    CHECK_INT_EQ(sfu_worker_stopping(w), 0);
    CHECK(sfu_worker_current() == NULL);
    sfu_workers_stop(ws);
}

typedef struct trec {
    sfu_worker *w;
    sfu_timer t, never;
    atomic_int fired;
    atomic_int on_thread;
    gint64 armed_at, fired_at;
} trec;

static void timer_fired(void *arg)
{
    trec *r = arg;
    r->fired_at = g_get_monotonic_time();
    if (sfu_worker_is_current(r->w))
        atomic_fetch_add(&r->on_thread, 1);
    if (atomic_fetch_add(&r->fired, 1) == 0)
        sfu_worker_timer_arm(r->w, &r->t, 10); /* periodic: re-arms itself once */
}

static void never_fired(void *arg)
{
    trec *r = arg;
    atomic_fetch_add(&r->fired, 100);
}

static void arm_task(void *arg)
{
    trec *r = arg;
    sfu_timer_init(&r->t, timer_fired, r);
    sfu_timer_init(&r->never, never_fired, r);
    r->armed_at = g_get_monotonic_time();
    sfu_worker_timer_arm(r->w, &r->t, 30);
    sfu_worker_timer_arm(r->w, &r->never, 20);
    sfu_worker_timer_cancel(r->w, &r->never);
}

TEST(worker_timers_fire_on_the_worker_after_their_delay)
{
    sfu_workers *ws = sfu_workers_start(1);
    REQUIRE(ws != NULL);
    trec *r = calloc(1, sizeof *r);
    r->w = sfu_workers_get(ws, 0);
    CHECK_INT_EQ(sfu_worker_post(r->w, arm_task, r, NULL), 0);
    for (int i = 0; i < 500 && atomic_load(&r->fired) < 2; i++)
        g_usleep(10000);
    g_usleep(50000); /* the cancelled one would have fired by now */
    sfu_workers_stop(ws);
    CHECK_INT_EQ(atomic_load(&r->fired), 2);
    CHECK_INT_EQ(atomic_load(&r->on_thread), 2);
    /* 30 ms then 10 ms more, each within half the 10 ms grid */
    CHECK(r->fired_at - r->armed_at >= 30000);
    free(r);
}
