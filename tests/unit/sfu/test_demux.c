/* Unit tests for sfu/demux.c: RFC 7983 demultiplexing and STUN with the RFC 5769 vectors. */
#include "sfu/demux.h"
#include "tests/unit/harness.h"

/* RFC 5769 section 2.1: sample request (username "evtj:h6vY"). */
static const uint8_t rfc5769_request[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 section 2.2: sample IPv4 response, mapped address 192.0.2.1:32853. */
static const uint8_t rfc5769_ipv4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 section 2.3: sample IPv6 response, mapped address
 * [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc5769_ipv6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const char rfc5769_password[] = "VOkJxbRl1RmTxUk/WvJxBt";

TEST(demux_first_byte_ranges)
{
    uint8_t b[2] = {0, 0x60};
    for (int v = 0; v < 256; v++) {
        b[0] = (uint8_t)v;
        sfu_pkt_kind want = SFU_PKT_DROP;
        if (v <= 3)
            want = SFU_PKT_STUN;
        else if (v >= 16 && v <= 19)
            want = SFU_PKT_ZRTP;
        else if (v >= 20 && v <= 63)
            want = SFU_PKT_DTLS;
        else if (v >= 64 && v <= 79)
            want = SFU_PKT_TURN_CHANNEL;
        else if (v >= 128 && v <= 191)
            want = SFU_PKT_RTP;
        CHECK_INT_EQ(sfu_demux(b, 2), want);
    }
    CHECK_INT_EQ(sfu_demux(b, 0), SFU_PKT_DROP);
    CHECK_INT_EQ(sfu_demux(NULL, 5), SFU_PKT_DROP);
    b[0] = 0x80;
    CHECK_INT_EQ(sfu_demux(b, 1), SFU_PKT_DROP); /* RTP/RTCP needs its second byte */
    CHECK_STR_EQ(sfu_pkt_kind_name(SFU_PKT_DTLS), "dtls");
    CHECK_STR_EQ(sfu_pkt_kind_name(SFU_PKT_DROP), "drop");
}

TEST(demux_rtp_vs_rtcp)
{
    uint8_t b[2] = {0x80, 0};
    for (int v = 0; v < 256; v++) {
        b[1] = (uint8_t)v;
        int pt = v & 0x7F;
        bool rtcp = pt >= 64 && pt <= 95;
        CHECK_INT_EQ(sfu_demux(b, 2), rtcp ? SFU_PKT_RTCP : SFU_PKT_RTP);
    }
    /* SR, RR, SDES, BYE, RTPFB, PSFB are RTCP; PT 96 with and without marker is RTP. */
    const uint8_t rtcp_types[] = {200, 201, 202, 203, 205, 206, 192, 223};
    for (size_t i = 0; i < sizeof rtcp_types; i++) {
        b[1] = rtcp_types[i];
        CHECK(sfu_demux_is_rtcp(b, 2));
    }
    b[1] = 96;
    CHECK(!sfu_demux_is_rtcp(b, 2));
    b[1] = 96 | 0x80;
    CHECK(!sfu_demux_is_rtcp(b, 2));
    b[1] = 111 | 0x80;
    CHECK_INT_EQ(sfu_demux(b, 2), SFU_PKT_RTP);
}

TEST(crc32_check_value)
{
    CHECK_UINT_EQ(sfu_crc32((const uint8_t *)"123456789", 9), 0xCBF43926);
    CHECK_UINT_EQ(sfu_crc32(NULL, 0), 0);
}

TEST(stun_rfc5769_request)
{
    sfu_stun_msg m;
    REQUIRE(sfu_stun_parse(rfc5769_request, sizeof rfc5769_request, &m) == 0);
    CHECK_UINT_EQ(m.type, SFU_STUN_BINDING_REQUEST);
    CHECK_INT_EQ(sfu_stun_method(m.type), 1);
    CHECK_INT_EQ(sfu_stun_class(m.type), 0);
    CHECK_INT_EQ(m.length, 0x58);
    CHECK_INT_EQ(m.len, sizeof rfc5769_request);
    CHECK(m.txid == rfc5769_request + 8);
    CHECK(m.integrity == rfc5769_request + 76);
    CHECK(m.fingerprint == rfc5769_request + 100);
    CHECK(sfu_stun_fingerprint_ok(&m));
    CHECK(sfu_stun_integrity_ok(&m, (const uint8_t *)rfc5769_password, strlen(rfc5769_password)));
    CHECK(!sfu_stun_integrity_ok(&m, (const uint8_t *)"wrong", 5));

    sfu_stun_attr a;
    REQUIRE(sfu_stun_find_attr(&m, SFU_STUN_ATTR_USERNAME, &a) == 0);
    CHECK_INT_EQ(a.len, 9);
    CHECK_MEM_EQ(a.value, "evtj:h6vY", 9);
    REQUIRE(sfu_stun_find_attr(&m, SFU_STUN_ATTR_SOFTWARE, &a) == 0);
    CHECK_MEM_EQ(a.value, "STUN test client", 16);
    REQUIRE(sfu_stun_find_attr(&m, SFU_STUN_ATTR_PRIORITY, &a) == 0);
    CHECK_INT_EQ(a.len, 4);
    CHECK(sfu_stun_find_attr(&m, SFU_STUN_ATTR_XOR_MAPPED_ADDRESS, &a) == -1);
    sfu_stun_addr addr;
    CHECK(sfu_stun_xor_mapped_address(&m, &addr) == -1);

    /* The iterator sees all six attributes in order. */
    const uint16_t order[] = {0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028};
    sfu_stun_attr_iter it;
    sfu_stun_attr_iter_init(&it, &m);
    for (size_t i = 0; i < 6; i++) {
        REQUIRE(sfu_stun_attr_next(&it, &a) == 1);
        CHECK_UINT_EQ(a.type, order[i]);
    }
    CHECK_INT_EQ(sfu_stun_attr_next(&it, &a), 0);
}

TEST(stun_rfc5769_ipv4_response)
{
    sfu_stun_msg m;
    sfu_stun_addr addr;
    REQUIRE(sfu_stun_parse(rfc5769_ipv4, sizeof rfc5769_ipv4, &m) == 0);
    CHECK_UINT_EQ(m.type, SFU_STUN_BINDING_SUCCESS);
    CHECK_INT_EQ(sfu_stun_class(m.type), 2);
    CHECK(sfu_stun_fingerprint_ok(&m));
    CHECK(sfu_stun_integrity_ok(&m, (const uint8_t *)rfc5769_password, strlen(rfc5769_password)));
    REQUIRE(sfu_stun_xor_mapped_address(&m, &addr) == 0);
    CHECK_INT_EQ(addr.family, 4);
    CHECK_INT_EQ(addr.port, 32853);
    const uint8_t want[4] = {192, 0, 2, 1};
    CHECK_MEM_EQ(addr.addr, want, 4);
}

TEST(stun_rfc5769_ipv6_response)
{
    sfu_stun_msg m;
    sfu_stun_addr addr;
    REQUIRE(sfu_stun_parse(rfc5769_ipv6, sizeof rfc5769_ipv6, &m) == 0);
    CHECK(sfu_stun_fingerprint_ok(&m));
    CHECK(sfu_stun_integrity_ok(&m, (const uint8_t *)rfc5769_password, strlen(rfc5769_password)));
    REQUIRE(sfu_stun_xor_mapped_address(&m, &addr) == 0);
    CHECK_INT_EQ(addr.family, 6);
    CHECK_INT_EQ(addr.port, 32853);
    const uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                              0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    CHECK_MEM_EQ(addr.addr, want, 16);
}

TEST(stun_detects_tampering)
{
    uint8_t b[sizeof rfc5769_ipv4];
    sfu_stun_msg m;
    /* Any flipped bit before the FINGERPRINT value breaks the CRC (except in the
     * header fields the parser itself rejects). */
    for (size_t i = 20; i < sizeof b - 4; i++) {
        memcpy(b, rfc5769_ipv4, sizeof b);
        b[i] ^= 0x01;
        if (sfu_stun_parse(b, sizeof b, &m) == 0)
            CHECK(!sfu_stun_fingerprint_ok(&m));
    }
    /* A changed byte covered by MESSAGE-INTEGRITY breaks the HMAC. */
    memcpy(b, rfc5769_ipv4, sizeof b);
    b[25] ^= 0x20; /* SOFTWARE text */
    REQUIRE(sfu_stun_parse(b, sizeof b, &m) == 0);
    CHECK(!sfu_stun_integrity_ok(&m, (const uint8_t *)rfc5769_password, strlen(rfc5769_password)));
}

TEST(stun_rejects_malformed)
{
    uint8_t b[sizeof rfc5769_request + 8];
    sfu_stun_msg m;
    for (size_t n = 0; n < sizeof rfc5769_request; n++)
        CHECK(sfu_stun_parse(rfc5769_request, n, &m) == -1); /* length past the end */
    /* Trailing bytes after the message are not part of it. */
    memcpy(b, rfc5769_request, sizeof rfc5769_request);
    memset(b + sizeof rfc5769_request, 0xee, 8);
    REQUIRE(sfu_stun_parse(b, sizeof b, &m) == 0);
    CHECK_INT_EQ(m.len, sizeof rfc5769_request);
    CHECK(sfu_stun_fingerprint_ok(&m));
    /* Top bits set, bad cookie, length not a multiple of 4. */
    memcpy(b, rfc5769_request, sizeof rfc5769_request);
    b[0] = 0x40;
    CHECK(sfu_stun_parse(b, sizeof rfc5769_request, &m) == -1);
    memcpy(b, rfc5769_request, sizeof rfc5769_request);
    b[7] = 0x43;
    CHECK(sfu_stun_parse(b, sizeof rfc5769_request, &m) == -1);
    memcpy(b, rfc5769_request, sizeof rfc5769_request);
    b[3] = 0x57;
    CHECK(sfu_stun_parse(b, sizeof rfc5769_request, &m) == -1);
    /* Shorter message length: the attribute walk now ends inside an attribute. */
    memcpy(b, rfc5769_request, sizeof rfc5769_request);
    b[3] = 0x54;
    CHECK(sfu_stun_parse(b, sizeof rfc5769_request, &m) == -1);
    /* An attribute length running past the message. */
    memcpy(b, rfc5769_request, sizeof rfc5769_request);
    b[23] = 0xf0;
    CHECK(sfu_stun_parse(b, sizeof rfc5769_request, &m) == -1);
    /* An attribute after FINGERPRINT. */
    const uint8_t after_fp[] = {
        0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3,    4,    5,    6,    7, 8, 9, 10,
        11,   12,   0x80, 0x28, 0x00, 0x04, 0,    0,    0, 0, 0x00, 0x24, 0x00, 0x04, 0, 0, 0, 1};
    CHECK(sfu_stun_parse(after_fp, sizeof after_fp, &m) == -1);
    /* FINGERPRINT and MESSAGE-INTEGRITY of the wrong size. */
    const uint8_t bad_fp[] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                              3,    4,    5,    6,    7,    8,    9,    10,   11, 12,
                              0x80, 0x28, 0x00, 0x02, 0,    0,    0,    0};
    CHECK(sfu_stun_parse(bad_fp, sizeof bad_fp, &m) == -1);
    uint8_t bad_mi[sizeof bad_fp];
    memcpy(bad_mi, bad_fp, sizeof bad_fp);
    bad_mi[20] = 0x00;
    bad_mi[21] = 0x08;
    CHECK(sfu_stun_parse(bad_mi, sizeof bad_mi, &m) == -1);
    /* A minimal message with no attributes: no FINGERPRINT, no integrity. */
    const uint8_t bare[] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                            3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
    REQUIRE(sfu_stun_parse(bare, sizeof bare, &m) == 0);
    CHECK(!sfu_stun_fingerprint_ok(&m));
    CHECK(!sfu_stun_integrity_ok(&m, (const uint8_t *)"k", 1));
    /* XOR-MAPPED-ADDRESS with an unknown family or wrong length. */
    const uint8_t bad_fam[] = {0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, 1,  2,    3,
                               4,    5,    6,    7,    8,    9,    10,   11,   12, 0x00, 0x20,
                               0x00, 0x08, 0x00, 0x03, 0xa1, 0x47, 1,    2,    3,  4};
    sfu_stun_addr addr;
    REQUIRE(sfu_stun_parse(bad_fam, sizeof bad_fam, &m) == 0);
    CHECK(sfu_stun_xor_mapped_address(&m, &addr) == -1);
    uint8_t bad_len[sizeof bad_fam];
    memcpy(bad_len, bad_fam, sizeof bad_fam);
    bad_len[25] = 0x02; /* IPv6 family with an IPv4-sized value */
    REQUIRE(sfu_stun_parse(bad_len, sizeof bad_len, &m) == 0);
    CHECK(sfu_stun_xor_mapped_address(&m, &addr) == -1);
}
