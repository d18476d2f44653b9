/* Unit tests for sfu/rtcp_sender.c: SR timestamps, RTT, RR loss/jitter (RFC 3550). */
#include "sfu/rtcp_sender.h"
#include "sfu/rtcp_xr.h"

#include <string.h>
#include "tests/unit/harness.h"

#define MS 1000ull

TEST(rtcp_sender_sr_extrapolates_rtp_timestamp)
{
    sfu_rtcp_sender s;
    sfu_rtcp_sender_init(&s, 0x1234, 90000);
    sfu_rtcp_report r;
    CHECK_INT_EQ(sfu_rtcp_sender_fill_sr(&s, 0, 0, &r), -1);
    sfu_rtcp_sender_on_packet(&s, 1000, 100, 1000 * MS);
    sfu_rtcp_sender_on_packet(&s, 4000, 150, 1033 * MS);
    REQUIRE(sfu_rtcp_sender_fill_sr(&s, 1533 * MS, 0x1122334455667788ull, &r) == 0);
    CHECK(r.is_sr);
    CHECK_UINT_EQ(r.ssrc, 0x1234);
    CHECK_UINT_EQ(r.ntp, 0x1122334455667788ull);
    CHECK_UINT_EQ(r.rtp_ts, 4000 + 45000); /* 0.5 s at 90 kHz */
    CHECK_UINT_EQ(r.packet_count, 2);
    CHECK_UINT_EQ(r.octet_count, 250);
    /* Wraps like the wire field. */
    sfu_rtcp_sender_on_packet(&s, 0xffffff00u, 10, 2000 * MS);
    REQUIRE(sfu_rtcp_sender_fill_sr(&s, 2010 * MS, 0, &r) == 0);
    CHECK_UINT_EQ(r.rtp_ts, (uint32_t)(0xffffff00u + 900));
    /* Opus clock. */
    sfu_rtcp_sender_init(&s, 1, 48000);
    sfu_rtcp_sender_on_packet(&s, 960, 60, 0);
    REQUIRE(sfu_rtcp_sender_fill_sr(&s, 20 * MS, 0, &r) == 0);
    CHECK_UINT_EQ(r.rtp_ts, 1920);
}

TEST(rtcp_sender_builds_sr_and_sdes)
{
    sfu_rtcp_sender s;
    sfu_rtcp_sender_init(&s, 0xabcd, 48000);
    uint8_t buf[200];
    /* Before any packet: RR + SDES. */
    int len = sfu_rtcp_sender_build(&s, 0, 0, "cn", NULL, 0, buf, sizeof buf);
    REQUIRE(len > 0);
    sfu_rtcp_iter it;
    sfu_rtcp_pkt pkt;
    sfu_rtcp_iter_init(&it, buf, (size_t)len);
    REQUIRE(sfu_rtcp_next(&it, &pkt) == 1);
    CHECK_INT_EQ(pkt.pt, SFU_RTCP_RR);

    sfu_rtcp_sender_on_packet(&s, 100, 40, 0);
    sfu_rtcp_rb rb = {.ssrc = 0x5555, .fraction_lost = 12, .highest_seq = 77};
    len = sfu_rtcp_sender_build(&s, 10 * MS, 0xaabbccdd00000000ull, "mentor@x", &rb, 1, buf,
                                sizeof buf);
    REQUIRE(len > 0);
    CHECK_INT_EQ(sfu_rtcp_validate(buf, (size_t)len), 2);
    sfu_rtcp_iter_init(&it, buf, (size_t)len);
    REQUIRE(sfu_rtcp_next(&it, &pkt) == 1);
    sfu_rtcp_report r;
    REQUIRE(sfu_rtcp_parse_report(&pkt, &r) == 0);
    CHECK(r.is_sr);
    CHECK_UINT_EQ(r.rtp_ts, 580);
    CHECK_UINT_EQ(r.octet_count, 40);
    CHECK_INT_EQ(r.rb_count, 1);
    sfu_rtcp_rb got;
    REQUIRE(sfu_rtcp_report_block(&r, 0, &got) == 0);
    CHECK_UINT_EQ(got.ssrc, 0x5555);
    CHECK_INT_EQ(got.fraction_lost, 12);
    REQUIRE(sfu_rtcp_next(&it, &pkt) == 1);
    char cname[64];
    uint32_t ssrc;
    CHECK_INT_EQ(sfu_rtcp_sdes_cname(&pkt, &ssrc, cname, sizeof cname), 8);
    CHECK_STR_EQ(cname, "mentor@x");
    CHECK_UINT_EQ(ssrc, 0xabcd);
    /* Too small a buffer. */
    CHECK_INT_EQ(sfu_rtcp_sender_build(&s, 0, 0, "cn", NULL, 0, buf, 20), -1);
}

TEST(rtcp_sender_rtt_matches_rfc3550_example)
{
    /* RFC 3550 6.4.1: A = 0xb710:8000, LSR = 0xb705:2000, DLSR = 0x0005:4000 -> 6.125 s. */
    uint64_t ntp_a = (0xb44db710ull << 32) | 0x80000000u;
    CHECK_INT_EQ(sfu_rtcp_rtt_us(0xb7052000u, 0x00054000u, ntp_a), 6125000);
    CHECK_INT_EQ(sfu_rtcp_rtt_us(0, 0x00054000u, ntp_a), -1);
    CHECK_INT_EQ(sfu_rtcp_rtt_us(0xb7102000u, 0x00054000u, ntp_a), -1);
    sfu_rtcp_sender s;
    sfu_rtcp_sender_init(&s, 1, 90000);
    sfu_rtcp_rb rb = {.lsr = 0xb7052000u, .dlsr = 0x00054000u};
    uint64_t rtt = 0;
    CHECK_INT_EQ(sfu_rtcp_sender_on_report_block(&s, &rb, ntp_a, &rtt), 0);
    CHECK_UINT_EQ(rtt, 6125000);
    CHECK_UINT_EQ(s.last_rtt_us, 6125000);
}

TEST(rtcp_receiver_loss_fraction_and_cumulative)
{
    sfu_rtcp_receiver r;
    sfu_rtcp_receiver_init(&r, 0x77, 90000);
    sfu_rtcp_rb rb;
    CHECK_INT_EQ(sfu_rtcp_receiver_report_block(&r, 0, &rb), -1);
    /* 100 expected (1000..1099), every 10th missing. */
    for (uint16_t s = 1000; s < 1100; s++)
        if (s % 10 != 5)
            sfu_rtcp_receiver_on_packet(&r, s, s * 3000u, s * 33 * MS);
    REQUIRE(sfu_rtcp_receiver_report_block(&r, 0, &rb) == 0);
    CHECK_UINT_EQ(rb.ssrc, 0x77);
    CHECK_INT_EQ(rb.cumulative_lost, 10);
    CHECK_INT_EQ(rb.fraction_lost, 25); /* 10 * 256 / 100 */
    CHECK_UINT_EQ(rb.highest_seq, 1099);
    CHECK_UINT_EQ(rb.lsr, 0);
    CHECK_UINT_EQ(rb.dlsr, 0);
    /* Next interval: no loss. */
    for (uint16_t s = 1100; s < 1200; s++)
        sfu_rtcp_receiver_on_packet(&r, s, s * 3000u, s * 33 * MS);
    REQUIRE(sfu_rtcp_receiver_report_block(&r, 0, &rb) == 0);
    CHECK_INT_EQ(rb.fraction_lost, 0);
    CHECK_INT_EQ(rb.cumulative_lost, 10);
    /* Duplicates make cumulative loss negative, never the fraction. */
    for (int i = 0; i < 20; i++)
        sfu_rtcp_receiver_on_packet(&r, 1199, 0, 0);
    REQUIRE(sfu_rtcp_receiver_report_block(&r, 0, &rb) == 0);
    CHECK_INT_EQ(rb.fraction_lost, 0);
    CHECK_INT_EQ(rb.cumulative_lost, -10);
}

TEST(rtcp_receiver_wraps_and_restarts)
{
    sfu_rtcp_receiver r;
    sfu_rtcp_receiver_init(&r, 1, 90000);
    for (uint32_t i = 0; i < 20; i++)
        sfu_rtcp_receiver_on_packet(&r, (uint16_t)(65530 + i), i * 3000, i * 33 * MS);
    CHECK_UINT_EQ(sfu_rtcp_receiver_ext_seq(&r), 65536 + 13);
    sfu_rtcp_rb rb;
    sfu_rtcp_receiver_report_block(&r, 0, &rb);
    CHECK_UINT_EQ(rb.highest_seq, 65536 + 13);
    CHECK_INT_EQ(rb.cumulative_lost, 0);
    /* A late packet from before the wrap does not move the maximum. */
    sfu_rtcp_receiver_on_packet(&r, 65533, 0, 0);
    CHECK_UINT_EQ(sfu_rtcp_receiver_ext_seq(&r), 65536 + 13);
    /* One wild jump is ignored; two in sequence restart the stream. */
    sfu_rtcp_receiver_on_packet(&r, 30000, 0, 0);
    CHECK_UINT_EQ(sfu_rtcp_receiver_ext_seq(&r), 65536 + 13);
    sfu_rtcp_receiver_on_packet(&r, 30001, 0, 0);
    CHECK_UINT_EQ(sfu_rtcp_receiver_ext_seq(&r), 30001);
    sfu_rtcp_receiver_report_block(&r, 0, &rb);
    CHECK_INT_EQ(rb.cumulative_lost, 0);
}

TEST(rtcp_receiver_jitter_per_rfc3550_a8)
{
    sfu_rtcp_receiver r;
    sfu_rtcp_receiver_init(&r, 1, 90000);
    /* Perfectly regular: 30 fps, 3000 ticks, arrivals every 33.333 ms. */
    for (uint32_t i = 0; i < 300; i++)
        sfu_rtcp_receiver_on_packet(&r, (uint16_t)i, i * 3000, (uint64_t)i * 100000 / 3);
    sfu_rtcp_rb rb;
    sfu_rtcp_receiver_report_block(&r, 0, &rb);
    CHECK(rb.jitter <= 1);
    /* Transit alternating by 900 ticks (10 ms): |D| = 900 -> J converges to 900. */
    sfu_rtcp_receiver_init(&r, 1, 90000);
    for (uint32_t i = 0; i < 400; i++) {
        uint64_t t = (uint64_t)i * 100000 / 3 + (i % 2 ? 10 * MS : 0);
        sfu_rtcp_receiver_on_packet(&r, (uint16_t)i, i * 3000, t);
    }
    sfu_rtcp_receiver_report_block(&r, 0, &rb);
    CHECK(rb.jitter >= 895 && rb.jitter <= 900);
    /* One step: J = (|D| - 0) / 16. */
    sfu_rtcp_receiver_init(&r, 1, 8000);
    sfu_rtcp_receiver_on_packet(&r, 0, 0, 0);
    sfu_rtcp_receiver_on_packet(&r, 1, 160, 20 * MS + 20 * MS); /* 160 ticks late */
    CHECK_INT_EQ((int)r.jitter, 10);
}

TEST(rtcp_receiver_lsr_dlsr_from_sender_report)
{
    sfu_rtcp_receiver r;
    sfu_rtcp_receiver_init(&r, 1, 90000);
    sfu_rtcp_receiver_on_packet(&r, 1, 0, 0);
    uint64_t sr_ntp = (0xb44db705ull << 32) | 0x20000000u;
    sfu_rtcp_receiver_on_sr(&r, sr_ntp, 10000 * MS);
    sfu_rtcp_rb rb;
    REQUIRE(sfu_rtcp_receiver_report_block(&r, 15250 * MS, &rb) == 0);
    CHECK_UINT_EQ(rb.lsr, 0xb7052000u);
    CHECK_UINT_EQ(rb.dlsr, 0x00054000u); /* 5.25 s */
    /* Round trip: the sender sees its own SR time back. */
    uint64_t arrival = sr_ntp + ((uint64_t)0x00062000u << 16) + ((uint64_t)0x00054000u << 16);
    CHECK_INT_EQ(sfu_rtcp_rtt_us(rb.lsr, rb.dlsr, arrival), 6125000);
}

TEST(rtcp_sender_sr_follows_the_reference_not_the_last_packet)
{
    sfu_rtcp_sender s;
    sfu_rtcp_sender_init(&s, 0x1234, 90000);
    /* The last packet went out late (send time 2.0 s, timestamp 9000). */
    sfu_rtcp_sender_on_packet(&s, 9000, 100, 2000000);
    /* The publisher's SR said: at 1.9 s the (shifted) RTP clock read 18000. */
    sfu_rtcp_sender_set_reference(&s, 18000, 1900000);
    sfu_rtcp_report r;
    REQUIRE(sfu_rtcp_sender_fill_sr(&s, 2100000, 0xabcdULL << 32, &r) == 0);
    CHECK(r.is_sr);
    CHECK_UINT_EQ(r.rtp_ts, 18000u + 18000u); /* 200 ms at 90 kHz from the anchor */
    CHECK_UINT_EQ(r.packet_count, 1);
    /* An anchor in the future (report just arrived, clock read earlier)
     * extrapolates backwards, wrapping correctly. */
    sfu_rtcp_sender_set_reference(&s, 100, 2200000);
    REQUIRE(sfu_rtcp_sender_fill_sr(&s, 2100000, 0, &r) == 0);
    CHECK_UINT_EQ(r.rtp_ts, (uint32_t)(100 - 9000));
    sfu_rtcp_sender_clear_reference(&s);
    REQUIRE(sfu_rtcp_sender_fill_sr(&s, 2100000, 0, &r) == 0);
    CHECK_UINT_EQ(r.rtp_ts, 9000u + 9000u);
}

TEST(rtcp_xr_rrtr_and_dlrr_give_the_rtt)
{
    uint8_t buf[64];
    uint64_t sent = 0xE1000000ULL << 32 | 0x80000000u; /* x.5 s */
    REQUIRE(sfu_rtcp_build_xr_rrtr(buf, sizeof buf, 0xabc, sent) == 20);
    CHECK_INT_EQ(sfu_rtcp_build_xr_rrtr(buf, 19, 0xabc, sent), -1);
    /* The sender's answer: an unknown block, then DLRR with two receivers. */
    static const uint8_t xr[] = {
        0x80, 207, 0,    10,   0,    0,    0,    9,                /* XR from SSRC 9, 44 bytes */
        42,   0,   0,    1,    1,    2,    3,    4,                /* BT 42: skipped */
        5,    0,   0,    6,                                        /* DLRR, 2 sub-blocks */
        0,    0,   0,    7,    0,    0,    0,    1,    0, 0, 0, 2, /* someone else */
        0,    0,   0x0a, 0xbc, 0x00, 0x00, 0x80, 0x00, 0, 1, 0, 0  /* us: LRR .5 s, DLRR 1 s */
    };
    sfu_rtcp_iter it;
    sfu_rtcp_pkt pkt;
    sfu_rtcp_iter_init(&it, xr, sizeof xr);
    REQUIRE(sfu_rtcp_next(&it, &pkt) == 1);
    uint32_t lrr = 0, dlrr = 0;
    REQUIRE(sfu_rtcp_xr_find_dlrr(&pkt, 0xabc, &lrr, &dlrr) == 1);
    CHECK_UINT_EQ(lrr, 0x00008000u);
    CHECK_UINT_EQ(dlrr, 0x00010000u);
    CHECK_INT_EQ(sfu_rtcp_xr_find_dlrr(&pkt, 0x999, &lrr, &dlrr), 0);
    /* arrives 1.25 s after the RRTR: 1 s held, 250 ms on the wire */
    uint64_t now = (uint64_t)(0x00008000u + 0x00014000u) << 16;
    CHECK_INT_EQ(sfu_rtcp_rtt_us(lrr, dlrr, now), 250000);
    /* A block longer than the packet is malformed. */
    uint8_t bad[sizeof xr];
    memcpy(bad, xr, sizeof xr);
    bad[19] = 9;
    sfu_rtcp_iter_init(&it, bad, sizeof bad);
    REQUIRE(sfu_rtcp_next(&it, &pkt) == 1);
    CHECK_INT_EQ(sfu_rtcp_xr_find_dlrr(&pkt, 0xabc, &lrr, &dlrr), -1);
}
