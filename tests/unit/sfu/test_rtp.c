/* Unit tests for sfu/rtp.c: header parse/write, RFC 8285 extensions, rewrites, RTX. */
#include "sfu/rtp.h"
#include "tests/unit/harness.h"

/* V=2 X=1 CC=2 M=1 PT=111 seq=0x1234 ts=0xdeadbeef ssrc=0x11223344, two CSRCs,
 * a one-byte extension block (mid "a" with id 1, twcc seq 0x0102 with id 3,
 * a padding byte, audio level with id 5) and a 3-byte payload with 4 bytes of padding. */
static const uint8_t full_pkt[] = {
    0xb2, 0xef, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0x33, 0x44, /* fixed */
    0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb,                         /* CSRCs */
    0xbe, 0xde, 0x00, 0x02,                                                 /* 2 words */
    0x10, 'a',  0x31, 0x01, 0x02, 0x00, 0x50, 0xaa,                         /* elements */
    'x',  'y',  'z',                                                        /* payload */
    0x00, 0x00, 0x00, 0x04,                                                 /* padding */
};

TEST(rtp_parses_minimal_header)
{
    const uint8_t b[] = {0x80, 0x60, 0x00, 0x07, 0x00, 0x00, 0x00,
                         0x64, 0x01, 0x02, 0x03, 0x04, 'h',  'i'};
    sfu_rtp_packet p;
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    CHECK(!p.padding && !p.extension && !p.marker);
    CHECK_INT_EQ(p.csrc_count, 0);
    CHECK_INT_EQ(p.payload_type, 96);
    CHECK_INT_EQ(p.seq, 7);
    CHECK_UINT_EQ(p.timestamp, 100);
    CHECK_UINT_EQ(p.ssrc, 0x01020304);
    CHECK_INT_EQ(p.header_len, 12);
    CHECK_INT_EQ(p.payload_len, 2);
    CHECK(p.payload == b + 12);
    /* A bare 12-byte header with no payload is valid. */
    CHECK(sfu_rtp_parse(b, 12, &p) == 0);
    CHECK_INT_EQ(p.payload_len, 0);
}

TEST(rtp_parses_csrc_extension_padding)
{
    sfu_rtp_packet p;
    REQUIRE(sfu_rtp_parse(full_pkt, sizeof full_pkt, &p) == 0);
    CHECK(p.padding && p.extension && p.marker);
    CHECK_INT_EQ(p.payload_type, 111);
    CHECK_INT_EQ(p.seq, 0x1234);
    CHECK_UINT_EQ(p.timestamp, 0xdeadbeef);
    CHECK_INT_EQ(p.csrc_count, 2);
    CHECK_UINT_EQ(sfu_rtp_csrc(&p, 0), 0xaaaaaaaa);
    CHECK_UINT_EQ(sfu_rtp_csrc(&p, 1), 0xbbbbbbbb);
    CHECK_UINT_EQ(sfu_rtp_csrc(&p, 2), 0);
    CHECK_UINT_EQ(p.ext_profile, 0xBEDE);
    CHECK_INT_EQ(p.ext_len, 8);
    CHECK_INT_EQ(p.header_len, 32);
    CHECK_INT_EQ(p.payload_len, 3);
    CHECK_INT_EQ(p.padding_len, 4);
    CHECK_MEM_EQ(p.payload, "xyz", 3);
}

TEST(rtp_rejects_malformed)
{
    uint8_t b[sizeof full_pkt];
    sfu_rtp_packet p;
    for (size_t n = 0; n < 12; n++)
        CHECK(sfu_rtp_parse(full_pkt, n, &p) == -1); /* truncated fixed header */
    /* CSRCs past the end, extension header past the end, extension body past the end. */
    CHECK(sfu_rtp_parse(full_pkt, 16, &p) == -1);
    CHECK(sfu_rtp_parse(full_pkt, 22, &p) == -1);
    CHECK(sfu_rtp_parse(full_pkt, 30, &p) == -1);
    /* Bad versions. */
    for (uint8_t v = 0; v < 4; v++) {
        if (v == 2)
            continue;
        memcpy(b, full_pkt, sizeof b);
        b[0] = (uint8_t)((b[0] & 0x3F) | v << 6);
        CHECK(sfu_rtp_parse(b, sizeof b, &p) == -1);
    }
    /* Padding count 0, and larger than the bytes after the header. */
    memcpy(b, full_pkt, sizeof b);
    b[sizeof b - 1] = 0;
    CHECK(sfu_rtp_parse(b, sizeof b, &p) == -1);
    b[sizeof b - 1] = 8;
    CHECK(sfu_rtp_parse(b, sizeof b, &p) == -1);
    b[sizeof b - 1] = 7; /* exactly payload + padding: empty payload, valid */
    CHECK(sfu_rtp_parse(b, sizeof b, &p) == 0);
    CHECK_INT_EQ(p.payload_len, 0);
    /* Padding bit with nothing after the header. */
    const uint8_t pad_only[] = {0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK(sfu_rtp_parse(pad_only, sizeof pad_only, &p) == -1);
    /* Extension length field lying about its size. */
    memcpy(b, full_pkt, sizeof b);
    b[23] = 0x09;
    CHECK(sfu_rtp_parse(b, sizeof b, &p) == -1);
    CHECK(sfu_rtp_parse(NULL, 0, &p) == -1);
}

TEST(rtp_write_round_trips)
{
    sfu_rtp_packet p, q;
    uint8_t out[128];
    REQUIRE(sfu_rtp_parse(full_pkt, sizeof full_pkt, &p) == 0);
    int n = sfu_rtp_write(out, sizeof out, &p);
    REQUIRE(n == (int)sizeof full_pkt);
    CHECK_MEM_EQ(out, full_pkt, sizeof full_pkt);
    REQUIRE(sfu_rtp_parse(out, (size_t)n, &q) == 0);
    CHECK_INT_EQ(q.seq, p.seq);
    CHECK_INT_EQ(q.padding_len, 4);
    /* Too small a buffer fails without writing past it. */
    CHECK(sfu_rtp_write(out, sizeof full_pkt - 1, &p) == -1);
    /* Bad inputs. */
    q = p;
    q.ext_len = 6;
    CHECK(sfu_rtp_write(out, sizeof out, &q) == -1);
    q = p;
    q.padding_len = 0;
    CHECK(sfu_rtp_write(out, sizeof out, &q) == -1);
    q = p;
    q.payload_type = 200;
    CHECK(sfu_rtp_write(out, sizeof out, &q) == -1);
}

TEST(rtp_write_builds_from_fields)
{
    const uint8_t payload[] = {1, 2, 3, 4, 5};
    sfu_rtp_packet w = {0};
    w.marker = true;
    w.payload_type = 100;
    w.seq = 65535;
    w.timestamp = 90000;
    w.ssrc = 42;
    w.payload = payload;
    w.payload_len = sizeof payload;
    uint8_t out[64];
    int n = sfu_rtp_write(out, sizeof out, &w);
    REQUIRE(n == 17);
    const uint8_t want[] = {0x80, 0xe4, 0xff, 0xff, 0x00, 0x01, 0x5f, 0x90, 0, 0, 0, 42};
    CHECK_MEM_EQ(out, want, sizeof want);
    sfu_rtp_packet r;
    REQUIRE(sfu_rtp_parse(out, (size_t)n, &r) == 0);
    CHECK_INT_EQ(r.payload_len, 5);
    CHECK_MEM_EQ(r.payload, payload, 5);
}

TEST(rtp_one_byte_extension_iterator)
{
    sfu_rtp_packet p;
    sfu_rtp_ext_iter it;
    sfu_rtp_ext e;
    REQUIRE(sfu_rtp_parse(full_pkt, sizeof full_pkt, &p) == 0);
    REQUIRE(sfu_rtp_ext_iter_init(&it, &p) == 0);
    REQUIRE(sfu_rtp_ext_next(&it, &e) == 1);
    CHECK_INT_EQ(e.id, 1);
    CHECK_INT_EQ(e.len, 1);
    CHECK_INT_EQ(e.data[0], 'a');
    REQUIRE(sfu_rtp_ext_next(&it, &e) == 1);
    CHECK_INT_EQ(e.id, 3);
    CHECK_INT_EQ(e.len, 2);
    REQUIRE(sfu_rtp_ext_next(&it, &e) == 1); /* the padding byte is skipped */
    CHECK_INT_EQ(e.id, 5);
    CHECK_INT_EQ(e.len, 1);
    CHECK_INT_EQ(sfu_rtp_ext_next(&it, &e), 0);
    CHECK_INT_EQ(sfu_rtp_ext_next(&it, &e), 0);

    char mid[16];
    REQUIRE(sfu_rtp_ext_find(&p, 1, &e) == 0);
    CHECK_INT_EQ(sfu_rtp_ext_string(&e, mid, sizeof mid), 1);
    CHECK_STR_EQ(mid, "a");
    CHECK(sfu_rtp_ext_string(&e, mid, 1) == -1);
    uint16_t tw;
    REQUIRE(sfu_rtp_ext_find(&p, 3, &e) == 0);
    CHECK(sfu_rtp_ext_twcc_seq(&e, &tw) == 0);
    CHECK_INT_EQ(tw, 0x0102);
    bool voice;
    uint8_t level;
    REQUIRE(sfu_rtp_ext_find(&p, 5, &e) == 0);
    CHECK(sfu_rtp_ext_audio_level(&e, &voice, &level) == 0);
    CHECK(voice);
    CHECK_INT_EQ(level, 0x2a);
    CHECK(sfu_rtp_ext_twcc_seq(&e, &tw) == -1); /* wrong length */
    CHECK(sfu_rtp_ext_find(&p, 2, &e) == -1);
    CHECK(sfu_rtp_ext_find(&p, 0, &e) == -1);
}

TEST(rtp_extension_edge_cases)
{
    /* id 15 stops processing; the bytes after it are not elements. */
    uint8_t b[] = {0x90, 0x60, 0,    1,    0,    0,    0,    1,   0,    0,
                   0,    1,    0xbe, 0xde, 0x00, 0x01, 0x10, 'q', 0xf0, 0x20};
    sfu_rtp_packet p;
    sfu_rtp_ext_iter it;
    sfu_rtp_ext e;
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    REQUIRE(sfu_rtp_ext_iter_init(&it, &p) == 0);
    CHECK_INT_EQ(sfu_rtp_ext_next(&it, &e), 1);
    CHECK_INT_EQ(sfu_rtp_ext_next(&it, &e), 0);
    /* An element claiming more bytes than the block holds. */
    b[18] = 0x2f; /* id 2, 16 bytes */
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    REQUIRE(sfu_rtp_ext_iter_init(&it, &p) == 0);
    CHECK_INT_EQ(sfu_rtp_ext_next(&it, &e), 1);
    CHECK_INT_EQ(sfu_rtp_ext_next(&it, &e), -1);
    CHECK(sfu_rtp_ext_find(&p, 2, &e) == -1);
    /* An unknown profile is not iterable. */
    b[12] = 0x12;
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    CHECK(sfu_rtp_ext_iter_init(&it, &p) == -1);
    CHECK_INT_EQ(sfu_rtp_ext_next(&it, &e), 0);
    /* No extension at all. */
    b[0] = 0x80;
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    CHECK(sfu_rtp_ext_iter_init(&it, &p) == -1);
}

TEST(rtp_two_byte_extension)
{
    /* Profile 0x1003 (appbits 3): id 20 len 0, padding, id 7 len 3, trailing padding. */
    const uint8_t b[] = {0x90, 0x60, 0,    1,  0, 0, 0, 1, 0,   0,   0,   1,  0x10,
                         0x03, 0x00, 0x02, 20, 0, 0, 7, 3, 'r', '0', '1', 'P'};
    sfu_rtp_packet p;
    sfu_rtp_ext_iter it;
    sfu_rtp_ext e;
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    CHECK_INT_EQ(p.payload_len, 1);
    REQUIRE(sfu_rtp_ext_iter_init(&it, &p) == 0);
    REQUIRE(sfu_rtp_ext_next(&it, &e) == 1);
    CHECK_INT_EQ(e.id, 20);
    CHECK_INT_EQ(e.len, 0);
    REQUIRE(sfu_rtp_ext_next(&it, &e) == 1);
    CHECK_INT_EQ(e.id, 7);
    CHECK_INT_EQ(e.len, 3);
    char rid[8];
    CHECK_INT_EQ(sfu_rtp_ext_string(&e, rid, sizeof rid), 3);
    CHECK_STR_EQ(rid, "r01");
    CHECK_INT_EQ(sfu_rtp_ext_next(&it, &e), 0);
    /* Length byte missing at the very end of the block. */
    const uint8_t t[] = {0x90, 0x60, 0,    1,    0,    0,    0, 1, 0, 0,
                         0,    1,    0x10, 0x00, 0x00, 0x01, 0, 0, 0, 9};
    REQUIRE(sfu_rtp_parse(t, sizeof t, &p) == 0);
    REQUIRE(sfu_rtp_ext_iter_init(&it, &p) == 0);
    CHECK_INT_EQ(sfu_rtp_ext_next(&it, &e), -1);
}

/* Build elements, write a packet with them, parse it back and find each element. */
static void check_build_round_trip(const sfu_rtp_ext *elems, size_t n, uint16_t want_profile)
{
    uint8_t ext[600], pkt[700];
    uint16_t profile = 0;
    int elen = sfu_rtp_ext_build(ext, sizeof ext, elems, n, &profile);
    REQUIRE(elen >= 0);
    CHECK_INT_EQ(elen % 4, 0);
    CHECK_UINT_EQ(profile, want_profile);
    sfu_rtp_packet w = {0};
    w.extension = true;
    w.ext_profile = profile;
    w.ext = ext;
    w.ext_len = (size_t)elen;
    w.payload_type = 96;
    int len = sfu_rtp_write(pkt, sizeof pkt, &w);
    REQUIRE(len > 0);
    sfu_rtp_packet p;
    REQUIRE(sfu_rtp_parse(pkt, (size_t)len, &p) == 0);
    for (size_t i = 0; i < n; i++) {
        sfu_rtp_ext e;
        REQUIRE(sfu_rtp_ext_find(&p, elems[i].id, &e) == 0);
        CHECK_INT_EQ(e.len, elems[i].len);
        if (e.len)
            CHECK_MEM_EQ(e.data, elems[i].data, e.len);
    }
}

TEST(rtp_extension_builder_picks_form)
{
    const uint8_t abs[3] = {0x12, 0x34, 0x56}, tw[2] = {0xff, 0xfe}, big[40] = {7};
    sfu_rtp_ext one[] = {{1, 1, (const uint8_t *)"0"}, {2, 3, abs}, {14, 2, tw}};
    check_build_round_trip(one, 3, 0xBEDE);
    sfu_rtp_ext id15[] = {{1, 1, (const uint8_t *)"0"}, {15, 2, tw}};
    check_build_round_trip(id15, 2, 0x1000);
    sfu_rtp_ext long_el[] = {{3, 40, big}};
    check_build_round_trip(long_el, 1, 0x1000);
    sfu_rtp_ext empty_el[] = {{3, 0, NULL}, {255, 2, tw}};
    check_build_round_trip(empty_el, 2, 0x1000);

    uint8_t buf[8];
    uint16_t profile;
    /* Exact bytes of the one-byte form: 0x10 '0' 0x21 12 34 56, then padding. */
    sfu_rtp_ext two[] = {{1, 1, (const uint8_t *)"0"}, {2, 3, abs}};
    REQUIRE(sfu_rtp_ext_build(buf, sizeof buf, two, 2, &profile) == 8);
    const uint8_t want[] = {0x10, '0', 0x22, 0x12, 0x34, 0x56, 0, 0};
    CHECK_MEM_EQ(buf, want, 8);
    CHECK(sfu_rtp_ext_build(buf, 7, two, 2, &profile) == -1);
    sfu_rtp_ext zero[] = {{0, 1, abs}};
    CHECK(sfu_rtp_ext_build(buf, sizeof buf, zero, 1, &profile) == -1);
    CHECK(sfu_rtp_ext_build(buf, sizeof buf, NULL, 0, &profile) == 0);
}

TEST(rtp_abs_send_time)
{
    CHECK_UINT_EQ(sfu_abs_send_time_from_us(0), 0);
    CHECK_UINT_EQ(sfu_abs_send_time_from_us(1000000), 1u << 18);
    CHECK_UINT_EQ(sfu_abs_send_time_from_us(500000), 1u << 17);
    CHECK_UINT_EQ(sfu_abs_send_time_from_us(64000000), 0); /* wraps at 64 s */
    CHECK_UINT_EQ(sfu_abs_send_time_from_us(65000000), 1u << 18);
    CHECK_UINT_EQ(sfu_abs_send_time_to_us(1u << 18), 1000000);
    CHECK_UINT_EQ(sfu_abs_send_time_to_us(0xFFFFFF), 63999996);
    for (uint64_t us = 0; us < 64000000; us += 999983) {
        uint64_t back = sfu_abs_send_time_to_us(sfu_abs_send_time_from_us(us));
        CHECK(back + 4 >= us && back <= us + 4); /* 1/2^18 s is about 3.8 us */
    }
    uint8_t b[3];
    uint32_t v;
    sfu_abs_send_time_put(b, 0xABCDEF);
    sfu_rtp_ext e = {3, 3, b};
    CHECK(sfu_rtp_ext_abs_send_time(&e, &v) == 0);
    CHECK_UINT_EQ(v, 0xABCDEF);
    e.len = 2;
    CHECK(sfu_rtp_ext_abs_send_time(&e, &v) == -1);
}

TEST(rtp_in_place_rewrites)
{
    uint8_t b[sizeof full_pkt];
    memcpy(b, full_pkt, sizeof b);
    sfu_rtp_set_seq(b, 0xBEEF);
    sfu_rtp_set_timestamp(b, 0x01020304);
    sfu_rtp_set_ssrc(b, 0xCAFEBABE);
    sfu_rtp_set_pt(b, 96);
    sfu_rtp_packet p;
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    CHECK_INT_EQ(p.seq, 0xBEEF);
    CHECK_UINT_EQ(p.timestamp, 0x01020304);
    CHECK_UINT_EQ(p.ssrc, 0xCAFEBABE);
    CHECK_INT_EQ(p.payload_type, 96);
    CHECK(p.marker); /* kept */
    sfu_rtp_set_marker(b, false);
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    CHECK(!p.marker);
    CHECK_INT_EQ(p.payload_type, 96);

    CHECK(sfu_rtp_set_twcc_seq(b, sizeof b, 3, 0x7777) == 0);
    sfu_rtp_ext e;
    uint16_t tw;
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    REQUIRE(sfu_rtp_ext_find(&p, 3, &e) == 0);
    REQUIRE(sfu_rtp_ext_twcc_seq(&e, &tw) == 0);
    CHECK_INT_EQ(tw, 0x7777);
    /* Everything else untouched. */
    CHECK_MEM_EQ(b + 12, full_pkt + 12, 15);
    CHECK_MEM_EQ(b + 29, full_pkt + 29, sizeof b - 29);
    CHECK(sfu_rtp_set_twcc_seq(b, sizeof b, 1, 1) == -1); /* id 1 is 1 byte long */
    CHECK(sfu_rtp_set_twcc_seq(b, sizeof b, 9, 1) == -1); /* absent */
    CHECK(sfu_rtp_ext_overwrite(b, sizeof b, 1, (const uint8_t *)"b", 1) == 0);
    REQUIRE(sfu_rtp_parse(b, sizeof b, &p) == 0);
    REQUIRE(sfu_rtp_ext_find(&p, 1, &e) == 0);
    CHECK_INT_EQ(e.data[0], 'b');
    CHECK(sfu_rtp_ext_overwrite(b, 11, 1, (const uint8_t *)"b", 1) == -1);
}

TEST(rtx_build_and_recover)
{
    uint8_t rtx[128], orig[128];
    int n = sfu_rtx_build(rtx, sizeof rtx, full_pkt, sizeof full_pkt, 97, 0x99, 500);
    REQUIRE(n == 32 + 2 + 3);
    sfu_rtp_packet p;
    REQUIRE(sfu_rtp_parse(rtx, (size_t)n, &p) == 0);
    CHECK(!p.padding);
    CHECK(p.marker);
    CHECK_INT_EQ(p.payload_type, 97);
    CHECK_UINT_EQ(p.ssrc, 0x99);
    CHECK_INT_EQ(p.seq, 500);
    CHECK_UINT_EQ(p.timestamp, 0xdeadbeef);
    CHECK_INT_EQ(p.csrc_count, 2);
    CHECK_INT_EQ(p.ext_len, 8);
    CHECK_INT_EQ(p.payload_len, 5);
    CHECK_INT_EQ(p.payload[0], 0x12); /* OSN */
    CHECK_INT_EQ(p.payload[1], 0x34);
    CHECK_MEM_EQ(p.payload + 2, "xyz", 3);
    CHECK(sfu_rtx_build(rtx, (size_t)n - 1, full_pkt, sizeof full_pkt, 97, 1, 1) == -1);

    int m = sfu_rtx_recover(orig, sizeof orig, rtx, (size_t)n, 111, 0x11223344);
    REQUIRE(m == 35);
    /* Same as the original without its padding. */
    CHECK_INT_EQ(orig[0], full_pkt[0] & ~0x20);
    CHECK_MEM_EQ(orig + 1, full_pkt + 1, 34);

    /* In place, both ways. */
    uint8_t buf[64];
    memcpy(buf, full_pkt, sizeof full_pkt);
    n = sfu_rtx_build(buf, sizeof buf, buf, sizeof full_pkt, 97, 0x99, 500);
    REQUIRE(n == 37);
    CHECK_MEM_EQ(buf, rtx, 37);
    m = sfu_rtx_recover(buf, sizeof buf, buf, (size_t)n, 111, 0x11223344);
    REQUIRE(m == 35);
    CHECK_MEM_EQ(buf, orig, 35);

    /* An RTX packet too short to hold the OSN. */
    const uint8_t short_rtx[] = {0x80, 0x61, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x12};
    CHECK(sfu_rtx_recover(orig, sizeof orig, short_rtx, sizeof short_rtx, 96, 1) == -1);
    CHECK(sfu_rtx_recover(orig, 12, rtx, 37, 96, 1) == -1);
}
