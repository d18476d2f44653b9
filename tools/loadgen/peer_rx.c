/*
 * mlload receive side: per-stream accounting of what a peer receives
 * (RFC 3550 sequence/loss/jitter, one-way delay from the payload trailer,
 * VP8 keyframes and sizes from sampled SRTP decryption, frames as a decoder
 * would show them and freezes, resends on the RTX stream) and the feedback
 * a browser would send (SR/RR, transport-wide feedback, NACK and PLI).
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
static rx_stream *find_stream(lg_peer *p, uint32_t ssrc, int video)
{
    if (!LG_SUBSCRIBES_ALL(p))
        return &p->rx[video];
    for (int i = 0; i < p->n_rx; i++)
        if (p->rx[i].ssrc == ssrc && p->rx[i].video == video)
            return &p->rx[i];
    return NULL;
}

/* find_stream, or a new one for a meeting participant's new SSRC. */
static rx_stream *stream_for(lg_peer *p, uint32_t ssrc, int video, uint64_t now)
{
    rx_stream *found = find_stream(p, ssrc, video);
    if (found)
        return found;
    if (p->n_rx >= LG_MAX_RX)
        return NULL;
    rx_stream *s = &p->rx[p->n_rx++];
    memset(s, 0, sizeof *s);
    s->from = -1;
    s->video = video;
    s->last_complete_us = now;
    return s;
}

/* ---- frame assembly (video) ---- */

static uint32_t *slot(rx_stream *s, uint32_t ext)
{
    return &s->ring[ext & (RX_RING - 1)];
}

/* Flags held for ext, 0 when the slot holds another packet or none. */
static uint32_t slot_flags(rx_stream *s, uint32_t ext)
{
    uint32_t v = *slot(s, ext);
    return (v >> 3) == (ext & 0x1fffffffu) ? (v & 7u) : 0;
}

/* The frame starting at k has all its packets, up to its marker. */
static int frame_complete(rx_stream *s, uint32_t k, uint32_t ext_max)
{
    for (uint32_t x = k; (int32_t)(ext_max - x) >= 0; x++) {
        uint32_t fl = slot_flags(s, x);
        if (!(fl & RX_GOT))
            return 0;
        if (fl & RX_MARKER)
            return 1;
    }
    return 0;
}

/* Show every frame that is complete now, in order, from s->scan on; when
 * stuck (a hole not repaired yet, or no keyframe yet), go on from a
 * complete keyframe after it, as a decoder would. */
static void assemble(lg_peer *p, rx_stream *s, uint32_t ext_max, uint64_t now)
{
    for (;;) {
        for (; !s->need_key && (int32_t)(ext_max - s->scan) >= 0; s->scan++) {
            uint32_t fl = slot_flags(s, s->scan);
            if (!(fl & RX_GOT))
                break; /* a hole: wait for its resend, or a keyframe after it */
            if (!(fl & RX_MARKER))
                continue;
            s->frames++;
            if (s->frames == 1) /* time to first frame: not a freeze */
                lg_hist_add(&p->t->tot.first_frame, now - p->t_connected_us);
            else if (now - s->last_complete_us > 500000) {
                s->freezes++;
                s->freeze_ms += (now - s->last_complete_us) / 1000;
            }
            s->last_complete_us = now;
        }
        int32_t ahead = (int32_t)(s->key - s->scan);
        if (!s->have_key || ahead < 0 || (ahead == 0 && !s->need_key) ||
            (int32_t)(ext_max - s->scan) < 0)
            return; /* nothing to skip to, or nothing missing */
        if (!(slot_flags(s, s->key) & RX_KEY) || !frame_complete(s, s->key, ext_max))
            return;
        s->need_key = 0;
        s->have_key = 0;
        s->scan = s->key;
        for (int i = 0; i < s->n_miss; i++) /* the decoder no longer needs them */
            if ((int32_t)(s->miss[i].ext - s->scan) < 0)
                s->miss[i--] = s->miss[--s->n_miss];
    }
}

/* A keyframe starts at ext (its slot has RX_KEY): the newest one past the
 * assembly's position is where a stuck decoder can go on from. */
static void keyframe_at(rx_stream *s, uint32_t ext)
{
    if ((int32_t)(ext - s->scan) < 0)
        return;
    if (!s->have_key || (int32_t)(ext - s->key) > 0) {
        s->key = ext;
        s->have_key = 1;
    }
}

static void on_media(lg_peer *p, uint8_t *buf, size_t len, int plain);

static uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int known_ssrc(const lg_peer *p, uint32_t ssrc)
{
    for (int i = 0; i < p->n_remote_ssrc; i++)
        if (p->remote_ssrc[i] == ssrc)
            return 1;
    int n = p->n_rx > 2 ? p->n_rx : 2; /* echo and fan-out use rx[0], rx[1] */
    for (int i = 0; i < n; i++)
        if (p->rx[i].started && p->rx[i].ssrc == ssrc)
            return 1;
    for (int i = 0; i < p->n_rtx_map; i++)
        if (p->rtx_map[i].rtx == ssrc || p->rtx_map[i].media == ssrc)
            return 1;
    return 0;
}

/* Does a packet of the same send start at b? RTP: version 2 and a payload
 * type negotiated for receiving; RTCP: version 2 and a packet type
 * 200..206. Either way from the first packet's SSRC or a known one (a
 * send may mix classes and streams of one length: the audio and the
 * video stream's sender reports, say). */
static int header_at(const lg_peer *p, const uint8_t *b, size_t left, uint32_t first)
{
    if (left < 12 || (b[0] & 0xc0) != 0x80)
        return 0;
    uint32_t ssrc;
    if (b[1] >= 200 && b[1] <= 206) {
        ssrc = rd32(b + 4);
    } else {
        uint8_t pt = b[1] & 0x7f;
        if (pt != p->pt_audio && pt != p->pt_video && (p->pt_rtx < 0 || pt != (uint8_t)p->pt_rtx))
            return 0;
        ssrc = rd32(b + 8);
    }
    return ssrc == first || known_ssrc(p, ssrc);
}

size_t lg__segment_len(const lg_peer *p, const uint8_t *buf, size_t len, int *failed)
{
    enum { TAG_MIN = 10 }; /* the shortest SRTP/SRTCP tag (80 bits) */
    *failed = 0;
    if (len < 12 || (buf[0] & 0xc0) != 0x80)
        return len;
    /* the first packet's clear part and a tag come before any boundary */
    size_t s, min;
    uint32_t first;
    if (buf[1] >= 192 && buf[1] <= 223) {
        first = rd32(buf + 4);
        min = 4 * ((size_t)(buf[2] << 8 | buf[3]) + 1) + 4 + TAG_MIN; /* + E|index */
    } else {
        first = rd32(buf + 8);
        min = 12 + 4 * (size_t)(buf[0] & 0x0f);
        if ((buf[0] & 0x10) && min + 4 <= len)
            min += 4 + 4 * (size_t)(buf[min + 2] << 8 | buf[min + 3]);
        min += TAG_MIN;
    }
    for (s = min; s + 12 <= len; s++)
        if (header_at(p, buf + s, len - s, first))
            break;
    if (s + 12 > len)
        return len; /* one packet */
    /* every later boundary holds a header too; the rest, the last
     * packet, is no longer than the others */
    size_t k = s;
    while (len - k > s && header_at(p, buf + k + s, len - k - s, first))
        k += s;
    if (len - k > s) {
        *failed = 1;
        return len;
    }
    return s;
}

void lg__rx_note_ssrcs(lg_peer *p, const sfu_sdp_media *m)
{
    for (int i = 0; i < m->ssrc_count && p->n_remote_ssrc < LG_MAX_REMOTE_SSRC; i++) {
        int k = 0;
        while (k < p->n_remote_ssrc && p->remote_ssrc[k] != m->ssrcs[i].ssrc)
            k++;
        if (k == p->n_remote_ssrc)
            p->remote_ssrc[p->n_remote_ssrc++] = m->ssrcs[i].ssrc;
    }
    if (m->kind != SFU_SDP_KIND_VIDEO)
        return;
    for (int g = 0; g < m->ssrc_group_count; g++) {
        const sfu_sdp_ssrc_group *fg = &m->ssrc_groups[g];
        if (strcmp(fg->semantics, "FID") != 0 || fg->count != 2)
            continue;
        int i = 0;
        while (i < p->n_rtx_map && p->rtx_map[i].rtx != fg->ssrcs[1])
            i++;
        if (i == LG_MAX_RX)
            return;
        p->rtx_map[i].rtx = fg->ssrcs[1];
        p->rtx_map[i].media = fg->ssrcs[0];
        if (i == p->n_rtx_map)
            p->n_rtx_map++;
    }
}

/* A resend on the RTX stream (RFC 4588): decrypted, then handed on as the
 * original packet (sequence number from the OSN, the video's payload type
 * and SSRC). Fan-out and echo receive one video stream; a meeting's RTX
 * SSRCs are mapped to their media by the FID groups of the server's SDP,
 * and a resend on an unannounced one is dropped. */
static void on_rtx(lg_peer *p, uint8_t *buf, size_t len, uint32_t rtx_ssrc)
{
    uint32_t media = p->rx[1].ssrc;
    if (LG_SUBSCRIBES_ALL(p)) {
        int i = 0;
        while (i < p->n_rtx_map && p->rtx_map[i].rtx != rtx_ssrc)
            i++;
        if (i == p->n_rtx_map)
            return;
        media = p->rtx_map[i].media;
    }
    const rx_stream *s = find_stream(p, media, 1);
    if (!s || !s->started || !p->srtp)
        return; /* its stream has not started: nothing to repair */
    size_t plen = len;
    if (sfu_srtp_unprotect_rtp(p->srtp, buf, &plen) != 0) {
        p->t->tot.rx_decrypt_failed++;
        return;
    }
    p->t->tot.rx_decrypted++;
    int n = sfu_rtx_recover(buf, plen, buf, plen, p->pt_video, media);
    if (n < 0)
        return;
    p->t->tot.rx_rtx++;
    on_media(p, buf, (size_t)n, 1);
}

void lg__on_rtp(lg_peer *p, uint8_t *buf, size_t len)
{
    sfu_rtp_packet rp;
    if (sfu_rtp_parse(buf, len, &rp) != 0)
        return;
    if (p->pt_rtx >= 0 && rp.payload_type == (uint8_t)p->pt_rtx)
        on_rtx(p, buf, len, rp.ssrc);
    else
        on_media(p, buf, len, 0);
}

/* A media packet, SRTP-protected (decrypted when sampled) or, from
 * on_rtx, already plain. */
static void on_media(lg_peer *p, uint8_t *buf, size_t len, int plain)
{
    lg_totals *tot = &p->t->tot;
    uint64_t now = sfu_now_us();
    sfu_rtp_packet rp;
    if (sfu_rtp_parse(buf, len, &rp) != 0)
        return;
    int video = rp.payload_type == p->pt_video;
    if (!video && rp.payload_type != p->pt_audio)
        return; /* unknown */
    rx_stream *s = stream_for(p, rp.ssrc, video, now);
    if (!s)
        return;
    /* transport-wide seq: every arrival, copies too (what the network did) */
    sfu_rtp_ext e;
    if (p->ext_twcc && sfu_rtp_ext_find(&rp, p->ext_twcc, &e) == 0) {
        uint16_t tseq;
        if (sfu_rtp_ext_twcc_seq(&e, &tseq) == 0 && p->n_twcc < TWCC_MAX) {
            p->twcc[p->n_twcc].seq = tseq;
            p->twcc[p->n_twcc].arrival_us = (int64_t)(now - p->t->run->t0_us);
            p->n_twcc++;
        }
    }
    s->video = video;
    s->clock = video ? 90000 : 48000;
    /* sequence accounting (RFC 3550 A.1, simplified); ext: the extended
     * sequence number of this packet */
    uint32_t ext;
    int late = 0;
    if (!s->started) {
        s->started = 1;
        s->ssrc = rp.ssrc;
        s->base_seq = rp.seq;
        s->max_seq = rp.seq;
        ext = rp.seq;
        if (video) {
            if (!s->ring)
                s->ring = calloc(RX_RING, sizeof *s->ring); /* NULL: counted, not assembled */
            s->scan = ext;
            s->need_key = 1;
        }
    } else {
        uint32_t ext_max = s->cycles + s->max_seq;
        uint16_t delta = (uint16_t)(rp.seq - s->max_seq);
        if (delta == 0) {
            s->duplicates++;
            tot->rx_duplicates++;
            return;
        } else if (delta < 0x8000) {
            if (rp.seq < s->max_seq)
                s->cycles += 65536;
            for (uint32_t k = 1; s->ring && k < delta && s->n_miss < NACK_MAX && k < 64; k++) {
                s->miss[s->n_miss].ext = ext_max + k;
                s->miss[s->n_miss].tries = 0;
                s->miss[s->n_miss++].last_us = 0;
            }
            s->max_seq = rp.seq;
            ext = ext_max + delta;
        } else {
            ext = ext_max - (uint16_t)(s->max_seq - rp.seq);
            if (s->ring && ext_max - ext >= RX_RING - 64)
                return; /* older than the assembly keeps: no telling a copy from a late one */
            if (s->ring && (slot_flags(s, ext) & RX_GOT)) {
                s->duplicates++; /* a resend of what came after all */
                tot->rx_duplicates++;
                return;
            }
            late = 1;
            s->reordered++;
            tot->rx_reordered++;
            for (int i = 0; i < s->n_miss; i++)
                if (s->miss[i].ext == ext) {
                    if (s->miss[i].tries > 0) { /* NACKed: not plain reordering */
                        s->repaired++;
                        tot->rx_repaired++;
                    }
                    s->miss[i] = s->miss[--s->n_miss];
                    break;
                }
        }
    }
    s->received++;
    tot->rx_packets++;
    tot->rx_bytes += len;
    if (video)
        tot->rx_video++;
    else
        tot->rx_audio++;
    p->rx_packets++;
    /* jitter: packets in order only (a resend's transit includes the
     * repair; libwebrtc leaves retransmissions out too) */
    int64_t arrival_ts = (int64_t)(now * s->clock / 1000000);
    int64_t transit = arrival_ts - (int64_t)rp.timestamp;
    if (s->have_transit && !late) {
        int64_t d = transit - s->last_transit;
        if (d < 0)
            d = -d;
        if (d < (int64_t)s->clock * 10)
            s->jitter += ((double)d - s->jitter) / 16.0;
    }
    if (!late) {
        s->last_transit = transit;
        s->have_transit = 1;
    }
    /* sampled decryption: every frame start (to see keyframes) + 1 in N
     * drawn at random. Only the random ones give delay samples: a frame's
     * first packet leaves a fan-out earlier than its others (much earlier
     * when a server sends packet by packet), and every Nth packet would
     * hit the same place in frames of a fixed packet count. */
    int frame_start = s->received == 1 || rp.timestamp != s->prev_ts; /* (even after a loss) */
    if (!late)
        s->prev_ts = rp.timestamp;
    int keystart = 0;
    int sampled = p->t->run->decrypt_every > 0 &&
                  g_rand_int_range(p->t->rng, 0, p->t->run->decrypt_every) == 0;
    int decrypt = (video && (frame_start || late)) || sampled;
    if (plain || (decrypt && p->srtp)) {
        size_t plen = len;
        if (plain || sfu_srtp_unprotect_rtp(p->srtp, buf, &plen) == 0) {
            tot->rx_decrypted += !plain;
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
                if (sampled && !plain && sent <= now && now - sent < 10000000) { /* monotonic us, any process */
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
                keystart = 1;
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
    if (video && s->ring) {
        *slot(s, ext) = (ext & 0x1fffffffu) << 3 | RX_GOT | (rp.marker ? RX_MARKER : 0) |
                        (keystart ? RX_KEY : 0);
        if (keystart)
            keyframe_at(s, ext);
        assemble(p, s, s->cycles + s->max_seq, now);
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
        /* a meeting stream with RTX negotiated but no RTX SSRC announced
         * for it: its resends are dropped (on_rtx), asking again would
         * only waste them (without RTX they come on its own SSRC) */
        int tries = LG_NACK_TRIES;
        if (LG_SUBSCRIBES_ALL(p) && p->pt_rtx >= 0) {
            int k = 0;
            while (k < p->n_rtx_map && p->rtx_map[k].media != v->ssrc)
                k++;
            if (k == p->n_rtx_map)
                tries = 1;
        }
        uint16_t seqs[NACK_MAX];
        size_t n = 0;
        for (int k = 0; k < v->n_miss; k++) {
            if (v->miss[k].tries >= tries && now - v->miss[k].last_us >= LG_NACK_RETRY_US) {
                v->miss[k--] = v->miss[--v->n_miss]; /* given up (a keyframe's skip: assemble) */
                continue;
            }
            if (v->miss[k].tries == 0 ||
                (v->miss[k].tries < tries && now - v->miss[k].last_us >= LG_NACK_RETRY_US)) {
                seqs[n++] = (uint16_t)v->miss[k].ext;
                v->miss[k].tries++;
                v->miss[k].last_us = now;
            }
        }
        for (size_t a = 1; a < n; a++) /* in order: fewer NACK items */
            for (size_t b = a; b > 0 && (int16_t)(seqs[b] - seqs[b - 1]) < 0; b--) {
                uint16_t x = seqs[b];
                seqs[b] = seqs[b - 1];
                seqs[b - 1] = x;
            }
        if (n > 0) {
            uint8_t buf[512];
            int len = sfu_rtcp_build_nack(buf, sizeof buf, p->ssrc_video, v->ssrc, seqs, n);
            if (len > 0) {
                lg__send_rtcp(p, buf, (size_t)len);
                p->t->tot.nack_out++;
            }
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
