/* Unit tests for sfu/rtcp_twcc.c: transport-wide congestion control feedback. */
#include "sfu/rtcp.h"
#include "tests/unit/harness.h"

/* base seq 10, 5 packets, reference time 1 (64 ms), fb count 7; one 2-bit vector
 * chunk [small, lost, large, small, small], deltas +4, -10, +8, 0 ticks, 1 byte
 * of padding (P bit). */
static const uint8_t twcc_pkt[] = {
    0xaf, 0xcd, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x0a, 0x00, 0x05, 0x00, 0x00, 0x01, 0x07, 0xd2, 0x50, /* chunk 11 01 00 10 01 01 00 */
    0x04, 0xff, 0xf6, 0x08, 0x00, 0x01,
};

static int parse_fb(const uint8_t *b, size_t len, sfu_rtcp_fb *fb)
{
    sfu_rtcp_iter it;
    sfu_rtcp_pkt pkt;
    sfu_rtcp_iter_init(&it, b, len);
    if (sfu_rtcp_next(&it, &pkt) != 1)
        return -1;
    return sfu_rtcp_parse_fb(&pkt, fb);
}

TEST(twcc_parses_hand_built_feedback)
{
    sfu_rtcp_fb fb;
    sfu_twcc_iter hdr;
    sfu_twcc_packet out[8];
    REQUIRE(parse_fb(twcc_pkt, sizeof twcc_pkt, &fb) == 0);
    CHECK_INT_EQ(fb.fmt, SFU_RTCP_FMT_TWCC);
    REQUIRE(sfu_rtcp_parse_twcc(&fb, &hdr, out, 8) == 5);
    CHECK_INT_EQ(hdr.base_seq, 10);
    CHECK_INT_EQ(hdr.status_count, 5);
    CHECK_INT_EQ(hdr.reference_time, 1);
    CHECK_INT_EQ(hdr.fb_count, 7);
    const int64_t arrival[] = {65000, 0, 62500, 64500, 64500};
    const int64_t delta[] = {1000, 0, -2500, 2000, 0};
    for (int i = 0; i < 5; i++) {
        CHECK_INT_EQ(out[i].seq, 10 + i);
        CHECK(out[i].received == (i != 1));
        CHECK_INT_EQ(out[i].delta_us, delta[i]);
        CHECK_INT_EQ(out[i].arrival_us, arrival[i]);
    }
    CHECK(sfu_rtcp_parse_twcc(&fb, NULL, out, 4) == -1); /* too small an array */

    /* The builder produces exactly these bytes from the same arrivals. */
    const sfu_twcc_arrival in[] = {
        {10, 65000}, {11, SFU_TWCC_LOST}, {12, 62500}, {13, 64500}, {14, 64500}};
    uint8_t buf[64];
    int n = sfu_rtcp_build_twcc(buf, sizeof buf, 1, 2, 7, in, 5);
    REQUIRE(n == (int)sizeof twcc_pkt);
    CHECK_MEM_EQ(buf, twcc_pkt, sizeof twcc_pkt);
    /* A gap in the input is the same as an explicit loss. */
    const sfu_twcc_arrival gap[] = {{10, 65000}, {12, 62500}, {13, 64500}, {14, 64500}};
    n = sfu_rtcp_build_twcc(buf, sizeof buf, 1, 2, 7, gap, 4);
    REQUIRE(n == (int)sizeof twcc_pkt);
    CHECK_MEM_EQ(buf, twcc_pkt, sizeof twcc_pkt);
    CHECK(sfu_rtcp_build_twcc(buf, sizeof twcc_pkt - 1, 1, 2, 7, in, 5) == -1);
}

TEST(twcc_rejects_malformed)
{
    uint8_t b[sizeof twcc_pkt];
    sfu_rtcp_fb fb;
    sfu_twcc_iter it;
    REQUIRE(parse_fb(twcc_pkt, sizeof twcc_pkt, &fb) == 0);
    /* FCI cut short anywhere: header, chunk, or deltas. */
    for (size_t n = 0; n < fb.fci_len; n++) {
        sfu_rtcp_fb cut = fb;
        cut.fci_len = n;
        CHECK(sfu_twcc_iter_init(&it, &cut) == -1);
    }
    /* Status count larger than the chunks can cover inside the packet. */
    memcpy(b, twcc_pkt, sizeof b);
    b[15] = 8;
    REQUIRE(parse_fb(b, sizeof b, &fb) == 0);
    CHECK(sfu_twcc_iter_init(&it, &fb) == -1);
    b[14] = 0xff;
    b[15] = 0xff;
    REQUIRE(parse_fb(b, sizeof b, &fb) == 0);
    CHECK(sfu_twcc_iter_init(&it, &fb) == -1);
    /* A reserved symbol (11) in the vector. */
    memcpy(b, twcc_pkt, sizeof b);
    b[20] = 0xd3; /* 11 01 00 11 ... */
    REQUIRE(parse_fb(b, sizeof b, &fb) == 0);
    CHECK(sfu_twcc_iter_init(&it, &fb) == -1);
    /* Run-length chunk claiming 5 large deltas: 10 delta bytes do not fit. */
    memcpy(b, twcc_pkt, sizeof b);
    b[20] = 0x40;
    b[21] = 0x05;
    REQUIRE(parse_fb(b, sizeof b, &fb) == 0);
    CHECK(sfu_twcc_iter_init(&it, &fb) == -1);
    /* Run-length chunk of reserved status. */
    b[20] = 0x60;
    REQUIRE(parse_fb(b, sizeof b, &fb) == 0);
    CHECK(sfu_twcc_iter_init(&it, &fb) == -1);
    /* Not a TWCC packet. */
    memcpy(b, twcc_pkt, sizeof b);
    b[0] = 0xa1;
    REQUIRE(parse_fb(b, sizeof b, &fb) == 0);
    CHECK(sfu_twcc_iter_init(&it, &fb) == -1);
}

TEST(twcc_zero_packets_and_runs)
{
    /* status count 0: valid, yields nothing. */
    const uint8_t empty[] = {0x8f, 0xcd, 0x00, 0x04, 0, 0, 0, 1, 0, 0,
                             0,    2,    0,    5,    0, 0, 0, 0, 0, 0};
    sfu_rtcp_fb fb;
    sfu_twcc_iter it;
    sfu_twcc_packet p;
    REQUIRE(parse_fb(empty, sizeof empty, &fb) == 0);
    REQUIRE(sfu_twcc_iter_init(&it, &fb) == 0);
    CHECK_INT_EQ(sfu_twcc_next(&it, &p), 0);
    /* A zero-length run chunk before the real one is skipped. */
    const uint8_t zr[] = {0xaf, 0xcd, 0x00, 0x06, 0, 0, 0, 1, 0,    0,    0, 2, 0, 5,
                          0,    2,    0,    0,    0, 0, 0, 0, 0x20, 0x02, 1, 2, 0, 2};
    REQUIRE(parse_fb(zr, sizeof zr, &fb) == 0);
    sfu_twcc_packet out[2];
    REQUIRE(sfu_rtcp_parse_twcc(&fb, NULL, out, 2) == 2);
    CHECK(out[0].received && out[1].received);
    CHECK_INT_EQ(out[0].delta_us, 250);
    CHECK_INT_EQ(out[1].arrival_us, 750);
    CHECK_INT_EQ(out[1].seq, 6);
}

/* A small deterministic generator for the randomised round trip. */
static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void round_trip(const sfu_twcc_arrival *in, size_t n, size_t max_len)
{
    static uint8_t buf[70000];
    static sfu_twcc_packet out[65536];
    int len = sfu_rtcp_build_twcc(buf, sizeof buf, 3, 4, 9, in, n);
    REQUIRE(len > 0);
    CHECK((size_t)len <= max_len);
    CHECK_INT_EQ(len % 4, 0);
    CHECK_INT_EQ(sfu_rtcp_validate(buf, (size_t)len), 1);
    sfu_rtcp_fb fb;
    sfu_twcc_iter hdr;
    REQUIRE(parse_fb(buf, (size_t)len, &fb) == 0);
    uint16_t count = (uint16_t)(in[n - 1].seq - in[0].seq + 1);
    REQUIRE(sfu_rtcp_parse_twcc(&fb, &hdr, out, 65536) == count);
    CHECK_INT_EQ(hdr.base_seq, in[0].seq);
    CHECK_INT_EQ(hdr.fb_count, 9);
    size_t j = 0;
    int bad = 0;
    for (size_t k = 0; k < count; k++) {
        bool rx = false;
        int64_t at = 0;
        if (j < n && in[j].seq == out[k].seq) {
            rx = in[j].arrival_us != SFU_TWCC_LOST;
            at = in[j].arrival_us;
            j++;
        }
        if (out[k].received != rx || (rx && out[k].arrival_us != at / 250 * 250))
            bad++;
    }
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(j, n);
}

TEST(twcc_build_round_trips)
{
    static sfu_twcc_arrival in[5000];
    /* 1000 packets each 1 ms apart: a single run-length chunk. */
    for (size_t i = 0; i < 1000; i++)
        in[i] = (sfu_twcc_arrival){(uint16_t)(65000 + i), 5000000 + (int64_t)i * 1000};
    round_trip(in, 1000, 20 + 2 + 1000 + 3);
    /* All lost: one run chunk, no deltas. */
    for (size_t i = 0; i < 300; i++)
        in[i] = (sfu_twcc_arrival){(uint16_t)i, SFU_TWCC_LOST};
    round_trip(in, 300, 24);
    /* Single packet. */
    in[0] = (sfu_twcc_arrival){7, 123456789};
    round_trip(in, 1, 24);
    /* Random losses, jitter and reordering (negative deltas), across the seq wrap. */
    uint32_t s = 1;
    for (int rep = 0; rep < 20; rep++) {
        size_t n = 1 + lcg(&s) % 5000;
        uint16_t seq = (uint16_t)lcg(&s);
        int64_t t = (int64_t)(lcg(&s) % 100000000);
        for (size_t i = 0; i < n; i++) {
            seq = (uint16_t)(seq + 1 + (lcg(&s) % 8 == 0 ? lcg(&s) % 5 : 0));
            uint32_t r = lcg(&s) % 100;
            int64_t step = r < 70 ? (int64_t)(lcg(&s) % 20000) : (int64_t)(lcg(&s) % 80000) - 30000;
            t += step;
            if (t < 0)
                t = 0;
            in[i] = (sfu_twcc_arrival){seq, r < 10 ? SFU_TWCC_LOST : t};
        }
        round_trip(in, n, 70000);
    }
}

TEST(twcc_build_rejects_bad_input)
{
    uint8_t buf[256];
    const sfu_twcc_arrival unordered[] = {{5, 1000}, {4, 2000}};
    CHECK(sfu_rtcp_build_twcc(buf, sizeof buf, 1, 2, 0, unordered, 2) == -1);
    const sfu_twcc_arrival dup[] = {{5, 1000}, {5, 2000}};
    CHECK(sfu_rtcp_build_twcc(buf, sizeof buf, 1, 2, 0, dup, 2) == -1);
    /* A delta above 32767 ticks (8.19 s) does not fit. */
    const sfu_twcc_arrival far[] = {{1, 0}, {2, 9000000}};
    CHECK(sfu_rtcp_build_twcc(buf, sizeof buf, 1, 2, 0, far, 2) == -1);
    const sfu_twcc_arrival neg[] = {{1, -5}};
    CHECK(sfu_rtcp_build_twcc(buf, sizeof buf, 1, 2, 0, neg, 1) == -1);
    CHECK(sfu_rtcp_build_twcc(buf, sizeof buf, 1, 2, 0, neg, 0) == -1);
    CHECK(sfu_rtcp_build_twcc(buf, 19, 1, 2, 0, far, 1) == -1);
}
