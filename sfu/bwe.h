/*
 * Send-side bandwidth estimator for one viewer's transport, driven by
 * transport-wide congestion control feedback
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01) and shaped after
 * Google Congestion Control (draft-ietf-rmcat-gcc-02):
 *
 * - every sent packet is recorded (transport-wide seq, size, send time) in
 *   a fixed ring;
 * - feedback gives arrival times (or loss); packets are grouped into 5 ms
 *   send bursts and the inter-group delay variation is accumulated and
 *   smoothed; a linear regression over the last 20 groups gives a trend
 *   that an adaptive threshold turns into overuse / normal / underuse;
 * - the delay-based rate grows ~8 %/s when normal (x1.5 per second up to
 *   4 x the receive rate in a start phase that ends at the first overuse
 *   or heavy loss, at most 4 s after the first feedback), holds when underusing
 *   (the queues are draining), and drops to 0.85 x the measured receive
 *   rate on overuse;
 * - the loss-based rate drops by (1 - 0.5 x loss) when loss > 10 % and
 *   grows 5 % when loss < 2 %;
 * - REMB from the viewer, when present, caps the result.
 * The target is min(delay-based, loss-based, REMB), clamped to [min, max].
 *
 * A pure state machine: allocation in sfu_bwe_create() only, time passed
 * in (microseconds), nothing logs.
 */
#ifndef ML_SFU_BWE_H
#define ML_SFU_BWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfu/rtcp.h"

typedef struct sfu_bwe_config {
    uint64_t start_bps; /* default 1 Mbit/s */
    uint64_t min_bps;   /* default 50 kbit/s */
    uint64_t max_bps;   /* default 20 Mbit/s */
    uint32_t history;   /* sent packets remembered; power of two; default 1024
                           (16 KiB; 0.5 s even at 20 Mbit/s of 1200-byte
                           packets, while feedback comes every 50-100 ms) */
    /*
     * When > 0, the delay-based rate never grows above this many times the
     * measured receive rate (+10 kbit/s), as libwebrtc does when it can
     * probe. Default 0 = no cap: the SFU does not probe, so an
     * application-limited sender (a viewer on a low layer) must still be
     * able to grow its estimate enough to switch up; an upswitch the link
     * cannot carry is caught as overuse and undone at once.
     */
    double acked_cap_ratio;
    /*
     * Start phase: from the first feedback until the first overuse or
     * heavy loss (or start_phase_ms, whichever comes first), the
     * delay-based rate grows by this factor per second instead of 1.08,
     * but not above 4 x the measured receive rate: a viewer receiving a
     * 500 kbit/s 360p layer reaches 1.8 Mbit/s (1.2 x a 1.5 Mbit/s 720p
     * layer, where layer_select starts its 2 s hold) in about 1.5 s, not
     * in seven, as a sender that probes would. Its clock starts when the
     * viewer is first sent more than 100 kbit/s (more than audio), so a
     * viewer whose video comes later still gets it (unless an overuse or
     * heavy loss came first); sfu_bwe_on_route_change() runs it again.
     * Default 1.5 (0 = default); any value up to 1.08 turns it off.
     */
    double start_growth;
    uint32_t start_phase_ms; /* default 4000 */
} sfu_bwe_config;

/* Delay-based detector state. */
enum {
    SFU_BWE_NORMAL = 0,
    SFU_BWE_OVERUSE = 1,
    SFU_BWE_UNDERUSE = 2,
};

typedef struct sfu_bwe_stats {
    uint64_t target_bps;
    uint64_t delay_bps;     /* delay-based estimate */
    uint64_t loss_bps;      /* loss-based estimate */
    uint64_t remb_bps;      /* last REMB, 0 if none */
    uint64_t acked_bps;     /* receive rate measured from feedback */
    uint32_t loss_permille; /* smoothed loss ratio of recent feedback */
    int state;              /* SFU_BWE_NORMAL / OVERUSE / UNDERUSE */
    double trend;           /* delay trend (slope, ms per ms x gain) */
    uint64_t feedbacks;     /* feedback messages processed */
    uint64_t unknown;       /* feedback entries for packets not (or no longer) recorded */
} sfu_bwe_stats;

typedef struct sfu_bwe sfu_bwe;

/* Fill *c with the defaults listed in sfu_bwe_config. */
void sfu_bwe_config_default(sfu_bwe_config *c);

/* Create an estimator (c NULL = defaults; zero fields take defaults). NULL on OOM. */
sfu_bwe *sfu_bwe_create(const sfu_bwe_config *c);

/* Free an estimator (NULL is fine). */
void sfu_bwe_destroy(sfu_bwe *b);

/* Record a sent packet: transport-wide sequence number, size on the wire, send time. */
void sfu_bwe_on_sent(sfu_bwe *b, uint16_t twcc_seq, size_t size, uint64_t now_us);

/*
 * Process one TWCC feedback (pkts[0..n) as parsed by
 * sfu_rtcp_parse_twcc / sfu_twcc_next) received at now_us. Arrival times
 * are only compared with each other, so their origin does not matter.
 */
void sfu_bwe_on_feedback(sfu_bwe *b, const sfu_twcc_packet *pkts, size_t n, uint64_t now_us);

/* A REMB from the viewer (bits per second); caps the estimate. 0 clears it. */
void sfu_bwe_on_remb(sfu_bwe *b, uint64_t bps, uint64_t now_us);
/* The viewer's selected ICE pair changed (a new network path): forget the
 * old path's delay and loss history and run the start phase again; the
 * estimate itself is kept. */
void sfu_bwe_on_route_change(sfu_bwe *b);

/* The current target send bitrate in bits per second. */
uint64_t sfu_bwe_target(const sfu_bwe *b);

/* Copy the statistics. */
void sfu_bwe_get_stats(const sfu_bwe *b, sfu_bwe_stats *s);

#endif
