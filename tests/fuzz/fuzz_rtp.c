/*
 * Fuzz target for sfu/rtp.c: parse, every accessor and iterator, and round
 * trips that must hold for any accepted packet (parse -> write -> same
 * bytes; extension build -> same elements; rewrites; RTX build -> recover).
 */
#include "sfu/rtp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PKT 4096

static void check_extensions(const sfu_rtp_packet *p)
{
    sfu_rtp_ext_iter it;
    sfu_rtp_ext e, elems[64];
    size_t n = 0;
    int rc;
    if (sfu_rtp_ext_iter_init(&it, p))
        return;
    while ((rc = sfu_rtp_ext_next(&it, &e)) == 1) {
        if (e.data < p->ext || e.data + e.len > p->ext + p->ext_len)
            abort();
        char s[256];
        uint32_t v;
        uint16_t seq;
        bool voice;
        uint8_t level;
        int sl = sfu_rtp_ext_string(&e, s, sizeof s);
        if (sl >= 0 && (size_t)sl != strlen(s))
            abort();
        (void)sfu_rtp_ext_abs_send_time(&e, &v);
        (void)sfu_rtp_ext_twcc_seq(&e, &seq);
        (void)sfu_rtp_ext_audio_level(&e, &voice, &level);
        sfu_rtp_ext f;
        if (sfu_rtp_ext_find(p, e.id, &f) != 0)
            abort();
        if (n < 64)
            elems[n++] = e;
    }
    if (rc < 0 || n == 0 || n == 64)
        return;
    /* Build the same elements again and read them back in order. */
    uint8_t body[64 * 258];
    uint16_t profile;
    int len = sfu_rtp_ext_build(body, sizeof body, elems, n, &profile);
    if (len < 0 || len % 4)
        abort();
    sfu_rtp_packet q = {0};
    q.extension = true;
    q.ext_profile = profile;
    q.ext = body;
    q.ext_len = (size_t)len;
    if (sfu_rtp_ext_iter_init(&it, &q))
        abort();
    for (size_t i = 0; i < n; i++) {
        if (sfu_rtp_ext_next(&it, &e) != 1 || e.id != elems[i].id || e.len != elems[i].len ||
            memcmp(e.data, elems[i].data, e.len) != 0)
            abort();
    }
    if (sfu_rtp_ext_next(&it, &e) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[MAX_PKT + 16], copy[MAX_PKT + 16];
    sfu_rtp_packet p, q;
    if (sfu_rtp_parse(data, size, &p) != 0)
        return 0;
    if (p.header_len + p.payload_len + p.padding_len != size)
        abort();
    for (unsigned i = 0; i < p.csrc_count; i++)
        (void)sfu_rtp_csrc(&p, i);
    check_extensions(&p);
    if (size > MAX_PKT)
        return 0;

    /* Write back: identical except padding bytes before the count. */
    int n = sfu_rtp_write(out, sizeof out, &p);
    if (n != (int)size)
        abort();
    if (memcmp(out, data, p.header_len + p.payload_len) != 0 || out[n - 1] != data[size - 1])
        abort();
    if (sfu_rtp_parse(out, (size_t)n, &q) != 0 || q.seq != p.seq || q.ssrc != p.ssrc)
        abort();

    /* In-place rewrites change only their fields. */
    memcpy(copy, data, size);
    sfu_rtp_set_seq(copy, (uint16_t)(p.seq + 1));
    sfu_rtp_set_timestamp(copy, p.timestamp ^ 1);
    sfu_rtp_set_ssrc(copy, ~p.ssrc);
    sfu_rtp_set_pt(copy, (uint8_t)(p.payload_type ^ 1));
    if (sfu_rtp_parse(copy, size, &q) != 0 || q.seq != (uint16_t)(p.seq + 1) ||
        q.timestamp != (p.timestamp ^ 1) || q.ssrc != ~p.ssrc ||
        q.payload_type != (p.payload_type ^ 1) || q.marker != p.marker)
        abort();
    if (memcmp(copy + 12, data + 12, size - 12) != 0)
        abort();
    sfu_rtp_ext e;
    sfu_rtp_ext_iter it;
    if (sfu_rtp_ext_iter_init(&it, &p) == 0 && sfu_rtp_ext_next(&it, &e) == 1) {
        uint8_t val[256];
        memcpy(val, e.data, e.len);
        if (sfu_rtp_ext_overwrite(copy, size, e.id, val, e.len) != 0)
            abort();
        if (memcmp(copy + 12, data + 12, size - 12) != 0)
            abort();
        (void)sfu_rtp_set_twcc_seq(copy, size, e.id, 7);
    }

    /* RTX: build then recover gives the original without padding. */
    int r = sfu_rtx_build(out, sizeof out, data, size, 97, 0x1234, 9);
    if (r != (int)(p.header_len + 2 + p.payload_len))
        abort();
    int m = sfu_rtx_recover(copy, sizeof copy, out, (size_t)r, p.payload_type, p.ssrc);
    if (m != (int)(p.header_len + p.payload_len))
        abort();
    if (copy[0] != (data[0] & ~0x20) || memcmp(copy + 1, data + 1, (size_t)m - 1) != 0)
        abort();
    /* And in place. */
    memcpy(copy, data, size);
    r = sfu_rtx_build(copy, sizeof copy, copy, size, 97, 0x1234, 9);
    if (r < 0 || sfu_rtx_recover(copy, sizeof copy, copy, (size_t)r, p.payload_type, p.ssrc) != m)
        abort();
    if (memcmp(copy + 1, data + 1, (size_t)m - 1) != 0)
        abort();
    return 0;
}
