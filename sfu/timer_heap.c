/*
 * Binary min-heap of embedded timers (see timer_heap.h). Each timer keeps
 * its own slot index so cancel and re-arm are O(log n) without a search.
 */
#include "sfu/timer_heap.h"

#include <stdlib.h>

void sfu_timer_init(sfu_timer *t, sfu_timer_fn fn, void *arg)
{
    t->due_us = 0;
    t->fn = fn;
    t->arg = arg;
    t->slot = -1;
}

int sfu_timer_armed(const sfu_timer *t)
{
    return t->slot >= 0;
}

void sfu_timer_heap_free(sfu_timer_heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->slot = -1;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

static void place(sfu_timer_heap *h, size_t i, sfu_timer *t)
{
    h->v[i] = t;
    t->slot = (int32_t)i;
}

static void sift_up(sfu_timer_heap *h, size_t i)
{
    sfu_timer *t = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->due_us <= t->due_us)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(sfu_timer_heap *h, size_t i)
{
    sfu_timer *t = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->due_us < h->v[c]->due_us)
            c++;
        if (h->v[c]->due_us >= t->due_us)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

void sfu_timer_heap_cancel(sfu_timer_heap *h, sfu_timer *t)
{
    if (t->slot < 0)
        return;
    size_t i = (size_t)t->slot;
    t->slot = -1;
    h->n--;
    if (i == h->n)
        return;
    sfu_timer *m = h->v[h->n];
    place(h, i, m);
    sift_up(h, i);
    sift_down(h, (size_t)m->slot);
}

int sfu_timer_heap_arm(sfu_timer_heap *h, sfu_timer *t, uint64_t due_us)
{
    if (t->slot >= 0) {
        uint64_t old = t->due_us;
        t->due_us = due_us;
        if (due_us < old)
            sift_up(h, (size_t)t->slot);
        else
            sift_down(h, (size_t)t->slot);
        return 0;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        sfu_timer **v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    t->due_us = due_us;
    place(h, h->n++, t);
    sift_up(h, h->n - 1);
    return 0;
}

uint64_t sfu_timer_heap_next(const sfu_timer_heap *h)
{
    return h->n ? h->v[0]->due_us : UINT64_MAX;
}

int sfu_timer_heap_run(sfu_timer_heap *h, uint64_t now_us, int limit)
{
    int ran = 0;
    while (ran < limit && h->n && h->v[0]->due_us <= now_us) {
        sfu_timer *t = h->v[0];
        sfu_timer_heap_cancel(h, t);
        ran++;
        t->fn(t->arg);
    }
    return ran;
}
