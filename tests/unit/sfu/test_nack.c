/* Unit tests for sfu/nack.c: gaps, retries, reordering, wrap, overflow. */
#include "sfu/nack.h"
#include "tests/unit/harness.h"

#define MS 1000ull

TEST(nack_in_order_has_nothing_to_nack)
{
    sfu_nack *n = sfu_nack_create(NULL);
    REQUIRE(n);
    uint16_t out[16];
    for (uint16_t s = 100; s < 200; s++)
        CHECK_INT_EQ(sfu_nack_on_packet(n, s, s * MS, false), SFU_NACK_NEW);
    CHECK_UINT_EQ(sfu_nack_collect(n, 300 * MS, out, 16), 0);
    CHECK_UINT_EQ(sfu_nack_next_due_us(n), UINT64_MAX);
    sfu_nack_stats st;
    sfu_nack_get_stats(n, &st);
    CHECK_UINT_EQ(st.received, 100);
    CHECK_UINT_EQ(st.missing, 0);
    sfu_nack_destroy(n);
}

TEST(nack_gap_is_nacked_then_retried_every_rtt)
{
    sfu_nack *n = sfu_nack_create(NULL);
    REQUIRE(n);
    uint16_t out[16];
    sfu_nack_on_packet(n, 10, 0, false);
    sfu_nack_on_packet(n, 13, 1 * MS, false); /* 11, 12 missing */
    CHECK_UINT_EQ(sfu_nack_next_due_us(n), 1 * MS);
    REQUIRE(sfu_nack_collect(n, 1 * MS, out, 16) == 2);
    CHECK_INT_EQ(out[0], 11);
    CHECK_INT_EQ(out[1], 12);
    /* Not again before an RTT (100 ms default). */
    CHECK_UINT_EQ(sfu_nack_collect(n, 50 * MS, out, 16), 0);
    CHECK_UINT_EQ(sfu_nack_next_due_us(n), 101 * MS);
    sfu_nack_set_rtt(n, 40 * MS);
    CHECK_UINT_EQ(sfu_nack_collect(n, 41 * MS, out, 16), 2);
    /* 12 arrives as RTX: only 11 left. */
    CHECK_INT_EQ(sfu_nack_on_packet(n, 12, 45 * MS, true), SFU_NACK_RECOVERED);
    REQUIRE(sfu_nack_collect(n, 90 * MS, out, 16) == 1);
    CHECK_INT_EQ(out[0], 11);
    sfu_nack_stats st;
    sfu_nack_get_stats(n, &st);
    CHECK_UINT_EQ(st.missing, 2);
    CHECK_UINT_EQ(st.nacked, 5);
    CHECK_UINT_EQ(st.recovered, 1);
    CHECK_UINT_EQ(st.recovered_rtx, 1);
    CHECK_UINT_EQ(st.pending, 1);
    /* Duplicate RTX is old. */
    CHECK_INT_EQ(sfu_nack_on_packet(n, 12, 91 * MS, true), SFU_NACK_OLD);
    sfu_nack_destroy(n);
}

TEST(nack_gives_up_after_max_retries)
{
    sfu_nack_config c;
    sfu_nack_config_default(&c);
    c.max_retries = 3;
    c.max_age_us = 10000 * MS;
    sfu_nack *n = sfu_nack_create(&c);
    REQUIRE(n);
    uint16_t out[4];
    sfu_nack_on_packet(n, 1, 0, false);
    sfu_nack_on_packet(n, 3, 0, false);
    size_t total = 0;
    for (uint64_t t = 0; t < 2000 * MS; t += 10 * MS)
        total += sfu_nack_collect(n, t, out, 4);
    CHECK_UINT_EQ(total, 3);
    sfu_nack_stats st;
    sfu_nack_get_stats(n, &st);
    CHECK_UINT_EQ(st.lost, 1);
    CHECK_UINT_EQ(st.pending, 0);
    sfu_nack_destroy(n);
}

TEST(nack_gives_up_after_max_age)
{
    sfu_nack *n = sfu_nack_create(NULL); /* 1 s max age, 10 retries at 100 ms */
    REQUIRE(n);
    uint16_t out[4];
    sfu_nack_set_rtt(n, 300 * MS);
    sfu_nack_on_packet(n, 1, 0, false);
    sfu_nack_on_packet(n, 3, 0, false);
    size_t total = 0;
    for (uint64_t t = 0; t <= 1500 * MS; t += 10 * MS)
        total += sfu_nack_collect(n, t, out, 4);
    /* 0, 300, 600 ms; not at 900: the answer would come at 1.2 s, past
     * the 1 s max age */
    CHECK_UINT_EQ(total, 3);
    sfu_nack_stats st;
    sfu_nack_get_stats(n, &st);
    CHECK_UINT_EQ(st.lost, 1);
    sfu_nack_destroy(n);
}

/* Behind a deep queue (RTT 500 ms) a packet stays worth asking for three
 * round trips (1.5 s), the time its sender keeps it. */
TEST(nack_slow_path_asks_for_three_rtts)
{
    sfu_nack *n = sfu_nack_create(NULL);
    REQUIRE(n);
    uint16_t out[4];
    sfu_nack_set_rtt(n, 500 * MS);
    sfu_nack_on_packet(n, 1, 0, false);
    sfu_nack_on_packet(n, 3, 0, false);
    size_t total = 0;
    for (uint64_t t = 0; t <= 2500 * MS; t += 10 * MS)
        total += sfu_nack_collect(n, t, out, 4);
    /* 0, 500 ms and 1 s (answer at 1.5 s: the useful age's edge; a 1 s
     * max age alone would stop after 500 ms); not at 1.5 s */
    CHECK_UINT_EQ(total, 3);
    sfu_nack_destroy(n);
    n = sfu_nack_create(NULL);
    REQUIRE(n);
    sfu_nack_set_rtt(n, 400 * MS); /* 3 RTTs = 1.2 s */
    sfu_nack_on_packet(n, 1, 0, false);
    sfu_nack_on_packet(n, 3, 0, false);
    total = 0;
    for (uint64_t t = 0; t <= 2500 * MS; t += 10 * MS)
        total += sfu_nack_collect(n, t, out, 4);
    /* 0, 400 and 800 ms (answer at 1.2 s: in time) */
    CHECK_UINT_EQ(total, 3);
    sfu_nack_stats st;
    sfu_nack_get_stats(n, &st);
    CHECK_UINT_EQ(st.lost, 1);
    sfu_nack_destroy(n);
}

TEST(nack_reordering_clears_entry_and_handles_wrap)
{
    sfu_nack *n = sfu_nack_create(NULL);
    REQUIRE(n);
    uint16_t out[16];
    sfu_nack_on_packet(n, 65534, 0, false);
    sfu_nack_on_packet(n, 1, 0, false); /* 65535 and 0 missing across the wrap */
    CHECK_INT_EQ(sfu_nack_on_packet(n, 0, 0, false), SFU_NACK_RECOVERED);
    REQUIRE(sfu_nack_collect(n, 0, out, 16) == 1);
    CHECK_INT_EQ(out[0], 65535);
    sfu_nack_on_packet(n, 5, 0, false);
    REQUIRE(sfu_nack_collect(n, 0, out, 16) == 3);
    CHECK_INT_EQ(out[0], 2);
    CHECK_INT_EQ(out[2], 4);
    sfu_nack_destroy(n);
}

TEST(nack_ignores_packets_older_than_window)
{
    sfu_nack *n = sfu_nack_create(NULL);
    REQUIRE(n);
    uint16_t out[16];
    sfu_nack_on_packet(n, 0, 0, false);
    sfu_nack_on_packet(n, 2, 0, false); /* 1 missing */
    for (uint16_t s = 3; s < 1100; s++)
        sfu_nack_on_packet(n, s, 0, false);
    /* 1 fell out of the window: counted lost, not NACKed. */
    CHECK_UINT_EQ(sfu_nack_collect(n, 0, out, 16), 0);
    CHECK_INT_EQ(sfu_nack_on_packet(n, 1, 0, false), SFU_NACK_OLD);
    CHECK_INT_EQ(sfu_nack_on_packet(n, 50, 0, false), SFU_NACK_OLD);
    sfu_nack_stats st;
    sfu_nack_get_stats(n, &st);
    CHECK_UINT_EQ(st.lost, 1);
    CHECK_UINT_EQ(st.duplicates, 2);
    sfu_nack_destroy(n);
}

TEST(nack_burst_asks_for_keyframe)
{
    sfu_nack_config c;
    sfu_nack_config_default(&c);
    c.max_missing = 64;
    sfu_nack *n = sfu_nack_create(&c);
    REQUIRE(n);
    uint16_t out[128];
    sfu_nack_on_packet(n, 0, 0, false);
    CHECK(!sfu_nack_take_keyframe_request(n));
    sfu_nack_on_packet(n, 10, 0, false);  /* 9 missing */
    sfu_nack_on_packet(n, 200, 0, false); /* 189 more: too many */
    CHECK(sfu_nack_take_keyframe_request(n));
    CHECK(!sfu_nack_take_keyframe_request(n));
    CHECK_UINT_EQ(sfu_nack_collect(n, 0, out, 128), 0);
    /* Many small gaps overflow the list too. */
    uint16_t s = 200;
    for (int i = 0; i < 80; i++) {
        s += 2;
        sfu_nack_on_packet(n, s, 0, false);
    }
    CHECK(sfu_nack_take_keyframe_request(n));
    sfu_nack_stats st;
    sfu_nack_get_stats(n, &st);
    CHECK(st.pending <= 64);
    CHECK_UINT_EQ(st.keyframe_requests, 2);
    sfu_nack_destroy(n);
}

TEST(nack_keyframe_drops_older_entries)
{
    sfu_nack *n = sfu_nack_create(NULL);
    REQUIRE(n);
    uint16_t out[16];
    sfu_nack_on_packet(n, 0, 0, false);
    sfu_nack_on_packet(n, 5, 0, false); /* 1..4 */
    sfu_nack_on_packet(n, 8, 0, false); /* 6, 7 */
    sfu_nack_on_keyframe(n, 5);
    REQUIRE(sfu_nack_collect(n, 0, out, 16) == 2);
    CHECK_INT_EQ(out[0], 6);
    CHECK_INT_EQ(out[1], 7);
    sfu_nack_destroy(n);
}

TEST(nack_collect_respects_max)
{
    sfu_nack *n = sfu_nack_create(NULL);
    REQUIRE(n);
    uint16_t out[4];
    sfu_nack_on_packet(n, 0, 0, false);
    sfu_nack_on_packet(n, 11, 0, false); /* 10 missing */
    CHECK_UINT_EQ(sfu_nack_collect(n, 0, out, 4), 4);
    CHECK_INT_EQ(out[0], 1);
    CHECK_UINT_EQ(sfu_nack_collect(n, 0, out, 4), 4);
    CHECK_INT_EQ(out[0], 5);
    CHECK_UINT_EQ(sfu_nack_collect(n, 0, out, 4), 2);
    CHECK_UINT_EQ(sfu_nack_collect(n, 0, out, 4), 0);
    sfu_nack_reset(n);
    CHECK_UINT_EQ(sfu_nack_next_due_us(n), UINT64_MAX);
    sfu_nack_destroy(n);
}

TEST(nack_follows_a_sequence_restart)
{
    sfu_nack *n = sfu_nack_create(NULL);
    REQUIRE(n);
    uint16_t out[16];
    for (uint16_t s = 1000; s < 1010; s++)
        sfu_nack_on_packet(n, s, 0, false);
    /* 40000 looks 26536 behind: one such packet is ignored ... */
    CHECK_INT_EQ(sfu_nack_on_packet(n, 40000, 0, false), SFU_NACK_OLD);
    /* ... the next in sequence restarts the tracking there. */
    CHECK_INT_EQ(sfu_nack_on_packet(n, 40001, 0, false), SFU_NACK_NEW);
    CHECK_INT_EQ(sfu_nack_on_packet(n, 40003, 0, false), SFU_NACK_NEW);
    REQUIRE(sfu_nack_collect(n, 0, out, 16) == 1);
    CHECK_INT_EQ(out[0], 40002);
    sfu_nack_destroy(n);
}
