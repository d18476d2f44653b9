/*
 * The recording tap (see tap.h): builds the 16-byte ring prefix on the
 * stack and pushes prefix + payload in one wait-free rec_ring_push2().
 */
#include "recorder/tap.h"

#include <string.h>

static int push(rec_ring *r, uint8_t type, uint64_t t_us, const void *p, size_t len)
{
    uint8_t pre[REC_TAP_PREFIX] = {type};
    if (len > REC_RECORD_MAX) {
        atomic_fetch_add_explicit(&r->drops, 1, memory_order_relaxed);
        return -1;
    }
    memcpy(pre + 8, &t_us, 8);
    return rec_ring_push2(r, pre, sizeof pre, p, len);
}

int rec_tap_rtp(rec_ring *r, uint64_t t_us, const uint8_t *pkt, size_t len)
{
    return push(r, REC_T_RTP, t_us, pkt, len);
}

int rec_tap_sr(rec_ring *r, uint64_t t_us, const rec_sr *sr)
{
    uint8_t b[24];
    size_t n = rec_sr_encode(b, sr);
    return push(r, REC_T_SR, t_us, b, n);
}

int rec_tap_layer(rec_ring *r, uint64_t t_us, const rec_layer *l)
{
    uint8_t b[4 + REC_RID_MAX];
    size_t n = rec_layer_encode(b, l);
    return push(r, REC_T_LAYER, t_us, b, n);
}

int rec_tap_decode(const uint8_t *msg, size_t len, uint8_t *type, uint64_t *t_us,
                   const uint8_t **payload, size_t *plen)
{
    if (len < REC_TAP_PREFIX)
        return -1;
    *type = msg[0];
    memcpy(t_us, msg + 8, 8);
    *payload = msg + REC_TAP_PREFIX;
    *plen = len - REC_TAP_PREFIX;
    return 0;
}
