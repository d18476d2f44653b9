/*
 * Fuzz target for sfu/rtcp.c, sfu/rtcp_twcc.c and sfu/rtcp_xr.c: the compound iterator,
 * every typed view, and build -> parse round trips for reports, NACK,
 * REMB and TWCC feedback built from whatever was parsed.
 */
#include "sfu/rtcp.h"
#include "sfu/rtcp_xr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[1 << 18];
static sfu_twcc_arrival arrivals[65536];
static sfu_twcc_packet first[65536];

static void check_report(const sfu_rtcp_pkt *pkt)
{
    sfu_rtcp_report r, r2;
    sfu_rtcp_rb rbs[SFU_RTCP_MAX_REPORT_BLOCKS], rb;
    if (sfu_rtcp_parse_report(pkt, &r) != 0)
        return;
    for (unsigned i = 0; i < r.rb_count; i++)
        if (sfu_rtcp_report_block(&r, i, &rbs[i]) != 0)
            abort();
    int n = sfu_rtcp_build_report(out, sizeof out, &r, rbs, r.rb_count);
    if (n < 0)
        abort();
    sfu_rtcp_iter it;
    sfu_rtcp_pkt p2;
    sfu_rtcp_iter_init(&it, out, (size_t)n);
    if (sfu_rtcp_next(&it, &p2) != 1 || sfu_rtcp_parse_report(&p2, &r2) != 0)
        abort();
    if (r2.is_sr != r.is_sr || r2.ssrc != r.ssrc || r2.ntp != r.ntp || r2.rtp_ts != r.rtp_ts ||
        r2.rb_count != r.rb_count)
        abort();
    for (unsigned i = 0; i < r.rb_count; i++)
        if (sfu_rtcp_report_block(&r2, i, &rb) != 0 || rb.ssrc != rbs[i].ssrc ||
            rb.fraction_lost != rbs[i].fraction_lost ||
            rb.cumulative_lost != rbs[i].cumulative_lost || rb.highest_seq != rbs[i].highest_seq ||
            rb.jitter != rbs[i].jitter || rb.lsr != rbs[i].lsr || rb.dlsr != rbs[i].dlsr)
            abort();
}

static void check_nack(const sfu_rtcp_fb *fb)
{
    static uint16_t seqs[17 * 16384], again[17 * 16384];
    int n = sfu_rtcp_nack_expand(fb, seqs, sizeof seqs / sizeof seqs[0]);
    if (n <= 0 || n > 200)
        return;
    int len =
        sfu_rtcp_build_nack(out, sizeof out, fb->sender_ssrc, fb->media_ssrc, seqs, (size_t)n);
    if (len < 0)
        abort();
    sfu_rtcp_iter it;
    sfu_rtcp_pkt p2;
    sfu_rtcp_fb fb2;
    sfu_rtcp_iter_init(&it, out, (size_t)len);
    if (sfu_rtcp_next(&it, &p2) != 1 || sfu_rtcp_parse_fb(&p2, &fb2) != 0)
        abort();
    int m = sfu_rtcp_nack_expand(&fb2, again, sizeof again / sizeof again[0]);
    if (m <= 0 || m > n)
        abort();
    /* Same set of sequence numbers. */
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (int j = 0; j < m && !found; j++)
            found = seqs[i] == again[j];
        if (!found)
            abort();
    }
}

static void check_remb(const sfu_rtcp_fb *fb)
{
    sfu_rtcp_remb remb, r2;
    uint32_t ssrcs[255];
    if (sfu_rtcp_parse_remb(fb, &remb) != 0)
        return;
    for (unsigned i = 0; i < remb.ssrc_count; i++)
        ssrcs[i] = sfu_rtcp_remb_ssrc(&remb, i);
    int n =
        sfu_rtcp_build_remb(out, sizeof out, fb->sender_ssrc, remb.bitrate, ssrcs, remb.ssrc_count);
    if (n < 0)
        abort();
    sfu_rtcp_iter it;
    sfu_rtcp_pkt p2;
    sfu_rtcp_fb fb2;
    sfu_rtcp_iter_init(&it, out, (size_t)n);
    if (sfu_rtcp_next(&it, &p2) != 1 || sfu_rtcp_parse_fb(&p2, &fb2) != 0 ||
        sfu_rtcp_parse_remb(&fb2, &r2) != 0 || r2.ssrc_count != remb.ssrc_count)
        abort();
    if (remb.bitrate != UINT64_MAX && r2.bitrate != remb.bitrate)
        abort();
}

static void check_twcc(const sfu_rtcp_fb *fb)
{
    sfu_twcc_iter it, hdr;
    sfu_twcc_packet p;
    if (sfu_twcc_iter_init(&it, fb) != 0)
        return;
    hdr = it;
    size_t n = 0;
    while (sfu_twcc_next(&it, &p) == 1) {
        if (n >= hdr.status_count || p.seq != (uint16_t)(hdr.base_seq + n))
            abort();
        first[n++] = p;
    }
    if (n != hdr.status_count || n == 0)
        return;
    /* Rebuild from what was read, shifted so every arrival is >= 0 and keeps its
     * 250 us alignment, then compare arrivals relative to the first received. */
    const int64_t shift = ((int64_t)1 << 40) * SFU_TWCC_REF_US;
    for (size_t i = 0; i < n; i++) {
        arrivals[i].seq = first[i].seq;
        arrivals[i].arrival_us = first[i].received ? first[i].arrival_us + shift : SFU_TWCC_LOST;
    }
    int len = sfu_rtcp_build_twcc(out, sizeof out, fb->sender_ssrc, fb->media_ssrc, hdr.fb_count,
                                  arrivals, n);
    if (len < 0)
        abort();
    sfu_rtcp_iter ci;
    sfu_rtcp_pkt p2;
    sfu_rtcp_fb fb2;
    sfu_rtcp_iter_init(&ci, out, (size_t)len);
    if (sfu_rtcp_next(&ci, &p2) != 1 || sfu_rtcp_parse_fb(&p2, &fb2) != 0 ||
        sfu_twcc_iter_init(&it, &fb2) != 0 || it.status_count != hdr.status_count ||
        it.base_seq != hdr.base_seq)
        abort();
    bool have_base = false;
    int64_t base_a = 0, base_b = 0;
    for (size_t i = 0; i < n; i++) {
        if (sfu_twcc_next(&it, &p) != 1 || p.received != first[i].received)
            abort();
        if (!p.received)
            continue;
        if (!have_base) {
            base_a = first[i].arrival_us;
            base_b = p.arrival_us;
            have_base = true;
        } else if (first[i].arrival_us - base_a != p.arrival_us - base_b) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sfu_rtcp_iter it;
    sfu_rtcp_pkt pkt;
    int rc, count = 0;
    (void)sfu_rtcp_validate(data, size);
    sfu_rtcp_iter_init(&it, data, size);
    while ((rc = sfu_rtcp_next(&it, &pkt)) == 1) {
        count++;
        if (pkt.data < data || pkt.data + pkt.len > data + size || pkt.body_len + 4 > pkt.len)
            abort();
        check_report(&pkt);

        /* XR (rtcp_xr.c): a DLRR lookup for an SSRC taken from the input */
        uint32_t lrr, dlrr;
        if (pkt.pt == SFU_RTCP_XR && pkt.body_len >= 8 &&
            sfu_rtcp_xr_find_dlrr(&pkt, (uint32_t)pkt.body[4] << 24 | pkt.body[7], &lrr, &dlrr) > 1)
            abort();

        sfu_rtcp_sdes_iter si;
        sfu_rtcp_sdes_item item;
        if (sfu_rtcp_sdes_iter_init(&si, &pkt) == 0) {
            while (sfu_rtcp_sdes_next(&si, &item) == 1)
                if (item.text + item.len > pkt.body + pkt.body_len)
                    abort();
            char cname[256];
            uint32_t ssrc;
            (void)sfu_rtcp_sdes_cname(&pkt, &ssrc, cname, sizeof cname);
        }

        sfu_rtcp_bye bye;
        if (sfu_rtcp_parse_bye(&pkt, &bye) == 0)
            for (unsigned i = 0; i < bye.ssrc_count; i++)
                (void)sfu_rtcp_bye_ssrc(&bye, i);

        sfu_rtcp_fb fb;
        if (sfu_rtcp_parse_fb(&pkt, &fb) == 0) {
            check_nack(&fb);
            check_remb(&fb);
            check_twcc(&fb);
            int firs = sfu_rtcp_fir_count(&fb);
            for (int i = 0; i < firs; i++) {
                uint32_t ssrc;
                uint8_t seq;
                if (sfu_rtcp_fir_entry(&fb, (unsigned)i, &ssrc, &seq) != 0)
                    abort();
            }
        }
    }
    if (rc == 0 && sfu_rtcp_validate(data, size) != count && size != 0)
        abort();
    return 0;
}
