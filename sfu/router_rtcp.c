/*
 * RTCP reports of a room (RFC 3550 section 6.4): what keeps the browsers'
 * statistics, lip sync and round-trip times right when an SFU sits in the
 * middle.
 *
 *  - Every stream the SFU sends to a viewer (one per consumer) gets a
 *    sender report about once a second: packet/octet counts as sent and an
 *    NTP/RTP mapping. The RTP side is anchored on the publisher's own
 *    sender report for the layer being forwarded (its RTP time shifted by
 *    the consumer's timestamp offset, at the report's arrival), so audio
 *    and video of one publisher keep their relative timing for the
 *    viewer's lip sync; before the publisher's first report it is
 *    extrapolated from the last packet sent (sfu/rtcp_sender.h).
 *  - Every publisher gets receiver reports for each layer it sends us:
 *    loss (fraction and cumulative), extended highest sequence, jitter, and
 *    LSR/DLSR from its last sender report, so its browser measures the
 *    round trip (remote-inbound-rtp roundTripTime).
 *  - Report blocks a viewer sends about our streams give the round trip to
 *    that viewer; a publisher that receives nothing from us answers the
 *    RRTR block (RFC 3611) appended to our receiver reports with DLRR,
 *    which gives the round trip to it. The smoothed value spaces NACK
 *    retries (sfu/nack.h) of what the peer publishes and RTX resends
 *    (sfu/rtx_buffer.h) of what it receives.
 *
 * Worker thread only, no allocation.
 */
#include "sfu/router_internal.h"

#include "sfu/clock.h"
#include "sfu/peer_room.h"
#include "sfu/rtcp_xr.h"

#include <stdio.h>
#include <string.h>

#define REPORT_MIN_US 500000u /* reports every 0.5..1.5 s (RFC 3550 6.3.1 randomisation) */
#define REPORT_SPAN_US 1000000u
#define SR_REF_MAX_AGE_US 10000000u /* older publisher reports are not extrapolated from */

static uint32_t layer_ssrc(const sfu_peer_track *t, int l)
{
    return t->n_layers > 1 ? t->layer_ssrc[l] : t->remote_ssrc;
}

/* The publisher's SR of the layer a consumer forwards, as an anchor for
 * the consumer's own sender reports. */
static void anchor(sfu_router *r, sfu_peer_track *c, uint64_t now)
{
    sfu_peer_track *src = sfu__router_find_track(r, c->src_peer, c->src_mid, NULL);
    int l = c->cons.current;
    if (!src || l < 0 || l >= SFU_CONSUMER_MAX_LAYERS || !src->sr_us[l] ||
        now - src->sr_us[l] > SR_REF_MAX_AGE_US) {
        sfu_rtcp_sender_clear_reference(&c->sr);
        return;
    }
    sfu_rtcp_sender_set_reference(&c->sr, src->sr_rtp[l] + c->cons.ts_delta, src->sr_us[l]);
}

static void send_srs(sfu_router *r, sfu_peer *p, uint64_t now, uint64_t ntp)
{
    char cname[48];
    snprintf(cname, sizeof cname, "mentorlink-%llu", (unsigned long long)p->id);
    for (int i = 0; i < p->n_tracks; i++) {
        sfu_peer_track *c = &p->tracks[i];
        if (c->role != SFU_TRACK_CONSUME || !c->local_ssrc || !c->sr.sent_any)
            continue;
        anchor(r, c, now);
        uint8_t buf[256 + SFU_SRTP_MAX_OVERHEAD] __attribute__((aligned(8)));
        int n = sfu_rtcp_sender_build(&c->sr, now, ntp, cname, NULL, 0, buf, 256);
        if (n > 0 && sfu__peer_send_rtcp(p, buf, (size_t)n, sizeof buf) == 0)
            p->st.sr_out++;
    }
}

static void send_rr(sfu_peer *p, uint64_t now)
{
    sfu_rtcp_rb rbs[SFU_RTCP_MAX_REPORT_BLOCKS];
    unsigned n = 0;
    uint32_t from = 0;
    for (int i = 0; i < p->n_tracks; i++) {
        sfu_peer_track *t = &p->tracks[i];
        if (t->role != SFU_TRACK_PRODUCE || !t->echo)
            continue;
        if (!from)
            from = t->local_ssrc;
        int nl = t->n_layers > 1 ? t->n_layers : 1;
        for (int l = 0; l < nl && n < SFU_RTCP_MAX_REPORT_BLOCKS; l++)
            if (t->rr[l].started && sfu_rtcp_receiver_report_block(&t->rr[l], now, &rbs[n]) == 0)
                n++;
    }
    if (!n)
        return;
    sfu_rtcp_report rep;
    memset(&rep, 0, sizeof rep);
    rep.ssrc = from ? from : 1;
    uint8_t buf[1024 + SFU_SRTP_MAX_OVERHEAD] __attribute__((aligned(8)));
    int len = sfu_rtcp_build_report(buf, 1024, &rep, rbs, n);
    char cname[48];
    snprintf(cname, sizeof cname, "mentorlink-%llu", (unsigned long long)p->id);
    if (len > 0) {
        int l2 = sfu_rtcp_build_sdes_cname(buf + len, 1024 - (size_t)len, rep.ssrc, cname);
        if (l2 > 0)
            len += l2;
        /* RRTR: the publisher answers with DLRR, our RTT to it */
        l2 = sfu_rtcp_build_xr_rrtr(buf + len, 1024 - (size_t)len, rep.ssrc, sfu_ntp_now());
        if (l2 > 0)
            len += l2;
        p->rr_ssrc = rep.ssrc;
    }
    if (len > 0 && sfu__peer_send_rtcp(p, buf, (size_t)len, sizeof buf) == 0)
        p->st.rr_out++;
}

void sfu__router_reports(sfu_router *r, sfu_peer *p, uint64_t now)
{
    if (!p->srtp || now < p->next_report_us)
        return;
    p->next_report_us = now + REPORT_MIN_US + g_random_int_range(0, REPORT_SPAN_US);
    uint64_t ntp = sfu_ntp_now();
    send_srs(r, p, now, ntp);
    send_rr(p, now);
}

void sfu__router_on_sent(sfu_peer_track *c, uint32_t ts, size_t payload_len, uint64_t now)
{
    if (c->sr.ssrc != c->local_ssrc || c->sr.clock_rate != c->cons.clock_rate)
        sfu_rtcp_sender_init(&c->sr, c->local_ssrc, c->cons.clock_rate);
    sfu_rtcp_sender_on_packet(&c->sr, ts, payload_len, now);
}

void sfu__router_on_received(sfu_peer_track *t, int layer, const sfu_rtp_packet *rp, uint64_t now)
{
    if (layer < 0 || layer >= SFU_CONSUMER_MAX_LAYERS)
        return;
    sfu_rtcp_receiver *rr = &t->rr[layer];
    if (rr->ssrc != rp->ssrc || !rr->clock_rate) {
        sfu_rtcp_receiver_init(rr, rp->ssrc, t->clock_rate ? t->clock_rate : 90000);
        t->sr_us[layer] = 0;
    }
    sfu_rtcp_receiver_on_packet(rr, rp->seq, rp->timestamp, now);
}

/* A new RTT sample for peer p: smooth it and hand it to the loss repair
 * of everything p sends and receives. */
static void on_rtt(sfu_peer *p, uint64_t rtt)
{
    if (rtt > 10000000u)
        return; /* a bogus block (or a clock jump) */
    p->rtt_us = p->rtt_us ? (p->rtt_us * 7 + rtt) / 8 : rtt;
    p->st.rtt_us = p->rtt_us;
    for (int i = 0; i < p->n_tracks; i++) {
        sfu_peer_track *t = &p->tracks[i];
        if (t->role == SFU_TRACK_CONSUME && t->rtxbuf) {
            sfu_rtx_buffer_set_rtt(t->rtxbuf, p->rtt_us);
            sfu__router_rtx_viewer_rtt(t, p->rtt_us);
        }
        for (int l = 0; l < SFU_CONSUMER_MAX_LAYERS && t->role == SFU_TRACK_PRODUCE; l++)
            if (t->nack[l])
                sfu_nack_set_rtt(t->nack[l], p->rtt_us);
    }
}

void sfu__router_on_report(sfu_router *r, sfu_peer *p, const sfu_rtcp_pkt *pkt)
{
    (void)r;
    sfu_rtcp_report rep;
    if (sfu_rtcp_parse_report(pkt, &rep) != 0)
        return;
    uint64_t now = sfu_now_us();
    if (rep.is_sr) {
        for (int i = 0; i < p->n_tracks; i++) {
            sfu_peer_track *t = &p->tracks[i];
            if (t->role != SFU_TRACK_PRODUCE)
                continue;
            int nl = t->n_layers > 1 ? t->n_layers : 1;
            for (int l = 0; l < nl; l++)
                if (layer_ssrc(t, l) == rep.ssrc && t->rr[l].ssrc == rep.ssrc) {
                    sfu_rtcp_receiver_on_sr(&t->rr[l], rep.ntp, now);
                    t->sr_rtp[l] = rep.rtp_ts;
                    t->sr_us[l] = now ? now : 1;
                }
        }
    }
    uint64_t ntp = sfu_ntp_now();
    for (unsigned b = 0; b < rep.rb_count; b++) {
        sfu_rtcp_rb rb;
        if (sfu_rtcp_report_block(&rep, b, &rb) != 0)
            continue;
        for (int i = 0; i < p->n_tracks; i++) {
            sfu_peer_track *c = &p->tracks[i];
            uint64_t rtt;
            if (c->role != SFU_TRACK_CONSUME || !c->local_ssrc || c->local_ssrc != rb.ssrc ||
                c->sr.ssrc != rb.ssrc)
                continue;
            if (sfu_rtcp_sender_on_report_block(&c->sr, &rb, ntp, &rtt) == 0)
                on_rtt(p, rtt);
            if (rb.highest_seq != c->rr_highest) {
                c->rr_highest = rb.highest_seq;
                sfu__peer_room_feedback(p); /* it receives what we send */
            }
        }
    }
}

void sfu__router_on_xr(sfu_router *r, sfu_peer *p, const sfu_rtcp_pkt *pkt)
{
    (void)r;
    uint32_t lrr, dlrr;
    if (!p->rr_ssrc || sfu_rtcp_xr_find_dlrr(pkt, p->rr_ssrc, &lrr, &dlrr) != 1)
        return;
    int64_t rtt = sfu_rtcp_rtt_us(lrr, dlrr, sfu_ntp_now());
    if (rtt >= 0)
        on_rtt(p, (uint64_t)rtt);
}
