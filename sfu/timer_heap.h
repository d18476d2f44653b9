/*
 * A min-heap of one-shot timers keyed by due time (microseconds), for the
 * one timer source a media worker keeps for all of its peers (worker.h:
 * sfu_wtimer_*). Timers are embedded in their owner (no allocation per
 * arm); the heap's slot array grows when more timers are armed at once
 * than ever before, never per arm in steady state. Not thread-safe: the
 * owning worker's thread only. No GLib, so it is unit-tested on its own.
 */
#ifndef ML_SFU_TIMER_HEAP_H
#define ML_SFU_TIMER_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef void (*sfu_timer_fn)(void *arg);

/* One timer; embed it in its owner and sfu_timer_init() it once. */
typedef struct sfu_timer {
    uint64_t due_us;
    sfu_timer_fn fn;
    void *arg;
    int32_t slot; /* index in the heap, -1 when not armed */
} sfu_timer;

typedef struct sfu_timer_heap {
    sfu_timer **v;
    size_t n, cap;
} sfu_timer_heap;

/* Set up an unarmed timer that calls fn(arg) when it fires. */
void sfu_timer_init(sfu_timer *t, sfu_timer_fn fn, void *arg);

/* Whether t is armed. */
int sfu_timer_armed(const sfu_timer *t);

/* Free the heap's slot array (the timers belong to their owners). */
void sfu_timer_heap_free(sfu_timer_heap *h);

/* Arm (or re-arm) t to fire at due_us. Returns 0, -1 on OOM (t unarmed). */
int sfu_timer_heap_arm(sfu_timer_heap *h, sfu_timer *t, uint64_t due_us);

/* Disarm t (no-op when not armed). */
void sfu_timer_heap_cancel(sfu_timer_heap *h, sfu_timer *t);

/* Due time of the earliest timer, or UINT64_MAX when none is armed. */
uint64_t sfu_timer_heap_next(const sfu_timer_heap *h);

/*
 * Fire every timer due at or before now_us, earliest first: each is
 * disarmed, then its callback runs (it may arm or cancel any timer,
 * itself included, or free the owner of timers it cancelled). Timers
 * armed by a callback for a time <= now_us fire in the same call only if
 * `limit` allows; at most `limit` callbacks run. Returns how many ran.
 */
int sfu_timer_heap_run(sfu_timer_heap *h, uint64_t now_us, int limit);

#endif
