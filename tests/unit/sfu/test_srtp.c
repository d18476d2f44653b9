/*
 * SRTP wrapper: round trips for both profiles with crosswise keys, tamper
 * and replay detection, SRTCP, input checks, and libsrtp's published
 * AES_CM_128_HMAC_SHA1_80 reference packets (srtp_validate vectors: master
 * key e1f97a0d..., SSRC 0xcafebabe, seq 0x1234, ROC 0).
 */
#include "tests/unit/harness.h"

#include "sfu/srtp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t kat_key[16] = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0,
                                    0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39};
static const uint8_t kat_salt[14] = {0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe,
                                     0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};
static const uint8_t kat_rtp_plain[28] = {
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const uint8_t kat_rtp_cipher[38] = {
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e,
    0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d,
    0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};
static const uint8_t kat_rtcp_plain[24] = {0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe,
                                           0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                           0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const uint8_t kat_rtcp_cipher[38] = {
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4,
    0x87, 0xb9, 0xbd, 0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00,
    0x00, 0x01, 0x99, 0x3e, 0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98};

/* Keys for two peers A and B: A's local is B's remote and vice versa. */
static void make_pair(sfu_srtp_profile p, sfu_srtp_keys *a, sfu_srtp_keys *b)
{
    size_t kl = 0, sl = 0;

    REQUIRE(sfu_srtp_key_lengths(p, &kl, &sl) == 0);
    memset(a, 0, sizeof *a);
    a->profile = p;
    a->key_len = kl;
    a->salt_len = sl;
    for (size_t i = 0; i < kl; i++) {
        a->local_key[i] = (uint8_t)(0x10 + i);
        a->remote_key[i] = (uint8_t)(0x80 + 3 * i);
    }
    for (size_t i = 0; i < sl; i++) {
        a->local_salt[i] = (uint8_t)(0x40 + i);
        a->remote_salt[i] = (uint8_t)(0xc0 + 5 * i);
    }
    *b = *a;
    memcpy(b->local_key, a->remote_key, kl);
    memcpy(b->local_salt, a->remote_salt, sl);
    memcpy(b->remote_key, a->local_key, kl);
    memcpy(b->remote_salt, a->local_salt, sl);
}

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload)
{
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    memset(buf + 4, 0x11, 4); /* timestamp */
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    for (size_t i = 0; i < payload; i++)
        buf[12 + i] = (uint8_t)(i * 7 + seq);
    return 12 + payload;
}

static void roundtrip(sfu_srtp_profile p)
{
    sfu_srtp_keys ka, kb;
    char err[256];
    _Alignas(8) uint8_t buf[1500], plain[1500], saved[1500];
    size_t len, plen, slen;

    make_pair(p, &ka, &kb);
    sfu_srtp *a = sfu_srtp_create(&ka, err, sizeof err);
    sfu_srtp *b = sfu_srtp_create(&kb, err, sizeof err);
    REQUIRE(a && b);
    CHECK_INT_EQ(sfu_srtp_get_profile(a), p);

    /* RTP A -> B */
    plen = make_rtp(plain, 1000, 0x11223344, 200);
    memcpy(buf, plain, plen);
    len = plen;
    CHECK_INT_EQ(sfu_srtp_protect_rtp(a, buf, &len, sizeof buf), 0);
    CHECK_UINT_EQ(len, plen + sfu_srtp_overhead(p, 0));
    CHECK(memcmp(buf + 12, plain + 12, plen - 12) != 0); /* encrypted */
    memcpy(saved, buf, len);
    slen = len;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(b, buf, &len), 0);
    CHECK_UINT_EQ(len, plen);
    CHECK_MEM_EQ(buf, plain, plen);

    /* replay of the same packet */
    memcpy(buf, saved, slen);
    len = slen;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(b, buf, &len), SFU_SRTP_ERR_REPLAY);

    /* tampered payload byte, then tampered tag, on a fresh sequence number */
    plen = make_rtp(plain, 1001, 0x11223344, 50);
    memcpy(buf, plain, plen);
    len = plen;
    REQUIRE(sfu_srtp_protect_rtp(a, buf, &len, sizeof buf) == 0);
    memcpy(saved, buf, len);
    slen = len;
    buf[20] ^= 0x01;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(b, buf, &len), SFU_SRTP_ERR_AUTH);
    memcpy(buf, saved, slen);
    len = slen;
    buf[len - 1] ^= 0x80;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(b, buf, &len), SFU_SRTP_ERR_AUTH);
    /* the untampered packet still passes: failures did not advance the window */
    memcpy(buf, saved, slen);
    len = slen;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(b, buf, &len), 0);
    CHECK_MEM_EQ(buf, plain, plen);

    /* wrong direction: A's own packet is not valid for A's inbound keys */
    plen = make_rtp(plain, 1002, 0x11223344, 30);
    memcpy(buf, plain, plen);
    len = plen;
    REQUIRE(sfu_srtp_protect_rtp(a, buf, &len, sizeof buf) == 0);
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(a, buf, &len), SFU_SRTP_ERR_AUTH);

    /* B -> A with another SSRC; retransmission with the same seq can be protected again */
    plen = make_rtp(plain, 7, 0xdeadbeef, 100);
    for (int i = 0; i < 2; i++) {
        memcpy(buf, plain, plen);
        len = plen;
        CHECK_INT_EQ(sfu_srtp_protect_rtp(b, buf, &len, sizeof buf), 0);
        if (i == 0) {
            CHECK_INT_EQ(sfu_srtp_unprotect_rtp(a, buf, &len), 0);
            CHECK_MEM_EQ(buf, plain, plen);
        }
    }

    /* RTCP both ways (a minimal receiver report) */
    static const uint8_t rr[8] = {0x80, 201, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44};
    memcpy(buf, rr, sizeof rr);
    len = sizeof rr;
    CHECK_INT_EQ(sfu_srtp_protect_rtcp(a, buf, &len, sizeof buf), 0);
    CHECK_UINT_EQ(len, sizeof rr + sfu_srtp_overhead(p, 1));
    memcpy(saved, buf, len);
    slen = len;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtcp(b, buf, &len), 0);
    CHECK_UINT_EQ(len, sizeof rr);
    CHECK_MEM_EQ(buf, rr, sizeof rr);
    memcpy(buf, saved, slen);
    len = slen;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtcp(b, buf, &len), SFU_SRTP_ERR_REPLAY);
    memcpy(buf, rr, sizeof rr);
    len = sizeof rr;
    CHECK_INT_EQ(sfu_srtp_protect_rtcp(b, buf, &len, sizeof buf), 0);
    buf[5] ^= 0x04;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtcp(a, buf, &len), SFU_SRTP_ERR_AUTH);

    sfu_srtp_destroy(a);
    sfu_srtp_destroy(b);
}

TEST(srtp_roundtrip_aes_cm_128_hmac_sha1_80)
{
    roundtrip(SFU_SRTP_AES128_CM_SHA1_80);
}

TEST(srtp_roundtrip_aead_aes_128_gcm)
{
    roundtrip(SFU_SRTP_AEAD_AES_128_GCM);
}

TEST(srtp_known_answer_aes_cm_128_hmac_sha1_80)
{
    sfu_srtp_keys k;
    char err[256];
    _Alignas(8) uint8_t buf[128];
    size_t len;

    memset(&k, 0, sizeof k);
    k.profile = SFU_SRTP_AES128_CM_SHA1_80;
    k.key_len = 16;
    k.salt_len = 14;
    memcpy(k.local_key, kat_key, 16);
    memcpy(k.remote_key, kat_key, 16);
    memcpy(k.local_salt, kat_salt, 14);
    memcpy(k.remote_salt, kat_salt, 14);
    sfu_srtp *s = sfu_srtp_create(&k, err, sizeof err);
    REQUIRE(s);

    memcpy(buf, kat_rtp_plain, sizeof kat_rtp_plain);
    len = sizeof kat_rtp_plain;
    CHECK_INT_EQ(sfu_srtp_protect_rtp(s, buf, &len, sizeof buf), 0);
    CHECK_UINT_EQ(len, sizeof kat_rtp_cipher);
    CHECK_MEM_EQ(buf, kat_rtp_cipher, sizeof kat_rtp_cipher);
    memcpy(buf, kat_rtp_cipher, sizeof kat_rtp_cipher);
    len = sizeof kat_rtp_cipher;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(s, buf, &len), 0);
    CHECK_UINT_EQ(len, sizeof kat_rtp_plain);
    CHECK_MEM_EQ(buf, kat_rtp_plain, sizeof kat_rtp_plain);

    memcpy(buf, kat_rtcp_plain, sizeof kat_rtcp_plain);
    len = sizeof kat_rtcp_plain;
    CHECK_INT_EQ(sfu_srtp_protect_rtcp(s, buf, &len, sizeof buf), 0);
    CHECK_UINT_EQ(len, sizeof kat_rtcp_cipher);
    CHECK_MEM_EQ(buf, kat_rtcp_cipher, sizeof kat_rtcp_cipher);
    memcpy(buf, kat_rtcp_cipher, sizeof kat_rtcp_cipher);
    len = sizeof kat_rtcp_cipher;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtcp(s, buf, &len), 0);
    CHECK_UINT_EQ(len, sizeof kat_rtcp_plain);
    CHECK_MEM_EQ(buf, kat_rtcp_plain, sizeof kat_rtcp_plain);
    sfu_srtp_destroy(s);
}

TEST(srtp_rejects_bad_input_and_keys)
{
    sfu_srtp_keys ka, kb;
    char err[256];
    _Alignas(8) uint8_t buf[64];
    size_t len;

    make_pair(SFU_SRTP_AES128_CM_SHA1_80, &ka, &kb);
    kb.key_len = 15;
    CHECK(sfu_srtp_create(&kb, err, sizeof err) == NULL);
    CHECK(strlen(err) > 0);
    kb = ka;
    kb.profile = (sfu_srtp_profile)42;
    CHECK(sfu_srtp_create(&kb, err, sizeof err) == NULL);
    CHECK(sfu_srtp_create(NULL, err, sizeof err) == NULL);

    sfu_srtp *s = sfu_srtp_create(&ka, err, sizeof err);
    REQUIRE(s);
    /* too short for a header plus tag */
    memset(buf, 0, sizeof buf);
    buf[0] = 0x80;
    len = 15;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(s, buf, &len), SFU_SRTP_ERR_INPUT);
    len = 3;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtcp(s, buf, &len), SFU_SRTP_ERR_INPUT);
    /* not RTP version 2 */
    buf[0] = 0x40;
    len = 40;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(s, buf, &len), SFU_SRTP_ERR_INPUT);
    /* no room for the tag */
    len = make_rtp(buf, 1, 1, 20);
    CHECK_INT_EQ(sfu_srtp_protect_rtp(s, buf, &len, len + 9), SFU_SRTP_ERR_INPUT);
    CHECK_INT_EQ(sfu_srtp_protect_rtp(s, buf, &len, len + 10), 0);
    /* random garbage with a valid-looking first byte */
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    buf[0] = 0x80;
    len = sizeof buf;
    CHECK_INT_EQ(sfu_srtp_unprotect_rtp(s, buf, &len), SFU_SRTP_ERR_AUTH);
    sfu_srtp_destroy(s);
    sfu_srtp_destroy(NULL);
}

TEST(srtp_profile_helpers)
{
    size_t kl = 0, sl = 0;

    CHECK_INT_EQ(sfu_srtp_global_init(), 0);
    CHECK_INT_EQ(sfu_srtp_global_init(), 0);
    CHECK_STR_EQ(sfu_srtp_profile_name(SFU_SRTP_AES128_CM_SHA1_80), "AES_CM_128_HMAC_SHA1_80");
    CHECK_STR_EQ(sfu_srtp_profile_name(SFU_SRTP_AEAD_AES_128_GCM), "AEAD_AES_128_GCM");
    CHECK_STR_EQ(sfu_srtp_profile_name(SFU_SRTP_PROFILE_NONE), "none");
    CHECK_INT_EQ(sfu_srtp_key_lengths(SFU_SRTP_AEAD_AES_128_GCM, &kl, &sl), 0);
    CHECK_UINT_EQ(kl, 16);
    CHECK_UINT_EQ(sl, 12);
    CHECK_INT_EQ(sfu_srtp_key_lengths(SFU_SRTP_PROFILE_NONE, &kl, &sl), -1);
    CHECK(sfu_srtp_overhead(SFU_SRTP_AEAD_AES_128_GCM, 1) <= SFU_SRTP_MAX_OVERHEAD);
    CHECK(sfu_srtp_overhead(SFU_SRTP_AES128_CM_SHA1_80, 1) <= SFU_SRTP_MAX_OVERHEAD);
    CHECK_UINT_EQ(sfu_srtp_overhead(SFU_SRTP_AES128_CM_SHA1_80, 0), 10);
}

/* RTP and RTCP are protected by sfu/srtp_fast.c (OpenSSL); it must produce
 * the very bytes libsrtp produces (SFU_SRTP_RTP=libsrtp) for both profiles:
 * two SSRCs, a CSRC and a header extension, across a sequence-number wrap,
 * with resends of packets from before the wrap. */
static void same_as_libsrtp(sfu_srtp_profile p)
{
    sfu_srtp_keys ka, kb;
    char err[256];
    make_pair(p, &ka, &kb);
    unsetenv("SFU_SRTP_RTP");
    sfu_srtp *ours = sfu_srtp_create(&ka, err, sizeof err);
    setenv("SFU_SRTP_RTP", "libsrtp", 1);
    sfu_srtp *ref = sfu_srtp_create(&ka, err, sizeof err);
    sfu_srtp *rx_ref = sfu_srtp_create(&kb, err, sizeof err);
    unsetenv("SFU_SRTP_RTP");
    sfu_srtp *rx = sfu_srtp_create(&kb, err, sizeof err);
    REQUIRE(ours && ref && rx && rx_ref);
    _Alignas(8) uint8_t plain[1500], a[1500], b[1500];
    int mismatches = 0, rx_fail = 0, rx_differ = 0, replays = 0, auth = 0;
    for (int i = 0; i < 400; i++) {
        uint16_t seq = (uint16_t)(65400 + i);
        uint32_t ssrc = (i & 1) ? 0x01020304 : 0xa0b0c0d0;
        int resend = i > 300 && i % 7 == 0;
        if (resend)
            seq = (uint16_t)(65400 + i - 200); /* before the wrap for i < 336 */
        size_t plen = make_rtp(plain + 8, seq, ssrc, (size_t)(i % 3 == 0 ? 0 : 40 + i));
        /* One CSRC and a one-byte-header extension (4 bytes of data). */
        memmove(plain, plain + 8, 12);
        plain[0] = 0x80 | 0x10 | 0x01;
        static const uint8_t csrc_ext[12] = {0xca, 0xfe, 0xf0, 0x0d, 0xbe, 0xde, 0x00, 0x01,
                                             0x12, 0xaa, 0xbb, 0x00};
        memcpy(plain + 12, csrc_ext, sizeof csrc_ext);
        for (size_t k = 24; k < plen + 12; k++)
            plain[k] = (uint8_t)(k * 13 + seq);
        plen += 12;
        size_t la = plen, lb = plen;
        memcpy(a, plain, plen);
        memcpy(b, plain, plen);
        CHECK_INT_EQ(sfu_srtp_protect_rtp(ours, a, &la, sizeof a), 0);
        CHECK_INT_EQ(sfu_srtp_protect_rtp(ref, b, &lb, sizeof b), 0);
        if (la != lb || memcmp(a, b, la) != 0)
            mismatches++;
        /* Receive with ours and with libsrtp: same verdicts, same bytes;
         * every 11th packet is tampered with, resends are replays. */
        if (i % 11 == 5)
            a[la - 3] ^= 0x20, b[lb - 3] ^= 0x20;
        int ra = sfu_srtp_unprotect_rtp(rx, a, &la);
        int rb = sfu_srtp_unprotect_rtp(rx_ref, b, &lb);
        if (ra != rb || (ra == 0 && (la != lb || memcmp(a, b, la) != 0 || la != plen ||
                                     memcmp(a, plain, plen) != 0)))
            rx_differ++;
        if (ra != 0 && !resend && i % 11 != 5)
            rx_fail++;
        replays += ra == SFU_SRTP_ERR_REPLAY;
        auth += ra == SFU_SRTP_ERR_AUTH;
    }
    /* SRTCP: a sender report-sized compound from two SSRCs, same bytes out
     * of both senders, same verdicts from both receivers (with replays
     * and a tampered packet). */
    int rtcp_mismatch = 0, rtcp_differ = 0, rtcp_ok = 0;
    for (int i = 0; i < 200; i++) {
        size_t plen = 8 + (size_t)(i % 5) * 4;
        plain[0] = 0x80;
        plain[1] = 201;
        plain[2] = 0;
        plain[3] = (uint8_t)(plen / 4 - 1);
        uint32_t ssrc = (i & 1) ? 0x0badf00d : 0x12345678;
        plain[4] = (uint8_t)(ssrc >> 24);
        plain[5] = (uint8_t)(ssrc >> 16);
        plain[6] = (uint8_t)(ssrc >> 8);
        plain[7] = (uint8_t)ssrc;
        for (size_t k = 8; k < plen; k++)
            plain[k] = (uint8_t)(k * 31 + (size_t)i);
        size_t la = plen, lb = plen;
        memcpy(a, plain, plen);
        memcpy(b, plain, plen);
        CHECK_INT_EQ(sfu_srtp_protect_rtcp(ours, a, &la, sizeof a), 0);
        CHECK_INT_EQ(sfu_srtp_protect_rtcp(ref, b, &lb, sizeof b), 0);
        if (la != lb || memcmp(a, b, la) != 0)
            rtcp_mismatch++;
        _Alignas(8) uint8_t a2[1500], b2[1500];
        size_t la2 = la, lb2 = lb;
        memcpy(a2, a, la);
        memcpy(b2, a, la); /* both receivers get our bytes */
        if (i % 13 == 4)
            a2[9] ^= 1, b2[9] ^= 1;
        for (int rep = 0; rep < (i % 17 == 3 ? 2 : 1); rep++) {
            size_t x = la2, y = lb2;
            _Alignas(8) uint8_t a3[1500], b3[1500];
            memcpy(a3, a2, la2);
            memcpy(b3, b2, lb2);
            int ra = sfu_srtp_unprotect_rtcp(rx, a3, &x);
            int rb = sfu_srtp_unprotect_rtcp(rx_ref, b3, &y);
            if (ra != rb || (ra == 0 && (x != y || x != plen || memcmp(a3, plain, plen) != 0)))
                rtcp_differ++;
            rtcp_ok += ra == 0;
        }
    }
    CHECK_INT_EQ(rtcp_mismatch, 0);
    CHECK_INT_EQ(rtcp_differ, 0);
    CHECK(rtcp_ok > 150);
    CHECK_INT_EQ(mismatches, 0);
    CHECK_INT_EQ(rx_fail, 0);
    CHECK_INT_EQ(rx_differ, 0);
    CHECK(replays > 5);
    CHECK(auth > 5);
    /* A truncated header extension is refused, not read past the end. */
    size_t plen = make_rtp(plain, 1, 1, 0);
    plain[0] |= 0x10;
    CHECK_INT_EQ(sfu_srtp_protect_rtp(ours, plain, &plen, sizeof plain), SFU_SRTP_ERR_INPUT);
    sfu_srtp_destroy(ours);
    sfu_srtp_destroy(ref);
    sfu_srtp_destroy(rx);
    sfu_srtp_destroy(rx_ref);
}

TEST(srtp_tx_matches_libsrtp_aes_cm_128_hmac_sha1_80)
{
    same_as_libsrtp(SFU_SRTP_AES128_CM_SHA1_80);
}

TEST(srtp_tx_matches_libsrtp_aead_aes_128_gcm)
{
    same_as_libsrtp(SFU_SRTP_AEAD_AES_128_GCM);
}
