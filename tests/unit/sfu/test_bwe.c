/*
 * Unit tests for sfu/bwe.c. A small deterministic simulation: the sender
 * paces 1200-byte packets at the estimator's target through a FIFO
 * bottleneck of a given capacity with 20 ms propagation delay and optional
 * random loss; the receiver reports arrivals every 50 ms as TWCC feedback.
 */
#include "sfu/bwe.h"
#include "tests/unit/harness.h"

#define MS 1000ull
#define PKT 1200
#define RING 8192

typedef struct sim {
    sfu_bwe *bwe;
    uint64_t link_bps;
    uint64_t app_bps; /* the sender sends at most this (0 = the target) */
    uint32_t loss_permille;
    uint64_t base_delay; /* one-way delay without queueing (0 = 20 ms) */
    uint32_t rng;
    uint64_t now;
    uint64_t next_send;
    int64_t queue_free; /* when the bottleneck is free again */
    uint16_t seq;
    struct {
        uint16_t seq;
        bool lost;
        int64_t arrival;
    } q[RING];
    uint32_t head, count;
    uint64_t next_fb;
} sim;

static uint32_t rnd(sim *s)
{
    s->rng = s->rng * 1103515245u + 12345u;
    return (s->rng >> 8) % 1000;
}

static void sim_init(sim *s, sfu_bwe *b, uint64_t link_bps)
{
    memset(s, 0, sizeof *s);
    s->bwe = b;
    s->link_bps = link_bps;
    s->rng = 12345;
}

/* Advance to `until`, stepping 1 ms. */
static void sim_run(sim *s, uint64_t until)
{
    for (; s->now < until; s->now += 1 * MS) {
        while (s->next_send <= s->now) {
            uint64_t t = s->next_send;
            sfu_bwe_on_sent(s->bwe, s->seq, PKT, t);
            int64_t arr = (int64_t)(t + (s->base_delay ? s->base_delay : 20 * MS));
            int64_t tx = (int64_t)((uint64_t)PKT * 8 * 1000000 / s->link_bps);
            if (s->queue_free > arr - tx)
                arr = s->queue_free + tx;
            s->queue_free = arr;
            if (s->count < RING) {
                uint32_t i = (s->head + s->count++) % RING;
                s->q[i].seq = s->seq;
                s->q[i].arrival = arr;
                s->q[i].lost = rnd(s) < s->loss_permille;
            }
            s->seq++;
            uint64_t target = sfu_bwe_target(s->bwe);
            if (s->app_bps && s->app_bps < target)
                target = s->app_bps;
            s->next_send += (uint64_t)PKT * 8 * 1000000 / target;
        }
        if (s->now >= s->next_fb) {
            s->next_fb = s->now + 50 * MS;
            sfu_twcc_packet fb[512];
            size_t n = 0;
            while (s->count && n < 512 && s->q[s->head].arrival <= (int64_t)s->now) {
                fb[n].seq = s->q[s->head].seq;
                fb[n].received = !s->q[s->head].lost;
                fb[n].arrival_us = s->q[s->head].lost ? SFU_TWCC_LOST : s->q[s->head].arrival;
                fb[n].delta_us = 0;
                n++;
                s->head = (s->head + 1) % RING;
                s->count--;
            }
            if (n)
                sfu_bwe_on_feedback(s->bwe, fb, n, s->now);
        }
    }
}

/* Average target over [from, to) sampled every 100 ms. */
static uint64_t sim_avg(sim *s, uint64_t to)
{
    uint64_t sum = 0, k = 0;
    while (s->now < to) {
        sim_run(s, s->now + 100 * MS);
        sum += sfu_bwe_target(s->bwe);
        k++;
    }
    return k ? sum / k : 0;
}

TEST(bwe_starts_at_start_rate_and_respects_bounds)
{
    sfu_bwe_config c;
    sfu_bwe_config_default(&c);
    c.max_bps = 3000000;
    sfu_bwe *b = sfu_bwe_create(&c);
    REQUIRE(b);
    CHECK_UINT_EQ(sfu_bwe_target(b), 1000000);
    sfu_bwe_on_remb(b, 10000, 0);
    CHECK_UINT_EQ(sfu_bwe_target(b), 50000); /* min wins over a silly REMB */
    sfu_bwe_on_remb(b, 600000, 0);
    CHECK_UINT_EQ(sfu_bwe_target(b), 600000);
    sfu_bwe_on_remb(b, 0, 0);
    CHECK_UINT_EQ(sfu_bwe_target(b), 1000000);
    /* Unknown sequence numbers are counted, not trusted. */
    sfu_twcc_packet p = {.seq = 77, .received = true, .arrival_us = 1000};
    sfu_bwe_on_feedback(b, &p, 1, 0);
    sfu_bwe_stats st;
    sfu_bwe_get_stats(b, &st);
    CHECK_UINT_EQ(st.unknown, 1);
    sfu_bwe_destroy(b);
}

TEST(bwe_converges_on_steady_2mbps_link)
{
    sfu_bwe *b = sfu_bwe_create(NULL);
    REQUIRE(b);
    static sim s;
    sim_init(&s, b, 2000000);
    sim_run(&s, 20000 * MS);
    uint64_t avg = sim_avg(&s, 40000 * MS);
    CHECK(avg > 1500000);
    CHECK(avg < 2400000);
    sfu_bwe_stats st;
    sfu_bwe_get_stats(b, &st);
    CHECK(st.acked_bps > 1400000);
    sfu_bwe_destroy(b);
}

TEST(bwe_drops_on_shaped_link_and_recovers)
{
    sfu_bwe *b = sfu_bwe_create(NULL);
    REQUIRE(b);
    static sim s;
    sim_init(&s, b, 2000000);
    sim_run(&s, 20000 * MS);
    uint64_t before = sfu_bwe_target(b);
    CHECK(before > 1400000);
    s.link_bps = 300000;
    sim_run(&s, 22000 * MS);
    uint64_t shaped = sfu_bwe_target(b);
    CHECK(shaped < 400000);
    uint64_t avg = sim_avg(&s, 30000 * MS);
    CHECK(avg < 400000);
    CHECK(avg > 150000);
    uint64_t low = sfu_bwe_target(b);
    s.link_bps = 2000000;
    sim_run(&s, 38000 * MS);
    uint64_t after = sfu_bwe_target(b);
    CHECK(after > low * 3 / 2);
    sfu_bwe_destroy(b);
}

TEST(bwe_survives_random_loss)
{
    sfu_bwe *b = sfu_bwe_create(NULL);
    REQUIRE(b);
    static sim s;
    sim_init(&s, b, 2000000);
    s.loss_permille = 50;
    sim_run(&s, 20000 * MS);
    uint64_t avg = sim_avg(&s, 40000 * MS);
    CHECK(avg > 1200000);
    sfu_bwe_stats st;
    sfu_bwe_get_stats(b, &st);
    CHECK(st.loss_permille > 20);
    CHECK(st.loss_permille < 100);
    sfu_bwe_destroy(b);
}

TEST(bwe_heavy_loss_caps_the_rate)
{
    sfu_bwe *b = sfu_bwe_create(NULL);
    REQUIRE(b);
    static sim s;
    sim_init(&s, b, 5000000);
    s.loss_permille = 300;
    sim_run(&s, 10000 * MS);
    sfu_bwe_stats st;
    sfu_bwe_get_stats(b, &st);
    CHECK(st.target_bps < 500000);
    CHECK(st.loss_bps < 1000000);
    sfu_bwe_destroy(b);
}

TEST(bwe_grows_while_application_limited_unless_capped)
{
    sfu_bwe *b = sfu_bwe_create(NULL);
    REQUIRE(b);
    static sim s;
    sim_init(&s, b, 5000000);
    s.app_bps = 500000;
    sim_run(&s, 15000 * MS);
    CHECK(sfu_bwe_target(b) > 1800000);
    sfu_bwe_destroy(b);

    sfu_bwe_config c;
    sfu_bwe_config_default(&c);
    c.acked_cap_ratio = 1.5;
    b = sfu_bwe_create(&c);
    REQUIRE(b);
    sim_init(&s, b, 5000000);
    s.app_bps = 500000;
    sim_run(&s, 15000 * MS);
    CHECK(sfu_bwe_target(b) <= 1000000); /* never grows past the start */
    CHECK(sfu_bwe_target(b) >= 760000);  /* but not below 1.5 x 500 k */
    sfu_bwe_destroy(b);
}

/* The start-phase tests run on a clock far from zero, as the monotonic
 * clock is in production. */
#define T0 (1000000 * MS)

/* A new estimator (c NULL = defaults) on s at T0: link and app rates as
 * in struct sim. NULL when out of memory. */
static sfu_bwe *sim_start(sim *s, const sfu_bwe_config *c, uint64_t link_bps, uint64_t app_bps)
{
    sfu_bwe *b = sfu_bwe_create(c);
    if (!b)
        return NULL;
    sim_init(s, b, link_bps);
    s->now = s->next_send = s->next_fb = T0;
    s->app_bps = app_bps;
    return b;
}

TEST(bwe_start_phase_ramps_fast_then_slows)
{
    /* A viewer sent 2 Mbit/s on a 10 Mbit/s link: x1.5 per second for the
     * whole 4 s start phase (a 2 s phase would give ~2.6 M here) ... */
    static sim s;
    sfu_bwe *b = sim_start(&s, NULL, 10000000, 2000000);
    REQUIRE(b);
    sim_run(&s, T0 + 3900 * MS);
    CHECK(sfu_bwe_target(b) > 4000000);
    /* ... then 8 % per second again. */
    sim_run(&s, T0 + 5000 * MS);
    uint64_t at5 = sfu_bwe_target(b);
    sim_run(&s, T0 + 7000 * MS);
    CHECK(sfu_bwe_target(b) < at5 * 118 / 100);
    CHECK(sfu_bwe_target(b) > at5 * 110 / 100);
    sfu_bwe_destroy(b);

    /* Without the start phase (growth 1.08) the same 3 s give ~1.26 M. */
    sfu_bwe_config c;
    sfu_bwe_config_default(&c);
    c.start_growth = 1.08;
    b = sim_start(&s, &c, 10000000, 2000000);
    REQUIRE(b);
    sim_run(&s, T0 + 3000 * MS);
    CHECK(sfu_bwe_target(b) < 1300000);
    sfu_bwe_destroy(b);
}

TEST(bwe_start_phase_grows_only_to_four_times_what_is_received)
{
    /* A viewer on a 360p layer (600 kbit/s): up to ~2.4 M, past a 720p
     * layer's 1.5 M in under two seconds. */
    static sim s;
    sfu_bwe *b = sim_start(&s, NULL, 10000000, 600000);
    REQUIRE(b);
    sim_run(&s, T0 + 1800 * MS);
    CHECK(sfu_bwe_target(b) > 1800000);
    sim_run(&s, T0 + 2400 * MS);
    CHECK(sfu_bwe_target(b) <= 2500000);
    CHECK(sfu_bwe_target(b) > 2000000);
    /* From the cap on, 8 % per second (x1.5 would be ~5 M at 3.9 s). */
    sim_run(&s, T0 + 3900 * MS);
    CHECK(sfu_bwe_target(b) < 2900000);
    sfu_bwe_destroy(b);

    /* Sent 100 kbit/s (a low layer, audio): nothing learnt, 8 %/s only. */
    b = sim_start(&s, NULL, 10000000, 100000);
    REQUIRE(b);
    sim_run(&s, T0 + 3900 * MS);
    CHECK(sfu_bwe_target(b) < 1400000);
    sfu_bwe_destroy(b);
}

TEST(bwe_start_phase_ends_at_the_first_overuse)
{
    /* A 1.2 Mbit/s link and a start phase left unbounded in time: the fast
     * start overshoots once, then the rate grows by 8 % per second again,
     * so overuse comes back every few seconds, not every few hundred ms. */
    sfu_bwe_config c;
    sfu_bwe_config_default(&c);
    c.start_phase_ms = 600000;
    static sim s;
    sfu_bwe *b = sim_start(&s, &c, 1200000, 0);
    REQUIRE(b);
    sim_run(&s, T0 + 3000 * MS);
    sfu_bwe_stats st;
    sfu_bwe_get_stats(b, &st);
    CHECK(st.target_bps < 1300000);
    int episodes = 0, was = 0;
    uint64_t sum = 0, k = 0;
    while (s.now < T0 + 15000 * MS) {
        sim_run(&s, s.now + 10 * MS);
        sfu_bwe_get_stats(b, &st);
        int over = st.state == SFU_BWE_OVERUSE;
        episodes += over && !was;
        was = over;
        sum += st.target_bps;
        k++;
    }
    CHECK(episodes <= 6);
    CHECK(sum / k < 1300000);
    CHECK(sum / k > 700000);
    sfu_bwe_destroy(b);
}

TEST(bwe_start_phase_ends_at_heavy_loss)
{
    /* 30 % loss for the first 1.5 s, then none: from there the delay-based
     * rate grows by 8 % per second, not by half. */
    static sim s;
    sfu_bwe *b = sim_start(&s, NULL, 10000000, 2000000);
    REQUIRE(b);
    s.loss_permille = 300;
    sim_run(&s, T0 + 1500 * MS);
    s.loss_permille = 0;
    sfu_bwe_stats st;
    sfu_bwe_get_stats(b, &st);
    uint64_t from = st.delay_bps;
    sim_run(&s, T0 + 3500 * MS);
    sfu_bwe_get_stats(b, &st);
    CHECK(st.delay_bps < from * 125 / 100);
    sfu_bwe_destroy(b);
}

TEST(bwe_start_phase_clock_waits_for_video)
{
    /* Audio only (50 kbit/s) for 4.5 s, then a 600 kbit/s layer: the
     * phase's 4 s start with the video, which passes 1.8 Mbit/s within
     * 1.5 s. (Timed from the first feedback, the phase would be over and
     * 8 %/s would give ~1.6 M.) */
    static sim s;
    sfu_bwe *b = sim_start(&s, NULL, 10000000, 50000);
    REQUIRE(b);
    sim_run(&s, T0 + 4500 * MS);
    CHECK(sfu_bwe_target(b) < 1600000);
    s.app_bps = 600000;
    sim_run(&s, T0 + 6000 * MS);
    CHECK(sfu_bwe_target(b) > 1800000);
    sfu_bwe_destroy(b);
}

/* A 1.2 Mbit/s link for 6 s (an overuse ends the phase), then a switch to
 * another path as a network change makes it: 300 ms in which everything
 * sent is lost, then 10 Mbit/s at 60 ms instead of 20. The target 2 s
 * later, with or without telling the estimator of the new route. */
static uint64_t after_path_change(bool tell)
{
    static sim s;
    sfu_bwe *b = sim_start(&s, NULL, 1200000, 0);
    if (!b)
        return 0;
    sim_run(&s, T0 + 6000 * MS);
    s.loss_permille = 1000;
    sim_run(&s, T0 + 6300 * MS);
    s.loss_permille = 0;
    s.link_bps = 10000000;
    s.base_delay = 60 * MS;
    if (tell)
        sfu_bwe_on_route_change(b);
    sim_run(&s, T0 + 8300 * MS);
    uint64_t t = sfu_bwe_target(b);
    sfu_bwe_destroy(b);
    return t;
}

TEST(bwe_route_change_starts_fast_again)
{
    uint64_t kept = after_path_change(false), told = after_path_change(true);
    CHECK(kept < 1500000); /* the switch's losses and delay step end it */
    CHECK(told > 2000000); /* x1.5 per second again on the new path */
}
