/*
 * RTCP report state (see rtcp_sender.h). The receiver side follows RFC 3550
 * appendix A.1 (sequence number validation with wrap, misorder and restart
 * detection, without the initial probation: the SFU already knows the
 * stream from signalling), A.3 (expected and lost counts, fraction lost
 * per interval) and A.8 (interarrival jitter J += (|D| - J) / 16 in RTP
 * timestamp units). Times in NTP short format are 16.16 fixed-point
 * seconds, the middle 32 bits of a 64-bit NTP timestamp.
 */
#include "sfu/rtcp_sender.h"

#include <string.h>

#define SEQ_MOD 65536u
#define MAX_DROPOUT 3000u
#define MAX_MISORDER 100u

/* ---- Outgoing stream ---- */

void sfu_rtcp_sender_init(sfu_rtcp_sender *s, uint32_t ssrc, uint32_t clock_rate)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->clock_rate = clock_rate;
}

void sfu_rtcp_sender_on_packet(sfu_rtcp_sender *s, uint32_t rtp_ts, size_t payload_len,
                               uint64_t now_us)
{
    s->packets++;
    s->octets += (uint32_t)payload_len;
    s->last_rtp_ts = rtp_ts;
    s->last_send_us = now_us;
    s->sent_any = true;
}

void sfu_rtcp_sender_set_reference(sfu_rtcp_sender *s, uint32_t rtp_ts, uint64_t at_us)
{
    s->has_ref = true;
    s->ref_rtp_ts = rtp_ts;
    s->ref_us = at_us;
}

void sfu_rtcp_sender_clear_reference(sfu_rtcp_sender *s)
{
    s->has_ref = false;
}

int sfu_rtcp_sender_fill_sr(const sfu_rtcp_sender *s, uint64_t now_us, uint64_t ntp_now,
                            sfu_rtcp_report *r)
{
    memset(r, 0, sizeof *r);
    r->ssrc = s->ssrc;
    if (!s->sent_any)
        return -1;
    uint64_t base_us = s->has_ref ? s->ref_us : s->last_send_us;
    uint32_t base_ts = s->has_ref ? s->ref_rtp_ts : s->last_rtp_ts;
    int64_t elapsed = (int64_t)now_us - (int64_t)base_us;
    int64_t ticks = elapsed * (int64_t)s->clock_rate / 1000000;
    r->is_sr = true;
    r->ntp = ntp_now;
    r->rtp_ts = base_ts + (uint32_t)ticks;
    r->packet_count = s->packets;
    r->octet_count = s->octets;
    return 0;
}

int sfu_rtcp_sender_build(const sfu_rtcp_sender *s, uint64_t now_us, uint64_t ntp_now,
                          const char *cname, const sfu_rtcp_rb *rbs, unsigned n, uint8_t *buf,
                          size_t cap)
{
    sfu_rtcp_report r;
    if (sfu_rtcp_sender_fill_sr(s, now_us, ntp_now, &r) < 0) {
        memset(&r, 0, sizeof r);
        r.ssrc = s->ssrc; /* nothing sent yet: a receiver report */
    }
    int len = sfu_rtcp_build_report(buf, cap, &r, rbs, n);
    if (len < 0)
        return -1;
    if (cname) {
        int l2 = sfu_rtcp_build_sdes_cname(buf + len, cap - (size_t)len, s->ssrc, cname);
        if (l2 < 0)
            return -1;
        len += l2;
    }
    return len;
}

int64_t sfu_rtcp_rtt_us(uint32_t lsr, uint32_t dlsr, uint64_t ntp_now)
{
    if (lsr == 0)
        return -1;
    uint32_t mid = (uint32_t)(ntp_now >> 16);
    uint32_t rtt = mid - lsr - dlsr;
    if (rtt & 0x80000000u) /* negative: clocks or a bogus block */
        return -1;
    return (int64_t)((uint64_t)rtt * 1000000u >> 16);
}

int sfu_rtcp_sender_on_report_block(sfu_rtcp_sender *s, const sfu_rtcp_rb *rb, uint64_t ntp_now,
                                    uint64_t *rtt_us)
{
    int64_t rtt = sfu_rtcp_rtt_us(rb->lsr, rb->dlsr, ntp_now);
    if (rtt < 0)
        return -1;
    s->last_rtt_us = (uint64_t)rtt;
    if (rtt_us)
        *rtt_us = (uint64_t)rtt;
    return 0;
}

/* ---- Incoming stream ---- */

void sfu_rtcp_receiver_init(sfu_rtcp_receiver *r, uint32_t ssrc, uint32_t clock_rate)
{
    memset(r, 0, sizeof *r);
    r->ssrc = ssrc;
    r->clock_rate = clock_rate;
}

static void init_seq(sfu_rtcp_receiver *r, uint16_t seq)
{
    r->base_seq = seq;
    r->max_seq = seq;
    r->bad_seq = SEQ_MOD + 1;
    r->cycles = 0;
    r->received = 0;
    r->received_prior = 0;
    r->expected_prior = 0;
}

/* RFC 3550 A.1 update_seq: false when the packet is not counted. */
static bool update_seq(sfu_rtcp_receiver *r, uint16_t seq)
{
    uint16_t udelta = (uint16_t)(seq - r->max_seq);
    if (udelta < MAX_DROPOUT) {
        if (seq < r->max_seq)
            r->cycles += SEQ_MOD;
        r->max_seq = seq;
    } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        if (seq == r->bad_seq) {
            init_seq(r, seq); /* two in a row: the sender restarted */
        } else {
            r->bad_seq = (uint32_t)(seq + 1) & (SEQ_MOD - 1);
            return false;
        }
    }
    /* else: duplicate or reordered, counted but max_seq unchanged */
    r->received++;
    return true;
}

void sfu_rtcp_receiver_on_packet(sfu_rtcp_receiver *r, uint16_t seq, uint32_t rtp_ts,
                                 uint64_t now_us)
{
    if (!r->started) {
        r->started = true;
        init_seq(r, seq);
        r->received = 1;
    } else if (!update_seq(r, seq)) {
        return;
    }
    uint32_t arrival = (uint32_t)(now_us * r->clock_rate / 1000000u);
    int64_t transit = (int32_t)(arrival - rtp_ts);
    if (r->have_transit) {
        int64_t d = transit - r->transit;
        if (d < 0)
            d = -d;
        r->jitter += ((double)d - r->jitter) / 16.0;
    }
    r->transit = transit;
    r->have_transit = true;
}

void sfu_rtcp_receiver_on_sr(sfu_rtcp_receiver *r, uint64_t sr_ntp, uint64_t now_us)
{
    r->last_sr = (uint32_t)(sr_ntp >> 16);
    r->last_sr_us = now_us;
    r->have_sr = true;
}

uint32_t sfu_rtcp_receiver_ext_seq(const sfu_rtcp_receiver *r)
{
    return r->cycles + r->max_seq;
}

int sfu_rtcp_receiver_report_block(sfu_rtcp_receiver *r, uint64_t now_us, sfu_rtcp_rb *rb)
{
    memset(rb, 0, sizeof *rb);
    rb->ssrc = r->ssrc;
    if (!r->started)
        return -1;
    uint32_t ext_max = sfu_rtcp_receiver_ext_seq(r);
    uint64_t expected = (uint64_t)ext_max - r->base_seq + 1;
    int64_t lost = (int64_t)expected - (int64_t)r->received;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    int64_t exp_int = (int64_t)(expected - r->expected_prior);
    int64_t rec_int = (int64_t)(r->received - r->received_prior);
    int64_t lost_int = exp_int - rec_int;
    r->expected_prior = expected;
    r->received_prior = r->received;
    rb->fraction_lost = exp_int <= 0 || lost_int <= 0 ? 0 : (uint8_t)((lost_int << 8) / exp_int);
    rb->cumulative_lost = (int32_t)lost;
    rb->highest_seq = ext_max;
    rb->jitter = (uint32_t)r->jitter;
    if (r->have_sr) {
        rb->lsr = r->last_sr;
        uint64_t delay = now_us > r->last_sr_us ? now_us - r->last_sr_us : 0;
        rb->dlsr = (uint32_t)((delay << 16) / 1000000u);
    }
    return 0;
}
