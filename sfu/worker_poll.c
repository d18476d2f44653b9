/*
 * Main-loop tuning for media workers (see worker_poll.h).
 *
 * Why. A worker's context holds one GSocket source per peer (libnice
 * attaches one per local socket; with UDP host candidates on one address
 * that is one per peer) next to a handful of our own sources. Measured at
 * 200 mentees (fan-out, one worker, 2026-11-21): ~2 300 polls a second,
 * each returning a few ready sockets; GLib about a fifth of the server's
 * CPU. Two things made an iteration expensive:
 *
 *  1. GLib blocks a source while dispatching it unless the source may
 *     recurse: it removes the source's descriptor from the context's poll
 *     list and adds it back afterwards. Both steps walk that list (it is
 *     sorted by priority and every socket has the same one, so O(peers)),
 *     and both signal the context's wake-up eventfd, which makes the next
 *     poll return at once: every iteration that read a packet was
 *     followed by an empty one (strace: two eventfd writes per datagram).
 *     Nothing on a worker iterates its context recursively, so marking
 *     the socket sources may-recurse changes no behaviour and removes all
 *     of that. libnice gives no handle on its sources, so we find them by id:
 *     GLib numbers a context's sources in attach order, a probe source
 *     attached and destroyed at once tells the newest id, and each id is
 *     looked at once (g_main_context_find_source_by_id, a hash lookup).
 *  2. Every wake-up costs prepare + check over every source and a poll(2)
 *     over every descriptor, i.e. O(peers), and at fan-out the wake-ups
 *     (publisher packets, each mentee's RTCP) grow with the peers too.
 *     The poll function therefore waits out the rest of a short window
 *     after the previous wake-up before polling: under load, wake-ups
 *     come at most once per window and each reads everything pending
 *     (libnice's socket callback reads until EAGAIN). The hold is only
 *     taken when the previous wake-up is younger than the window, so an
 *     idle worker answers a lone packet at once, and never when GLib
 *     says a source is already due (poll timeout 0). Sends are not held:
 *     the send queue (udp_batch.c) is flushed in the prepare step, before
 *     the poll. Off by default (media_poll_coalesce_us = 0): at 200-320
 *     mentees an iteration that fans a packet out already takes longer
 *     than a 0.5 ms window (after (1), ~7 packets per wake-up at 200
 *     mentees), so the window rarely applies; measured, it saved no CPU
 *     and raised the delay p99 a little.
 */
#include "sfu/worker_poll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_EVERY_US 100000u

static __thread sfu_poll_coalesce *tl_state;
static __thread GMainContext *tl_ctx;

uint64_t sfu_poll_coalesce_hold_us(const sfu_poll_coalesce *c, uint64_t now_us, int timeout_ms)
{
    if (c->window_us == 0 || timeout_ms == 0 || c->last_wake_us == 0)
        return 0;
    if (now_us >= c->last_wake_us + c->window_us)
        return 0; /* idle longer than the window (or a long dispatch) */
    uint64_t hold = c->last_wake_us + c->window_us - now_us;
    if (now_us < c->last_wake_us) /* clock oddity: never more than a window */
        hold = c->window_us;
    if (timeout_ms > 0 && hold > (uint64_t)timeout_ms * 1000u)
        hold = (uint64_t)timeout_ms * 1000u;
    return hold;
}

void sfu_poll_coalesce_note(sfu_poll_coalesce *c, uint64_t now_us, int nready)
{
    c->polls++;
    if (nready > 0)
        c->last_wake_us = now_us;
}

static gboolean probe_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    (void)src;
    (void)cb;
    (void)data;
    return G_SOURCE_REMOVE;
}

static GSourceFuncs probe_funcs = {
    .dispatch = probe_dispatch,
};

/* GIO names its socket sources "GSocket" (g_socket_create_source, which
 * libnice uses for every socket it reads). Only those are marked: a
 * source that re-arms its ready time from its own dispatch (GLib timeouts,
 * our task and timer sources) signals the wake-up eventfd when it is not
 * blocked, which would add the very wake-ups we remove. */
static int is_socket_source(GSource *s)
{
    const char *name = g_source_get_name(s);
    return name && strcmp(name, "GSocket") == 0;
}

guint sfu_poll_mark_socket_sources(GMainContext *ctx, guint *swept_id)
{
    GSource *probe = g_source_new(&probe_funcs, sizeof(GSource));
    guint top = g_source_attach(probe, ctx);
    g_source_destroy(probe);
    g_source_unref(probe);
    guint from = *swept_id + 1, marked = 0;
    if (top < from) /* ids wrapped around */
        from = 1;
    for (guint id = from; id < top; id++) {
        GSource *s = g_main_context_find_source_by_id(ctx, id);
        if (s && is_socket_source(s) && !g_source_get_can_recurse(s)) {
            g_source_set_can_recurse(s, TRUE);
            marked++;
        }
    }
    *swept_id = top;
    return marked;
}

void sfu_worker_poll_sweep(GMainContext *ctx, sfu_poll_coalesce *c)
{
    c->marked += sfu_poll_mark_socket_sources(ctx, &c->swept_id);
}

/* Sleep for us microseconds (restarted after a signal). */
static void hold_for(uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

static gint coalescing_poll(GPollFD *fds, guint nfds, gint timeout)
{
    sfu_poll_coalesce *c = tl_state;
    if (!c)
        return g_poll(fds, nfds, timeout);
    uint64_t now = (uint64_t)g_get_monotonic_time();
    if (tl_ctx && !c->no_sweep && now >= c->last_sweep_us + SWEEP_EVERY_US) {
        c->last_sweep_us = now;
        sfu_worker_poll_sweep(tl_ctx, c);
    }
    uint64_t hold = sfu_poll_coalesce_hold_us(c, now, timeout);
    if (hold > 0) {
        hold_for(hold);
        c->holds++;
        c->held_us += hold;
        if (timeout > 0) {
            gint spent = (gint)((hold + 999u) / 1000u);
            timeout = spent >= timeout ? 0 : timeout - spent;
        }
    }
    gint n = g_poll(fds, nfds, timeout);
    sfu_poll_coalesce_note(c, (uint64_t)g_get_monotonic_time(), n);
    return n;
}

void sfu_worker_poll_install(GMainContext *ctx, sfu_poll_coalesce *c)
{
    tl_state = c;
    tl_ctx = ctx;
    const char *sweep = getenv("SFU_POLL_SWEEP"); /* "0": leave GLib's blocking on, for A/B runs */
    c->no_sweep = sweep && strcmp(sweep, "0") == 0;
    g_main_context_set_poll_func(ctx, coalescing_poll);
}
