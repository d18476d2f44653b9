/*
 * Per-agent main contexts driven through epoll (see ice_loop.h).
 *
 * Why. perf on the server at 200 mentees (fan-out, one worker,
 * 2026-11-22, after the may-recurse change in worker_poll.c): poll(2)
 * over ~200 descriptors 13.8 % of the server's CPU, GLib's prepare/check
 * walk over ~600 sources (g_source_ref, g_main_context_check, prepare,
 * query) 13.5 %; every wake-up pays both, and wake-ups come with every
 * mentee's RTCP.
 *
 * How a sub is iterated. GLib lets a caller split an iteration at the
 * poll: prepare + query hand out descriptors and a timeout, check +
 * dispatch take the poll's results. A sub is always left "prepared": its
 * descriptors are registered in the loop's epoll set (level-triggered) and
 * its timeout is a timer in the loop's heap. When epoll reports one of
 * them, or the timer is due, or the owner touched the sub, the loop runs
 * check + dispatch with the results it has (the revents epoll gave; none
 * for a timer or a touch, and GLib then dispatches due timeouts only),
 * then prepare + query again and brings the registrations up to date.
 * check() acknowledges the sub's wake-up eventfd when its revents say so,
 * so a signalled sub is iterated once, not forever.
 *
 * Registrations are diffed per sub (a few descriptors each). A descriptor
 * can be closed by one sub and reused by another before the first is
 * iterated again; the table of which sub registered which descriptor
 * keeps the first from removing the second's registration. A socket that
 * libnice replaces by another with the same number within one iteration
 * would keep its (kernel-dropped) registration unnoticed: every sub
 * re-asserts its registrations (EPOLL_CTL_MOD, ADD on ENOENT) once a
 * second to bound that (libnice agents always have a timeout pending, so
 * they are iterated at least that often). With UDP candidates libnice
 * never replaces a socket; TCP (TURN over TCP) can, after an error.
 *
 * Sources attached from outside the sub's dispatch (the owner calling
 * nice_agent_set_remote_candidates, say) do not wake a context its own
 * thread owns, hence sfu_ice_sub_touch(): the sub is iterated in the same
 * worker iteration or the next one.
 *
 * libnice's socket sources are marked may-recurse (worker_poll.c) so that
 * GLib does not block them around each dispatch (which would signal the
 * sub's wake-up eventfd and cost a second iteration per datagram).
 */
#include "sfu/ice_loop.h"

#include "sfu/timer_heap.h"
#include "sfu/udp_batch.h"
#include "sfu/worker_poll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define REASSERT_US 1000000u /* re-assert a sub's registrations this often */

enum { WHY_IO, WHY_TIMER, WHY_TOUCH };

typedef struct reg {
    int fd;
    uint32_t events; /* epoll events */
} reg;

struct sfu_ice_sub {
    sfu_ice_loop *loop;
    GMainContext *ctx;
    GPollFD *fds; /* from the last query, with revents from epoll */
    int nfds, cap;
    gint max_prio;
    int prepared;
    reg *regs; /* what is registered in epoll for this sub */
    int nregs, reg_cap;
    sfu_timer timer; /* the context's timeout */
    guint swept_id;
    uint64_t reassert_at;
    int in_step;
    int on_ready, on_dirty; /* linked in the loop's ready / dirty list */
    int want_step;          /* touched since its last iteration */
    int released;
    int orphan; /* the loop was freed before the owner released the sub */
    sfu_ice_sub *next_ready, *next_dirty, *next, *prev;
};

typedef struct hub_source {
    GSource base;
    sfu_ice_loop *loop;
} hub_source;

struct sfu_ice_loop {
    GMainContext *ctx;
    GSource *src;
    gpointer tag;
    int epfd;
    sfu_timer_heap timers;
    sfu_ice_sub *all; /* every sub, doubly linked */
    sfu_ice_sub *ready, *dirty;
    int n_released; /* released subs not freed yet */
    sfu_ice_sub **owner; /* by descriptor: which sub registered it */
    int owner_cap;
    int no_sweep; /* SFU_POLL_SWEEP=0: leave socket sources blockable */
    sfu_ice_loop_stats st;
};

static __thread sfu_ice_loop *tl_loop;

/* ---- registrations ------------------------------------------------------ */

static uint32_t to_epoll(gushort ev)
{
    uint32_t e = 0;
    if (ev & G_IO_IN)
        e |= EPOLLIN;
    if (ev & G_IO_OUT)
        e |= EPOLLOUT;
    if (ev & G_IO_PRI)
        e |= EPOLLPRI;
    return e;
}

static gushort from_epoll(uint32_t e)
{
    gushort r = 0;
    if (e & EPOLLIN)
        r |= G_IO_IN;
    if (e & EPOLLOUT)
        r |= G_IO_OUT;
    if (e & EPOLLPRI)
        r |= G_IO_PRI;
    if (e & EPOLLERR)
        r |= G_IO_ERR;
    if (e & EPOLLHUP)
        r |= G_IO_HUP;
    return r;
}

static int owner_set(sfu_ice_loop *l, int fd, sfu_ice_sub *s)
{
    if (fd < 0)
        return -1;
    if (fd >= l->owner_cap) {
        int cap = l->owner_cap ? l->owner_cap : 256;
        while (cap <= fd)
            cap *= 2;
        sfu_ice_sub **o = realloc(l->owner, (size_t)cap * sizeof *o);
        if (!o)
            return -1;
        memset(o + l->owner_cap, 0, (size_t)(cap - l->owner_cap) * sizeof *o);
        l->owner = o;
        l->owner_cap = cap;
    }
    l->owner[fd] = s;
    return 0;
}

static sfu_ice_sub *owner_of(const sfu_ice_loop *l, int fd)
{
    return fd >= 0 && fd < l->owner_cap ? l->owner[fd] : NULL;
}

/* Register fd for s (ADD, or MOD when already there). Returns 0, or -1
 * when it is not registered (then its timeout still iterates the sub). */
static int reg_put(sfu_ice_sub *s, int fd, uint32_t events, int op)
{
    sfu_ice_loop *l = s->loop;
    struct epoll_event ev = {.events = events, .data.fd = fd};
    l->st.epoll_ctl++;
    int rc = epoll_ctl(l->epfd, op, fd, &ev);
    if (rc != 0 && op == EPOLL_CTL_ADD && errno == EEXIST)
        rc = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
    else if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT)
        rc = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0)
        return -1;
    if (owner_set(l, fd, s) != 0) {
        /* An event nobody owns would keep the level-triggered set ready
         * for ever: do not leave it registered. */
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        return -1;
    }
    return 0;
}

static void reg_del(sfu_ice_sub *s, int fd)
{
    sfu_ice_loop *l = s->loop;
    if (owner_of(l, fd) != s)
        return; /* closed and now another sub's (or nobody's) */
    l->st.epoll_ctl++;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL); /* EBADF/ENOENT when closed: fine */
    l->owner[fd] = NULL;
}

/* Bring the epoll set in line with the fds of the last query. Returns
 * whether anything changed. */
static int sync_regs(sfu_ice_sub *s, int reassert)
{
    int changed = 0;
    /* removed descriptors */
    for (int i = 0; i < s->nregs; i++) {
        int found = 0;
        for (int j = 0; j < s->nfds && !found; j++)
            found = s->fds[j].fd == s->regs[i].fd;
        if (!found) {
            reg_del(s, s->regs[i].fd);
            s->regs[i--] = s->regs[--s->nregs];
            changed = 1;
        }
    }
    /* added or changed (query merges duplicates: one entry per fd) */
    for (int j = 0; j < s->nfds; j++) {
        int fd = s->fds[j].fd;
        uint32_t ev = to_epoll(s->fds[j].events);
        int i = 0;
        while (i < s->nregs && s->regs[i].fd != fd)
            i++;
        if (i < s->nregs) {
            if (s->regs[i].events == ev && owner_of(s->loop, fd) == s && !reassert)
                continue;
            if (reg_put(s, fd, ev, EPOLL_CTL_MOD) != 0)
                s->regs[i] = s->regs[--s->nregs]; /* retried on the next iteration */
            else
                s->regs[i].events = ev;
            changed = 1;
            continue;
        }
        if (s->nregs == s->reg_cap) {
            int cap = s->reg_cap ? s->reg_cap * 2 : 4;
            reg *r = realloc(s->regs, (size_t)cap * sizeof *r);
            if (!r)
                continue; /* not registered: its timeout still iterates the sub */
            s->regs = r;
            s->reg_cap = cap;
        }
        if (reg_put(s, fd, ev, EPOLL_CTL_ADD) == 0)
            s->regs[s->nregs++] = (reg){fd, ev};
        changed = 1;
    }
    return changed;
}

/* ---- iterating one sub -------------------------------------------------- */

static void step(sfu_ice_sub *s, int why);

static void on_timer(void *arg)
{
    step(arg, WHY_TIMER);
}

static void step(sfu_ice_sub *s, int why)
{
    if (s->in_step)
        return;
    sfu_ice_loop *l = s->loop;
    s->in_step = 1;
    s->want_step = 0; /* whatever the owner did is seen by the prepare below */
    l->st.steps++;
    if (why == WHY_IO)
        l->st.io_steps++;
    else if (why == WHY_TIMER)
        l->st.timer_steps++;
    else
        l->st.touch_steps++;
    sfu_timer_heap_cancel(&l->timers, &s->timer);
    if (s->prepared && g_main_context_check(s->ctx, s->max_prio, s->fds, s->nfds)) {
        l->st.dispatches++;
        g_main_context_dispatch(s->ctx);
        /* A publisher's burst read in that dispatch is fanned out now,
         * viewer by viewer (router_fwd.c), before other agents are iterated. */
        sfu_udp_batch_run_deferred();
    }
    g_main_context_prepare(s->ctx, &s->max_prio);
    gint timeout = -1;
    int n = g_main_context_query(s->ctx, s->max_prio, &timeout, s->fds, s->cap);
    while (n > s->cap) {
        int cap = n + 4;
        GPollFD *f = realloc(s->fds, (size_t)cap * sizeof *f);
        if (!f) {
            n = s->cap;
            break;
        }
        s->fds = f;
        s->cap = cap;
        n = g_main_context_query(s->ctx, s->max_prio, &timeout, s->fds, s->cap);
    }
    s->nfds = n;
    s->prepared = 1;
    uint64_t now = (uint64_t)g_get_monotonic_time();
    int reassert = now >= s->reassert_at;
    if (reassert)
        s->reassert_at = now + REASSERT_US;
    if (sync_regs(s, reassert) && !l->no_sweep)
        sfu_poll_mark_socket_sources(s->ctx, &s->swept_id);
    if (timeout >= 0)
        sfu_timer_heap_arm(&l->timers, &s->timer, now + (uint64_t)timeout * 1000u);
    s->in_step = 0;
}

/* ---- the worker-side source --------------------------------------------- */

/* Take s out of the loop: registrations, timer, list, its context. */
static void detach_sub(sfu_ice_sub *s)
{
    sfu_ice_loop *l = s->loop;
    sfu_timer_heap_cancel(&l->timers, &s->timer);
    for (int i = 0; i < s->nregs; i++)
        reg_del(s, s->regs[i].fd);
    if (s->prev)
        s->prev->next = s->next;
    else
        l->all = s->next;
    if (s->next)
        s->next->prev = s->prev;
    g_main_context_release(s->ctx);
    g_main_context_unref(s->ctx);
    s->ctx = NULL;
    free(s->fds);
    free(s->regs);
    s->fds = NULL;
    s->regs = NULL;
    s->nfds = s->nregs = 0;
    l->st.subs--;
}

static void free_sub(sfu_ice_sub *s)
{
    detach_sub(s);
    free(s);
}

static void free_released(sfu_ice_loop *l)
{
    if (l->n_released == 0)
        return;
    for (sfu_ice_sub *s = l->all, *next; s; s = next) {
        next = s->next;
        if (s->released && !s->in_step && !s->on_ready && !s->on_dirty) {
            l->n_released--;
            free_sub(s);
        }
    }
}

static int due_now(sfu_ice_loop *l, uint64_t now)
{
    return sfu_timer_heap_next(&l->timers) <= now;
}

static gboolean hub_prepare(GSource *src, gint *timeout)
{
    sfu_ice_loop *l = ((hub_source *)src)->loop;
    if (l->dirty || l->n_released) {
        *timeout = 0;
        return TRUE;
    }
    uint64_t next = sfu_timer_heap_next(&l->timers);
    if (next == UINT64_MAX) {
        *timeout = -1;
        return FALSE;
    }
    uint64_t now = (uint64_t)g_get_monotonic_time();
    if (next <= now) {
        *timeout = 0;
        return TRUE;
    }
    uint64_t ms = (next - now + 999u) / 1000u;
    *timeout = ms > G_MAXINT ? G_MAXINT : (gint)ms;
    return FALSE;
}

static gboolean hub_check(GSource *src)
{
    sfu_ice_loop *l = ((hub_source *)src)->loop;
    if (g_source_query_unix_fd(src, l->tag) & (G_IO_IN | G_IO_ERR | G_IO_HUP))
        return TRUE;
    return l->dirty || l->n_released || due_now(l, (uint64_t)g_get_monotonic_time());
}

static gboolean hub_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    sfu_ice_loop *l = ((hub_source *)src)->loop;
    (void)cb;
    (void)data;
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(l->epfd, ev, MAX_EVENTS, 0);
    if (n > 0)
        l->st.wakeups++;
    for (int i = 0; i < n; i++) {
        sfu_ice_sub *s = owner_of(l, ev[i].data.fd);
        if (!s)
            continue;
        gushort r = from_epoll(ev[i].events);
        for (int j = 0; j < s->nfds; j++)
            if (s->fds[j].fd == ev[i].data.fd)
                s->fds[j].revents |= r;
        if (!s->on_ready) {
            s->on_ready = 1;
            s->next_ready = l->ready;
            l->ready = s;
        }
    }
    while (l->ready) {
        sfu_ice_sub *s = l->ready;
        l->ready = s->next_ready;
        s->on_ready = 0;
        step(s, WHY_IO);
    }
    /* Timeouts due now; at most one round per sub so a context that keeps
     * reporting timeout 0 cannot hold the worker. */
    sfu_timer_heap_run(&l->timers, (uint64_t)g_get_monotonic_time(), (int)l->st.subs + 1);
    /* Subs touched from outside (also by the dispatches above); a bounded
     * number of rounds, the rest in the next iteration. */
    for (int round = 0; round < 4 && l->dirty; round++) {
        sfu_ice_sub *d = l->dirty;
        l->dirty = NULL;
        while (d) {
            sfu_ice_sub *s = d;
            d = s->next_dirty;
            s->on_dirty = 0;
            if (s->want_step) /* not iterated since the touch */
                step(s, WHY_TOUCH);
        }
    }
    free_released(l);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs hub_funcs = {
    .prepare = hub_prepare,
    .check = hub_check,
    .dispatch = hub_dispatch,
};

/* ---- public ------------------------------------------------------------- */

sfu_ice_loop *sfu_ice_loop_install(GMainContext *ctx)
{
    const char *env = getenv("SFU_ICE_SUBCTX");
    if ((env && strcmp(env, "0") == 0) || tl_loop || !ctx || !g_main_context_is_owner(ctx))
        return NULL;
    sfu_ice_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->ctx = g_main_context_ref(ctx);
    const char *sweep = getenv("SFU_POLL_SWEEP");
    l->no_sweep = sweep && strcmp(sweep, "0") == 0;
    l->src = g_source_new(&hub_funcs, sizeof(hub_source));
    ((hub_source *)l->src)->loop = l;
    l->tag = g_source_add_unix_fd(l->src, l->epfd, G_IO_IN);
    g_source_set_name(l->src, "sfu-ice-loop");
    /* Nothing iterates a worker's context recursively; without this GLib
     * would take the epoll descriptor out of the poll list (and signal the
     * context) around every dispatch. */
    g_source_set_can_recurse(l->src, TRUE);
    g_source_attach(l->src, ctx);
    tl_loop = l;
    return l;
}

sfu_ice_loop *sfu_ice_loop_for(GMainContext *ctx)
{
    return tl_loop && tl_loop->ctx == ctx ? tl_loop : NULL;
}

void sfu_ice_loop_free(sfu_ice_loop *l)
{
    if (!l)
        return;
    /* A sub whose agent has not finished closing stays allocated until its
     * owner releases it (libnice's close callback may still come, e.g.
     * when the caller iterates the context once more): it only leaves the
     * loop. Its agent keeps its own reference to the context. */
    while (l->all) {
        sfu_ice_sub *s = l->all;
        if (s->released) {
            free_sub(s);
        } else {
            detach_sub(s);
            s->orphan = 1;
            s->loop = NULL;
        }
    }
    g_source_destroy(l->src);
    g_source_unref(l->src);
    g_main_context_unref(l->ctx);
    close(l->epfd);
    sfu_timer_heap_free(&l->timers);
    free(l->owner);
    if (tl_loop == l)
        tl_loop = NULL;
    free(l);
}

void sfu_ice_loop_get_stats(const sfu_ice_loop *l, sfu_ice_loop_stats *out)
{
    *out = l->st;
}

sfu_ice_sub *sfu_ice_sub_new(sfu_ice_loop *l)
{
    sfu_ice_sub *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = l;
    s->ctx = g_main_context_new();
    if (!g_main_context_acquire(s->ctx)) { /* a new context: cannot happen */
        g_main_context_unref(s->ctx);
        free(s);
        return NULL;
    }
    sfu_timer_init(&s->timer, on_timer, s);
    s->reassert_at = (uint64_t)g_get_monotonic_time() + REASSERT_US;
    s->next = l->all;
    if (l->all)
        l->all->prev = s;
    l->all = s;
    l->st.subs++;
    l->st.created++;
    sfu_ice_sub_touch(s); /* prepare it, register its wake-up descriptor */
    return s;
}

GMainContext *sfu_ice_sub_context(const sfu_ice_sub *s)
{
    return s->ctx;
}

void sfu_ice_sub_touch(sfu_ice_sub *s)
{
    if (!s || s->in_step || s->orphan)
        return;
    s->want_step = 1;
    if (s->on_dirty)
        return;
    s->on_dirty = 1;
    s->next_dirty = s->loop->dirty;
    s->loop->dirty = s;
}

void sfu_ice_sub_release(sfu_ice_sub *s)
{
    if (!s || s->released)
        return;
    if (s->orphan) {
        free(s);
        return;
    }
    s->released = 1;
    s->loop->n_released++;
}
