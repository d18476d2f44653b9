/*
 * Consumer rewriting (see consumer.h). The deltas are chosen at the first
 * packet of each layer so that the first forwarded packet of the new layer
 * directly follows the last forwarded one; afterwards every packet of that
 * layer is shifted by the same deltas, so reordering within a layer is
 * preserved.
 */
#include "sfu/consumer.h"

#include <string.h>

void sfu_consumer_init(sfu_consumer *c, bool simulcast, uint32_t clock_rate, int target)
{
    memset(c, 0, sizeof *c);
    c->simulcast = simulcast;
    c->clock_rate = clock_rate ? clock_rate : 90000;
    c->current = simulcast ? -1 : 0;
    c->tid_target = -1;
    c->tid_cur = -1;
    sfu_consumer_set_target(c, simulcast ? target : 0);
}

void sfu_consumer_resume(sfu_consumer *c, bool keyframe)
{
    c->resume = true;
    c->resume_key = keyframe;
}

void sfu_consumer_get_mark(const sfu_consumer *c, sfu_consumer_mark *m)
{
    *m = (sfu_consumer_mark){.started = c->started,
                             .have_pid = c->have_pid,
                             .have_tl0 = c->have_tl0,
                             .last_seq = c->last_seq,
                             .last_pid = c->last_pid,
                             .last_tl0 = c->last_tl0,
                             .last_ts = c->last_ts,
                             .last_us = c->last_us};
}

void sfu_consumer_continue(sfu_consumer *c, const sfu_consumer_mark *m, bool keyframe)
{
    if (!m->started)
        return;
    c->started = true;
    c->have_pid = m->have_pid;
    c->have_tl0 = m->have_tl0;
    c->last_seq = m->last_seq;
    c->last_pid = m->last_pid;
    c->last_tl0 = m->last_tl0;
    c->last_ts = m->last_ts;
    c->last_us = m->last_us;
    sfu_consumer_resume(c, keyframe);
}

void sfu_consumer_set_temporal(sfu_consumer *c, int tid)
{
    c->tid_target = (int8_t)(tid < 0 || tid > 3 ? -1 : tid);
}

void sfu_consumer_set_target(sfu_consumer *c, int target)
{
    if (!c->simulcast)
        target = 0;
    if (target < 0)
        target = 0;
    if (target >= SFU_CONSUMER_MAX_LAYERS)
        target = SFU_CONSUMER_MAX_LAYERS - 1;
    c->target = target;
}

bool sfu_consumer_wants_keyframe(const sfu_consumer *c)
{
    return (c->simulcast && c->current != c->target) || (c->resume && c->resume_key);
}

/* a is newer than b in 16-bit serial arithmetic */
static bool seq_newer(uint16_t a, uint16_t b)
{
    return a != b && (uint16_t)(a - b) < 0x8000;
}

/* PictureID a is newer than b (15 bits) */
static bool pid_newer(uint16_t a, uint16_t b)
{
    uint16_t d = (uint16_t)((a - b) & 0x7fff);
    return d != 0 && d < 0x4000;
}

/* The drop history as one 128-bit number shifted left by n (hi_in moved
 * forward by n). */
static void bits_shift(uint64_t b[2], unsigned n)
{
    if (n == 0)
        return;
    if (n >= 128) {
        b[0] = b[1] = 0;
    } else if (n >= 64) {
        b[1] = b[0] << (n - 64);
        b[0] = 0;
    } else {
        b[1] = (b[1] << n) | (b[0] >> (64 - n));
        b[0] <<= n;
    }
}

/* Dropped input packets newer than hi_in - d (bits 0..d-1). */
static unsigned drops_newer(const uint64_t b[2], unsigned d)
{
    if (d >= 128)
        return (unsigned)(__builtin_popcountll(b[0]) + __builtin_popcountll(b[1]));
    if (d >= 64) {
        uint64_t m = d == 64 ? 0 : (~0ull >> (128 - d));
        return (unsigned)(__builtin_popcountll(b[0]) + __builtin_popcountll(b[1] & m));
    }
    return d == 0 ? 0 : (unsigned)__builtin_popcountll(b[0] & (~0ull >> (64 - d)));
}

/* Temporal limit changes at picture starts (see consumer.h). */
static void update_temporal(sfu_consumer *c, const sfu_consumer_in *in)
{
    if (!in->has_tid || !in->frame_start || c->tid_cur == c->tid_target)
        return;
    if (c->tid_target >= 0 && (c->tid_cur < 0 || c->tid_target < c->tid_cur)) {
        c->tid_cur = c->tid_target; /* down: at once */
        return;
    }
    if (in->tid == 0)
        c->tid_cur = c->tid_target; /* up: everything may follow a base picture */
    else if (in->layer_sync && in->tid > c->tid_cur &&
             (c->tid_target < 0 || in->tid <= c->tid_target))
        c->tid_cur = (int8_t)in->tid; /* up to a layer that re-syncs here */
}

/* Output sequence number of a packet of the current layer; notes drops. */
static uint16_t map_seq(sfu_consumer *c, const sfu_consumer_in *in, bool drop)
{
    if (!c->have_hi || seq_newer(in->seq, c->hi_in)) {
        bits_shift(c->drop_bits, c->have_hi ? (uint16_t)(in->seq - c->hi_in) : 0);
        c->hi_in = in->seq;
        c->have_hi = true;
        if (drop) {
            c->drop_bits[0] |= 1;
            c->skipped++;
        }
        return (uint16_t)(in->seq + c->seq_delta - c->skipped);
    }
    unsigned newer = drops_newer(c->drop_bits, (uint16_t)(c->hi_in - in->seq));
    return (uint16_t)(in->seq + c->seq_delta - (uint16_t)(c->skipped - newer));
}

static uint16_t map_pid(sfu_consumer *c, const sfu_consumer_in *in, bool drop)
{
    if (!c->have_pid_hi || pid_newer(in->pid, c->pid_hi_in)) {
        if (drop && c->have_pid_hi)
            c->pid_skipped++;
        c->pid_hi_in = in->pid;
        c->have_pid_hi = true;
    }
    return (uint16_t)((in->pid + c->pid_delta - c->pid_skipped) & 0x7fff);
}

static void start_layer(sfu_consumer *c, const sfu_consumer_in *in)
{
    c->have_hi = false;
    c->drop_bits[0] = c->drop_bits[1] = 0;
    c->skipped = 0;
    c->have_pid_hi = false;
    c->pid_skipped = 0;
    c->tid_cur = c->tid_target; /* a keyframe is a base-layer picture */
    if (!c->started) {
        c->seq_delta = 0;
        c->ts_delta = 0;
        c->pid_delta = 0;
        c->tl0_delta = 0;
        return;
    }
    c->seq_delta = (uint16_t)(c->last_seq + 1u - in->seq);
    uint64_t gap_us = in->now_us > c->last_us ? in->now_us - c->last_us : 0;
    uint32_t gap_ts = (uint32_t)(gap_us * c->clock_rate / 1000000u);
    if (gap_ts == 0)
        gap_ts = 1;
    c->ts_delta = c->last_ts + gap_ts - in->ts;
    if (in->has_pid && c->have_pid)
        c->pid_delta = (uint16_t)(c->last_pid + 1u - in->pid);
    if (in->has_tl0 && c->have_tl0)
        c->tl0_delta = (uint8_t)(c->last_tl0 + 1u - in->tl0);
    c->switches++;
}

int sfu_consumer_process(sfu_consumer *c, const sfu_consumer_in *in, sfu_consumer_out *out)
{
    bool switched = false;
    if (in->layer != c->current) {
        if (!c->simulcast || in->layer != c->target || !in->keyframe_start) {
            c->dropped++;
            return 0;
        }
        start_layer(c, in);
        c->current = in->layer;
        switched = true;
        c->resume = false;
    } else if (c->resume) {
        if (c->resume_key && !in->keyframe_start) {
            c->dropped++;
            return 0;
        }
        start_layer(c, in);
        c->resume = false;
    }
    update_temporal(c, in);
    bool drop = in->has_tid && c->tid_cur >= 0 && in->tid > c->tid_cur;
    out->seq = map_seq(c, in, drop);
    out->pid = in->has_pid ? map_pid(c, in, drop) : 0;
    if (drop) {
        c->dropped++;
        c->dropped_temporal++;
        return 0;
    }
    out->ts = in->ts + c->ts_delta;
    out->tl0 = (uint8_t)(in->tl0 + c->tl0_delta);
    out->switched = switched;
    if (!c->started || seq_newer(out->seq, c->last_seq)) {
        c->last_seq = out->seq;
        c->last_ts = out->ts;
        c->last_us = in->now_us;
        if (in->has_pid) {
            /* PictureID is per frame: remember the newest. */
            if (!c->have_pid || (uint16_t)((out->pid - c->last_pid) & 0x7fff) < 0x4000)
                c->last_pid = out->pid;
            c->have_pid = true;
        }
        if (in->has_tl0) {
            if (!c->have_tl0 || (uint8_t)(out->tl0 - c->last_tl0) < 0x80)
                c->last_tl0 = out->tl0;
            c->have_tl0 = true;
        }
    }
    c->started = true;
    c->forwarded++;
    return 1;
}

/* Height of layer i: known from a keyframe, else guessed from the nearest
 * known layer assuming each layer doubles the one below (the usual
 * scaleResolutionDownBy 4/2/1); 0 when nothing is known. */
static unsigned layer_height(const uint16_t *heights, int n, int i)
{
    if (heights[i])
        return heights[i];
    for (int d = 1; d < n; d++) {
        if (i - d >= 0 && heights[i - d])
            return (unsigned)heights[i - d] << d;
        if (i + d < n && heights[i + d])
            return (unsigned)heights[i + d] >> d;
    }
    return 0;
}

int sfu_consumer_layer_for_height(const uint16_t *heights, int n, int max_height)
{
    int best = 0;
    if (n > SFU_CONSUMER_MAX_LAYERS)
        n = SFU_CONSUMER_MAX_LAYERS;
    for (int i = 0; i < n; i++) {
        unsigned h = layer_height(heights, n, i);
        if (h && h <= (unsigned)max_height)
            best = i;
    }
    return best;
}
