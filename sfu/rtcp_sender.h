/*
 * RTCP report state for the SFU's streams (RFC 3550 section 6.4 and
 * appendix A.3 / A.8).
 *
 * sfu_rtcp_sender: one per outgoing stream (SFU -> viewer). Counts packets
 * and payload octets, remembers the RTP timestamp and wall time of the last
 * packet sent, and builds a sender report whose RTP timestamp corresponds
 * to the report's NTP time: last RTP timestamp + elapsed time x clock rate.
 * It also turns report blocks the viewer sends back into a round-trip time
 * (now - LSR - DLSR, in NTP short format).
 *
 * sfu_rtcp_receiver: one per incoming stream (publisher -> SFU). Tracks the
 * extended highest sequence number, packets received and expected,
 * interarrival jitter (A.8), and the last SR (middle 32 bits of its NTP
 * time and when it arrived), and fills a report block: fraction lost since
 * the last report, cumulative lost, highest seq, jitter, LSR and DLSR.
 *
 * Embeddable state, no allocation, no logging; time passed in: now_us from
 * the monotonic clock and NTP timestamps from the caller (sfu_ntp_now()).
 */
#ifndef ML_SFU_RTCP_SENDER_H
#define ML_SFU_RTCP_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfu/rtcp.h"

/* ---- Outgoing stream: sender reports ---- */

typedef struct sfu_rtcp_sender {
    uint32_t ssrc;
    uint32_t clock_rate;
    uint32_t packets; /* sender's packet count (wraps, as on the wire) */
    uint32_t octets;  /* sender's payload octet count */
    bool sent_any;
    uint32_t last_rtp_ts;
    uint64_t last_send_us;
    uint64_t last_rtt_us; /* 0 until a report block with LSR arrived */
    bool has_ref;         /* a capture-time reference (see set_reference) */
    uint32_t ref_rtp_ts;
    uint64_t ref_us;
} sfu_rtcp_sender;

/* Initialise for an outgoing stream with this SSRC and RTP clock rate (Hz). */
void sfu_rtcp_sender_init(sfu_rtcp_sender *s, uint32_t ssrc, uint32_t clock_rate);

/* Account for a sent RTP packet: its timestamp and payload length (no header/padding). */
void sfu_rtcp_sender_on_packet(sfu_rtcp_sender *s, uint32_t rtp_ts, size_t payload_len,
                               uint64_t now_us);

/*
 * Anchor the RTP clock of this stream: at monotonic time at_us the stream's
 * RTP timestamp (as sent) read rtp_ts. A forwarding SFU takes this from the
 * publisher's own sender report (its RTP time plus the consumer's
 * timestamp offset, at the report's arrival), so that the NTP/RTP mapping
 * it sends follows the capture clock rather than the send time of the
 * last packet, and audio and video of one publisher stay in sync (both are
 * shifted by the same one-way delay). Sender reports then extrapolate from
 * the anchor instead of from the last packet sent. clear: forget it.
 */
void sfu_rtcp_sender_set_reference(sfu_rtcp_sender *s, uint32_t rtp_ts, uint64_t at_us);
void sfu_rtcp_sender_clear_reference(sfu_rtcp_sender *s);

/*
 * Fill *r as a sender report for now: ntp_now (64-bit NTP, wall clock) and
 * the RTP timestamp for the same instant (extrapolated from the last sent
 * packet, monotonic now_us). Returns 0, or -1 when nothing was sent yet
 * (RFC 3550: send an RR instead).
 */
int sfu_rtcp_sender_fill_sr(const sfu_rtcp_sender *s, uint64_t now_us, uint64_t ntp_now,
                            sfu_rtcp_report *r);

/*
 * Build a compound RTCP packet into buf (capacity cap): an SR (or, before
 * the first packet, an RR) from this stream's SSRC carrying the n report
 * blocks rbs (may be NULL with n 0), then an SDES with cname. Returns the
 * length or -1.
 */
int sfu_rtcp_sender_build(const sfu_rtcp_sender *s, uint64_t now_us, uint64_t ntp_now,
                          const char *cname, const sfu_rtcp_rb *rbs, unsigned n, uint8_t *buf,
                          size_t cap);

/*
 * A report block about this stream arrived (from a viewer's RR/SR) at
 * ntp_now. When it carries an LSR, computes the RTT, stores it in
 * last_rtt_us and *rtt_us (may be NULL) and returns 0; returns -1 when
 * LSR is 0 or the result is negative.
 */
int sfu_rtcp_sender_on_report_block(sfu_rtcp_sender *s, const sfu_rtcp_rb *rb, uint64_t ntp_now,
                                    uint64_t *rtt_us);

/* RTT from LSR/DLSR (NTP short format) and the arrival NTP time; -1 if impossible. */
int64_t sfu_rtcp_rtt_us(uint32_t lsr, uint32_t dlsr, uint64_t ntp_now);

/* ---- Incoming stream: receiver report blocks ---- */

typedef struct sfu_rtcp_receiver {
    uint32_t ssrc;
    uint32_t clock_rate;
    bool started;
    uint16_t max_seq;
    uint32_t cycles; /* shifted count of sequence wraps (<< 16) */
    uint32_t base_seq;
    uint32_t bad_seq;
    uint64_t received;
    uint64_t expected_prior;
    uint64_t received_prior;
    int64_t transit; /* last relative transit time in RTP units */
    bool have_transit;
    double jitter;    /* RTP units */
    uint32_t last_sr; /* middle 32 bits of the last SR's NTP time */
    uint64_t last_sr_us;
    bool have_sr;
} sfu_rtcp_receiver;

/* Initialise for an incoming stream with this SSRC and RTP clock rate (Hz). */
void sfu_rtcp_receiver_init(sfu_rtcp_receiver *r, uint32_t ssrc, uint32_t clock_rate);

/*
 * Account for a received RTP packet (not RTX): sequence number, RTP
 * timestamp and arrival time. Handles wrap, duplicates and large jumps as
 * in RFC 3550 A.1 (a jump of more than 3000 is taken as a restart after two
 * consecutive packets).
 */
void sfu_rtcp_receiver_on_packet(sfu_rtcp_receiver *r, uint16_t seq, uint32_t rtp_ts,
                                 uint64_t now_us);

/* A sender report from this stream's sender: its 64-bit NTP time, arrival now_us. */
void sfu_rtcp_receiver_on_sr(sfu_rtcp_receiver *r, uint64_t sr_ntp, uint64_t now_us);

/*
 * Fill a report block for now_us and start a new reporting interval
 * (fraction lost is relative to the previous call). Returns 0, or -1 when
 * no packet was received yet.
 */
int sfu_rtcp_receiver_report_block(sfu_rtcp_receiver *r, uint64_t now_us, sfu_rtcp_rb *rb);

/* Extended highest sequence number received (cycles + max_seq). */
uint32_t sfu_rtcp_receiver_ext_seq(const sfu_rtcp_receiver *r);

#endif
