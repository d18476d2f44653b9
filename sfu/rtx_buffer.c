/*
 * Retransmission buffer (see rtx_buffer.h). Slot i describes the packet
 * whose sequence number is congruent to i modulo the capacity (a power of
 * two dividing 65536, so a slot is always overwritten before its sequence
 * number comes round again). The bytes live in one ring of `ring_bytes`
 * (a power of two), packed back to back: a slot records the absolute
 * write position of its packet, and the packet is still there while fewer
 * than ring_bytes bytes were written after that position. A packet that
 * would straddle the end of the ring starts at the beginning instead.
 * Memory follows the bitrate (about 300 KB for 1 s of 2.5 Mbit/s) instead
 * of capacity x longest packet, and the ring doubles (up to its cap) when
 * a lap of it took less than the useful age (max_age or 3 RTTs) to
 * write: a doubling moves each held packet from pos & old_mask to
 * pos & new_mask (a packet never straddles either ring's end, since it
 * did not straddle the smaller one), and drops the slots whose bytes were
 * already overwritten. Per-slot metadata records the send time and the
 * last resend for the per-packet spacing; a byte token bucket and a
 * 100 ms packet counter bound the total resend rate. In ledger mode
 * there is no ring: each slot keeps the caller's reference (refs[i]) and
 * the same metadata.
 */
#include "sfu/rtx_buffer.h"

#include <stdlib.h>
#include <string.h>

#include "sfu/rtp.h"

#define BUDGET_WINDOW_US 100000

typedef struct rtx_slot {
    bool valid;
    bool resent;
    uint16_t seq;
    uint32_t len;
    uint64_t pos; /* absolute ring position of the first byte */
    uint64_t sent_us;
    uint64_t last_resend_us;
} rtx_slot;

struct sfu_rtx_buffer {
    sfu_rtx_buffer_config cfg;
    uint32_t mask;
    uint8_t *data;
    uint64_t ring_mask; /* ring_bytes - 1 */
    uint64_t wpos;      /* absolute position of the next write */
    uint64_t lap_us;    /* when the current lap of the ring began ... */
    uint64_t lap_pos;   /* ... and at which write position */
    uint32_t ring_cap;  /* the ring never grows past this */
    rtx_slot *slots;
    uint8_t (*refs)[SFU_RTX_REF_SIZE]; /* ledger mode: per slot */
    bool use_rtx;
    uint8_t rtx_pt;
    uint32_t rtx_ssrc;
    uint16_t rtx_seq;
    uint64_t rtt_us;
    uint64_t tokens; /* resend bytes allowed now */
    uint64_t window_start_us;
    uint32_t window_count;
    bool window_started;
    sfu_rtx_buffer_stats stats;
};

/* How long a packet stays worth resending: max_age, or three round trips
 * on a slower path (a link whose queue holds half a second of media
 * reports NACKs ~0.5 s after the loss and the resend needs as long again;
 * the decoder waits for it, or for a keyframe that costs far more). */
static uint64_t useful_age(const sfu_rtx_buffer *b)
{
    uint64_t rtts = 3 * b->rtt_us;
    return rtts > b->cfg.max_age_us ? rtts : b->cfg.max_age_us;
}

void sfu_rtx_buffer_config_default(sfu_rtx_buffer_config *c)
{
    c->capacity = 512;
    c->slot_size = SFU_RTX_SLOT_DEFAULT;
    c->min_interval_us = 10000;
    c->max_age_us = 1000000;
    c->budget_percent = 50;
    c->budget_burst = 64000;
    c->max_per_100ms = 100;
    c->ring_bytes = SFU_RTX_RING_DEFAULT;
    c->initial_ring_bytes = SFU_RTX_RING_INITIAL;
    c->ledger = false;
}

sfu_rtx_buffer *sfu_rtx_buffer_create(const sfu_rtx_buffer_config *c)
{
    sfu_rtx_buffer_config d;
    sfu_rtx_buffer_config_default(&d);
    if (c) {
        if (c->capacity)
            d.capacity = c->capacity;
        if (c->slot_size)
            d.slot_size = c->slot_size;
        if (c->min_interval_us)
            d.min_interval_us = c->min_interval_us;
        if (c->max_age_us)
            d.max_age_us = c->max_age_us;
        if (c->budget_percent)
            d.budget_percent = c->budget_percent;
        if (c->budget_burst)
            d.budget_burst = c->budget_burst;
        if (c->max_per_100ms)
            d.max_per_100ms = c->max_per_100ms;
        if (c->ring_bytes)
            d.ring_bytes = c->ring_bytes;
        if (c->initial_ring_bytes)
            d.initial_ring_bytes = c->initial_ring_bytes;
        d.ledger = c->ledger;
    }
    if (d.capacity > 32768)
        d.capacity = 32768;
    uint32_t cap = 1;
    while (cap < d.capacity)
        cap <<= 1;
    d.capacity = cap;
    if (d.slot_size < SFU_RTP_HEADER_MIN)
        d.slot_size = SFU_RTP_HEADER_MIN;
    /* At least room for the longest packet twice, at most what fixed
     * slots would take; a power of two. */
    uint64_t want = d.ring_bytes;
    if (want < 2ull * d.slot_size)
        want = 2ull * d.slot_size;
    if (want > (uint64_t)cap * d.slot_size)
        want = (uint64_t)cap * d.slot_size;
    uint64_t ring = 1;
    while (ring < want)
        ring <<= 1;
    d.ring_bytes = (uint32_t)ring;
    /* The first ring: a power of two between two longest packets and the cap. */
    uint64_t first = 1;
    while (first < d.initial_ring_bytes || first < 2ull * d.slot_size)
        first <<= 1;
    if (first > ring)
        first = ring;
    d.initial_ring_bytes = (uint32_t)first;

    sfu_rtx_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cfg = d;
    b->mask = cap - 1;
    b->slots = calloc(cap, sizeof *b->slots);
    if (d.ledger) {
        b->refs = calloc(cap, sizeof *b->refs);
    } else {
        b->ring_cap = (uint32_t)ring;
        ring = first;
        b->ring_mask = ring - 1;
        b->data = malloc((size_t)ring);
    }
    if (!(b->data || b->refs) || !b->slots) {
        sfu_rtx_buffer_destroy(b);
        return NULL;
    }
    b->tokens = d.budget_burst;
    return b;
}

void sfu_rtx_buffer_destroy(sfu_rtx_buffer *b)
{
    if (!b)
        return;
    free(b->data);
    free(b->refs);
    free(b->slots);
    free(b);
}

void sfu_rtx_buffer_set_rtx(sfu_rtx_buffer *b, uint8_t rtx_pt, uint32_t rtx_ssrc,
                            uint16_t first_seq)
{
    b->use_rtx = true;
    b->rtx_pt = rtx_pt & 0x7f;
    b->rtx_ssrc = rtx_ssrc;
    b->rtx_seq = first_seq;
}

uint16_t sfu_rtx_buffer_next_rtx_seq(const sfu_rtx_buffer *b)
{
    return b->rtx_seq;
}

void sfu_rtx_buffer_set_rtt(sfu_rtx_buffer *b, uint64_t rtt_us)
{
    if (rtt_us)
        b->rtt_us = rtt_us;
}

/* Double the ring (see the file comment); on OOM keep the current one. */
static void grow(sfu_rtx_buffer *b)
{
    uint64_t old = b->ring_mask + 1, ring = old * 2;
    uint8_t *data = malloc((size_t)ring);
    if (!data)
        return;
    for (uint32_t i = 0; i <= b->mask; i++) {
        rtx_slot *s = &b->slots[i];
        if (!s->valid)
            continue;
        if (b->wpos - s->pos > old) {
            s->valid = false; /* already overwritten in the old ring */
            continue;
        }
        memcpy(data + (s->pos & (ring - 1)), b->data + (s->pos & (old - 1)), s->len);
    }
    free(b->data);
    b->data = data;
    b->ring_mask = ring - 1;
    b->stats.grown++;
}

/* A packet sent: its slot's metadata, and the resend budget it earns. */
static void fill_slot(sfu_rtx_buffer *b, rtx_slot *s, uint16_t seq, size_t len, uint64_t now_us)
{
    s->valid = true;
    s->resent = false;
    s->seq = seq;
    s->len = (uint32_t)len;
    s->sent_us = now_us;
    s->last_resend_us = 0;
    b->stats.stored++;
    /* Every byte sent earns budget_percent % of a byte of resend budget. */
    b->tokens += (uint64_t)len * b->cfg.budget_percent / 100;
    if (b->tokens > b->cfg.budget_burst)
        b->tokens = b->cfg.budget_burst;
}

int sfu_rtx_buffer_note(sfu_rtx_buffer *b, uint16_t seq, size_t len, uint64_t now_us,
                        const void *ref)
{
    if (!b->refs || len < SFU_RTP_HEADER_MIN || len > b->cfg.slot_size)
        return -1;
    uint32_t i = seq & b->mask;
    memcpy(b->refs[i], ref, SFU_RTX_REF_SIZE);
    fill_slot(b, &b->slots[i], seq, len, now_us);
    return 0;
}

int sfu_rtx_buffer_store(sfu_rtx_buffer *b, const uint8_t *pkt, size_t len, uint64_t now_us)
{
    if (!b->data || len < SFU_RTP_HEADER_MIN || len > b->cfg.slot_size)
        return -1;
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    uint32_t i = seq & b->mask;
    rtx_slot *s = &b->slots[i];
    uint64_t off = b->wpos & b->ring_mask;
    if (off + len > b->ring_mask + 1) {
        b->wpos += b->ring_mask + 1 - off; /* start over at the ring's start */
        off = 0;
    }
    if (b->stats.stored == 0) {
        b->lap_us = now_us;
        b->lap_pos = b->wpos;
    } else if (b->wpos - b->lap_pos >= b->ring_mask + 1) { /* a whole lap written */
        if (now_us - b->lap_us < useful_age(b) && b->ring_mask + 1 < b->ring_cap) {
            grow(b);
            off = b->wpos & b->ring_mask;
        }
        b->lap_us = now_us;
        b->lap_pos = b->wpos;
    }
    memcpy(b->data + off, pkt, len);
    s->pos = b->wpos;
    b->wpos += len;
    fill_slot(b, s, seq, len, now_us);
    return 0;
}

/* The slot of seq if its bytes are still in the ring (ledger mode: if
 * it is still noted). */
static rtx_slot *find(const sfu_rtx_buffer *b, uint16_t seq)
{
    rtx_slot *s = &b->slots[seq & b->mask];
    if (!s->valid || s->seq != seq || (b->data && b->wpos - s->pos > b->ring_mask + 1))
        return NULL;
    return s;
}

static const uint8_t *bytes_of(const sfu_rtx_buffer *b, const rtx_slot *s)
{
    return b->data + (s->pos & b->ring_mask);
}

const uint8_t *sfu_rtx_buffer_get(const sfu_rtx_buffer *b, uint16_t seq, size_t *len,
                                  uint64_t *sent_us)
{
    const rtx_slot *s = b->data ? find(b, seq) : NULL;
    if (!s)
        return NULL;
    if (len)
        *len = s->len;
    if (sent_us)
        *sent_us = s->sent_us;
    return bytes_of(b, s);
}

/* May seq be resent now? Its slot, or NULL with *why set (counted). */
static rtx_slot *admit(sfu_rtx_buffer *b, uint16_t seq, uint64_t now_us, int *why)
{
    b->stats.requests++;
    rtx_slot *s = find(b, seq);
    uint64_t max_age = useful_age(b);
    *why = SFU_RTX_MISSING;
    if (!s || now_us - s->sent_us > max_age) {
        b->stats.missing++;
        return NULL;
    }
    /* The resend reaches the viewer half an RTT from now: past the
     * packet's useful age it would only waste the budget. */
    if (b->rtt_us && now_us - s->sent_us + b->rtt_us / 2 > max_age) {
        b->stats.missing++;
        b->stats.too_late++;
        return NULL;
    }
    uint64_t spacing = b->rtt_us > b->cfg.min_interval_us ? b->rtt_us : b->cfg.min_interval_us;
    if (s->resent && now_us - s->last_resend_us < spacing) {
        b->stats.too_soon++;
        *why = SFU_RTX_TOO_SOON;
        return NULL;
    }
    if (!b->window_started || now_us - b->window_start_us >= BUDGET_WINDOW_US) {
        b->window_started = true;
        b->window_start_us = now_us;
        b->window_count = 0;
    }
    size_t need = s->len + (b->use_rtx ? 2 : 0);
    if (b->window_count >= b->cfg.max_per_100ms || b->tokens < need) {
        b->stats.over_budget++;
        *why = SFU_RTX_OVER_BUDGET;
        return NULL;
    }
    return s;
}

/* Write the resend of pkt (slot s) into out and charge it. */
static int finish(sfu_rtx_buffer *b, rtx_slot *s, uint64_t now_us, const uint8_t *pkt, size_t len,
                  uint8_t *out, size_t cap)
{
    int n;
    if (b->use_rtx) {
        n = sfu_rtx_build(out, cap, pkt, len, b->rtx_pt, b->rtx_ssrc, b->rtx_seq);
        if (n < 0)
            return SFU_RTX_ERROR;
        b->rtx_seq++;
    } else {
        if (cap < len)
            return SFU_RTX_ERROR;
        memmove(out, pkt, len);
        n = (int)len;
    }
    b->tokens -= (uint64_t)n <= b->tokens ? (uint64_t)n : b->tokens;
    b->window_count++;
    s->resent = true;
    s->last_resend_us = now_us;
    b->stats.resent++;
    b->stats.resent_bytes += (uint64_t)n;
    return n;
}

int sfu_rtx_buffer_resend(sfu_rtx_buffer *b, uint16_t seq, uint64_t now_us, uint8_t *out,
                          size_t cap)
{
    int why;
    if (!b->data) /* ledger mode: admit, rebuild, finish */
        return SFU_RTX_ERROR;
    rtx_slot *s = admit(b, seq, now_us, &why);
    if (!s)
        return why;
    return finish(b, s, now_us, bytes_of(b, s), s->len, out, cap);
}

int sfu_rtx_buffer_admit(sfu_rtx_buffer *b, uint16_t seq, uint64_t now_us, void *ref)
{
    int why;
    if (!b->refs)
        return SFU_RTX_ERROR;
    rtx_slot *s = admit(b, seq, now_us, &why);
    if (!s)
        return why;
    memcpy(ref, b->refs[seq & b->mask], SFU_RTX_REF_SIZE);
    return (int)s->len;
}

int sfu_rtx_buffer_finish(sfu_rtx_buffer *b, uint16_t seq, uint64_t now_us, const uint8_t *pkt,
                          size_t len, uint8_t *out, size_t cap)
{
    rtx_slot *s = b->refs ? find(b, seq) : NULL;
    if (!s)
        return SFU_RTX_ERROR;
    return finish(b, s, now_us, pkt, len, out, cap);
}

void sfu_rtx_buffer_gone(sfu_rtx_buffer *b)
{
    b->stats.missing++;
}

void sfu_rtx_buffer_get_stats(const sfu_rtx_buffer *b, sfu_rtx_buffer_stats *s)
{
    *s = b->stats;
    s->ring_bytes = b->data ? (uint32_t)(b->ring_mask + 1) : 0;
}
