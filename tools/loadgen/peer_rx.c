/*
 * mlload receive side: per-stream accounting of what a peer receives
 * (RFC 3550 sequence/loss/jitter, one-way delay from the payload trailer,
 * VP8 keyframes and sizes from sampled SRTP decryption, complete frames and
 * freezes) and the feedback a browser would send (SR/RR, transport-wide
 * feedback).
 */
#include <stdlib.h>
#include <string.h>

#include "sfu/clock.h"
#include "sfu/rtp.h"
#include "sfu/vp8.h"
#include "tools/loadgen/peer_internal.h"

void lg__on_rtcp(lg_peer *p, uint8_t *buf, size_t len)
{
    lg_totals *tot = &p->t->tot;
    tot->rtcp_in++;
    if (!p->srtp || sfu_srtp_unprotect_rtcp(p->srtp, buf, &len) != 0)
        return;
    sfu_rtcp_iter it;
    sfu_rtcp_pkt pkt;
    sfu_rtcp_iter_init(&it, buf, len);
    while (sfu_rtcp_next(&it, &pkt) == 1) {
        sfu_rtcp_fb fb;
        if (sfu_rtcp_parse_fb(&pkt, &fb) != 0)
            continue;
        if (fb.pt == SFU_RTCP_PSFB && (fb.fmt == 1 || fb.fmt == 4)) {
            tot->pli_in++;
            p->force_key = 1;
        } else if (fb.pt == SFU_RTCP_RTPFB && fb.fmt == 1) {
            tot->nack_in++;
        }
    }
}

/* The receive stream of a packet: by kind for echo and fan-out (the SFU
 * keeps one SSRC per kind and may switch layers under it), by SSRC for a
 * meeting participant (one per other participant and kind). */
static rx_stream *stream_for(lg_peer *p, uint32_t ssrc, int video, uint64_t now)
{
    if (!LG_SUBSCRIBES_ALL(p))
        return &p->rx[video];
    for (int i = 0; i < p->n_rx; i++)
        if (p->rx[i].ssrc == ssrc && p->rx[i].video == video)
            return &p->rx[i];
    if (p->n_rx >= LG_MAX_RX)
        return NULL;
    rx_stream *s = &p->rx[p->n_rx++];
    memset(s, 0, sizeof *s);
    s->from = -1;
    s->video = video;
    s->last_complete_us = now;
    return s;
}

void lg__on_rtp(lg_peer *p, uint8_t *buf, size_t len)
{
    lg_totals *tot = &p->t->tot;
    uint64_t now = sfu_now_us();
    sfu_rtp_packet rp;
    if (sfu_rtp_parse(buf, len, &rp) != 0)
        return;
    int video = rp.payload_type == p->pt_video;
    if (!video && rp.payload_type != p->pt_audio)
        return; /* RTX or unknown */
    rx_stream *s = stream_for(p, rp.ssrc, video, now);
    if (!s)
        return;
    tot->rx_packets++;
    tot->rx_bytes += len;
    if (video)
        tot->rx_video++;
    else
        tot->rx_audio++;
    p->rx_packets++;
    s->video = video;
    s->clock = video ? 90000 : 48000;
    /* sequence accounting (RFC 3550 A.1, simplified) */
    int lost_gap = 0;
    if (!s->started) {
        s->started = 1;
        s->ssrc = rp.ssrc;
        s->base_seq = rp.seq;
        s->max_seq = rp.seq;
    } else {
        uint16_t delta = (uint16_t)(rp.seq - s->max_seq);
        if (delta == 0) {
            return; /* duplicate */
        } else if (delta < 0x8000) {
            if (rp.seq < s->max_seq)
                s->cycles += 65536;
            if (delta > 1) {
                lost_gap = 1;
                if (video)
                    for (uint16_t k = 1; k < delta && s->n_nack < NACK_MAX && k < 64; k++)
                        s->nack[s->n_nack++] = (uint16_t)(s->max_seq + k);
            }
            s->max_seq = rp.seq;
        } else {
            s->reordered++;
            tot->rx_reordered++;
        }
    }
    s->received++;
    /* jitter */
    int64_t arrival_ts = (int64_t)(now * s->clock / 1000000);
    int64_t transit = arrival_ts - (int64_t)rp.timestamp;
    if (s->have_transit) {
        int64_t d = transit - s->last_transit;
        if (d < 0)
            d = -d;
        if (d < (int64_t)s->clock * 10)
            s->jitter += ((double)d - s->jitter) / 16.0;
    }
    s->last_transit = transit;
    s->have_transit = 1;
    /* extensions: delay and transport-wide seq */
    sfu_rtp_ext e;
    if (p->ext_twcc && sfu_rtp_ext_find(&rp, p->ext_twcc, &e) == 0) {
        uint16_t tseq;
        if (sfu_rtp_ext_twcc_seq(&e, &tseq) == 0 && p->n_twcc < TWCC_MAX) {
            p->twcc[p->n_twcc].seq = tseq;
            p->twcc[p->n_twcc].arrival_us = (int64_t)(now - p->t->run->t0_us);
            p->n_twcc++;
        }
    }
    if (video && lost_gap)
        s->broken = 1;
    /* sampled decryption: every frame start (to see keyframes) + 1 in N
     * drawn at random. Only the random ones give delay samples: a frame's
     * first packet leaves a fan-out earlier than its others (much earlier
     * when a server sends packet by packet), and every Nth packet would
     * hit the same place in frames of a fixed packet count. */
    int frame_start = s->prev_marker || s->received == 1;
    int marker = rp.marker;
    s->prev_marker = marker;
    int sampled = p->t->run->decrypt_every > 0 &&
                  g_rand_int_range(p->t->rng, 0, p->t->run->decrypt_every) == 0;
    int decrypt = (video && frame_start) || sampled;
    if (decrypt && p->srtp) {
        size_t plen = len;
        if (sfu_srtp_unprotect_rtp(p->srtp, buf, &plen) == 0) {
            tot->rx_decrypted++;
            sfu_rtp_packet dp;
            sfu_vp8_desc vd;
            if (sfu_rtp_parse(buf, plen, &dp) == 0 && dp.payload_len > LG_TRAILER) {
                /* one-way delay: the sender's index and send time travel in the
                 * payload's last 12 bytes */
                const uint8_t *q = dp.payload + dp.payload_len - LG_TRAILER;
                uint64_t sent = 0;
                uint32_t from = 0;
                for (int i = 0; i < 4; i++)
                    from = (from << 8) | q[i];
                for (int i = 4; i < LG_TRAILER; i++)
                    sent = (sent << 8) | q[i];
                if (from < 0x7fffffff)
                    s->from = (int)from;
                if (sampled && sent <= now && now - sent < 10000000) { /* monotonic us, any process */
                    lg_hist_add(&tot->delay, now - sent);
                    uint64_t arrived;
                    if (p->ice && sfu_ice_last_rx_time_us(p->ice, &arrived) == 0 &&
                        arrived >= sent && arrived <= now)
                        lg_hist_add(&tot->delay_arrival, arrived - sent);
                }
            }
            if (video && sfu_rtp_parse(buf, plen, &dp) == 0 &&
                sfu_vp8_parse(dp.payload, dp.payload_len, &vd) == 0 && vd.is_keyframe) {
                s->keyframes++;
                s->broken = 0;
                if (vd.has_size) {
                    s->width = vd.width;
                    s->height = vd.height;
                    int ri = vd.height == 180 ? 0 : vd.height == 360 ? 1 : vd.height == 720 ? 2 : 3;
                    tot->res_counts[ri]++;
                }
            }
        } else {
            tot->rx_decrypt_failed++;
        }
    }
    if (video && marker && !s->broken) {
        s->frames++;
        uint64_t gap = now - s->last_complete_us;
        if (s->frames == 1) /* time to first frame: not a freeze */
            lg_hist_add(&tot->first_frame, now - p->t_connected_us);
        else if (gap > 500000) {
            s->freezes++;
            s->freeze_ms += gap / 1000;
        }
        s->last_complete_us = now;
    }
}

uint64_t lg__stream_expected(const rx_stream *s)
{
    if (!s->started)
        return 0;
    return (uint64_t)s->cycles + s->max_seq - s->base_seq + 1;
}

void lg__send_reports(lg_peer *p, uint64_t now)
{
    uint8_t buf[1200];
    sfu_rtcp_rb rbs[LG_MAX_RX];
    unsigned n = 0;
    for (int i = 0; i < p->n_rx; i++) {
        rx_stream *s = &p->rx[i];
        if (!s->started)
            continue;
        uint64_t exp = lg__stream_expected(s);
        uint64_t lost = exp > s->received ? exp - s->received : 0;
        uint64_t exp_int = exp - s->exp_prior, recv_int = s->received - s->recv_prior;
        s->exp_prior = exp;
        s->recv_prior = s->received;
        int64_t lost_int = (int64_t)exp_int - (int64_t)recv_int;
        rbs[n] = (sfu_rtcp_rb){
            .ssrc = s->ssrc,
            .fraction_lost =
                (uint8_t)(exp_int && lost_int > 0 ? ((uint64_t)lost_int << 8) / exp_int : 0),
            .cumulative_lost = (int32_t)(lost > 0x7fffff ? 0x7fffff : lost),
            .highest_seq = s->cycles + s->max_seq,
            .jitter = (uint32_t)s->jitter,
        };
        n++;
    }
    sfu_rtcp_report r = {
        .is_sr = true,
        .ssrc = p->ssrc_video,
        .ntp = sfu_ntp_now(),
        .rtp_ts = p->ts_v,
        .packet_count = (uint32_t)p->t->tot.tx_video,
        .octet_count = 0,
    };
    int len = sfu_rtcp_build_report(buf, sizeof buf, &r, rbs, n);
    if (len > 0) {
        lg__send_rtcp(p, buf, (size_t)len);
        p->t->tot.rr_out++;
    }
}

static int twcc_cmp(const void *a, const void *b)
{
    const sfu_twcc_arrival *x = a, *y = b;
    int16_t d = (int16_t)(x->seq - y->seq);
    return d < 0 ? -1 : d > 0 ? 1 : 0;
}

void lg__send_twcc(lg_peer *p)
{
    if (p->n_twcc == 0)
        return;
    qsort(p->twcc, (size_t)p->n_twcc, sizeof p->twcc[0], twcc_cmp);
    /* drop duplicates */
    int w = 1;
    for (int i = 1; i < p->n_twcc; i++)
        if (p->twcc[i].seq != p->twcc[w - 1].seq)
            p->twcc[w++] = p->twcc[i];
    uint8_t buf[1200];
    int len = sfu_rtcp_build_twcc(buf, sizeof buf, p->ssrc_video, p->rx[1].ssrc, p->twcc_fb_count++,
                                  p->twcc, (size_t)w);
    if (len > 0) {
        lg__send_rtcp(p, buf, (size_t)len);
        p->t->tot.twcc_out++;
    }
    p->n_twcc = 0;
}

void lg__rx_feedback(lg_peer *p, uint64_t now)
{
    lg_run *run = p->t->run;
    for (int i = 0; i < p->n_rx; i++) {
        rx_stream *v = &p->rx[i];
        if (!v->video)
            continue;
        if (v->n_nack > 0) {
            uint8_t buf[512];
            int len = sfu_rtcp_build_nack(buf, sizeof buf, p->ssrc_video, v->ssrc, v->nack,
                                          (size_t)v->n_nack);
            if (len > 0) {
                lg__send_rtcp(p, buf, (size_t)len);
                p->t->tot.nack_out++;
            }
            v->n_nack = 0;
        }
        if (run->video && v->started && !run->stop_sending && now - v->last_complete_us > 500000 &&
            now - v->last_pli_us > 1000000) {
            uint8_t buf[64];
            int len = sfu_rtcp_build_pli(buf, sizeof buf, p->ssrc_video, v->ssrc);
            if (len > 0) {
                lg__send_rtcp(p, buf, (size_t)len);
                p->t->tot.pli_out++;
            }
            v->last_pli_us = now;
        }
    }
}
