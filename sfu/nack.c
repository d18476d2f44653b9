/*
 * NACK generator (see nack.h). The missing list is a plain array sorted by
 * extended sequence number: new gaps always lie above everything already
 * in it, so they are appended; expiry removes from the front; a late or
 * retransmitted packet is found by binary search and removed. The list is
 * bounded by max_missing, so every operation is bounded and nothing
 * allocates after creation.
 */
#include "sfu/nack.h"

#include <stdlib.h>
#include <string.h>

typedef struct nack_entry {
    uint64_t ext;          /* extended sequence number */
    uint64_t first_us;     /* when the gap was noticed */
    uint64_t last_sent_us; /* last NACK for it */
    uint32_t retries;      /* NACKs sent so far */
} nack_entry;

struct sfu_nack {
    sfu_nack_config cfg;
    bool started;
    bool keyframe_wanted;
    uint64_t highest; /* extended; starts at 1 << 32 so it never underflows */
    bool have_bad;
    uint16_t bad_seq; /* after a packet far outside the window: its successor */
    nack_entry *list;
    uint32_t count;
    sfu_nack_stats stats;
};

void sfu_nack_config_default(sfu_nack_config *c)
{
    c->max_missing = 512;
    c->window = 1000;
    c->max_retries = 10;
    c->max_age_us = 1000000;
    c->rtt_us = 100000;
    c->min_retry_us = 10000;
}

sfu_nack *sfu_nack_create(const sfu_nack_config *c)
{
    sfu_nack_config d;
    sfu_nack_config_default(&d);
    if (c) {
        if (c->max_missing)
            d.max_missing = c->max_missing;
        if (c->window)
            d.window = c->window;
        if (c->max_retries)
            d.max_retries = c->max_retries;
        if (c->max_age_us)
            d.max_age_us = c->max_age_us;
        if (c->rtt_us)
            d.rtt_us = c->rtt_us;
        if (c->min_retry_us)
            d.min_retry_us = c->min_retry_us;
    }
    if (d.window > 30000) /* must stay well inside half the sequence space */
        d.window = 30000;
    sfu_nack *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->cfg = d;
    n->list = calloc(d.max_missing, sizeof *n->list);
    if (!n->list) {
        free(n);
        return NULL;
    }
    return n;
}

void sfu_nack_destroy(sfu_nack *n)
{
    if (!n)
        return;
    free(n->list);
    free(n);
}

void sfu_nack_reset(sfu_nack *n)
{
    n->started = false;
    n->keyframe_wanted = false;
    n->count = 0;
    n->stats.pending = 0;
}

void sfu_nack_set_rtt(sfu_nack *n, uint64_t rtt_us)
{
    if (rtt_us)
        n->cfg.rtt_us = rtt_us;
}

/* The extended sequence number of seq closest to the highest one seen. */
static uint64_t unwrap(const sfu_nack *n, uint16_t seq)
{
    int16_t diff = (int16_t)(uint16_t)(seq - (uint16_t)n->highest);
    return (uint64_t)((int64_t)n->highest + diff);
}

/* Index of the first entry with ext >= key. */
static uint32_t lower_bound(const sfu_nack *n, uint64_t key)
{
    uint32_t lo = 0, hi = n->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (n->list[mid].ext < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Drop the first k entries. */
static void drop_front(sfu_nack *n, uint32_t k)
{
    if (k == 0)
        return;
    if (k > n->count)
        k = n->count;
    memmove(n->list, n->list + k, (size_t)(n->count - k) * sizeof *n->list);
    n->count -= k;
}

/* Remove entry i. */
static void remove_at(sfu_nack *n, uint32_t i)
{
    memmove(n->list + i, n->list + i + 1, (size_t)(n->count - i - 1) * sizeof *n->list);
    n->count--;
}

/* Too much is missing: give up on the whole list and ask for a keyframe. */
static void overflow(sfu_nack *n, uint64_t extra_lost)
{
    n->stats.lost += n->count + extra_lost;
    n->count = 0;
    if (!n->keyframe_wanted)
        n->stats.keyframe_requests++;
    n->keyframe_wanted = true;
}

/* Forget entries that fell out of the window below the highest sequence number. */
static void prune_window(sfu_nack *n)
{
    uint64_t floor = n->highest - n->cfg.window;
    uint32_t k = lower_bound(n, floor);
    n->stats.lost += k;
    drop_front(n, k);
}

static void add_gap(sfu_nack *n, uint64_t from, uint64_t to, uint64_t now_us)
{
    uint64_t gap = to - from;
    n->stats.missing += gap;
    if (gap > n->cfg.max_missing) {
        overflow(n, gap);
        return;
    }
    if (n->count + gap > n->cfg.max_missing)
        overflow(n, 0);
    for (uint64_t e = from; e < to; e++) {
        nack_entry *x = &n->list[n->count++];
        x->ext = e;
        x->first_us = now_us;
        x->last_sent_us = 0;
        x->retries = 0;
    }
}

int sfu_nack_on_packet(sfu_nack *n, uint16_t seq, uint64_t now_us, bool is_rtx)
{
    int r;
    if (!n->started) {
        n->started = true;
        n->highest = ((uint64_t)1 << 32) | seq;
        n->stats.received++;
        r = SFU_NACK_NEW;
        goto out;
    }
    uint64_t ext = unwrap(n, seq);
    if (ext > n->highest) {
        if (ext - n->highest > 1)
            add_gap(n, n->highest + 1, ext, now_us);
        n->highest = ext;
        n->have_bad = false;
        prune_window(n);
        n->stats.received++;
        r = SFU_NACK_NEW;
        goto out;
    }
    if (n->highest - ext <= n->cfg.window) {
        uint32_t i = lower_bound(n, ext);
        if (i < n->count && n->list[i].ext == ext) {
            remove_at(n, i);
            n->stats.received++;
            n->stats.recovered++;
            if (is_rtx)
                n->stats.recovered_rtx++;
            r = SFU_NACK_RECOVERED;
            goto out;
        }
    }
    if (n->highest - ext > n->cfg.window) {
        /* Far outside the window. Two in sequence mean the sender restarted
         * its numbering (RFC 3550 A.1 does the same): start over. */
        if (n->have_bad && seq == n->bad_seq) {
            n->count = 0;
            n->highest = ((uint64_t)1 << 32) | seq;
            n->have_bad = false;
            n->stats.received++;
            r = SFU_NACK_NEW;
            goto out;
        }
        n->have_bad = true;
        n->bad_seq = (uint16_t)(seq + 1);
    }
    n->stats.duplicates++;
    r = SFU_NACK_OLD;
out:
    n->stats.pending = n->count;
    return r;
}

void sfu_nack_on_keyframe(sfu_nack *n, uint16_t seq)
{
    n->keyframe_wanted = false;
    if (!n->started)
        return;
    uint64_t ext = unwrap(n, seq);
    drop_front(n, lower_bound(n, ext));
    n->stats.pending = n->count;
}

static uint64_t retry_spacing(const sfu_nack *n)
{
    return n->cfg.rtt_us > n->cfg.min_retry_us ? n->cfg.rtt_us : n->cfg.min_retry_us;
}

/* How long a missing packet stays worth asking for: max_age, or three
 * round trips on a slower path (the sender keeps its packets as long:
 * libwebrtc holds them for max(1 s, 3 RTT)). */
static uint64_t useful_age(const sfu_nack *n)
{
    uint64_t rtts = 3 * n->cfg.rtt_us;
    return rtts > n->cfg.max_age_us ? rtts : n->cfg.max_age_us;
}

size_t sfu_nack_collect(sfu_nack *n, uint64_t now_us, uint16_t *out, size_t max)
{
    uint64_t spacing = retry_spacing(n);
    uint64_t max_age = useful_age(n);
    size_t k = 0;
    uint32_t w = 0; /* compaction: entries kept are moved down to w */
    for (uint32_t i = 0; i < n->count; i++) {
        nack_entry e = n->list[i];
        /* an answer to a NACK sent now arrives one RTT later: too late
         * once that passes the packet's useful age */
        bool too_old = now_us - e.first_us + n->cfg.rtt_us > max_age;
        bool due = e.retries == 0 || now_us - e.last_sent_us >= spacing;
        if (too_old || (due && e.retries >= n->cfg.max_retries)) {
            n->stats.lost++;
            continue;
        }
        if (due && k < max) {
            out[k++] = (uint16_t)e.ext;
            e.retries++;
            e.last_sent_us = now_us;
            n->stats.nacked++;
        }
        n->list[w++] = e;
    }
    n->count = w;
    n->stats.pending = n->count;
    return k;
}

uint64_t sfu_nack_next_due_us(const sfu_nack *n)
{
    uint64_t spacing = retry_spacing(n);
    uint64_t max_age = useful_age(n);
    uint64_t best = UINT64_MAX;
    for (uint32_t i = 0; i < n->count; i++) {
        const nack_entry *e = &n->list[i];
        uint64_t t = e->retries == 0 ? e->first_us : e->last_sent_us + spacing;
        uint64_t expire = e->first_us + max_age + 1;
        expire = expire > n->cfg.rtt_us ? expire - n->cfg.rtt_us : 0;
        if (expire < t)
            t = expire;
        if (t < best)
            best = t;
    }
    return best;
}

bool sfu_nack_take_keyframe_request(sfu_nack *n)
{
    bool r = n->keyframe_wanted;
    n->keyframe_wanted = false;
    return r;
}

void sfu_nack_get_stats(const sfu_nack *n, sfu_nack_stats *s)
{
    *s = n->stats;
    s->pending = n->count;
}
