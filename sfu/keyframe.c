/*
 * Keyframe request aggregator (see keyframe.h). Two flags describe the
 * state: `outstanding` (a PLI/FIR went to the publisher and no keyframe has
 * come back) and `deferred` (someone wants a keyframe but the last request
 * went out less than min_interval ago). Requests fold into whichever is
 * set; poll() turns a deferred request into a send once the interval has
 * passed, and repeats an outstanding one after retry_us. Flood control
 * keeps the last request time of the most recent SFU_KEYFRAME_VIEWERS
 * viewers in a small table (the least recently seen entry is reused).
 */
#include "sfu/keyframe.h"

#include <string.h>

void sfu_keyframe_config_default(sfu_keyframe_config *c)
{
    c->min_interval_us = 500000;
    c->retry_us = 1000000;
    c->viewer_interval_us = 250000;
    c->max_retries = 5;
}

void sfu_keyframe_init(sfu_keyframe *k, const sfu_keyframe_config *c)
{
    memset(k, 0, sizeof *k);
    sfu_keyframe_config_default(&k->cfg);
    if (c) {
        if (c->min_interval_us)
            k->cfg.min_interval_us = c->min_interval_us;
        if (c->retry_us)
            k->cfg.retry_us = c->retry_us;
        if (c->viewer_interval_us)
            k->cfg.viewer_interval_us = c->viewer_interval_us;
        if (c->max_retries)
            k->cfg.max_retries = c->max_retries;
    }
}

/* Flood control: true when viewer_id asked too recently; records the request otherwise. */
static bool viewer_flooding(sfu_keyframe *k, uint32_t viewer_id, uint64_t now_us)
{
    unsigned victim = 0;
    for (unsigned i = 0; i < SFU_KEYFRAME_VIEWERS; i++) {
        if (k->viewers[i].id == viewer_id) {
            if (now_us - k->viewers[i].last_us < k->cfg.viewer_interval_us)
                return true;
            k->viewers[i].last_us = now_us;
            return false;
        }
        if (k->viewers[i].id == 0) {
            victim = i; /* a free entry beats any used one */
            k->viewers[victim].last_us = 0;
        } else if (k->viewers[victim].id != 0 &&
                   k->viewers[i].last_us < k->viewers[victim].last_us) {
            victim = i;
        }
    }
    k->viewers[victim].id = viewer_id;
    k->viewers[victim].last_us = now_us;
    return false;
}

/* Send a new request now. */
static int send_new(sfu_keyframe *k, uint64_t now_us, uint8_t *fir_seq)
{
    k->fir_seq++;
    k->outstanding = true;
    k->deferred = false;
    k->ever_sent = true;
    k->last_sent_us = now_us;
    k->retries_done = 0;
    k->stats.sent++;
    if (fir_seq)
        *fir_seq = k->fir_seq;
    return 1;
}

int sfu_keyframe_request(sfu_keyframe *k, uint32_t viewer_id, uint64_t now_us, uint8_t *fir_seq)
{
    k->stats.requests++;
    if (viewer_id != SFU_KEYFRAME_INTERNAL && viewer_flooding(k, viewer_id, now_us)) {
        k->stats.refused++;
        return -1;
    }
    if (k->outstanding || k->deferred) {
        k->stats.merged++;
        return 0;
    }
    if (k->ever_sent && now_us - k->last_sent_us < k->cfg.min_interval_us) {
        k->deferred = true;
        return 0;
    }
    return send_new(k, now_us, fir_seq);
}

int sfu_keyframe_poll(sfu_keyframe *k, uint64_t now_us, uint8_t *fir_seq)
{
    if (k->deferred && !k->outstanding) {
        if (now_us - k->last_sent_us >= k->cfg.min_interval_us)
            return send_new(k, now_us, fir_seq);
        return 0;
    }
    if (k->outstanding && now_us - k->last_sent_us >= k->cfg.retry_us) {
        if (k->retries_done >= k->cfg.max_retries) {
            k->outstanding = false;
            k->deferred = false;
            k->stats.gave_up++;
            return 0;
        }
        k->retries_done++;
        k->stats.retries++;
        k->stats.sent++;
        k->last_sent_us = now_us;
        if (fir_seq)
            *fir_seq = k->fir_seq; /* a repetition keeps its sequence number */
        return 1;
    }
    return 0;
}

uint64_t sfu_keyframe_next_due_us(const sfu_keyframe *k)
{
    if (k->outstanding)
        return k->last_sent_us + k->cfg.retry_us;
    if (k->deferred)
        return k->last_sent_us + k->cfg.min_interval_us;
    return UINT64_MAX;
}

void sfu_keyframe_on_keyframe(sfu_keyframe *k, uint64_t now_us)
{
    (void)now_us;
    k->outstanding = false;
    k->deferred = false;
    k->stats.keyframes++;
}

bool sfu_keyframe_pending(const sfu_keyframe *k)
{
    return k->outstanding || k->deferred;
}
