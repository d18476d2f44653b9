/* Unit tests for sfu/rtcp.c and sfu/rtcp_twcc.c: compound iteration, reports, SDES, BYE,
 * NACK, PLI, FIR, REMB and transport-wide congestion control feedback. */
#include "sfu/rtcp.h"
#include "tests/unit/harness.h"

/* SR, RC=1: ssrc 0x01020304, NTP 0xAABBCCDD_11223344, RTP ts 1000, 50 packets,
 * 6000 octets; one report block for 0x05060708 with fraction 0x40, cumulative
 * lost -1, highest seq 0x00010010, jitter 20, LSR 0x11112222, DLSR 0x3333. */
static const uint8_t sr_pkt[] = {
    0x81, 0xc8, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x04, 0xaa, 0xbb, 0xcc, 0xdd, 0x11,
    0x22, 0x33, 0x44, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x32, 0x00, 0x00,
    0x17, 0x70, 0x05, 0x06, 0x07, 0x08, 0x40, 0xff, 0xff, 0xff, 0x00, 0x01, 0x00,
    0x10, 0x00, 0x00, 0x00, 0x14, 0x11, 0x11, 0x22, 0x22, 0x00, 0x00, 0x33, 0x33,
};

static int first_packet(const uint8_t *b, size_t len, sfu_rtcp_pkt *pkt)
{
    sfu_rtcp_iter it;
    sfu_rtcp_iter_init(&it, b, len);
    return sfu_rtcp_next(&it, pkt);
}

TEST(rtcp_parses_sender_report)
{
    sfu_rtcp_pkt pkt;
    sfu_rtcp_report r;
    sfu_rtcp_rb rb;
    REQUIRE(first_packet(sr_pkt, sizeof sr_pkt, &pkt) == 1);
    CHECK_INT_EQ(pkt.pt, SFU_RTCP_SR);
    CHECK_INT_EQ(pkt.count, 1);
    CHECK_INT_EQ(pkt.len, 52);
    REQUIRE(sfu_rtcp_parse_report(&pkt, &r) == 0);
    CHECK(r.is_sr);
    CHECK_UINT_EQ(r.ssrc, 0x01020304);
    CHECK_UINT_EQ(r.ntp, 0xaabbccdd11223344ULL);
    CHECK_UINT_EQ(r.rtp_ts, 1000);
    CHECK_UINT_EQ(r.packet_count, 50);
    CHECK_UINT_EQ(r.octet_count, 6000);
    CHECK_INT_EQ(r.rb_count, 1);
    REQUIRE(sfu_rtcp_report_block(&r, 0, &rb) == 0);
    CHECK_UINT_EQ(rb.ssrc, 0x05060708);
    CHECK_INT_EQ(rb.fraction_lost, 0x40);
    CHECK_INT_EQ(rb.cumulative_lost, -1);
    CHECK_UINT_EQ(rb.highest_seq, 0x00010010);
    CHECK_UINT_EQ(rb.jitter, 20);
    CHECK_UINT_EQ(rb.lsr, 0x11112222);
    CHECK_UINT_EQ(rb.dlsr, 0x3333);
    CHECK(sfu_rtcp_report_block(&r, 1, &rb) == -1);
    /* Built back from the parsed values it is byte-identical. */
    uint8_t out[64];
    sfu_rtcp_rb rbs[1] = {rb};
    REQUIRE(sfu_rtcp_build_report(out, sizeof out, &r, rbs, 1) == (int)sizeof sr_pkt);
    CHECK_MEM_EQ(out, sr_pkt, sizeof sr_pkt);
    CHECK(sfu_rtcp_build_report(out, sizeof sr_pkt - 1, &r, rbs, 1) == -1);
}

TEST(rtcp_rejects_malformed_headers)
{
    uint8_t b[sizeof sr_pkt + 8];
    sfu_rtcp_pkt pkt;
    sfu_rtcp_report r;
    CHECK_INT_EQ(sfu_rtcp_validate(sr_pkt, sizeof sr_pkt), 1);
    /* Truncated anywhere: the length field now lies. */
    for (size_t n = 1; n < sizeof sr_pkt; n++)
        CHECK(sfu_rtcp_validate(sr_pkt, n) == -1);
    CHECK(sfu_rtcp_validate(sr_pkt, 0) == -1);
    /* Trailing garbage shorter than a header. */
    memcpy(b, sr_pkt, sizeof sr_pkt);
    CHECK(sfu_rtcp_validate(b, sizeof sr_pkt + 2) == -1);
    /* Bad version. */
    b[0] = 0x41;
    CHECK(first_packet(b, sizeof sr_pkt, &pkt) == -1);
    /* Length larger than the buffer. */
    memcpy(b, sr_pkt, sizeof sr_pkt);
    b[3] = 0x0d;
    CHECK(first_packet(b, sizeof sr_pkt, &pkt) == -1);
    b[3] = 0xff;
    b[2] = 0xff;
    CHECK(first_packet(b, sizeof sr_pkt, &pkt) == -1);
    /* RC claims more report blocks than the length holds. */
    memcpy(b, sr_pkt, sizeof sr_pkt);
    b[0] = 0x82;
    REQUIRE(first_packet(b, sizeof sr_pkt, &pkt) == 1);
    CHECK(sfu_rtcp_parse_report(&pkt, &r) == -1);
    /* An SR too short for its sender info. */
    const uint8_t short_sr[] = {0x80, 0xc8, 0x00, 0x01, 0, 0, 0, 1};
    REQUIRE(first_packet(short_sr, sizeof short_sr, &pkt) == 1);
    CHECK(sfu_rtcp_parse_report(&pkt, &r) == -1);
    /* Padding: count 0, count larger than the body, count equal to the body. */
    uint8_t pad[] = {0xa0, 0xc9, 0x00, 0x02, 0, 0, 0, 9, 0, 0, 0, 0};
    CHECK(first_packet(pad, sizeof pad, &pkt) == -1);
    pad[11] = 9;
    CHECK(first_packet(pad, sizeof pad, &pkt) == -1);
    pad[11] = 8;
    REQUIRE(first_packet(pad, sizeof pad, &pkt) == 1);
    CHECK_INT_EQ(pkt.body_len, 0);
    CHECK(sfu_rtcp_parse_report(&pkt, &r) == -1); /* RR without its SSRC */
    pad[11] = 4;
    REQUIRE(first_packet(pad, sizeof pad, &pkt) == 1);
    CHECK_INT_EQ(pkt.body_len, 4);
    CHECK(sfu_rtcp_parse_report(&pkt, &r) == 0);
    CHECK(!r.is_sr);
    CHECK_UINT_EQ(r.ssrc, 9);
    /* Padding on a header-only packet. */
    const uint8_t hdr_pad[] = {0xa0, 0xcb, 0x00, 0x00};
    CHECK(first_packet(hdr_pad, sizeof hdr_pad, &pkt) == -1);
}

TEST(rtcp_compound_round_trip)
{
    uint8_t buf[256];
    size_t off = 0;
    sfu_rtcp_report r = {.is_sr = false, .ssrc = 77};
    sfu_rtcp_rb rbs[2] = {
        {.ssrc = 1, .fraction_lost = 3, .cumulative_lost = 1000, .highest_seq = 5},
        {.ssrc = 2, .cumulative_lost = -8388608, .jitter = 9, .lsr = 1, .dlsr = 2},
    };
    int n = sfu_rtcp_build_report(buf, sizeof buf, &r, rbs, 2);
    REQUIRE(n == 56);
    off += (size_t)n;
    n = sfu_rtcp_build_sdes_cname(buf + off, sizeof buf - off, 77, "user@host");
    REQUIRE(n == 20);
    off += (size_t)n;
    const uint32_t ssrcs[2] = {77, 78};
    n = sfu_rtcp_build_bye(buf + off, sizeof buf - off, ssrcs, 2, "bye now");
    REQUIRE(n == 20);
    off += (size_t)n;
    CHECK_INT_EQ(sfu_rtcp_validate(buf, off), 3);

    sfu_rtcp_iter it;
    sfu_rtcp_pkt pkt;
    sfu_rtcp_iter_init(&it, buf, off);
    REQUIRE(sfu_rtcp_next(&it, &pkt) == 1);
    sfu_rtcp_report rr;
    sfu_rtcp_rb rb;
    REQUIRE(sfu_rtcp_parse_report(&pkt, &rr) == 0);
    CHECK(!rr.is_sr);
    CHECK_INT_EQ(rr.rb_count, 2);
    REQUIRE(sfu_rtcp_report_block(&rr, 0, &rb) == 0);
    CHECK_INT_EQ(rb.cumulative_lost, 1000);
    CHECK_INT_EQ(rb.fraction_lost, 3);
    REQUIRE(sfu_rtcp_report_block(&rr, 1, &rb) == 0);
    CHECK_INT_EQ(rb.cumulative_lost, -8388608);
    CHECK_UINT_EQ(rb.dlsr, 2);

    REQUIRE(sfu_rtcp_next(&it, &pkt) == 1);
    char cname[32];
    uint32_t ssrc = 0;
    CHECK_INT_EQ(sfu_rtcp_sdes_cname(&pkt, &ssrc, cname, sizeof cname), 9);
    CHECK_STR_EQ(cname, "user@host");
    CHECK_UINT_EQ(ssrc, 77);
    CHECK(sfu_rtcp_sdes_cname(&pkt, &ssrc, cname, 9) == -1);

    REQUIRE(sfu_rtcp_next(&it, &pkt) == 1);
    sfu_rtcp_bye bye;
    REQUIRE(sfu_rtcp_parse_bye(&pkt, &bye) == 0);
    CHECK_INT_EQ(bye.ssrc_count, 2);
    CHECK_UINT_EQ(sfu_rtcp_bye_ssrc(&bye, 1), 78);
    CHECK_INT_EQ(bye.reason_len, 7);
    CHECK_MEM_EQ(bye.reason, "bye now", 7);
    CHECK_INT_EQ(sfu_rtcp_next(&it, &pkt), 0);
}

TEST(rtcp_sdes_multiple_chunks_and_malformed)
{
    /* Two chunks: (1: NAME "ab", CNAME "c") and (2: CNAME "xyz"). */
    const uint8_t b[] = {0x82, 0xca, 0x00, 0x06, 0, 0, 0, 1, 2,   2,   'a', 'b', 1, 1,
                         'c',  0,    0,    0,    0, 2, 1, 3, 'x', 'y', 'z', 0,   0, 0};
    sfu_rtcp_pkt pkt;
    sfu_rtcp_sdes_iter it;
    sfu_rtcp_sdes_item item;
    REQUIRE(first_packet(b, sizeof b, &pkt) == 1);
    REQUIRE(sfu_rtcp_sdes_iter_init(&it, &pkt) == 0);
    REQUIRE(sfu_rtcp_sdes_next(&it, &item) == 1);
    CHECK_INT_EQ(item.type, 2);
    CHECK_UINT_EQ(item.ssrc, 1);
    REQUIRE(sfu_rtcp_sdes_next(&it, &item) == 1);
    CHECK_INT_EQ(item.type, 1);
    CHECK_INT_EQ(item.text[0], 'c');
    REQUIRE(sfu_rtcp_sdes_next(&it, &item) == 1);
    CHECK_UINT_EQ(item.ssrc, 2);
    CHECK_INT_EQ(item.len, 3);
    CHECK_INT_EQ(sfu_rtcp_sdes_next(&it, &item), 0);
    char cname[8];
    uint32_t ssrc;
    CHECK_INT_EQ(sfu_rtcp_sdes_cname(&pkt, &ssrc, cname, sizeof cname), 1);
    CHECK_UINT_EQ(ssrc, 1);

    /* SC says 3 chunks but only 2 exist. */
    uint8_t bad[sizeof b];
    memcpy(bad, b, sizeof b);
    bad[0] = 0x83;
    REQUIRE(first_packet(bad, sizeof bad, &pkt) == 1);
    REQUIRE(sfu_rtcp_sdes_iter_init(&it, &pkt) == 0);
    int rc;
    while ((rc = sfu_rtcp_sdes_next(&it, &item)) == 1) {
    }
    CHECK_INT_EQ(rc, -1);
    /* An item whose length runs past the packet. */
    memcpy(bad, b, sizeof b);
    bad[21] = 40;
    REQUIRE(first_packet(bad, sizeof bad, &pkt) == 1);
    REQUIRE(sfu_rtcp_sdes_iter_init(&it, &pkt) == 0);
    while ((rc = sfu_rtcp_sdes_next(&it, &item)) == 1) {
    }
    CHECK_INT_EQ(rc, -1);
    /* A chunk without its terminating null octet. */
    const uint8_t noterm[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 1, 2, 'a', 'b'};
    REQUIRE(first_packet(noterm, sizeof noterm, &pkt) == 1);
    CHECK(sfu_rtcp_sdes_cname(&pkt, &ssrc, cname, sizeof cname) == 2); /* item itself is whole */
    REQUIRE(sfu_rtcp_sdes_iter_init(&it, &pkt) == 0);
    while ((rc = sfu_rtcp_sdes_next(&it, &item)) == 1) {
    }
    CHECK_INT_EQ(rc, -1);
    CHECK(sfu_rtcp_build_sdes_cname(bad, sizeof bad, 1, "") == -1);
    CHECK(sfu_rtcp_build_sdes_cname(bad, 11, 1, "abc") == -1);
}

TEST(rtcp_bye_malformed)
{
    sfu_rtcp_pkt pkt;
    sfu_rtcp_bye bye;
    /* SC=2 but only one SSRC present. */
    const uint8_t b1[] = {0x82, 0xcb, 0x00, 0x01, 0, 0, 0, 1};
    REQUIRE(first_packet(b1, sizeof b1, &pkt) == 1);
    CHECK(sfu_rtcp_parse_bye(&pkt, &bye) == -1);
    /* Reason length past the end. */
    const uint8_t b2[] = {0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 5, 'a', 'b', 'c'};
    REQUIRE(first_packet(b2, sizeof b2, &pkt) == 1);
    CHECK(sfu_rtcp_parse_bye(&pkt, &bye) == -1);
    /* No reason. */
    const uint8_t b3[] = {0x81, 0xcb, 0x00, 0x01, 0, 0, 0, 1};
    REQUIRE(first_packet(b3, sizeof b3, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_bye(&pkt, &bye) == 0);
    CHECK(bye.reason == NULL);
    CHECK_UINT_EQ(sfu_rtcp_bye_ssrc(&bye, 0), 1);
    CHECK_UINT_EQ(sfu_rtcp_bye_ssrc(&bye, 1), 0);
}

TEST(rtcp_nack_expand_pack_build)
{
    /* RTPFB FMT 1: pid 100 blp 0x8001 -> 100, 101, 116; pid 65535 blp 0x0002 -> 65535, 1. */
    const uint8_t b[] = {0x81, 0xcd, 0x00, 0x04, 0,    0,    0,    1,    0,    0,
                         0,    2,    0x00, 0x64, 0x80, 0x01, 0xff, 0xff, 0x00, 0x02};
    sfu_rtcp_pkt pkt;
    sfu_rtcp_fb fb;
    uint16_t seqs[40];
    REQUIRE(first_packet(b, sizeof b, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
    CHECK_INT_EQ(fb.fmt, SFU_RTCP_FMT_NACK);
    CHECK_UINT_EQ(fb.sender_ssrc, 1);
    CHECK_UINT_EQ(fb.media_ssrc, 2);
    REQUIRE(sfu_rtcp_nack_expand(&fb, seqs, 40) == 5);
    const uint16_t want[] = {100, 101, 116, 65535, 1};
    CHECK_MEM_EQ(seqs, want, sizeof want);
    CHECK_INT_EQ(sfu_rtcp_nack_expand(&fb, seqs, 2), 2);

    /* Pack across the wrap; 17 apart starts a new item. */
    const uint16_t lost[] = {65530, 65531, 65535, 0, 5, 5, 10, 30, 46, 47};
    sfu_rtcp_nack_item items[8];
    int n = sfu_rtcp_nack_pack(lost, 10, items, 8);
    REQUIRE(n == 3);
    CHECK_INT_EQ(items[0].pid, 65530);
    CHECK_UINT_EQ(items[0].blp, 1u << 0 | 1u << 4 | 1u << 5 | 1u << 10 | 1u << 15);
    CHECK_INT_EQ(items[1].pid, 30);
    CHECK_UINT_EQ(items[1].blp, 1u << 15);
    CHECK_INT_EQ(items[2].pid, 47);
    CHECK_UINT_EQ(items[2].blp, 0);
    CHECK(sfu_rtcp_nack_pack(lost, 10, items, 2) == -1);

    uint8_t out[64];
    int len = sfu_rtcp_build_nack(out, sizeof out, 5, 6, lost, 10);
    REQUIRE(len == 24);
    CHECK_INT_EQ(sfu_rtcp_validate(out, (size_t)len), 1);
    REQUIRE(first_packet(out, (size_t)len, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
    n = sfu_rtcp_nack_expand(&fb, seqs, 40);
    REQUIRE(n == 9); /* duplicate 5 dropped */
    const uint16_t uniq[] = {65530, 65531, 65535, 0, 5, 10, 30, 46, 47};
    CHECK_MEM_EQ(seqs, uniq, sizeof uniq);
    CHECK(sfu_rtcp_build_nack(out, 23, 5, 6, lost, 10) == -1);

    /* A NACK whose FCI is not whole items. */
    const uint8_t odd[] = {0x81, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0};
    REQUIRE(first_packet(odd, sizeof odd, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
    CHECK_INT_EQ(sfu_rtcp_nack_expand(&fb, seqs, 40), 1);
    fb.fci_len = 3; /* as a padded packet whose body is not whole words would be */
    CHECK(sfu_rtcp_nack_expand(&fb, seqs, 40) == -1);
    /* A feedback packet too short for its two SSRCs. */
    const uint8_t fbshort[] = {0x81, 0xcd, 0x00, 0x01, 0, 0, 0, 1};
    REQUIRE(first_packet(fbshort, sizeof fbshort, &pkt) == 1);
    CHECK(sfu_rtcp_parse_fb(&pkt, &fb) == -1);
}

TEST(rtcp_pli_fir)
{
    uint8_t out[32];
    sfu_rtcp_pkt pkt;
    sfu_rtcp_fb fb;
    REQUIRE(sfu_rtcp_build_pli(out, sizeof out, 10, 20) == 12);
    const uint8_t pli[] = {0x81, 0xce, 0x00, 0x02, 0, 0, 0, 10, 0, 0, 0, 20};
    CHECK_MEM_EQ(out, pli, 12);
    /* Reduced-size RTCP (RFC 5506): a lone PLI is a valid packet. */
    CHECK_INT_EQ(sfu_rtcp_validate(out, 12), 1);
    REQUIRE(first_packet(out, 12, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
    CHECK_INT_EQ(fb.pt, SFU_RTCP_PSFB);
    CHECK_INT_EQ(fb.fmt, SFU_RTCP_FMT_PLI);
    CHECK_UINT_EQ(fb.media_ssrc, 20);
    CHECK(sfu_rtcp_build_pli(out, 11, 10, 20) == -1);

    REQUIRE(sfu_rtcp_build_fir(out, sizeof out, 10, 0xabcdef01, 7) == 20);
    REQUIRE(first_packet(out, 20, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
    CHECK_UINT_EQ(fb.media_ssrc, 0);
    CHECK_INT_EQ(sfu_rtcp_fir_count(&fb), 1);
    uint32_t ssrc;
    uint8_t seq;
    REQUIRE(sfu_rtcp_fir_entry(&fb, 0, &ssrc, &seq) == 0);
    CHECK_UINT_EQ(ssrc, 0xabcdef01);
    CHECK_INT_EQ(seq, 7);
    CHECK(sfu_rtcp_fir_entry(&fb, 1, &ssrc, &seq) == -1);
    fb.fci_len = 4;
    CHECK(sfu_rtcp_fir_count(&fb) == -1);
    fb.fmt = SFU_RTCP_FMT_PLI;
    CHECK(sfu_rtcp_fir_count(&fb) == -1);
}

TEST(rtcp_remb)
{
    /* 1,000,000 bps = 250000 << 2; SSRCs 0x11 and 0x22. */
    const uint8_t b[] = {0x8f, 0xce, 0x00, 0x06, 0,    0,    0, 9, 0, 0,    0, 0, 'R', 'E',
                         'M',  'B',  0x02, 0x0b, 0xd0, 0x90, 0, 0, 0, 0x11, 0, 0, 0,   0x22};
    sfu_rtcp_pkt pkt;
    sfu_rtcp_fb fb;
    sfu_rtcp_remb remb;
    REQUIRE(first_packet(b, sizeof b, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
    REQUIRE(sfu_rtcp_parse_remb(&fb, &remb) == 0);
    CHECK_UINT_EQ(remb.bitrate, 1000000);
    CHECK_INT_EQ(remb.ssrc_count, 2);
    CHECK_UINT_EQ(sfu_rtcp_remb_ssrc(&remb, 0), 0x11);
    CHECK_UINT_EQ(sfu_rtcp_remb_ssrc(&remb, 1), 0x22);
    uint8_t out[64];
    const uint32_t ssrcs[2] = {0x11, 0x22};
    REQUIRE(sfu_rtcp_build_remb(out, sizeof out, 9, 1000000, ssrcs, 2) == (int)sizeof b);
    CHECK_MEM_EQ(out, b, sizeof b);
    /* Rounded down to 18 significant bits; round trip. */
    const uint64_t rates[] = {0, 1, 262143, 262144, 262145, 2500000, 123456789, 1ULL << 40};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        int n = sfu_rtcp_build_remb(out, sizeof out, 1, rates[i], NULL, 0);
        REQUIRE(n == 20);
        REQUIRE(first_packet(out, (size_t)n, &pkt) == 1);
        REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
        REQUIRE(sfu_rtcp_parse_remb(&fb, &remb) == 0);
        CHECK(remb.bitrate <= rates[i]);
        CHECK(rates[i] - remb.bitrate <= rates[i] / 131072);
    }
    /* Saturating exponent; wrong identifier; SSRC count past the end. */
    uint8_t bad[sizeof b];
    memcpy(bad, b, sizeof b);
    bad[17] = 0xff;
    REQUIRE(first_packet(bad, sizeof bad, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
    REQUIRE(sfu_rtcp_parse_remb(&fb, &remb) == 0);
    CHECK_UINT_EQ(remb.bitrate, UINT64_MAX);
    bad[12] = 'X';
    REQUIRE(first_packet(bad, sizeof bad, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
    CHECK(sfu_rtcp_parse_remb(&fb, &remb) == -1);
    memcpy(bad, b, sizeof b);
    bad[16] = 3;
    REQUIRE(first_packet(bad, sizeof bad, &pkt) == 1);
    REQUIRE(sfu_rtcp_parse_fb(&pkt, &fb) == 0);
    CHECK(sfu_rtcp_parse_remb(&fb, &remb) == -1);
    CHECK(sfu_rtcp_build_remb(out, 27, 9, 1000000, ssrcs, 2) == -1);
}
