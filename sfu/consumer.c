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
    sfu_consumer_set_target(c, simulcast ? target : 0);
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
    return c->simulcast && c->current != c->target;
}

/* a is newer than b in 16-bit serial arithmetic */
static bool seq_newer(uint16_t a, uint16_t b)
{
    return a != b && (uint16_t)(a - b) < 0x8000;
}

static void start_layer(sfu_consumer *c, const sfu_consumer_in *in)
{
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
    }
    out->seq = (uint16_t)(in->seq + c->seq_delta);
    out->ts = in->ts + c->ts_delta;
    out->pid = (uint16_t)((in->pid + c->pid_delta) & 0x7fff);
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
