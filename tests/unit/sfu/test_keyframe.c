/* Unit tests for sfu/keyframe.c: merging, spacing, retries, FIR numbers, floods. */
#include "sfu/keyframe.h"
#include "tests/unit/harness.h"

#define MS 1000ull

TEST(keyframe_first_request_goes_out_and_others_merge)
{
    sfu_keyframe k;
    sfu_keyframe_init(&k, NULL);
    uint8_t seq = 0;
    CHECK_INT_EQ(sfu_keyframe_request(&k, 1, 1000 * MS, &seq), 1);
    CHECK_INT_EQ(seq, 1);
    CHECK(sfu_keyframe_pending(&k));
    CHECK_INT_EQ(sfu_keyframe_request(&k, 2, 1010 * MS, &seq), 0);
    CHECK_INT_EQ(sfu_keyframe_request(&k, 3, 1020 * MS, &seq), 0);
    CHECK_INT_EQ(sfu_keyframe_poll(&k, 1100 * MS, &seq), 0);
    sfu_keyframe_on_keyframe(&k, 1150 * MS);
    CHECK(!sfu_keyframe_pending(&k));
    CHECK_UINT_EQ(sfu_keyframe_next_due_us(&k), UINT64_MAX);
    CHECK_UINT_EQ(k.stats.sent, 1);
    CHECK_UINT_EQ(k.stats.merged, 2);
    CHECK_UINT_EQ(k.stats.requests, 3);
}

TEST(keyframe_requests_are_spaced_by_min_interval)
{
    sfu_keyframe k;
    sfu_keyframe_init(&k, NULL);
    uint8_t seq = 0;
    CHECK_INT_EQ(sfu_keyframe_request(&k, 1, 0, &seq), 1);
    sfu_keyframe_on_keyframe(&k, 100 * MS);
    /* 200 ms after the last send: deferred until 500 ms. */
    CHECK_INT_EQ(sfu_keyframe_request(&k, 2, 200 * MS, &seq), 0);
    CHECK(sfu_keyframe_pending(&k));
    CHECK_UINT_EQ(sfu_keyframe_next_due_us(&k), 500 * MS);
    CHECK_INT_EQ(sfu_keyframe_poll(&k, 400 * MS, &seq), 0);
    CHECK_INT_EQ(sfu_keyframe_poll(&k, 500 * MS, &seq), 1);
    CHECK_INT_EQ(seq, 2); /* a new request: new FIR sequence number */
    CHECK_INT_EQ(sfu_keyframe_poll(&k, 510 * MS, &seq), 0);
}

TEST(keyframe_retry_keeps_fir_seq_and_gives_up)
{
    sfu_keyframe_config c;
    sfu_keyframe_config_default(&c);
    c.max_retries = 2;
    sfu_keyframe k;
    sfu_keyframe_init(&k, &c);
    uint8_t seq = 0;
    CHECK_INT_EQ(sfu_keyframe_request(&k, SFU_KEYFRAME_INTERNAL, 0, &seq), 1);
    CHECK_INT_EQ(seq, 1);
    CHECK_INT_EQ(sfu_keyframe_poll(&k, 999 * MS, &seq), 0);
    seq = 0;
    CHECK_INT_EQ(sfu_keyframe_poll(&k, 1000 * MS, &seq), 1);
    CHECK_INT_EQ(seq, 1);
    CHECK_INT_EQ(sfu_keyframe_poll(&k, 2000 * MS, &seq), 1);
    CHECK_INT_EQ(sfu_keyframe_poll(&k, 3000 * MS, &seq), 0); /* gave up */
    CHECK(!sfu_keyframe_pending(&k));
    CHECK_UINT_EQ(k.stats.retries, 2);
    CHECK_UINT_EQ(k.stats.gave_up, 1);
    CHECK_INT_EQ(sfu_keyframe_request(&k, SFU_KEYFRAME_INTERNAL, 3100 * MS, &seq), 1);
    CHECK_INT_EQ(seq, 2);
}

TEST(keyframe_flooding_viewer_is_refused_and_bounded)
{
    sfu_keyframe k;
    sfu_keyframe_init(&k, NULL);
    int sends = 0;
    uint8_t seq;
    /* Viewer 7 sends a PLI every 10 ms for 10 s; keyframes arrive 50 ms after each send. */
    uint64_t kf_at = UINT64_MAX;
    for (uint64_t t = 0; t < 10000 * MS; t += 10 * MS) {
        if (t >= kf_at) {
            sfu_keyframe_on_keyframe(&k, t);
            kf_at = UINT64_MAX;
        }
        int r = sfu_keyframe_request(&k, 7, t, &seq);
        if (r == 1) {
            sends++;
            kf_at = t + 50 * MS;
        }
        if (sfu_keyframe_poll(&k, t, &seq) == 1) {
            sends++;
            kf_at = t + 50 * MS;
        }
    }
    CHECK(sends <= 20); /* at most one per 500 ms */
    CHECK(sends >= 15);
    CHECK(k.stats.refused >= 900);
    /* Another viewer is not refused. */
    CHECK(sfu_keyframe_request(&k, 8, 10000 * MS, &seq) >= 0);
}

TEST(keyframe_viewer_table_reuses_oldest)
{
    sfu_keyframe k;
    sfu_keyframe_init(&k, NULL);
    for (uint32_t v = 1; v <= 100; v++)
        CHECK(sfu_keyframe_request(&k, v, v * MS, NULL) >= 0);
    CHECK_UINT_EQ(k.stats.refused, 0);
    CHECK_INT_EQ(sfu_keyframe_request(&k, 100, 101 * MS, NULL), -1);
}
