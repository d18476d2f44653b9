/*
 * SPSC record ring; see ring.h. The producer only writes `head`, the
 * consumer only writes `tail`; acquire/release ordering publishes the bytes.
 * Records never wrap in the middle: when a record would cross the end, a
 * zero-length marker (or the gap itself, if under 4 bytes cannot happen as
 * everything is 4-aligned) tells the consumer to skip to the start.
 */
#include "recorder/ring.h"

#include <stdlib.h>
#include <string.h>

#define WRAP_MARK 0xffffffffu

static size_t align4(size_t n)
{
    return (n + 3u) & ~(size_t)3u;
}

int rec_ring_init(rec_ring *r, size_t cap)
{
    size_t c = 64;
    while (c < cap)
        c <<= 1;
    r->buf = calloc(1, c);
    if (!r->buf)
        return -1;
    r->cap = c;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->drops, 0);
    atomic_init(&r->pushed, 0);
    return 0;
}

void rec_ring_free(rec_ring *r)
{
    free(r->buf);
    r->buf = NULL;
}

int rec_ring_push(rec_ring *r, const void *data, size_t len)
{
    return rec_ring_push2(r, data, len, NULL, 0);
}

int rec_ring_push2(rec_ring *r, const void *pre, size_t hlen, const void *body, size_t blen)
{
    size_t len = hlen + blen;
    if (len < hlen) {
        atomic_fetch_add_explicit(&r->drops, 1, memory_order_relaxed);
        return -1;
    }
    size_t need = 4 + align4(len);
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t used = head - tail;
    size_t off = head & (r->cap - 1);
    size_t to_end = r->cap - off;
    size_t total = need <= to_end ? need : to_end + need; /* skip the tail gap */
    if (len > UINT32_MAX - 8 || need > r->cap / 2 || used + total > r->cap) {
        atomic_fetch_add_explicit(&r->drops, 1, memory_order_relaxed);
        return -1;
    }
    if (need > to_end) {
        uint32_t mark = WRAP_MARK;
        memcpy(r->buf + off, &mark, 4); /* to_end >= 4: offsets are 4-aligned */
        head += to_end;
        off = 0;
    }
    uint32_t l32 = (uint32_t)len;
    memcpy(r->buf + off, &l32, 4);
    if (hlen)
        memcpy(r->buf + off + 4, pre, hlen);
    if (blen)
        memcpy(r->buf + off + 4 + hlen, body, blen);
    atomic_store_explicit(&r->head, head + need, memory_order_release);
    atomic_fetch_add_explicit(&r->pushed, 1, memory_order_relaxed);
    return 0;
}

long rec_ring_pop(rec_ring *r, void *out, size_t outcap)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (tail == head)
        return 0;
    size_t off = tail & (r->cap - 1);
    uint32_t l32;
    memcpy(&l32, r->buf + off, 4);
    if (l32 == WRAP_MARK) {
        tail += r->cap - off;
        off = 0;
        if (tail == head) {
            atomic_store_explicit(&r->tail, tail, memory_order_release);
            return 0;
        }
        memcpy(&l32, r->buf, 4);
    }
    if (l32 > outcap) {
        atomic_store_explicit(&r->tail, tail, memory_order_release);
        return -1;
    }
    memcpy(out, r->buf + off + 4, l32);
    atomic_store_explicit(&r->tail, tail + 4 + align4(l32), memory_order_release);
    return (long)l32;
}
