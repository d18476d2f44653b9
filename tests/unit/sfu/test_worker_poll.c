/*
 * Worker main-loop tuning (sfu/worker_poll.c): the coalescing decision,
 * the may-recurse sweep over a context's socket sources, and a worker that reads
 * a burst of datagrams in fewer wake-ups than datagrams when coalescing.
 */
#include "sfu/worker.h"
#include "sfu/worker_poll.h"
#include "tests/unit/harness.h"

#include <gio/gio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

TEST(coalesce_hold_follows_the_window_since_the_last_wake)
{
    sfu_poll_coalesce c = {.window_us = 500};
    /* never woke: poll at once */
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 1000000, -1), 0);
    sfu_poll_coalesce_note(&c, 1000000, 3);
    CHECK_UINT_EQ(c.polls, 1);
    CHECK_UINT_EQ(c.last_wake_us, 1000000);
    /* 100 us after a wake-up: wait out the other 400 */
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 1000100, -1), 400);
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 1000100, 50), 400);
    /* a source is due now: never hold */
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 1000100, 0), 0);
    /* idle for the whole window or longer: answer at once */
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 1000500, -1), 0);
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 1900000, -1), 0);
    /* a poll that timed out is not a wake-up */
    sfu_poll_coalesce_note(&c, 1000300, 0);
    CHECK_UINT_EQ(c.last_wake_us, 1000000);
    CHECK_UINT_EQ(c.polls, 2);
    /* off */
    c.window_us = 0;
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 1000100, -1), 0);
}

TEST(coalesce_hold_is_cut_to_the_poll_timeout)
{
    sfu_poll_coalesce c = {.window_us = 4000};
    sfu_poll_coalesce_note(&c, 5000000, 1);
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 5000500, 2), 2000);
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 5000500, 10), 3500);
    /* a clock that went backwards never holds more than a window */
    CHECK_UINT_EQ(sfu_poll_coalesce_hold_us(&c, 4999000, -1), 4000);
}

static gboolean never(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE;
}

static GSource *socket_source(GMainContext *ctx, GSocket **keep)
{
    *keep = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
    GSource *s = g_socket_create_source(*keep, G_IO_IN, NULL);
    g_source_set_callback(s, never, NULL, NULL);
    g_source_attach(s, ctx);
    return s;
}

TEST(sweep_marks_new_socket_sources_may_recurse_and_nothing_else)
{
    GMainContext *ctx = g_main_context_new();
    sfu_poll_coalesce c = {0};
    GSocket *ka, *kb, *kl;
    GSource *a = socket_source(ctx, &ka);
    GSource *gone = g_idle_source_new();
    g_source_attach(gone, ctx);
    g_source_destroy(gone); /* a gap in the ids */
    GSource *tmo = g_timeout_source_new(100000); /* re-arms itself: left alone */
    g_source_set_callback(tmo, never, NULL, NULL);
    g_source_attach(tmo, ctx);
    GSource *b = socket_source(ctx, &kb);
    CHECK(!g_source_get_can_recurse(a));
    sfu_worker_poll_sweep(ctx, &c);
    CHECK(g_source_get_can_recurse(a));
    CHECK(g_source_get_can_recurse(b));
    CHECK(!g_source_get_can_recurse(tmo));
    CHECK_UINT_EQ(c.marked, 2);
    CHECK(c.swept_id > g_source_get_id(b));
    GSource *later = socket_source(ctx, &kl);
    CHECK(!g_source_get_can_recurse(later));
    sfu_worker_poll_sweep(ctx, &c);
    CHECK(g_source_get_can_recurse(later));
    CHECK_UINT_EQ(c.marked, 3); /* the earlier ones are not looked at again */
    GSource *all[] = {a, gone, tmo, b, later};
    for (size_t i = 0; i < 5; i++) {
        g_source_destroy(all[i]);
        g_source_unref(all[i]);
    }
    g_object_unref(ka);
    g_object_unref(kb);
    g_object_unref(kl);
    g_main_context_unref(ctx);
}

/* ---- a worker reading a burst of datagrams ------------------------------ */

typedef struct burst {
    sfu_worker *w;
    int fd; /* receiving end, read on the worker */
    GSocket *gsock;
    GSource *src;
    atomic_int received;
    atomic_int dispatches;
    atomic_int may_recurse;
    atomic_int done;
    uint64_t polls, holds;
} burst;

static gboolean on_readable(GSocket *gs, GIOCondition cond, gpointer data)
{
    burst *b = data;
    (void)cond;
    int fd = g_socket_get_fd(gs);
    char buf[64];
    atomic_fetch_add(&b->dispatches, 1);
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        atomic_fetch_add(&b->received, 1);
    return G_SOURCE_CONTINUE;
}

static void attach_task(void *arg)
{
    burst *b = arg;
    b->gsock = g_socket_new_from_fd(b->fd, NULL);
    b->src = g_socket_create_source(b->gsock, G_IO_IN, NULL);
    g_source_set_callback(b->src, (GSourceFunc)(void (*)(void))on_readable, b, NULL);
    g_source_attach(b->src, sfu_worker_context(b->w));
    atomic_store(&b->done, 1);
}

static void stats_task(void *arg)
{
    burst *b = arg;
    sfu_worker_poll_stats(b->w, &b->polls, &b->holds);
    atomic_store(&b->may_recurse, g_source_get_can_recurse(b->src) ? 1 : 0);
    atomic_store(&b->done, 1);
}

static void detach_task(void *arg)
{
    burst *b = arg;
    g_source_destroy(b->src);
    g_source_unref(b->src);
    g_object_unref(b->gsock); /* closes fd */
    atomic_store(&b->done, 1);
}

static void run_on(burst *b, sfu_worker_fn fn)
{
    atomic_store(&b->done, 0);
    REQUIRE(sfu_worker_post(b->w, fn, b, NULL) == 0);
    for (int i = 0; i < 1000 && !atomic_load(&b->done); i++)
        g_usleep(5000);
    REQUIRE(atomic_load(&b->done));
}

/* Send n datagrams spaced gap_us apart; returns the polls the worker made
 * meanwhile (and how many were held) and the time it took. */
static void send_burst(burst *b, int out_fd, int n, int gap_us, uint64_t *polls, uint64_t *holds,
                       int64_t *elapsed_us)
{
    run_on(b, stats_task);
    uint64_t p0 = b->polls, h0 = b->holds;
    int64_t t0 = g_get_monotonic_time();
    for (int i = 0; i < n; i++) {
        CHECK(send(out_fd, "x", 1, 0) == 1);
        g_usleep((gulong)gap_us);
    }
    for (int i = 0; i < 400 && atomic_load(&b->received) < n; i++)
        g_usleep(5000);
    *elapsed_us = g_get_monotonic_time() - t0;
    run_on(b, stats_task);
    *polls = b->polls - p0;
    *holds = b->holds - h0;
}

TEST(worker_wakes_once_per_datagram_and_coalesces_bursts)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    sfu_workers *ws = sfu_workers_start(1);
    REQUIRE(ws != NULL);
    burst *b = calloc(1, sizeof *b);
    b->w = sfu_workers_get(ws, 0);
    b->fd = sv[0];
    run_on(b, attach_task);

    /* The sweep (every 100 ms) marks our socket source may-recurse. */
    g_usleep(150000);
    send(sv[1], "x", 1, 0); /* wake the worker so that it sweeps */
    for (int i = 0; i < 200 && atomic_load(&b->received) < 1; i++)
        g_usleep(5000);
    g_usleep(20000);
    run_on(b, stats_task);
    CHECK_INT_EQ(atomic_load(&b->may_recurse), 1);

    /* Off: no poll is ever held, and a datagram costs one wake-up, not
     * two (a blocked source's descriptor going out of and back into the
     * poll list signals the context, and the next poll returns at once). */
    sfu_workers_set_poll_coalesce(ws, 0);
    atomic_store(&b->received, 0);
    uint64_t polls, holds;
    int64_t elapsed;
    send_burst(b, sv[1], 50, 2000, &polls, &holds, &elapsed);
    CHECK_INT_EQ(atomic_load(&b->received), 50);
    CHECK_UINT_EQ(holds, 0);
    printf("# no coalescing: %llu polls for 50 datagrams 2 ms apart\n", (unsigned long long)polls);
    CHECK(polls < 75);

    /* A 5 ms window over datagrams 200 us apart: everything arrives, and
     * the worker polls about once per window, not once per datagram
     * (bound: two per window of elapsed time, plus the stats tasks). */
    const int window = 5000;
    sfu_workers_set_poll_coalesce(ws, window);
    atomic_store(&b->received, 0);
    send_burst(b, sv[1], 200, 200, &polls, &holds, &elapsed);
    CHECK_INT_EQ(atomic_load(&b->received), 200);
    printf("# coalescing: %llu polls (%llu held) for 200 datagrams in %lld us\n",
           (unsigned long long)polls, (unsigned long long)holds, (long long)elapsed);
    CHECK(holds > 0);
    CHECK(polls <= (uint64_t)(2 * elapsed / window + 10));
    if (elapsed < 500000) /* unless this thread was starved: well under one per datagram */
        CHECK(polls < 150);

    run_on(b, detach_task);
    sfu_workers_stop(ws);
    close(sv[1]);
    free(b);
}
