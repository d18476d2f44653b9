/* Unit tests for sfu/rtx_buffer.c: store, lookup, RTX build, rate limits. */
#include "sfu/rtx_buffer.h"
#include "sfu/rtp.h"
#include "tests/unit/harness.h"

#define MS 1000ull

/* A 12-byte header plus `payload` bytes of pattern. */
static size_t make_pkt(uint8_t *buf, uint16_t seq, size_t payload)
{
    memset(buf, 0, 12 + payload);
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[8] = 0x11;
    buf[9] = 0x22;
    buf[10] = 0x33;
    buf[11] = 0x44;
    for (size_t i = 0; i < payload; i++)
        buf[12 + i] = (uint8_t)(seq + i);
    return 12 + payload;
}

TEST(rtx_buffer_stores_and_finds_by_seq)
{
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(NULL);
    REQUIRE(b);
    uint8_t pkt[1600];
    for (uint32_t s = 65000; s < 65000 + 1000; s++) {
        size_t len = make_pkt(pkt, (uint16_t)s, 100);
        CHECK_INT_EQ(sfu_rtx_buffer_store(b, pkt, len, s * MS), 0);
    }
    size_t len;
    uint64_t sent;
    /* The last 512 are kept, across the wrap. */
    const uint8_t *p = sfu_rtx_buffer_get(b, (uint16_t)(65000 + 999), &len, &sent);
    REQUIRE(p);
    CHECK_UINT_EQ(len, 112);
    CHECK_UINT_EQ(sent, (65000ull + 999) * MS);
    CHECK(sfu_rtx_buffer_get(b, (uint16_t)(65000 + 999 - 511), NULL, NULL) != NULL);
    CHECK(sfu_rtx_buffer_get(b, (uint16_t)(65000 + 999 - 512), NULL, NULL) == NULL);
    /* Too big for a slot, too short for RTP. */
    CHECK_INT_EQ(sfu_rtx_buffer_store(b, pkt, 1501, 0), -1);
    CHECK_INT_EQ(sfu_rtx_buffer_store(b, pkt, 11, 0), -1);
    sfu_rtx_buffer_destroy(b);
}

TEST(rtx_buffer_builds_rtx_packet)
{
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(NULL);
    REQUIRE(b);
    sfu_rtx_buffer_set_rtx(b, 97, 0xabcdef01, 500);
    uint8_t pkt[200], out[300];
    size_t len = make_pkt(pkt, 1234, 50);
    REQUIRE(sfu_rtx_buffer_store(b, pkt, len, 0) == 0);
    int n = sfu_rtx_buffer_resend(b, 1234, 20 * MS, out, sizeof out);
    REQUIRE(n == (int)len + 2);
    sfu_rtp_packet p;
    REQUIRE(sfu_rtp_parse(out, (size_t)n, &p) == 0);
    CHECK_INT_EQ(p.payload_type, 97);
    CHECK_UINT_EQ(p.ssrc, 0xabcdef01);
    CHECK_INT_EQ(p.seq, 500);
    CHECK_INT_EQ(p.payload[0] << 8 | p.payload[1], 1234);
    CHECK_MEM_EQ(p.payload + 2, pkt + 12, 50);
    /* RTX sequence counts up. */
    len = make_pkt(pkt, 1235, 50);
    sfu_rtx_buffer_store(b, pkt, len, 0);
    REQUIRE(sfu_rtx_buffer_resend(b, 1235, 20 * MS, out, sizeof out) > 0);
    REQUIRE(sfu_rtp_parse(out, len + 2, &p) == 0);
    CHECK_INT_EQ(p.seq, 501);
    /* Out buffer too small. */
    len = make_pkt(pkt, 1236, 50);
    sfu_rtx_buffer_store(b, pkt, len, 0);
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 1236, 20 * MS, out, 20), SFU_RTX_ERROR);
    /* A buffer replacing this one on the same RTX SSRC goes on from 502. */
    CHECK_INT_EQ(sfu_rtx_buffer_next_rtx_seq(b), 502);
    sfu_rtx_buffer_destroy(b);
}

TEST(rtx_buffer_without_rtx_resends_original)
{
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(NULL);
    REQUIRE(b);
    uint8_t pkt[200], out[300];
    size_t len = make_pkt(pkt, 7, 30);
    sfu_rtx_buffer_store(b, pkt, len, 0);
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 7, 5 * MS, out, sizeof out), (int)len);
    CHECK_MEM_EQ(out, pkt, len);
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 8, 5 * MS, out, sizeof out), SFU_RTX_MISSING);
    sfu_rtx_buffer_destroy(b);
}

TEST(rtx_buffer_spaces_resends_of_one_packet)
{
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(NULL);
    REQUIRE(b);
    uint8_t pkt[200], out[300];
    size_t len = make_pkt(pkt, 7, 30);
    sfu_rtx_buffer_store(b, pkt, len, 0);
    CHECK(sfu_rtx_buffer_resend(b, 7, 0, out, sizeof out) > 0);
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 7, 5 * MS, out, sizeof out), SFU_RTX_TOO_SOON);
    CHECK(sfu_rtx_buffer_resend(b, 7, 10 * MS, out, sizeof out) > 0);
    sfu_rtx_buffer_set_rtt(b, 80 * MS);
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 7, 60 * MS, out, sizeof out), SFU_RTX_TOO_SOON);
    CHECK(sfu_rtx_buffer_resend(b, 7, 90 * MS, out, sizeof out) > 0);
    /* Too old to be worth it. */
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 7, 1100 * MS, out, sizeof out), SFU_RTX_MISSING);
    sfu_rtx_buffer_stats st;
    sfu_rtx_buffer_get_stats(b, &st);
    CHECK_UINT_EQ(st.requests, 6);
    CHECK_UINT_EQ(st.resent, 3);
    CHECK_UINT_EQ(st.too_soon, 2);
    CHECK_UINT_EQ(st.missing, 1);
    sfu_rtx_buffer_destroy(b);
}

TEST(rtx_buffer_bounds_a_nack_flood)
{
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(NULL);
    REQUIRE(b);
    uint8_t pkt[1600], out[1600];
    sfu_rtx_buffer_set_rtt(b, 50 * MS);
    /* 1 Mbit/s stream: 100 packets of 1250 bytes per second, for 5 s. */
    uint64_t now = 0;
    uint16_t seq = 0;
    uint64_t sent_bytes = 0, resent_bytes = 0;
    for (int i = 0; i < 500; i++, seq++) {
        now = (uint64_t)i * 10 * MS;
        size_t len = make_pkt(pkt, seq, 1238);
        sfu_rtx_buffer_store(b, pkt, len, now);
        sent_bytes += len;
        /* The viewer NACKs the last 100 packets every 10 ms. */
        for (uint16_t k = 0; k < 100 && k <= seq; k++) {
            int n = sfu_rtx_buffer_resend(b, (uint16_t)(seq - k), now, out, sizeof out);
            if (n > 0)
                resent_bytes += (uint64_t)n;
        }
    }
    sfu_rtx_buffer_stats st;
    sfu_rtx_buffer_get_stats(b, &st);
    /* At most half the stream rate plus the initial burst. */
    CHECK(resent_bytes <= sent_bytes / 2 + 64000 + 1500);
    CHECK(st.over_budget > 0);
    CHECK(st.too_soon > 0);
    CHECK_UINT_EQ(st.requests, st.resent + st.over_budget + st.too_soon + st.missing);
    sfu_rtx_buffer_destroy(b);
}

TEST(rtx_buffer_caps_packets_per_100ms)
{
    sfu_rtx_buffer_config c;
    sfu_rtx_buffer_config_default(&c);
    c.max_per_100ms = 10;
    c.budget_burst = 1000000;
    c.budget_percent = 1000;
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(&c);
    REQUIRE(b);
    uint8_t pkt[200], out[300];
    for (uint16_t s = 0; s < 50; s++) {
        size_t len = make_pkt(pkt, s, 20);
        sfu_rtx_buffer_store(b, pkt, len, 0);
    }
    int ok = 0;
    for (uint16_t s = 0; s < 50; s++)
        ok += sfu_rtx_buffer_resend(b, s, 1 * MS, out, sizeof out) > 0;
    CHECK_INT_EQ(ok, 10);
    ok = 0;
    for (uint16_t s = 0; s < 50; s++)
        ok += sfu_rtx_buffer_resend(b, s, 102 * MS, out, sizeof out) > 0;
    CHECK_INT_EQ(ok, 10);
    sfu_rtx_buffer_destroy(b);
}

TEST(rtx_buffer_ring_keeps_the_last_bytes)
{
    /* 4 KiB ring, 1000-byte packets: four fit, and a packet that would
     * straddle the end starts the ring over. */
    sfu_rtx_buffer_config c;
    sfu_rtx_buffer_config_default(&c);
    c.ring_bytes = 4096;
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(&c);
    REQUIRE(b);
    uint8_t pkt[1600];
    for (uint16_t s = 100; s < 120; s++) {
        size_t len = make_pkt(pkt, s, 988);
        CHECK_INT_EQ(sfu_rtx_buffer_store(b, pkt, len, s * MS), 0);
        /* The newest is always there, byte for byte. */
        size_t got = 0;
        const uint8_t *p = sfu_rtx_buffer_get(b, s, &got, NULL);
        REQUIRE(p);
        CHECK_UINT_EQ(got, len);
        CHECK_MEM_EQ(p, pkt, len);
    }
    /* 1000-byte packets: 4 per ring pass (the 96-byte tail is skipped), so
     * the last 3 are certainly intact and older than 5 are certainly gone. */
    for (uint16_t s = 117; s < 120; s++) {
        size_t len = make_pkt(pkt, s, 988), got = 0;
        const uint8_t *p = sfu_rtx_buffer_get(b, s, &got, NULL);
        REQUIRE(p);
        CHECK_MEM_EQ(p, pkt, len);
    }
    for (uint16_t s = 100; s < 115; s++)
        CHECK(sfu_rtx_buffer_get(b, s, NULL, NULL) == NULL);
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 110, 200 * MS, pkt, sizeof pkt), SFU_RTX_MISSING);
    /* Small packets: the slot count bounds what is kept, not the ring. */
    for (uint16_t s = 0; s < 600; s++) {
        size_t len = make_pkt(pkt, s, 0);
        sfu_rtx_buffer_store(b, pkt, len, 0);
    }
    CHECK(sfu_rtx_buffer_get(b, 599, NULL, NULL) != NULL);
    CHECK(sfu_rtx_buffer_get(b, 599 - 300, NULL, NULL) != NULL);
    CHECK(sfu_rtx_buffer_get(b, 599 - 360, NULL, NULL) == NULL);
    sfu_rtx_buffer_destroy(b);
}

TEST(rtx_buffer_refuses_resends_that_would_arrive_too_late)
{
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(NULL); /* max age 1 s */
    REQUIRE(b);
    uint8_t pkt[200], out[300];
    size_t len = make_pkt(pkt, 9, 30);
    sfu_rtx_buffer_store(b, pkt, len, 0);
    sfu_rtx_buffer_set_rtt(b, 300 * MS); /* 3 RTTs = 0.9 s: max age rules */
    /* 750 ms old + 150 ms on the way = 900 ms: still useful */
    CHECK(sfu_rtx_buffer_resend(b, 9, 750 * MS, out, sizeof out) > 0);
    /* 900 ms old + 150 ms = 1.05 s: too late, although still stored */
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 9, 900 * MS, out, sizeof out), SFU_RTX_MISSING);
    sfu_rtx_buffer_stats st;
    sfu_rtx_buffer_get_stats(b, &st);
    CHECK_UINT_EQ(st.too_late, 1);
    CHECK_UINT_EQ(st.resent, 1);
    sfu_rtx_buffer_destroy(b);
}

/* Behind a deep queue (RTT 600 ms) NACKs come ~0.6 s after the loss and
 * the viewer re-asks for a while: a packet stays worth resending for three
 * round trips (1.8 s), not just max_age. */
TEST(rtx_buffer_keeps_resending_for_three_rtts_on_a_slow_path)
{
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(NULL);
    REQUIRE(b);
    uint8_t pkt[200], out[300];
    for (uint16_t s = 1; s <= 4; s++) {
        size_t len = make_pkt(pkt, s, 30);
        sfu_rtx_buffer_store(b, pkt, len, s * MS);
    }
    /* no RTT known: 1.2 s old is past max age */
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 1, 1201 * MS, out, sizeof out), SFU_RTX_MISSING);
    sfu_rtx_buffer_set_rtt(b, 600 * MS);
    /* 1.2 s old + 300 ms on the way = 1.5 s < 1.8 s */
    CHECK(sfu_rtx_buffer_resend(b, 2, 1202 * MS, out, sizeof out) > 0);
    /* 1.45 s + 300 ms = 1.75 s: still in time; 1.55 s + 300 ms: too late */
    CHECK(sfu_rtx_buffer_resend(b, 3, 1453 * MS, out, sizeof out) > 0);
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 4, 1554 * MS, out, sizeof out), SFU_RTX_MISSING);
    sfu_rtx_buffer_stats st;
    sfu_rtx_buffer_get_stats(b, &st);
    CHECK_UINT_EQ(st.resent, 2);
    CHECK_UINT_EQ(st.too_late, 1);
    CHECK_UINT_EQ(st.missing, 2);
    sfu_rtx_buffer_destroy(b);
}

TEST(rtx_buffer_ring_grows_with_the_bitrate)
{
    uint8_t pkt[1600];
    sfu_rtx_buffer_stats st;
    /* 160 kbit/s (1000 B every 50 ms): 1 s is 20 KB, the first 32 KiB ring suffices. */
    sfu_rtx_buffer *slow = sfu_rtx_buffer_create(NULL);
    REQUIRE(slow);
    for (uint32_t i = 0; i < 400; i++) {
        size_t len = make_pkt(pkt, (uint16_t)i, 988);
        CHECK_INT_EQ(sfu_rtx_buffer_store(slow, pkt, len, 1000 * MS + i * 50 * MS), 0);
    }
    sfu_rtx_buffer_get_stats(slow, &st);
    CHECK_UINT_EQ(st.ring_bytes, 32 * 1024);
    CHECK_UINT_EQ(st.grown, 0);
    sfu_rtx_buffer_destroy(slow);

    /* 2.5 Mbit/s (1000 B every 3.2 ms): doubles up to the 256 KiB cap; every
     * packet of the last 30 stays intact byte for byte while it grows. */
    sfu_rtx_buffer *fast = sfu_rtx_buffer_create(NULL);
    REQUIRE(fast);
    for (uint32_t i = 0; i < 2000; i++) {
        size_t len = make_pkt(pkt, (uint16_t)i, 988);
        CHECK_INT_EQ(sfu_rtx_buffer_store(fast, pkt, len, 1000 * MS + i * 3200), 0);
        for (uint32_t k = i >= 30 ? i - 30 : 0; k <= i; k += 7) {
            size_t want = make_pkt(pkt, (uint16_t)k, 988), got = 0;
            const uint8_t *p = sfu_rtx_buffer_get(fast, (uint16_t)k, &got, NULL);
            REQUIRE(p);
            CHECK_UINT_EQ(got, want);
            CHECK_MEM_EQ(p, pkt, want);
        }
    }
    sfu_rtx_buffer_get_stats(fast, &st);
    CHECK_UINT_EQ(st.ring_bytes, 256 * 1024);
    CHECK_UINT_EQ(st.grown, 3);
    /* Packets the old ring had overwritten do not come back after a doubling. */
    CHECK(sfu_rtx_buffer_get(fast, 1999 - 300, NULL, NULL) == NULL);
    CHECK(sfu_rtx_buffer_get(fast, 1999 - 200, NULL, NULL) != NULL);
    sfu_rtx_buffer_destroy(fast);
}

/* Ledger mode: no bytes, the caller's reference per packet; the same
 * rules, and the RTX form built from the packet the caller rebuilt. */
TEST(rtx_buffer_ledger_keeps_references_and_the_rules)
{
    sfu_rtx_buffer_config cfg = {.ledger = true};
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(&cfg);
    REQUIRE(b);
    sfu_rtx_buffer_set_rtx(b, 97, 0xabcdef01, 500);
    uint8_t pkt[200], out[300], ref[SFU_RTX_REF_SIZE], got[SFU_RTX_REF_SIZE];
    size_t len = make_pkt(pkt, 1234, 50);
    /* Bytes are refused, references taken. */
    CHECK_INT_EQ(sfu_rtx_buffer_store(b, pkt, len, 0), -1);
    for (uint32_t s = 0; s < 600; s++) {
        memset(ref, (int)(s & 0xff), sizeof ref);
        CHECK_INT_EQ(sfu_rtx_buffer_note(b, (uint16_t)(1000 + s), 40 + (s % 7), s * MS, ref), 0);
    }
    CHECK_INT_EQ(sfu_rtx_buffer_note(b, 1, 11, 0, ref), -1);   /* shorter than RTP */
    CHECK_INT_EQ(sfu_rtx_buffer_note(b, 1, 1501, 0, ref), -1); /* longer than a slot */
    /* The last 512 noted are found, with their reference and length. */
    uint64_t now = 600 * MS;
    int n = sfu_rtx_buffer_admit(b, 1599, now, got);
    CHECK_INT_EQ(n, 40 + (599 % 7));
    memset(ref, 599 & 0xff, sizeof ref);
    CHECK_MEM_EQ(got, ref, sizeof ref);
    CHECK_INT_EQ(sfu_rtx_buffer_admit(b, 1000 + 599 - 512, now, got), SFU_RTX_MISSING);
    CHECK(sfu_rtx_buffer_admit(b, 1000 + 599 - 511, now, got) > 0);
    /* Admitting charges nothing: the same packet again is not too soon. */
    CHECK(sfu_rtx_buffer_admit(b, 1599, now, got) > 0);
    /* Finish wraps the rebuilt packet as RTX and marks it resent. */
    len = make_pkt(pkt, 1599, 30);
    n = sfu_rtx_buffer_finish(b, 1599, now, pkt, len, out, sizeof out);
    REQUIRE(n == (int)len + 2);
    sfu_rtp_packet p;
    REQUIRE(sfu_rtp_parse(out, (size_t)n, &p) == 0);
    CHECK_UINT_EQ(p.ssrc, 0xabcdef01);
    CHECK_INT_EQ(p.seq, 500);
    CHECK_INT_EQ(p.payload[0] << 8 | p.payload[1], 1599);
    CHECK_MEM_EQ(p.payload + 2, pkt + 12, 30);
    CHECK_INT_EQ(sfu_rtx_buffer_admit(b, 1599, now + 5 * MS, got), SFU_RTX_TOO_SOON);
    /* Too old; not noted; a byte-mode call on a ledger. */
    CHECK_INT_EQ(sfu_rtx_buffer_admit(b, 1599, now + 1100 * MS, got), SFU_RTX_MISSING);
    CHECK_INT_EQ(sfu_rtx_buffer_finish(b, 7, now, pkt, len, out, sizeof out), SFU_RTX_ERROR);
    CHECK_INT_EQ(sfu_rtx_buffer_resend(b, 1599, now, out, sizeof out), SFU_RTX_ERROR);
    CHECK(sfu_rtx_buffer_get(b, 1599, NULL, NULL) == NULL);
    sfu_rtx_buffer_gone(b);
    sfu_rtx_buffer_stats st;
    sfu_rtx_buffer_get_stats(b, &st);
    CHECK_UINT_EQ(st.stored, 600);
    CHECK_UINT_EQ(st.resent, 1);
    CHECK_UINT_EQ(st.too_soon, 1);
    CHECK_UINT_EQ(st.missing, 3);
    CHECK_UINT_EQ(st.ring_bytes, 0);
    /* A byte-mode buffer takes no references. */
    sfu_rtx_buffer *bytes = sfu_rtx_buffer_create(NULL);
    REQUIRE(bytes);
    CHECK_INT_EQ(sfu_rtx_buffer_note(bytes, 1, 40, 0, ref), -1);
    CHECK_INT_EQ(sfu_rtx_buffer_admit(bytes, 1, 0, got), SFU_RTX_ERROR);
    sfu_rtx_buffer_destroy(bytes);
    sfu_rtx_buffer_destroy(b);
}

/* The budget is charged at finish, as in byte mode. */
TEST(rtx_buffer_ledger_shares_the_budget)
{
    sfu_rtx_buffer_config cfg = {.ledger = true, .budget_burst = 3000};
    sfu_rtx_buffer *b = sfu_rtx_buffer_create(&cfg);
    REQUIRE(b);
    uint8_t pkt[1300], out[1400], ref[SFU_RTX_REF_SIZE] = {0};
    for (uint16_t s = 0; s < 10; s++)
        REQUIRE(sfu_rtx_buffer_note(b, s, 1212, 0, ref) == 0);
    int resent = 0;
    for (uint16_t s = 0; s < 10; s++) {
        if (sfu_rtx_buffer_admit(b, s, 20 * MS, ref) <= 0)
            continue;
        size_t len = make_pkt(pkt, s, 1200);
        if (sfu_rtx_buffer_finish(b, s, 20 * MS, pkt, len, out, sizeof out) > 0)
            resent++;
    }
    CHECK_INT_EQ(resent, 2); /* 3000 bytes of budget, 1212 a packet */
    sfu_rtx_buffer_destroy(b);
}
