/* Unit tests for sfu/vp8.c: RFC 7741 payload descriptor and keyframe header. */
#include "sfu/vp8.h"
#include "tests/unit/harness.h"

/* X=1 S=1 PID=0; I L T K all set; 15-bit PictureID 0x1234; TL0PICIDX 0x56;
 * TID 2, Y=1, KEYIDX 5; then a 640x480 keyframe header with hscale 1, vscale 2. */
static const uint8_t key_pkt[] = {
    0x90, 0xf0, 0x92, 0x34, 0x56, 0xa5, /* descriptor */
    0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, /* frame tag (P=0, show), start code */
    0x80, 0x42, 0xe0, 0x81, 0xaa, 0xbb, /* 0x4280, 0x81e0, data */
};

TEST(vp8_parses_full_descriptor_and_keyframe)
{
    sfu_vp8_desc d;
    REQUIRE(sfu_vp8_parse(key_pkt, sizeof key_pkt, &d) == 0);
    CHECK(d.start);
    CHECK(!d.non_reference);
    CHECK_INT_EQ(d.partition, 0);
    CHECK(d.has_picture_id && d.picture_id_15);
    CHECK_INT_EQ(d.picture_id, 0x1234);
    CHECK(d.has_tl0picidx);
    CHECK_INT_EQ(d.tl0picidx, 0x56);
    CHECK(d.has_tid && d.has_keyidx);
    CHECK_INT_EQ(d.tid, 2);
    CHECK(d.layer_sync);
    CHECK_INT_EQ(d.keyidx, 5);
    CHECK_INT_EQ(d.size, 6);
    CHECK_INT_EQ(d.picture_id_offset, 2);
    CHECK_INT_EQ(d.tl0picidx_offset, 4);
    CHECK(d.payload == key_pkt + 6);
    CHECK_INT_EQ(d.payload_len, 12);
    CHECK(d.is_keyframe);
    CHECK(d.has_size);
    CHECK_INT_EQ(d.width, 640);
    CHECK_INT_EQ(d.hscale, 1);
    CHECK_INT_EQ(d.height, 480);
    CHECK_INT_EQ(d.vscale, 2);
}

TEST(vp8_minimal_and_short_forms)
{
    sfu_vp8_desc d;
    /* No X: one-byte descriptor, interframe (P=1). */
    const uint8_t inter[] = {0x10, 0x01, 0x02, 0x00, 0x11};
    REQUIRE(sfu_vp8_parse(inter, sizeof inter, &d) == 0);
    CHECK_INT_EQ(d.size, 1);
    CHECK(!d.has_picture_id && !d.has_tl0picidx && !d.has_tid && !d.has_keyidx);
    CHECK(!d.is_keyframe);
    /* 7-bit PictureID only; continuation packet (S=0): no keyframe detection. */
    const uint8_t cont[] = {0xa3, 0x80, 0x7f, 0x00, 0x00, 0x00};
    REQUIRE(sfu_vp8_parse(cont, sizeof cont, &d) == 0);
    CHECK(d.non_reference);
    CHECK(!d.start);
    CHECK_INT_EQ(d.partition, 3);
    CHECK(d.has_picture_id && !d.picture_id_15);
    CHECK_INT_EQ(d.picture_id, 0x7f);
    CHECK_INT_EQ(d.size, 3);
    CHECK(!d.is_keyframe);
    /* Only K set: the TID/Y/KEYIDX byte exists, TID is not meaningful. */
    const uint8_t konly[] = {0x80, 0x10, 0xff, 0x01};
    REQUIRE(sfu_vp8_parse(konly, sizeof konly, &d) == 0);
    CHECK(!d.has_tid && d.has_keyidx);
    CHECK_INT_EQ(d.tid, 0);
    CHECK_INT_EQ(d.keyidx, 31);
    CHECK_INT_EQ(d.size, 3);
    /* A keyframe whose first packet is shorter than the 10-byte header. */
    const uint8_t short_key[] = {0x10, 0x00, 0x00, 0x00};
    REQUIRE(sfu_vp8_parse(short_key, sizeof short_key, &d) == 0);
    CHECK(d.is_keyframe);
    CHECK(!d.has_size);
    /* Two payload bytes: too short to tell. */
    REQUIRE(sfu_vp8_parse(short_key, 3, &d) == 0);
    CHECK(!d.is_keyframe);
}

TEST(vp8_rejects_malformed)
{
    sfu_vp8_desc d;
    /* Every truncation of the descriptor (and of the payload to nothing) fails. */
    for (size_t n = 0; n <= 6; n++)
        CHECK(sfu_vp8_parse(key_pkt, n, &d) == -1);
    CHECK(sfu_vp8_parse(NULL, 3, &d) == -1);
    /* Bad keyframe start code. */
    uint8_t b[sizeof key_pkt];
    memcpy(b, key_pkt, sizeof b);
    b[10] = 0x02;
    CHECK(sfu_vp8_parse(b, sizeof b, &d) == -1);
    /* ...but the same bytes in an interframe are fine. */
    b[6] |= 0x01;
    REQUIRE(sfu_vp8_parse(b, sizeof b, &d) == 0);
    CHECK(!d.is_keyframe);
    /* And in a later partition nothing is checked. */
    memcpy(b, key_pkt, sizeof b);
    b[10] = 0x02;
    b[0] = 0x91;
    REQUIRE(sfu_vp8_parse(b, sizeof b, &d) == 0);
    CHECK(!d.is_keyframe);
}

TEST(vp8_rewrites_picture_id_and_tl0picidx)
{
    uint8_t b[sizeof key_pkt];
    sfu_vp8_desc d, e;
    memcpy(b, key_pkt, sizeof b);
    REQUIRE(sfu_vp8_parse(b, sizeof b, &d) == 0);
    CHECK(sfu_vp8_set_picture_id(b, &d, 0x8001) == 0); /* wraps to 15 bits */
    CHECK(sfu_vp8_set_tl0picidx(b, &d, 0xfe) == 0);
    REQUIRE(sfu_vp8_parse(b, sizeof b, &e) == 0);
    CHECK(e.picture_id_15);
    CHECK_INT_EQ(e.picture_id, 1);
    CHECK_INT_EQ(e.tl0picidx, 0xfe);
    CHECK_INT_EQ(e.tid, 2);
    CHECK_MEM_EQ(b + 5, key_pkt + 5, sizeof key_pkt - 5);

    uint8_t c[] = {0x80, 0x80, 0x05, 0x00};
    REQUIRE(sfu_vp8_parse(c, sizeof c, &d) == 0);
    CHECK(sfu_vp8_set_picture_id(c, &d, 200) == 0); /* 7-bit: 200 & 0x7f = 72 */
    REQUIRE(sfu_vp8_parse(c, sizeof c, &e) == 0);
    CHECK(!e.picture_id_15);
    CHECK_INT_EQ(e.picture_id, 72);
    CHECK(sfu_vp8_set_tl0picidx(c, &d, 1) == -1);
    const uint8_t none[] = {0x10, 0x01};
    REQUIRE(sfu_vp8_parse(none, sizeof none, &d) == 0);
    CHECK(sfu_vp8_set_picture_id(c, &d, 1) == -1);
}

TEST(vp8_writer_round_trips)
{
    uint8_t buf[16];
    sfu_vp8_desc d, e;
    REQUIRE(sfu_vp8_parse(key_pkt, sizeof key_pkt, &d) == 0);
    REQUIRE(sfu_vp8_write_desc(buf, sizeof buf, &d) == 6);
    CHECK_MEM_EQ(buf, key_pkt, 6);
    CHECK(sfu_vp8_write_desc(buf, 5, &d) == -1);

    /* Every combination of the optional fields. */
    for (unsigned mask = 0; mask < 32; mask++) {
        sfu_vp8_desc w = {0};
        w.start = mask & 1;
        w.has_picture_id = (mask & 2) != 0;
        w.picture_id_15 = (mask & 4) != 0;
        w.picture_id = w.picture_id_15 ? 0x7abc : 0x55;
        w.has_tl0picidx = (mask & 8) != 0;
        w.tl0picidx = 9;
        w.has_tid = (mask & 16) != 0;
        w.tid = 3;
        w.layer_sync = true;
        w.has_keyidx = (mask & 16) == 0 && (mask & 2);
        w.keyidx = 17;
        w.partition = 5;
        int n = sfu_vp8_write_desc(buf, sizeof buf, &w);
        REQUIRE(n >= 1 && n <= SFU_VP8_DESC_MAX);
        buf[n] = 0xff; /* one payload byte */
        REQUIRE(sfu_vp8_parse(buf, (size_t)n + 1, &e) == 0);
        CHECK_INT_EQ(e.size, n);
        CHECK(e.start == w.start);
        CHECK_INT_EQ(e.partition, 5);
        CHECK(e.has_picture_id == w.has_picture_id);
        if (w.has_picture_id) {
            CHECK(e.picture_id_15 == w.picture_id_15);
            CHECK_INT_EQ(e.picture_id, w.picture_id);
        }
        CHECK(e.has_tl0picidx == w.has_tl0picidx);
        if (w.has_tl0picidx)
            CHECK_INT_EQ(e.tl0picidx, 9);
        CHECK(e.has_tid == w.has_tid);
        if (w.has_tid) {
            CHECK_INT_EQ(e.tid, 3);
            CHECK(e.layer_sync);
        }
        CHECK(e.has_keyidx == w.has_keyidx);
        if (w.has_keyidx)
            CHECK_INT_EQ(e.keyidx, 17);
    }
}
