/*
 * Per-agent main contexts for libnice, driven from a media worker's context
 * through one epoll descriptor (see ice_loop.c for the measurements).
 *
 * libnice puts one socket source and a few timeout sources per agent on
 * the GMainContext it is given. With every agent of a worker on the
 * worker's context, each wake-up of that context walks every source
 * (prepare, check) and polls every descriptor: O(peers) per wake-up, and
 * at fan-out the wake-ups (each mentee's RTCP) grow with the peers too.
 *
 * Here each agent gets its own small context (a "sub"). The worker's
 * context holds one source for all of them: an epoll descriptor over the
 * subs' descriptors plus a timer heap of their timeouts. A ready descriptor
 * or a due timeout iterates that one sub (check, dispatch, prepare, query:
 * a few sources), so a wake-up costs O(ready agents).
 *
 * Everything runs on the thread that iterates the worker's context; the
 * subs' contexts are acquired by that thread for their whole life.
 */
#ifndef ML_SFU_ICE_LOOP_H
#define ML_SFU_ICE_LOOP_H

#include <glib.h>
#include <stdint.h>

typedef struct sfu_ice_loop sfu_ice_loop;
typedef struct sfu_ice_sub sfu_ice_sub;

typedef struct sfu_ice_loop_stats {
    uint64_t subs;        /* subs alive now */
    uint64_t created;     /* subs ever created */
    uint64_t steps;       /* sub iterations */
    uint64_t io_steps;    /* ... started by a ready descriptor */
    uint64_t timer_steps; /* ... started by a due timeout */
    uint64_t touch_steps; /* ... started by a call into the agent from outside */
    uint64_t dispatches;  /* iterations that dispatched something */
    uint64_t epoll_ctl;   /* epoll registrations added, changed or removed */
    uint64_t wakeups;     /* epoll_wait calls that returned ready descriptors */
} sfu_ice_loop_stats;

/* Attach a loop to ctx, which the calling thread owns and iterates; the
 * loop is the calling thread's (sfu_ice_loop_for). NULL on error, or when
 * SFU_ICE_SUBCTX=0 is in the environment (agents then live on ctx itself,
 * for A/B measurements). */
sfu_ice_loop *sfu_ice_loop_install(GMainContext *ctx);

/* The calling thread's loop when it serves ctx, else NULL. */
sfu_ice_loop *sfu_ice_loop_for(GMainContext *ctx);

/* Detach from the context and free every released sub. A sub not yet
 * released (its agent still closing) only leaves the loop: it is freed by
 * its sfu_ice_sub_release(), and touching it does nothing. On the owner
 * thread. */
void sfu_ice_loop_free(sfu_ice_loop *l);

void sfu_ice_loop_get_stats(const sfu_ice_loop *l, sfu_ice_loop_stats *out);

/* A new sub: a fresh GMainContext, acquired by the calling thread, for one
 * agent (nice_agent_new + nice_agent_attach_recv on it). NULL on error. */
sfu_ice_sub *sfu_ice_sub_new(sfu_ice_loop *l);

GMainContext *sfu_ice_sub_context(const sfu_ice_sub *s);

/* The owner called into the agent outside the sub's own dispatch (which
 * may have added or changed sources on its context): look at the sub again
 * before the worker next waits. Cheap; a no-op inside the sub's dispatch. */
void sfu_ice_sub_touch(sfu_ice_sub *s);

/* The owner is done with the sub (its agent has closed): it is freed by
 * the loop as soon as it is not being iterated. */
void sfu_ice_sub_release(sfu_ice_sub *s);

#endif
