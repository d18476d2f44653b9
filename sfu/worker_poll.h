/*
 * How a media worker's GMainContext waits and dispatches (see worker_poll.c
 * for the measurements behind it). Two things, both cutting the cost of a
 * main-loop iteration over hundreds of libnice socket sources:
 *
 *  - Wake-up coalescing (off unless media_poll_coalesce_us > 0): the
 *    worker's poll function holds off polling for at most that window
 *    after the previous wake-up, so that under load one iteration reads every packet
 *    that arrived in the meantime instead of one iteration per packet.
 *    A thread that has been idle for longer than the window polls at once,
 *    so a lone packet is never delayed.
 *  - Non-blocking dispatch: every socket source on the worker's context is
 *    marked may-recurse (g_source_set_can_recurse), which stops GLib from
 *    removing and re-adding its descriptor around each dispatch.
 *
 * Everything here runs on the thread that iterates the context.
 */
#ifndef ML_SFU_WORKER_POLL_H
#define ML_SFU_WORKER_POLL_H

#include <glib.h>
#include <stdint.h>

/* Coalescing state of one worker thread. */
typedef struct sfu_poll_coalesce {
    uint32_t window_us;    /* 0: never hold */
    uint64_t last_wake_us; /* when a poll last returned ready descriptors; 0: never */
    uint64_t last_sweep_us;
    guint swept_id;        /* sources below this id were looked at */
    uint64_t marked;       /* socket sources marked may-recurse */
    int no_sweep;          /* SFU_POLL_SWEEP=0 in the environment: never mark */
    /* counters, for tests and benchmarks */
    uint64_t polls; /* poll calls */
    uint64_t holds; /* polls preceded by a hold */
    uint64_t held_us;
} sfu_poll_coalesce;

/* The decision: how many microseconds to wait before polling, given the
 * time now and GLib's poll timeout in milliseconds (-1: none, 0: something
 * is due now). Zero when the window is 0, when a source is already due
 * (timeout 0), when the previous wake-up is older than the window (the
 * thread was idle: answer at once), or never happened. Otherwise the rest
 * of the window since the previous wake-up, cut to the timeout. Pure. */
uint64_t sfu_poll_coalesce_hold_us(const sfu_poll_coalesce *c, uint64_t now_us, int timeout_ms);

/* Record the outcome of one poll that returned at now_us with nready
 * descriptors ready (a wake-up when nready > 0). Pure. */
void sfu_poll_coalesce_note(sfu_poll_coalesce *c, uint64_t now_us, int nready);

/* Make ctx (iterated by the calling thread from now on) use the coalescing
 * poll function, which also runs the sweep below unless SFU_POLL_SWEEP=0
 * is in the environment (for A/B measurements), with state c (owned by the caller, alive while ctx is
 * iterated). The state is thread-local: call on the thread that iterates
 * ctx, before it does. */
void sfu_worker_poll_install(GMainContext *ctx, sfu_poll_coalesce *c);

/* Mark every socket source (GIO's "GSocket" sources, which libnice uses)
 * attached to ctx since the previous call may-recurse (new libnice sockets
 * appear as peers come and go); other sources are left alone. Called by the poll
 * function at most every 100 ms; callable directly on the owner thread. */
void sfu_worker_poll_sweep(GMainContext *ctx, sfu_poll_coalesce *c);

/* The sweep itself, for any context the caller owns: marks the socket
 * sources with ids above *swept_id, advances *swept_id, returns how many
 * it marked. */
guint sfu_poll_mark_socket_sources(GMainContext *ctx, guint *swept_id);

#endif
