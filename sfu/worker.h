/*
 * Media workers: a fixed set of threads, each running its own GMainContext
 * and GMainLoop. Everything that belongs to a peer (its libnice agent, DTLS,
 * SRTP and SCTP state, timers) is created, used and destroyed on exactly one
 * worker, so the packet path takes no locks. Other threads talk to a worker
 * only by posting a function to it (sfu_worker_post); workers answer through
 * callbacks supplied by their caller (the signaling layer queues them).
 *
 * Lifetime: sfu_workers_start() creates and starts the threads;
 * sfu_workers_stop() runs every task already posted, quits each loop, joins
 * the threads and frees everything. Posting after stop has begun fails.
 */
#ifndef ML_SFU_WORKER_H
#define ML_SFU_WORKER_H

#include <glib.h>
#include <stdint.h>

#include "sfu/timer_heap.h"

typedef struct sfu_worker sfu_worker;
typedef struct sfu_workers sfu_workers;

/* A task run on a worker thread. */
typedef void (*sfu_worker_fn)(void *arg);

/* Start `n` workers (n <= 0: one per online CPU). Returns NULL on failure. */
sfu_workers *sfu_workers_start(int n);

/* Stop every worker: tasks already posted still run (their functions may
 * check sfu_worker_stopping()), then each loop quits and its thread is
 * joined. Safe with NULL. Must not be called from a worker thread. */
void sfu_workers_stop(sfu_workers *ws);

/* Let every worker hold off polling for up to window_us microseconds
 * after a wake-up, so that one main-loop iteration serves many packets
 * under load (worker_poll.h); 0 turns it off (the default). Any thread;
 * takes effect when each worker runs the posted change. */
void sfu_workers_set_poll_coalesce(sfu_workers *ws, int window_us);

/* The worker's poll counters (worker_poll.h): polls made and polls that
 * were held. Call on the worker's thread. */
void sfu_worker_poll_stats(sfu_worker *w, uint64_t *polls, uint64_t *holds);

/* Number of workers. */
int sfu_workers_count(const sfu_workers *ws);

/* Worker number i (0 <= i < count), or NULL. */
sfu_worker *sfu_workers_get(sfu_workers *ws, int i);

/* Pick the worker for a new peer: the one with the lowest load, ties broken
 * round robin. Never NULL while the set is running. */
sfu_worker *sfu_workers_pick(sfu_workers *ws);

/* Run fn(arg) on the worker's thread, in posting order. If the worker is
 * stopping, returns -1 and calls neither fn nor destroy (the caller still
 * owns arg). `destroy` (may be NULL) is called with arg on the worker after
 * fn ran. Any thread may post. */
int sfu_worker_post(sfu_worker *w, sfu_worker_fn fn, void *arg, sfu_worker_fn destroy);

/* The worker's main context (for libnice agents and timers). */
GMainContext *sfu_worker_context(sfu_worker *w);

/* Index of the worker in its set (0-based), for logs. */
int sfu_worker_index(const sfu_worker *w);

/* True when called on this worker's thread. */
int sfu_worker_is_current(const sfu_worker *w);

/* The worker running the calling thread, or NULL on other threads. */
sfu_worker *sfu_worker_current(void);

/* Adjust the worker's load (number of peers); any thread. */
void sfu_worker_load_add(sfu_worker *w, int delta);

/* Current load of the worker. */
int sfu_worker_load(const sfu_worker *w);

/* True once sfu_workers_stop() has begun. */
int sfu_worker_stopping(const sfu_worker *w);

/*
 * Worker timers: every peer timer of a worker lives in one heap served by
 * one GSource, instead of one GSource per timer (GLib checks every source
 * of the context on every main-loop iteration, i.e. on every packet).
 * Timers are one-shot (a periodic callback re-arms itself) and are
 * sfu_timer structs embedded in their owner (timer_heap.h). Due times
 * snap to a 10 ms grid (nearest point, never now), so one wake-up serves
 * every timer due in the same 10 ms. Call these on the worker's thread
 * only; cancel before freeing the owner.
 */
/* Arm (or re-arm) t to fire delay_ms from now. Returns 0, -1 on OOM. */
int sfu_worker_timer_arm(sfu_worker *w, sfu_timer *t, uint64_t delay_ms);
/* Disarm t (no-op when not armed). */
void sfu_worker_timer_cancel(sfu_worker *w, sfu_timer *t);

#endif
