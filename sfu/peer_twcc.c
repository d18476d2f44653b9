/*
 * Transport-wide congestion control feedback (draft-holmer-rmcat-
 * transport-wide-cc-extensions-01) for what the browser sends us. Chrome
 * paces its sender by this feedback: without it every byte stays "in
 * flight" and its congestion window pushes the encoder down to a few
 * frames per second. Arrivals of packets that carry the transport-wide
 * sequence number are collected and sent back every 50 ms (or when the
 * table fills) as one RTPFB FMT 15 packet.
 */
#include "sfu/peer_internal.h"

#include "sfu/clock.h"

#include <stdlib.h>

#define TWCC_INTERVAL_MS 50

static int cmp_seq(const void *a, const void *b)
{
    /* Sequence numbers within one feedback span far less than 2^15, so the
     * signed 16-bit difference orders them across the wrap. */
    const sfu_twcc_arrival *x = a, *y = b;
    int16_t d = (int16_t)(uint16_t)(x->seq - y->seq);
    return d < 0 ? -1 : d > 0 ? 1 : 0;
}

static void flush(sfu_peer *p)
{
    if (p->n_twcc == 0 || !p->srtp)
        return;
    qsort(p->twcc, (size_t)p->n_twcc, sizeof p->twcc[0], cmp_seq);
    /* Drop duplicates (a retransmitted sequence number). */
    int n = 1;
    for (int i = 1; i < p->n_twcc; i++)
        if (p->twcc[i].seq != p->twcc[n - 1].seq)
            p->twcc[n++] = p->twcc[i];
    uint8_t buf[1200 + SFU_SRTP_MAX_OVERHEAD] __attribute__((aligned(8)));
    uint32_t sender = p->n_tracks ? p->tracks[0].local_ssrc : 1;
    int len = sfu_rtcp_build_twcc(buf, 1200, sender, p->twcc_media_ssrc, p->twcc_fb_count, p->twcc,
                                  (size_t)n);
    p->n_twcc = 0;
    if (len <= 0)
        return; /* e.g. a delta that does not fit: skip this batch */
    p->twcc_fb_count++;
    sfu__peer_send_rtcp(p, buf, (size_t)len, sizeof buf);
}

static void twcc_timer_cb(void *data)
{
    sfu_peer *p = data;
    flush(p);
    sfu_worker_timer_arm(p->worker, &p->twcc_timer, TWCC_INTERVAL_MS);
}

void sfu__peer_twcc_init(sfu_peer *p)
{
    sfu_timer_init(&p->twcc_timer, twcc_timer_cb, p);
}

void sfu__peer_twcc_record(sfu_peer *p, int track, const sfu_rtp_packet *rp)
{
    uint8_t id = p->tracks[track].ext_twcc;
    sfu_rtp_ext e;
    uint16_t seq;
    if (!id || sfu_rtp_ext_find(rp, id, &e) != 0 || sfu_rtp_ext_twcc_seq(&e, &seq) != 0)
        return;
    if (!sfu_timer_armed(&p->twcc_timer))
        sfu_worker_timer_arm(p->worker, &p->twcc_timer, TWCC_INTERVAL_MS);
    if (p->n_twcc == SFU_PEER_TWCC_MAX)
        flush(p);
    p->twcc_media_ssrc = rp->ssrc;
    p->twcc[p->n_twcc].seq = seq;
    p->twcc[p->n_twcc].arrival_us = (int64_t)sfu_now_us();
    p->n_twcc++;
}

void sfu__peer_twcc_free(sfu_peer *p)
{
    sfu_worker_timer_cancel(p->worker, &p->twcc_timer);
    p->n_twcc = 0;
}
