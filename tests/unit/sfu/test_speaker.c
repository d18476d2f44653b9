/* Unit tests for sfu/speaker.c: synthetic RFC 6464 level sequences. */
#include "sfu/speaker.h"
#include "tests/unit/harness.h"

#define MS 1000ull

/*
 * Feed 20 ms audio packets from participants 1..3 between from and to,
 * levels from the array (127 = silence), updating every 100 ms. Returns
 * the time of the last dominant-speaker change (0 if none) and the number
 * of changes in *changes.
 */
static uint64_t run(sfu_speaker *s, uint64_t from, uint64_t to, const uint8_t lv[3], int *changes)
{
    uint64_t last = 0;
    for (uint64_t t = from; t < to; t += 20 * MS) {
        for (uint32_t id = 1; id <= 3; id++)
            sfu_speaker_on_level(s, id, lv[id - 1], lv[id - 1] < 127, t);
        if (t % (100 * MS) == 0) {
            uint32_t d;
            if (sfu_speaker_update(s, t, &d)) {
                last = t;
                if (changes)
                    (*changes)++;
            }
        }
    }
    return last;
}

static sfu_speaker *three(void)
{
    sfu_speaker *s = sfu_speaker_create(NULL);
    if (!s)
        return NULL;
    for (uint32_t id = 1; id <= 3; id++)
        sfu_speaker_add(s, id);
    return s;
}

TEST(speaker_first_talker_becomes_dominant)
{
    sfu_speaker *s = three();
    REQUIRE(s);
    uint32_t d = 0;
    CHECK(!sfu_speaker_dominant(s, &d));
    static const uint8_t a[3] = {30, 127, 127};
    int changes = 0;
    uint64_t at = run(s, 0, 3000 * MS, a, &changes);
    CHECK_INT_EQ(changes, 1);
    CHECK(at <= 500 * MS);
    REQUIRE(sfu_speaker_dominant(s, &d));
    CHECK_UINT_EQ(d, 1);
    CHECK(sfu_speaker_activity(s, 1) > 30);
    CHECK(sfu_speaker_activity(s, 2) == 0);
    sfu_speaker_destroy(s);
}

TEST(speaker_switches_after_hold)
{
    sfu_speaker *s = three();
    REQUIRE(s);
    static const uint8_t a[3] = {30, 127, 127};
    static const uint8_t b[3] = {127, 35, 127};
    run(s, 0, 5000 * MS, a, NULL);
    int changes = 0;
    uint64_t at = run(s, 5000 * MS, 10000 * MS, b, &changes);
    CHECK_INT_EQ(changes, 1);
    CHECK(at >= 6000 * MS); /* at least the 1 s hold */
    CHECK(at <= 8000 * MS);
    uint32_t d = 0;
    sfu_speaker_dominant(s, &d);
    CHECK_UINT_EQ(d, 2);
    sfu_speaker_destroy(s);
}

TEST(speaker_ignores_short_interjection)
{
    sfu_speaker *s = three();
    REQUIRE(s);
    static const uint8_t a[3] = {40, 127, 127};
    static const uint8_t cough[3] = {40, 5, 127};
    int changes = 0;
    run(s, 0, 5000 * MS, a, &changes);
    run(s, 5000 * MS, 5400 * MS, cough, &changes);
    run(s, 5400 * MS, 10000 * MS, a, &changes);
    CHECK_INT_EQ(changes, 1);
    uint32_t d = 0;
    sfu_speaker_dominant(s, &d);
    CHECK_UINT_EQ(d, 1);
    sfu_speaker_destroy(s);
}

TEST(speaker_silence_keeps_last_speaker)
{
    sfu_speaker *s = three();
    REQUIRE(s);
    static const uint8_t a[3] = {30, 127, 127};
    static const uint8_t quiet[3] = {127, 127, 127};
    static const uint8_t noise[3] = {90, 85, 100}; /* below the noise floor */
    int changes = 0;
    run(s, 0, 3000 * MS, a, &changes);
    run(s, 3000 * MS, 8000 * MS, quiet, &changes);
    run(s, 8000 * MS, 12000 * MS, noise, &changes);
    CHECK_INT_EQ(changes, 1);
    uint32_t d = 0;
    CHECK(sfu_speaker_dominant(s, &d));
    CHECK_UINT_EQ(d, 1);
    CHECK(sfu_speaker_activity(s, 1) < 1.0);
    sfu_speaker_destroy(s);
}

TEST(speaker_two_equal_talkers_do_not_flap)
{
    sfu_speaker *s = three();
    REQUIRE(s);
    static const uint8_t both[3] = {30, 32, 127};
    int changes = 0;
    run(s, 0, 20000 * MS, both, &changes);
    CHECK_INT_EQ(changes, 1);
    sfu_speaker_destroy(s);
}

TEST(speaker_stopped_stream_decays_and_others_take_over)
{
    sfu_speaker *s = three();
    REQUIRE(s);
    static const uint8_t a[3] = {30, 127, 127};
    run(s, 0, 3000 * MS, a, NULL);
    /* Participant 1's packets stop entirely; 3 talks. */
    uint64_t switched = 0;
    for (uint64_t t = 3000 * MS; t < 8000 * MS; t += 20 * MS) {
        sfu_speaker_on_level(s, 3, 35, true, t);
        uint32_t d;
        if (t % (100 * MS) == 0 && sfu_speaker_update(s, t, &d) && !switched)
            switched = t;
    }
    CHECK(switched >= 4000 * MS && switched <= 6500 * MS);
    uint32_t d = 0;
    sfu_speaker_dominant(s, &d);
    CHECK_UINT_EQ(d, 3);
    sfu_speaker_destroy(s);
}

TEST(speaker_add_remove)
{
    sfu_speaker_config c;
    sfu_speaker_config_default(&c);
    c.max_participants = 2;
    sfu_speaker *s = sfu_speaker_create(&c);
    REQUIRE(s);
    CHECK_INT_EQ(sfu_speaker_add(s, 10), 0);
    CHECK_INT_EQ(sfu_speaker_add(s, 10), -1);
    CHECK_INT_EQ(sfu_speaker_add(s, 11), 0);
    CHECK_INT_EQ(sfu_speaker_add(s, 12), -1);
    for (uint64_t t = 0; t < 2000 * MS; t += 20 * MS) {
        sfu_speaker_on_level(s, 10, 20, true, t);
        sfu_speaker_on_level(s, 99, 0, true, t); /* unknown: ignored */
    }
    uint32_t d = 0;
    CHECK_INT_EQ(sfu_speaker_update(s, 2000 * MS, &d), 1);
    CHECK_UINT_EQ(d, 10);
    CHECK_INT_EQ(sfu_speaker_remove(s, 10), 0);
    CHECK(!sfu_speaker_dominant(s, &d));
    CHECK_INT_EQ(sfu_speaker_remove(s, 10), -1);
    CHECK_INT_EQ(sfu_speaker_add(s, 12), 0);
    sfu_speaker_destroy(s);
}
