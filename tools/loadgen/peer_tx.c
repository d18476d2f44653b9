/*
 * mlload sending side: pre-encoded VP8 (per simulcast layer) and Opus at
 * the pace peer.c's tick sets, VP8 payload descriptors, abs-send-time /
 * transport-wide sequence numbers / mid / rid when negotiated, the
 * sender's index and send time in the last 12 payload bytes (read by
 * peer_rx.c in any mlload process), and SRTCP out.
 */
#include <string.h>

#include "sfu/clock.h"
#include "sfu/rtp.h"
#include "sfu/srtp.h"
#include "sfu/vp8.h"
#include "tools/loadgen/peer_internal.h"

size_t lg__mid_rid_ext(const lg_peer *p, sfu_rtp_ext *el, const char *mid, const char *rid)
{
    size_t ne = 0;
    if (mid && p->ext_mid)
        el[ne++] = (sfu_rtp_ext){
            .id = p->ext_mid, .len = (uint8_t)strlen(mid), .data = (const uint8_t *)mid};
    if (rid && p->ext_rid)
        el[ne++] = (sfu_rtp_ext){
            .id = p->ext_rid, .len = (uint8_t)strlen(rid), .data = (const uint8_t *)rid};
    return ne;
}

static void send_rtp(lg_peer *p, uint8_t pt, uint32_t ssrc, uint16_t seq, uint32_t ts, int marker,
                     const uint8_t *payload, size_t plen, const char *mid, const char *rid)
{
    uint8_t buf[MAX_RTP + 64];
    uint8_t extbuf[32], abs[3], tw[2];
    uint8_t pl[MAX_RTP];
    if (plen + LG_TRAILER > sizeof pl)
        return;
    memcpy(pl, payload, plen);
    /* CLOCK_MONOTONIC is one clock for every process on the machine: a
     * receiver in another mlload process reads the same time base. Read
     * here, not at the tick's start: with hundreds of peers per thread the
     * last ones send milliseconds into the tick. */
    uint64_t rel = sfu_now_us();
    uint32_t from = (uint32_t)p->index;
    for (int i = 0; i < 4; i++)
        pl[plen + (size_t)i] = (uint8_t)(from >> (8 * (3 - i)));
    for (int i = 0; i < 8; i++)
        pl[plen + 4 + (size_t)i] = (uint8_t)(rel >> (8 * (7 - i)));
    payload = pl;
    plen += LG_TRAILER;
    sfu_abs_send_time_put(abs, sfu_abs_send_time_from_us(rel - p->t->run->t0_us));
    uint16_t tseq = p->twcc_seq++;
    tw[0] = (uint8_t)(tseq >> 8);
    tw[1] = (uint8_t)tseq;
    sfu_rtp_ext el[4];
    size_t ne = lg__mid_rid_ext(p, el, mid, rid);
    if (p->ext_abs)
        el[ne++] = (sfu_rtp_ext){.id = p->ext_abs, .len = 3, .data = abs};
    if (p->ext_twcc)
        el[ne++] = (sfu_rtp_ext){.id = p->ext_twcc, .len = 2, .data = tw};
    uint16_t profile = 0;
    int el_n = ne ? sfu_rtp_ext_build(extbuf, sizeof extbuf, el, ne, &profile) : 0;
    sfu_rtp_packet rp = {
        .marker = marker != 0,
        .payload_type = pt,
        .seq = seq,
        .timestamp = ts,
        .ssrc = ssrc,
        .extension = el_n > 0,
        .ext_profile = profile,
        .ext = extbuf,
        .ext_len = el_n > 0 ? (size_t)el_n : 0,
        .payload = payload,
        .payload_len = plen,
    };
    int n = sfu_rtp_write(buf, MAX_RTP, &rp);
    if (n < 0)
        return;
    size_t len = (size_t)n;
    if (sfu_srtp_protect_rtp(p->srtp, buf, &len, sizeof buf) != 0)
        return;
    lg__transport_send(p, buf, len);
    p->t->tot.tx_packets++;
    p->t->tot.tx_bytes += len;
}

static void send_layer_frame(lg_peer *p, int slot, const lg_frame *f, const char *rid)
{
    sfu_vp8_desc d = {
        .start = true,
        .has_picture_id = true,
        .picture_id_15 = true,
        .picture_id = p->vs[slot].pic_id,
        .has_tl0picidx = true,
        .tl0picidx = p->vs[slot].tl0,
    };
    uint8_t payload[VP8_CHUNK + 16];
    size_t off = 0;
    while (off < f->len) {
        size_t chunk = f->len - off;
        if (chunk > VP8_CHUNK)
            chunk = VP8_CHUNK;
        int dl = sfu_vp8_write_desc(payload, sizeof payload, &d);
        if (dl < 0)
            return;
        memcpy(payload + dl, f->data + off, chunk);
        off += chunk;
        send_rtp(p, p->pt_video, p->vs[slot].ssrc, p->vs[slot].seq++, p->ts_v, off >= f->len,
                 payload, (size_t)dl + chunk, rid ? "0" : NULL, rid);
        p->t->tot.tx_video++;
        d.start = false;
    }
    p->vs[slot].pic_id = (uint16_t)((p->vs[slot].pic_id + 1) & 0x7fff);
    p->vs[slot].tl0++;
}

void lg__send_video_frame(lg_peer *p)
{
    const lg_media *m = &p->t->run->media;
    if (p->force_key) {
        /* PLI: restart the loop at its first (key) frame, every layer */
        p->frame_idx = 0;
        p->force_key = 0;
    }
    int fi = p->frame_idx;
    p->frame_idx = (p->frame_idx + 1) % m->n_video;
    if (p->role == LG_ROLE_MENTOR) {
        static const char *rids[LG_LAYERS] = {"l", "m", "h"};
        for (int l = 0; l < LG_LAYERS; l++)
            if (p->layer_active[l] || l == 0)
                send_layer_frame(p, l, &m->video[l][fi], rids[l]);
    } else {
        send_layer_frame(p, 0, &m->video[p->t->run->layer][fi], NULL);
    }
    p->ts_v += 3000;
}

void lg__send_audio_frame(lg_peer *p)
{
    const lg_media *m = &p->t->run->media;
    const lg_frame *f = &m->audio[p->audio_idx];
    p->audio_idx = (p->audio_idx + 1) % m->n_audio;
    send_rtp(p, p->pt_audio, p->ssrc_audio, p->seq_a++, p->ts_a, 0, f->data, f->len,
             p->role == LG_ROLE_MENTOR ? (p->t->run->video ? "1" : "0") : NULL, NULL);
    p->t->tot.tx_audio++;
    p->ts_a += 960;
}

void lg__send_rtcp(lg_peer *p, uint8_t *buf, size_t len)
{
    uint8_t out[1500];
    if (len + SFU_SRTP_MAX_OVERHEAD > sizeof out)
        return;
    memcpy(out, buf, len);
    if (sfu_srtp_protect_rtcp(p->srtp, out, &len, sizeof out) != 0)
        return;
    lg__transport_send(p, out, len);
    p->t->tot.rtcp_out++;
}
