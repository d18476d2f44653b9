/* Unit tests for sfu/consumer.c: one continuous stream out of simulcast
 * layers (sequence numbers, timestamps, PictureID, TL0PICIDX), layer choice. */
#include "sfu/consumer.h"
#include "tests/unit/harness.h"

static sfu_consumer_in pkt(int layer, uint16_t seq, uint32_t ts, int key, uint16_t pid, uint8_t tl0,
                           uint64_t now)
{
    sfu_consumer_in in = {.layer = layer,
                          .seq = seq,
                          .ts = ts,
                          .keyframe_start = key,
                          .has_pid = true,
                          .has_tl0 = true,
                          .pid = pid,
                          .tl0 = tl0,
                          .now_us = now};
    return in;
}

TEST(consumer_waits_for_target_keyframe)
{
    sfu_consumer c;
    sfu_consumer_init(&c, true, 90000, 0);
    sfu_consumer_out o;
    sfu_consumer_in in = pkt(1, 100, 1000, 1, 5, 1, 0); /* keyframe, wrong layer */
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
    in = pkt(0, 500, 9000, 0, 7, 3, 0); /* target layer, delta frame */
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
    CHECK(sfu_consumer_wants_keyframe(&c));
    in = pkt(0, 501, 12000, 1, 8, 4, 0);
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 1);
    CHECK(o.switched);
    CHECK_INT_EQ(o.seq, 501);
    CHECK(!sfu_consumer_wants_keyframe(&c));
}

TEST(consumer_switch_keeps_everything_continuous)
{
    sfu_consumer c;
    sfu_consumer_init(&c, true, 90000, 0);
    sfu_consumer_out o;
    uint64_t t = 1000000;
    /* Low layer: seq 65530.. (wraps), pid 0x7ffe.., tl0 254.. */
    sfu_consumer_in in = pkt(0, 65530, 4000000000u, 1, 0x7ffe, 254, t);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    uint16_t last_seq = o.seq;
    for (int i = 1; i <= 10; i++) {
        in = pkt(0, (uint16_t)(65530 + i), 4000000000u + 3000u * (uint32_t)i, 0,
                 (uint16_t)((0x7ffe + i) & 0x7fff), (uint8_t)(254 + i), t + 33333u * (uint64_t)i);
        REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
        CHECK_UINT_EQ(o.seq, (uint16_t)(last_seq + 1));
        last_seq = o.seq;
    }
    uint32_t last_ts = o.ts;
    uint16_t last_pid = o.pid;
    uint8_t last_tl0 = o.tl0;
    /* Switch to the high layer, numbered completely differently. */
    sfu_consumer_set_target(&c, 2);
    in = pkt(2, 20000, 777, 0, 100, 9, t + 400000); /* not a keyframe: dropped */
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
    in = pkt(0, 5, 4000040000u, 0, 11, 11, t + 400000); /* old layer still forwarded */
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, (uint16_t)(last_seq + 1));
    last_seq = o.seq;
    last_ts = o.ts;
    last_pid = o.pid;
    last_tl0 = o.tl0;
    uint64_t t_sw = t + 433333;
    in = pkt(2, 20001, 1000, 1, 101, 10, t_sw);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK(o.switched);
    CHECK_UINT_EQ(o.seq, (uint16_t)(last_seq + 1));
    /* 33333 us at 90 kHz = 2999 ticks */
    CHECK_UINT_EQ(o.ts, last_ts + 2999u);
    CHECK_UINT_EQ(o.pid, (uint16_t)((last_pid + 1) & 0x7fff));
    CHECK_UINT_EQ(o.tl0, (uint8_t)(last_tl0 + 1));
    /* Later packets of the high layer keep the same shift. */
    in = pkt(2, 20002, 4000, 0, 102, 10, t_sw + 33000);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, (uint16_t)(last_seq + 2));
    CHECK_UINT_EQ(o.ts, last_ts + 2999u + 3000u);
    /* The old layer is dropped now. */
    in = pkt(0, 6, 4000043000u, 0, 12, 11, t_sw + 34000);
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
    CHECK_UINT_EQ(c.switches, 1);
}

TEST(consumer_reordered_packet_keeps_its_place)
{
    sfu_consumer c;
    sfu_consumer_init(&c, true, 90000, 0);
    sfu_consumer_out o;
    sfu_consumer_in in = pkt(0, 10, 0, 1, 1, 1, 0);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    in = pkt(0, 12, 0, 0, 1, 1, 0);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    in = pkt(0, 11, 0, 0, 1, 1, 0);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, 11);
    CHECK_UINT_EQ(c.last_seq, 12);
}

TEST(consumer_audio_forwards_at_once)
{
    sfu_consumer c;
    sfu_consumer_init(&c, false, 48000, 2);
    CHECK_INT_EQ(c.target, 0);
    sfu_consumer_out o;
    sfu_consumer_in in = {.layer = 0, .seq = 7, .ts = 960};
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 1);
    CHECK_UINT_EQ(o.seq, 7);
    CHECK_UINT_EQ(o.ts, 960);
    CHECK(!sfu_consumer_wants_keyframe(&c));
}

TEST(consumer_layer_for_height)
{
    uint16_t h[3] = {180, 360, 720};
    CHECK_INT_EQ(sfu_consumer_layer_for_height(h, 3, 1080), 2);
    CHECK_INT_EQ(sfu_consumer_layer_for_height(h, 3, 720), 2);
    CHECK_INT_EQ(sfu_consumer_layer_for_height(h, 3, 500), 1);
    CHECK_INT_EQ(sfu_consumer_layer_for_height(h, 3, 100), 0);
    uint16_t partial[3] = {180, 0, 540}; /* m never seen: guessed 360 */
    CHECK_INT_EQ(sfu_consumer_layer_for_height(partial, 3, 400), 1);
    uint16_t only_low[3] = {180, 0, 0};
    CHECK_INT_EQ(sfu_consumer_layer_for_height(only_low, 3, 720), 2);
    CHECK_INT_EQ(sfu_consumer_layer_for_height(only_low, 3, 719), 1);
    uint16_t unknown[3] = {0, 0, 0};
    CHECK_INT_EQ(sfu_consumer_layer_for_height(unknown, 3, 720), 0);
    sfu_consumer c;
    sfu_consumer_init(&c, true, 90000, 9);
    CHECK_INT_EQ(c.target, SFU_CONSUMER_MAX_LAYERS - 1);
}

/* ---- temporal layers ------------------------------------------------------ */

/* One packet of picture `pic` of an L1T3 stream (TIDs 0,2,1,2,0,...),
 * two packets per picture, starting at seq0 / pid0 / tl0 0. */
static const uint8_t l1t3[4] = {0, 2, 1, 2};

static sfu_consumer_in tpkt(int pic, int part, uint16_t seq0, uint16_t pid0, int key)
{
    sfu_consumer_in in = pkt(0, (uint16_t)(seq0 + 2 * pic + part), 3000u * (uint32_t)pic,
                             key && pic == 0 && part == 0, (uint16_t)((pid0 + pic) & 0x7fff),
                             (uint8_t)(pic / 4), 1000000u + 33333u * (uint64_t)pic);
    in.has_tid = true;
    in.tid = l1t3[pic % 4];
    in.frame_start = part == 0;
    return in;
}

TEST(consumer_temporal_limit_keeps_seq_pid_tl0_continuous)
{
    sfu_consumer c;
    sfu_consumer_init(&c, true, 90000, 0);
    sfu_consumer_set_temporal(&c, 0); /* base layer only: 1 picture in 4 */
    sfu_consumer_out o;
    int fwd = 0;
    uint16_t last_seq = 0, last_pid = 0;
    uint8_t last_tl0 = 0;
    for (int pic = 0; pic < 16; pic++) {
        for (int part = 0; part < 2; part++) {
            sfu_consumer_in in = tpkt(pic, part, 65500, 0x7ff0, 1);
            int r = sfu_consumer_process(&c, &in, &o);
            CHECK_INT_EQ(r, l1t3[pic % 4] == 0);
            if (!r)
                continue;
            if (fwd > 0) {
                CHECK_UINT_EQ(o.seq, (uint16_t)(last_seq + 1));
                CHECK_UINT_EQ(o.pid, part ? last_pid : (uint16_t)((last_pid + 1) & 0x7fff));
                CHECK_UINT_EQ(o.tl0, part ? last_tl0 : (uint8_t)(last_tl0 + 1));
            }
            last_seq = o.seq;
            last_pid = o.pid;
            last_tl0 = o.tl0;
            fwd++;
        }
    }
    CHECK_INT_EQ(fwd, 8);
    CHECK_UINT_EQ(c.dropped_temporal, 24);

    /* Two layers (0 and 1): half of the pictures, still continuous. */
    sfu_consumer_init(&c, true, 90000, 0);
    sfu_consumer_set_temporal(&c, 1);
    fwd = 0;
    for (int pic = 0; pic < 16; pic++) {
        for (int part = 0; part < 2; part++) {
            sfu_consumer_in in = tpkt(pic, part, 100, 5, 1);
            if (sfu_consumer_process(&c, &in, &o)) {
                if (fwd)
                    CHECK_UINT_EQ(o.seq, (uint16_t)(last_seq + 1));
                if (fwd)
                    CHECK_UINT_EQ(o.pid, part ? last_pid : (uint16_t)(last_pid + 1));
                last_seq = o.seq;
                last_pid = o.pid;
                fwd++;
            }
        }
    }
    CHECK_INT_EQ(fwd, 16);
}

TEST(consumer_temporal_up_waits_for_base_or_sync_picture)
{
    sfu_consumer c;
    sfu_consumer_init(&c, true, 90000, 0);
    sfu_consumer_set_temporal(&c, 0);
    sfu_consumer_out o;
    for (int pic = 0; pic < 6; pic++) { /* pictures 0..5: T0 T2 T1 T2 T0 T2 */
        sfu_consumer_in in = tpkt(pic, 0, 1000, 10, 1);
        sfu_consumer_process(&c, &in, &o);
    }
    sfu_consumer_set_temporal(&c, -1);            /* all layers wanted again */
    sfu_consumer_in in = tpkt(6, 0, 1000, 10, 1); /* T1, no sync bit */
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
    in = tpkt(7, 0, 1000, 10, 1); /* T2 */
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
    in = tpkt(8, 0, 1000, 10, 1); /* T0: everything from here */
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    uint16_t s8 = o.seq, p8 = o.pid;
    in = tpkt(9, 0, 1000, 10, 1); /* T2 forwarded now */
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, (uint16_t)(s8 + 2)); /* picture 8 has two packets */
    CHECK_UINT_EQ(o.pid, (uint16_t)(p8 + 1));
    /* 3 pictures forwarded before (0, 4, 8 -> pids 10, 11, 12). */
    CHECK_UINT_EQ(p8, 12);

    /* A layer-sync picture lets its own layer in early. */
    sfu_consumer_init(&c, true, 90000, 0);
    sfu_consumer_set_temporal(&c, 0);
    in = tpkt(0, 0, 1000, 10, 1);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    sfu_consumer_set_temporal(&c, 2);
    in = tpkt(1, 0, 1000, 10, 1); /* T2 without Y: dropped */
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
    in = tpkt(2, 0, 1000, 10, 1); /* T1 with Y: forwarded, limit now 1 */
    in.layer_sync = true;
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.pid, 11);
    CHECK_INT_EQ(c.tid_cur, 1);
    in = tpkt(3, 0, 1000, 10, 1); /* T2 without Y: still dropped */
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
    /* Going down is immediate at the next picture. */
    sfu_consumer_set_temporal(&c, 0);
    in = tpkt(6, 0, 1000, 10, 1); /* T1 */
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
}

TEST(consumer_temporal_drop_with_reordering)
{
    sfu_consumer c;
    sfu_consumer_init(&c, false, 90000, 0);
    sfu_consumer_set_temporal(&c, 0);
    sfu_consumer_out o;
    sfu_consumer_in a = {.layer = 0, .seq = 10, .has_tid = true, .tid = 0, .frame_start = true};
    sfu_consumer_in b = {.layer = 0, .seq = 11, .has_tid = true, .tid = 2, .frame_start = true};
    sfu_consumer_in c1 = {.layer = 0, .seq = 12, .has_tid = true, .tid = 0, .frame_start = true};
    sfu_consumer_in c2 = {.layer = 0, .seq = 13, .has_tid = true, .tid = 0};
    REQUIRE(sfu_consumer_process(&c, &a, &o) == 1);
    CHECK_UINT_EQ(o.seq, 10);
    CHECK_INT_EQ(sfu_consumer_process(&c, &b, &o), 0);
    REQUIRE(sfu_consumer_process(&c, &c2, &o) == 1); /* arrives before c1 */
    CHECK_UINT_EQ(o.seq, 12);
    REQUIRE(sfu_consumer_process(&c, &c1, &o) == 1);
    CHECK_UINT_EQ(o.seq, 11);
    /* Far in the future: more than the 128-packet history. */
    sfu_consumer_in d = {.layer = 0, .seq = 400, .has_tid = true, .tid = 0, .frame_start = true};
    REQUIRE(sfu_consumer_process(&c, &d, &o) == 1);
    CHECK_UINT_EQ(o.seq, 399);
}

TEST(consumer_resume_after_mute_has_no_gap)
{
    sfu_consumer c;
    sfu_consumer_init(&c, false, 48000, 0);
    sfu_consumer_out o;
    sfu_consumer_in in = {.layer = 0, .seq = 100, .ts = 960, .now_us = 1000000};
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    /* 2 s muted: seq 101..199 never reach the consumer. */
    sfu_consumer_resume(&c, false);
    in = (sfu_consumer_in){.layer = 0, .seq = 200, .ts = 96960, .now_us = 3000000};
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, 101);
    CHECK_UINT_EQ(o.ts, 960u + 96000u); /* 2 s at 48 kHz */
    in = (sfu_consumer_in){.layer = 0, .seq = 201, .ts = 97920, .now_us = 3020000};
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, 102);

    /* Video waits for a keyframe and asks for one meanwhile. */
    sfu_consumer_init(&c, false, 90000, 0);
    in = (sfu_consumer_in){.layer = 0, .seq = 10, .ts = 0, .now_us = 0};
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    sfu_consumer_resume(&c, true);
    CHECK(sfu_consumer_wants_keyframe(&c));
    in = (sfu_consumer_in){.layer = 0, .seq = 50, .ts = 9000, .now_us = 100000};
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0);
    in = (sfu_consumer_in){
        .layer = 0, .seq = 51, .ts = 12000, .keyframe_start = true, .now_us = 133000};
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, 11);
    CHECK(!sfu_consumer_wants_keyframe(&c));
}

/* A viewer's m-line bound to another source keeps its SSRC: the new
 * source's packets go on from the old output numbering (simulcast: from
 * the target layer's keyframe), timestamps advanced by the wall-clock gap. */
TEST(consumer_continues_numbering_for_a_new_source)
{
    sfu_consumer c;
    sfu_consumer_out o;
    sfu_consumer_mark m;
    sfu_consumer_init(&c, true, 90000, 1);
    sfu_consumer_in in = pkt(1, 3000, 900000, 1, 70, 9, 1000000);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    in = pkt(1, 3001, 903000, 0, 71, 9, 1033000);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    sfu_consumer_get_mark(&c, &m);
    CHECK(m.started);
    CHECK_UINT_EQ(m.last_seq, 3001);
    /* the new source numbers from 100; 0.5 s later */
    sfu_consumer_init(&c, true, 90000, 1);
    sfu_consumer_continue(&c, &m, true);
    CHECK(sfu_consumer_wants_keyframe(&c));
    in = pkt(1, 100, 5000, 0, 5, 1, 1533000);
    CHECK_INT_EQ(sfu_consumer_process(&c, &in, &o), 0); /* not a keyframe */
    in = pkt(1, 101, 8000, 1, 6, 1, 1566000);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, 3002);
    CHECK_UINT_EQ(o.ts, 903000u + 533000u * 90u / 1000u); /* 533 ms at 90 kHz */
    CHECK_UINT_EQ(o.pid, 72);
    CHECK_UINT_EQ(o.tl0, 10);
    in = pkt(1, 102, 11000, 0, 7, 1, 1599000);
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, 3003);
    /* a mark that never started changes nothing */
    sfu_consumer_init(&c, false, 48000, 0);
    sfu_consumer_get_mark(&c, &m);
    sfu_consumer_continue(&c, &m, false);
    in = (sfu_consumer_in){.layer = 0, .seq = 7, .ts = 960};
    REQUIRE(sfu_consumer_process(&c, &in, &o) == 1);
    CHECK_UINT_EQ(o.seq, 7);
}
