/*
 * Send-side bandwidth estimation (see bwe.h). Three parts:
 *
 * 1. Bookkeeping: a ring of sent packets indexed by transport-wide
 *    sequence number, and a ring of acknowledged (received) packets from
 *    which the receive rate over the last 500 ms of arrivals is measured.
 * 2. Delay-based detection, after GCC's arrival-time filter as deployed in
 *    libwebrtc: packets sent within 5 ms form a group; for consecutive
 *    groups the delay variation d = (arrival delta - send delta) is
 *    accumulated, exponentially smoothed, and a least-squares slope over the
 *    last 20 groups is scaled into a trend that is compared against an
 *    adaptive threshold (12.5 ms to start, moving slowly towards |trend|).
 *    Overuse is declared once the trend stays above the threshold for more
 *    than 10 ms over at least two groups while still rising.
 * 3. Rate control: AIMD on the delay-based rate (x1.08 per second while
 *    normal; in the start phase, until the first overuse or heavy loss
 *    and at most 4 s from the first feedback, x1.5 up to 4 x the receive
 *    rate; hold while underusing, min(rate, 0.85 x receive rate) on
 *    overuse, optionally capped at a multiple of the receive rate), a loss-based
 *    rate updated every 100 received packets (or 1 s), and REMB as a cap.
 */
#include "sfu/bwe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_SPAN_US 5000
#define TREND_WINDOW 20
#define TREND_SMOOTHING 0.9
#define TREND_GAIN 4.0
#define OVERUSE_TIME_MS 10.0
#define ACK_RING 512
#define ACK_WINDOW_US 500000
#define LOSS_UPDATE_PACKETS 100
#define LOSS_UPDATE_US 1000000
#define START_ACKED_RATIO 4.0
#define START_CLOCK_BPS 100000 /* more than a viewer's audio: video flows */

typedef struct sent_pkt {
    uint16_t seq;
    bool valid;
    bool reported;
    uint32_t size;
    uint64_t send_us;
} sent_pkt;

typedef struct ack_pkt {
    int64_t arrival_us;
    uint32_t size;
} ack_pkt;

typedef struct pkt_group {
    bool valid;
    uint64_t first_send_us;
    uint64_t last_send_us;
    int64_t last_arrival_us;
} pkt_group;

struct sfu_bwe {
    sfu_bwe_config cfg;
    uint32_t mask;
    sent_pkt *sent;

    /* receive rate */
    ack_pkt acks[ACK_RING];
    uint32_t ack_head, ack_count;
    uint64_t ack_bytes;
    uint64_t acked_bps;

    /* delay-based detector */
    pkt_group cur, prev;
    bool have_first_arrival;
    int64_t first_arrival_us;
    double acc_delay_ms, smoothed_ms;
    double hist_x[TREND_WINDOW], hist_y[TREND_WINDOW];
    uint32_t hist_head, hist_count;
    uint32_t num_deltas;
    double trend, prev_trend, modified_trend;
    double threshold;
    bool have_threshold_time;
    int64_t last_threshold_us;
    double time_over_ms;
    uint32_t overuse_count;
    int state;

    /* rate control */
    double delay_bps, loss_bps;
    uint64_t remb_bps;
    bool have_update;
    bool phase_clock;        /* the start phase's clock runs ... */
    uint64_t phase_start_us; /* ... since then */
    bool start_over;         /* the start phase has ended */
    uint64_t last_update_us;
    uint64_t last_decrease_us;
    bool decreased_once;
    uint32_t loss_received, loss_lost;
    uint64_t loss_since_us;
    bool loss_started;
    double loss_smoothed;

    uint64_t feedbacks, unknown;
};

void sfu_bwe_config_default(sfu_bwe_config *c)
{
    c->start_bps = 1000000;
    c->min_bps = 50000;
    c->max_bps = 20000000;
    c->history = 1024;
    c->acked_cap_ratio = 0;
    c->start_growth = 1.5;
    c->start_phase_ms = 4000;
}

/* Everything the estimator knows about the path, as at creation: packets
 * sent on an old path (lost in a switch, reported later) count as unknown,
 * the delay detector starts from scratch (a new path's base delay differs),
 * and so do the loss-based rate and the start phase. The estimate and the
 * receive rate are kept: the first overuse on a new path brings the
 * estimate down to what it carries. */
static void path_reset(sfu_bwe *b)
{
    memset(b->sent, 0, ((size_t)b->mask + 1) * sizeof *b->sent);
    b->cur.valid = b->prev.valid = false;
    b->have_first_arrival = false;
    b->acc_delay_ms = b->smoothed_ms = 0;
    b->hist_head = b->hist_count = 0;
    b->num_deltas = 0;
    b->trend = b->prev_trend = b->modified_trend = 0;
    b->threshold = 12.5;
    b->have_threshold_time = false;
    b->time_over_ms = -1;
    b->overuse_count = 0;
    b->state = SFU_BWE_NORMAL;
    b->loss_received = b->loss_lost = 0;
    b->loss_started = false;
    b->loss_smoothed = 0;
    b->loss_bps = (double)b->cfg.max_bps; /* no loss seen on this path yet */
    b->start_over = false;
    b->phase_clock = false;
}

sfu_bwe *sfu_bwe_create(const sfu_bwe_config *c)
{
    sfu_bwe_config d;
    sfu_bwe_config_default(&d);
    if (c) {
        if (c->start_bps)
            d.start_bps = c->start_bps;
        if (c->min_bps)
            d.min_bps = c->min_bps;
        if (c->max_bps)
            d.max_bps = c->max_bps;
        if (c->history)
            d.history = c->history;
        if (c->acked_cap_ratio > 0)
            d.acked_cap_ratio = c->acked_cap_ratio;
        if (c->start_growth > 0)
            d.start_growth = c->start_growth < 1.08 ? 1.08 : c->start_growth;
        if (c->start_phase_ms)
            d.start_phase_ms = c->start_phase_ms;
    }
    if (d.max_bps < d.min_bps)
        d.max_bps = d.min_bps;
    if (d.start_bps < d.min_bps)
        d.start_bps = d.min_bps;
    if (d.start_bps > d.max_bps)
        d.start_bps = d.max_bps;
    if (d.history > 32768)
        d.history = 32768;
    uint32_t cap = 1;
    while (cap < d.history)
        cap <<= 1;
    d.history = cap;

    sfu_bwe *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->sent = calloc(cap, sizeof *b->sent);
    if (!b->sent) {
        free(b);
        return NULL;
    }
    b->cfg = d;
    b->mask = cap - 1;
    b->delay_bps = (double)d.start_bps;
    path_reset(b);
    return b;
}

void sfu_bwe_destroy(sfu_bwe *b)
{
    if (!b)
        return;
    free(b->sent);
    free(b);
}

void sfu_bwe_on_sent(sfu_bwe *b, uint16_t twcc_seq, size_t size, uint64_t now_us)
{
    sent_pkt *p = &b->sent[twcc_seq & b->mask];
    p->seq = twcc_seq;
    p->valid = true;
    p->reported = false;
    p->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    p->send_us = now_us;
}

/* ---- receive rate ---- */

static void ack_add(sfu_bwe *b, int64_t arrival_us, uint32_t size)
{
    if (b->ack_count == ACK_RING) {
        b->ack_bytes -= b->acks[b->ack_head].size;
        b->ack_head = (b->ack_head + 1) % ACK_RING;
        b->ack_count--;
    }
    uint32_t tail = (b->ack_head + b->ack_count) % ACK_RING;
    b->acks[tail].arrival_us = arrival_us;
    b->acks[tail].size = size;
    b->ack_count++;
    b->ack_bytes += size;
    /* Drop arrivals older than the window before the newest. */
    while (b->ack_count > 1 && b->acks[b->ack_head].arrival_us < arrival_us - ACK_WINDOW_US) {
        b->ack_bytes -= b->acks[b->ack_head].size;
        b->ack_head = (b->ack_head + 1) % ACK_RING;
        b->ack_count--;
    }
}

static void ack_rate_update(sfu_bwe *b)
{
    if (b->ack_count < 2)
        return;
    const ack_pkt *first = &b->acks[b->ack_head];
    const ack_pkt *last = &b->acks[(b->ack_head + b->ack_count - 1) % ACK_RING];
    int64_t span = last->arrival_us - first->arrival_us;
    if (span < 50000) /* too short to mean anything */
        return;
    uint64_t bytes = b->ack_bytes - first->size;
    b->acked_bps = bytes * 8ull * 1000000ull / (uint64_t)span;
}

/* ---- delay-based detector ---- */

static void trend_update_threshold(sfu_bwe *b, int64_t now_us)
{
    if (!b->have_threshold_time) {
        b->have_threshold_time = true;
        b->last_threshold_us = now_us;
    }
    double abs_t = fabs(b->modified_trend);
    if (abs_t > b->threshold + 15.0) {
        b->last_threshold_us = now_us;
        return;
    }
    double k = abs_t < b->threshold ? 0.039 : 0.0087;
    double dt_ms = (double)(now_us - b->last_threshold_us) / 1000.0;
    if (dt_ms > 100.0)
        dt_ms = 100.0;
    if (dt_ms < 0)
        dt_ms = 0;
    b->threshold += k * (abs_t - b->threshold) * dt_ms;
    if (b->threshold < 6.0)
        b->threshold = 6.0;
    if (b->threshold > 600.0)
        b->threshold = 600.0;
    b->last_threshold_us = now_us;
}

static double trend_slope(const sfu_bwe *b)
{
    double sx = 0, sy = 0;
    uint32_t n = b->hist_count;
    for (uint32_t i = 0; i < n; i++) {
        sx += b->hist_x[i];
        sy += b->hist_y[i];
    }
    double mx = sx / n, my = sy / n, num = 0, den = 0;
    for (uint32_t i = 0; i < n; i++) {
        num += (b->hist_x[i] - mx) * (b->hist_y[i] - my);
        den += (b->hist_x[i] - mx) * (b->hist_x[i] - mx);
    }
    return den == 0 ? b->trend : num / den;
}

/* One delay-variation sample between two completed groups. */
static void trend_sample(sfu_bwe *b, double delta_ms, double send_delta_ms, int64_t arrival_us)
{
    if (!b->have_first_arrival) {
        b->have_first_arrival = true;
        b->first_arrival_us = arrival_us;
    }
    if (b->num_deltas < 1000)
        b->num_deltas++;
    b->acc_delay_ms += delta_ms;
    b->smoothed_ms = TREND_SMOOTHING * b->smoothed_ms + (1 - TREND_SMOOTHING) * b->acc_delay_ms;
    b->hist_x[b->hist_head] = (double)(arrival_us - b->first_arrival_us) / 1000.0;
    b->hist_y[b->hist_head] = b->smoothed_ms;
    b->hist_head = (b->hist_head + 1) % TREND_WINDOW;
    if (b->hist_count < TREND_WINDOW)
        b->hist_count++;
    b->prev_trend = b->trend;
    if (b->hist_count == TREND_WINDOW)
        b->trend = trend_slope(b);
    double n = b->num_deltas < 60 ? (double)b->num_deltas : 60.0;
    b->modified_trend = n * b->trend * TREND_GAIN;

    if (b->modified_trend > b->threshold) {
        if (b->time_over_ms < 0)
            b->time_over_ms = send_delta_ms / 2;
        else
            b->time_over_ms += send_delta_ms;
        b->overuse_count++;
        if (b->time_over_ms > OVERUSE_TIME_MS && b->overuse_count > 1 &&
            b->trend >= b->prev_trend) {
            b->time_over_ms = 0;
            b->overuse_count = 0;
            b->state = SFU_BWE_OVERUSE;
            b->start_over = true; /* even if a later group of this feedback clears it */
        }
    } else if (b->modified_trend < -b->threshold) {
        b->time_over_ms = -1;
        b->overuse_count = 0;
        b->state = SFU_BWE_UNDERUSE;
    } else {
        b->time_over_ms = -1;
        b->overuse_count = 0;
        b->state = SFU_BWE_NORMAL;
    }
    trend_update_threshold(b, arrival_us);
}

/* Feed one received packet (in send order) into the grouping. */
static void group_packet(sfu_bwe *b, uint64_t send_us, int64_t arrival_us)
{
    if (!b->cur.valid) {
        b->cur = (pkt_group){true, send_us, send_us, arrival_us};
        return;
    }
    if (send_us < b->cur.first_send_us)
        return; /* reordered across groups: ignore */
    if (send_us - b->cur.first_send_us <= GROUP_SPAN_US) {
        if (send_us > b->cur.last_send_us)
            b->cur.last_send_us = send_us;
        if (arrival_us > b->cur.last_arrival_us)
            b->cur.last_arrival_us = arrival_us;
        return;
    }
    /* The current group is complete. */
    if (b->prev.valid) {
        double send_delta = (double)(b->cur.last_send_us - b->prev.last_send_us) / 1000.0;
        double arr_delta = (double)(b->cur.last_arrival_us - b->prev.last_arrival_us) / 1000.0;
        if (arr_delta >= 0 && send_delta >= 0)
            trend_sample(b, arr_delta - send_delta, send_delta, b->cur.last_arrival_us);
    }
    b->prev = b->cur;
    b->cur = (pkt_group){true, send_us, send_us, arrival_us};
}

/* ---- rate control ---- */

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void delay_rate_update(sfu_bwe *b, uint64_t now_us)
{
    double dt = b->have_update ? (double)(now_us - b->last_update_us) / 1e6 : 0;
    if (dt > 1.0)
        dt = 1.0;
    b->have_update = true;
    b->last_update_us = now_us;
    double acked = (double)b->acked_bps;
    /* The phase's clock starts once the viewer is sent more than audio:
     * before that, the 4x cap below keeps it from growing fast anyway. */
    if (!b->phase_clock && acked >= START_CLOCK_BPS) {
        b->phase_clock = true;
        b->phase_start_us = now_us;
    }
    if (b->phase_clock && now_us - b->phase_start_us >= (uint64_t)b->cfg.start_phase_ms * 1000)
        b->start_over = true; /* (an overuse ends it in trend_sample) */
    switch (b->state) {
    case SFU_BWE_OVERUSE:
        if (acked > 0) {
            double v = 0.85 * acked;
            if (v < b->delay_bps)
                b->delay_bps = v;
        } else if (!b->decreased_once || now_us - b->last_decrease_us >= 200000) {
            b->delay_bps *= 0.85;
        }
        b->decreased_once = true;
        b->last_decrease_us = now_us;
        break;
    case SFU_BWE_UNDERUSE:
        break; /* hold: let the queues drain */
    default: {
        double v = b->delay_bps * pow(1.08, dt);
        if (!b->start_over && acked > 0) {
            /* Faster, but only as far as START_ACKED_RATIO x what the
             * viewer receives: a viewer sent little (a low layer, audio
             * only) has shown nothing about its link. */
            double fast = b->delay_bps * pow(b->cfg.start_growth, dt);
            double cap = START_ACKED_RATIO * acked + 10000.0;
            if (fast > cap)
                fast = cap;
            if (fast > v)
                v = fast;
        }
        if (acked > 0 && b->cfg.acked_cap_ratio > 0) {
            double cap = b->cfg.acked_cap_ratio * acked + 10000.0;
            if (v > cap)
                v = cap > b->delay_bps ? cap : b->delay_bps;
        }
        b->delay_bps = v;
        break;
    }
    }
    b->delay_bps = clampd(b->delay_bps, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
}

static void loss_rate_update(sfu_bwe *b, uint64_t now_us)
{
    if (!b->loss_started) {
        b->loss_started = true;
        b->loss_since_us = now_us;
    }
    uint32_t total = b->loss_received + b->loss_lost;
    if (total < LOSS_UPDATE_PACKETS && (now_us - b->loss_since_us < LOSS_UPDATE_US || total < 20))
        return;
    double loss = total ? (double)b->loss_lost / total : 0;
    b->loss_smoothed = b->loss_smoothed * 0.7 + loss * 0.3;
    double target = (double)sfu_bwe_target(b);
    if (loss > 0.10) {
        b->loss_bps = target * (1 - 0.5 * loss);
        b->start_over = true;
    } else if (loss < 0.02) {
        b->loss_bps = b->loss_bps * 1.05 > target * 1.05 ? b->loss_bps * 1.05 : target * 1.05;
    }
    b->loss_bps = clampd(b->loss_bps, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
    b->loss_received = b->loss_lost = 0;
    b->loss_since_us = now_us;
}

void sfu_bwe_on_feedback(sfu_bwe *b, const sfu_twcc_packet *pkts, size_t n, uint64_t now_us)
{
    b->feedbacks++;
    for (size_t i = 0; i < n; i++) {
        sent_pkt *p = &b->sent[pkts[i].seq & b->mask];
        if (!p->valid || p->seq != pkts[i].seq) {
            b->unknown++;
            continue;
        }
        if (!pkts[i].received) {
            if (!p->reported)
                b->loss_lost++;
            p->reported = true;
            continue;
        }
        bool first_report = !p->reported;
        p->reported = true;
        p->valid = false; /* a packet counts once */
        if (first_report)
            b->loss_received++;
        ack_add(b, pkts[i].arrival_us, p->size);
        group_packet(b, p->send_us, pkts[i].arrival_us);
    }
    ack_rate_update(b);
    delay_rate_update(b, now_us);
    loss_rate_update(b, now_us);
}

void sfu_bwe_on_route_change(sfu_bwe *b)
{
    path_reset(b);
}

void sfu_bwe_on_remb(sfu_bwe *b, uint64_t bps, uint64_t now_us)
{
    (void)now_us;
    b->remb_bps = bps;
}

uint64_t sfu_bwe_target(const sfu_bwe *b)
{
    double t = b->delay_bps < b->loss_bps ? b->delay_bps : b->loss_bps;
    if (b->remb_bps && (double)b->remb_bps < t)
        t = (double)b->remb_bps;
    return (uint64_t)clampd(t, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
}

void sfu_bwe_get_stats(const sfu_bwe *b, sfu_bwe_stats *s)
{
    memset(s, 0, sizeof *s);
    s->target_bps = sfu_bwe_target(b);
    s->delay_bps = (uint64_t)b->delay_bps;
    s->loss_bps = (uint64_t)b->loss_bps;
    s->remb_bps = b->remb_bps;
    s->acked_bps = b->acked_bps;
    s->loss_permille = (uint32_t)(b->loss_smoothed * 1000 + 0.5);
    s->state = b->state;
    s->trend = b->modified_trend;
    s->feedbacks = b->feedbacks;
    s->unknown = b->unknown;
}
