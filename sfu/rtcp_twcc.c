/*
 * Transport-wide congestion control feedback (RTPFB FMT 15,
 * draft-holmer-rmcat-transport-wide-cc-extensions-01); declared in rtcp.h.
 * Kept apart from rtcp.c because the chunk encoding is the largest and
 * most intricate piece of RTCP.
 *
 * FCI: | base seq (16) | status count (16) | reference time (24) | fb count (8) |
 *      then 16-bit packet chunks, then receive deltas, then padding.
 * Run-length chunk:    |0| S (2) | run length (13)            |
 * Status vector chunk: |1|0| 14 x 1-bit symbols |  or  |1|1| 7 x 2-bit symbols |
 * Symbols: 0 not received, 1 received with a 1-byte delta (0..255 x 250 us),
 * 2 received with a 2-byte signed delta, 3 reserved.
 *
 * The parser validates the whole FCI once (chunks cover the status count,
 * deltas fit) so the iterator afterwards cannot run off the packet. The
 * builder is allocation-free: it walks the caller's arrival list with a
 * small generator and looks ahead by copying it.
 */
#include "sfu/rtcp.h"
#include "sfu/wire_internal.h"

#include <string.h>

/* Symbols a chunk describes. */
static unsigned chunk_capacity(uint16_t chunk)
{
    if (!(chunk & 0x8000))
        return chunk & 0x1FFF;
    return (chunk & 0x4000) ? 7 : 14;
}

/* Symbol k (< chunk_capacity) of a chunk. */
static unsigned chunk_symbol(uint16_t chunk, unsigned k)
{
    if (!(chunk & 0x8000))
        return (chunk >> 13) & 3;
    if (chunk & 0x4000)
        return (chunk >> (12 - 2 * k)) & 3;
    return (chunk >> (13 - k)) & 1;
}

int sfu_twcc_iter_init(sfu_twcc_iter *it, const sfu_rtcp_fb *fb)
{
    sfu__cursor c = {fb->fci, fb->fci + fb->fci_len};
    uint8_t ref[3];
    memset(it, 0, sizeof *it);
    if (fb->pt != SFU_RTCP_RTPFB || fb->fmt != SFU_RTCP_FMT_TWCC || !c.p)
        return -1;
    if (sfu__cur_u16(&c, &it->base_seq) || sfu__cur_u16(&c, &it->status_count) || sfu__cur_u8(&c, &ref[0]) ||
        sfu__cur_u8(&c, &ref[1]) || sfu__cur_u8(&c, &ref[2]) || sfu__cur_u8(&c, &it->fb_count))
        return -1;
    uint32_t r = (uint32_t)ref[0] << 16 | (uint32_t)ref[1] << 8 | ref[2];
    it->reference_time = (r & 0x800000) ? (int32_t)r - 0x1000000 : (int32_t)r;
    it->chunk = c.p;
    /* Walk the chunks once: they must cover status_count and name only valid symbols. */
    size_t covered = 0, delta_bytes = 0;
    while (covered < it->status_count) {
        uint16_t chunk;
        if (sfu__cur_u16(&c, &chunk))
            return -1;
        unsigned cap = chunk_capacity(chunk);
        for (unsigned k = 0; k < cap && covered < it->status_count; k++, covered++) {
            unsigned sym = chunk_symbol(chunk, k);
            if (sym == 3)
                return -1;
            delta_bytes += sym; /* 0, 1 or 2 bytes */
        }
    }
    if (sfu__cur_left(&c) < delta_bytes)
        return -1;
    it->delta = c.p;
    it->delta_end = c.p + delta_bytes;
    it->arrival_us = (int64_t)it->reference_time * SFU_TWCC_REF_US;
    return 0;
}

int sfu_twcc_next(sfu_twcc_iter *it, sfu_twcc_packet *out)
{
    if (!it->chunk || it->index >= it->status_count)
        return 0;
    uint16_t chunk = sfu__rd16(it->chunk);
    /* init proved the chunks ahead cover the remaining packets. */
    while (it->chunk_used >= chunk_capacity(chunk)) {
        it->chunk += 2;
        it->chunk_used = 0;
        chunk = sfu__rd16(it->chunk);
    }
    unsigned sym = chunk_symbol(chunk, it->chunk_used++);
    out->seq = (uint16_t)(it->base_seq + it->index++);
    out->received = sym != 0;
    out->delta_us = 0;
    if (sym == 1 && it->delta + 1 <= it->delta_end) {
        out->delta_us = (int64_t)it->delta[0] * SFU_TWCC_TICK_US;
        it->delta += 1;
    } else if (sym == 2 && it->delta + 2 <= it->delta_end) {
        out->delta_us = (int64_t)(int16_t)sfu__rd16(it->delta) * SFU_TWCC_TICK_US;
        it->delta += 2;
    }
    it->arrival_us += out->delta_us;
    out->arrival_us = out->received ? it->arrival_us : 0;
    return 1;
}

int sfu_rtcp_parse_twcc(const sfu_rtcp_fb *fb, sfu_twcc_iter *hdr, sfu_twcc_packet *out, size_t cap)
{
    sfu_twcc_iter it;
    if (sfu_twcc_iter_init(&it, fb) || it.status_count > cap)
        return -1;
    if (hdr)
        *hdr = it;
    size_t n = 0;
    while (n < cap && sfu_twcc_next(&it, &out[n]) == 1)
        n++;
    return (int)n;
}

/* Walks the builder's input in status order, producing symbols and deltas. */
typedef struct {
    const sfu_twcc_arrival *pkts;
    size_t n, j;
    uint16_t base;
    int64_t prev_ticks;
} twcc_gen;

/* Symbol for status index k (called with k = 0, 1, 2, ...); -1 on overflow. */
static int twcc_step(twcc_gen *g, uint32_t k, int32_t *delta)
{
    *delta = 0;
    if (g->j >= g->n || (uint16_t)(g->pkts[g->j].seq - g->base) != k)
        return 0;
    int64_t at = g->pkts[g->j++].arrival_us;
    if (at == SFU_TWCC_LOST)
        return 0;
    int64_t ticks = at / SFU_TWCC_TICK_US, d = ticks - g->prev_ticks;
    g->prev_ticks = ticks;
    *delta = (int32_t)d;
    if (d >= 0 && d <= 255)
        return 1;
    if (d >= -32768 && d <= 32767)
        return 2;
    return -1;
}

int sfu_rtcp_build_twcc(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                        uint8_t fb_count, const sfu_twcc_arrival *pkts, size_t n)
{
    if (n == 0 || !pkts)
        return -1;
    int64_t first_arrival = -1;
    for (size_t i = 0; i < n; i++) {
        if (pkts[i].arrival_us != SFU_TWCC_LOST && pkts[i].arrival_us < 0)
            return -1;
        if (first_arrival < 0 && pkts[i].arrival_us != SFU_TWCC_LOST)
            first_arrival = pkts[i].arrival_us;
        if (i) {
            uint16_t d = (uint16_t)(pkts[i].seq - pkts[i - 1].seq);
            if (d == 0 || d >= 0x8000)
                return -1;
        }
    }
    uint32_t count = (uint32_t)(uint16_t)(pkts[n - 1].seq - pkts[0].seq) + 1;
    if (count > 0xFFFF)
        return -1;
    int64_t ref = first_arrival < 0 ? 0 : first_arrival / SFU_TWCC_REF_US;
    const twcc_gen start = {pkts, n, 0, pkts[0].seq, ref * (SFU_TWCC_REF_US / SFU_TWCC_TICK_US)};
    if (cap < 20)
        return -1;
    sfu__wr16(buf + 12, pkts[0].seq);
    sfu__wr16(buf + 14, (uint16_t)count);
    buf[16] = (uint8_t)(ref >> 16);
    buf[17] = (uint8_t)(ref >> 8);
    buf[18] = (uint8_t)ref;
    buf[19] = fb_count;
    /* Every delta must fit before anything is encoded; later steps cannot fail. */
    twcc_gen g = start;
    int32_t delta;
    for (uint32_t k = 0; k < count; k++)
        if (twcc_step(&g, k, &delta) < 0)
            return -1;
    /* Pass 1: chunks. */
    size_t off = 20;
    g = start;
    for (uint32_t k = 0; k < count;) {
        uint32_t rem = count - k;
        twcc_gen la = g;
        int s0 = twcc_step(&la, k, &delta);
        uint32_t run = 1, max_run = rem < 0x1FFF ? rem : 0x1FFF;
        while (run < max_run) {
            twcc_gen la2 = la;
            if (twcc_step(&la2, k + run, &delta) != s0)
                break;
            la = la2;
            run++;
        }
        uint32_t vec = rem < 14 ? rem : 14;
        bool one_bit = true;
        la = g;
        for (uint32_t i = 0; i < vec && one_bit; i++)
            if (twcc_step(&la, k + i, &delta) > 1)
                one_bit = false;
        uint16_t chunk;
        uint32_t used;
        if (run == rem || run >= 14 || (!one_bit && run >= 7)) {
            chunk = (uint16_t)((unsigned)s0 << 13 | run);
            used = run;
        } else if (one_bit) {
            chunk = 0x8000;
            la = g;
            for (uint32_t i = 0; i < vec; i++)
                chunk |= (uint16_t)(twcc_step(&la, k + i, &delta) << (13 - i));
            used = vec;
        } else {
            used = rem < 7 ? rem : 7;
            chunk = 0xC000;
            la = g;
            for (uint32_t i = 0; i < used; i++)
                chunk |= (uint16_t)(twcc_step(&la, k + i, &delta) << (12 - 2 * i));
        }
        if (off + 2 > cap)
            return -1;
        sfu__wr16(buf + off, chunk);
        off += 2;
        for (uint32_t i = 0; i < used; i++)
            twcc_step(&g, k + i, &delta);
        k += used;
    }
    /* Pass 2: receive deltas. */
    g = start;
    for (uint32_t k = 0; k < count; k++) {
        int s = twcc_step(&g, k, &delta);
        if (s == 0)
            continue;
        if (off + (size_t)s > cap)
            return -1;
        if (s == 1)
            buf[off] = (uint8_t)delta;
        else
            sfu__wr16(buf + off, (uint16_t)(int16_t)delta);
        off += (size_t)s;
    }
    size_t pad = (4 - off % 4) % 4;
    size_t len = off + pad;
    if (len > cap || len / 4 - 1 > 0xFFFF)
        return -1;
    if (pad) {
        memset(buf + off, 0, pad - 1);
        buf[len - 1] = (uint8_t)pad;
    }
    buf[0] = (uint8_t)(0x80 | (pad ? 0x20 : 0) | SFU_RTCP_FMT_TWCC);
    buf[1] = SFU_RTCP_RTPFB;
    sfu__wr16(buf + 2, (uint16_t)(len / 4 - 1));
    sfu__wr32(buf + 4, sender_ssrc);
    sfu__wr32(buf + 8, media_ssrc);
    return (int)len;
}
