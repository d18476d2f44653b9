/* DCEP wire code: round trips for every channel type, exact bytes against
 * RFC 8832's layout, and truncated / lying-length messages rejected. */
#include "sfu/dcep.h"
#include "tests/unit/harness.h"

static const uint8_t all_types[] = {
    SFU_DCEP_RELIABLE,
    SFU_DCEP_PARTIAL_RELIABLE_REXMIT,
    SFU_DCEP_PARTIAL_RELIABLE_TIMED,
    SFU_DCEP_RELIABLE_UNORDERED,
    SFU_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED,
    SFU_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED,
};

TEST(dcep_open_round_trip_all_channel_types)
{
    for (size_t i = 0; i < sizeof all_types; i++) {
        sfu_dcep_open o = {0}, p;
        uint8_t buf[64];
        o.channel_type = all_types[i];
        o.priority = 256;
        o.reliability = 7;
        o.label = (const uint8_t *)"chat";
        o.label_len = 4;
        o.protocol = (const uint8_t *)"json";
        o.protocol_len = 4;
        int n = sfu_dcep_write_open(&o, buf, sizeof buf);
        CHECK_INT_EQ(n, 20);
        CHECK_UINT_EQ(sfu_dcep_open_size(4, 4), 20);
        REQUIRE(sfu_dcep_parse_open(buf, (size_t)n, &p) == 0);
        CHECK_UINT_EQ(p.channel_type, all_types[i]);
        CHECK_UINT_EQ(p.priority, 256);
        int reliable = (all_types[i] & 0x7f) == 0;
        CHECK_UINT_EQ(p.reliability, reliable ? 0 : 7);
        CHECK_UINT_EQ(p.label_len, 4);
        CHECK_MEM_EQ(p.label, "chat", 4);
        CHECK_UINT_EQ(p.protocol_len, 4);
        CHECK_MEM_EQ(p.protocol, "json", 4);
        CHECK_INT_EQ(sfu_dcep_channel_type_ordered(p.channel_type), (all_types[i] & 0x80) ? 0 : 1);
        CHECK_INT_EQ(sfu_dcep_message_type(buf, (size_t)n), SFU_DCEP_MSG_OPEN);
    }
}

TEST(dcep_open_exact_bytes)
{
    sfu_dcep_open o = {0};
    uint8_t buf[32];
    static const uint8_t want[] = {0x03, 0x81, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03,
                                   0x00, 0x01, 0x00, 0x02, 'a',  'x',  'y'};
    o.channel_type = SFU_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED;
    o.priority = 0x100;
    o.reliability = 3;
    o.label = (const uint8_t *)"a";
    o.label_len = 1;
    o.protocol = (const uint8_t *)"xy";
    o.protocol_len = 2;
    REQUIRE(sfu_dcep_write_open(&o, buf, sizeof buf) == (int)sizeof want);
    CHECK_MEM_EQ(buf, want, sizeof want);
}

TEST(dcep_open_empty_label_and_protocol)
{
    sfu_dcep_open o = {0}, p;
    uint8_t buf[SFU_DCEP_OPEN_HEADER_LEN];
    REQUIRE(sfu_dcep_write_open(&o, buf, sizeof buf) == SFU_DCEP_OPEN_HEADER_LEN);
    REQUIRE(sfu_dcep_parse_open(buf, sizeof buf, &p) == 0);
    CHECK_UINT_EQ(p.label_len, 0);
    CHECK_UINT_EQ(p.protocol_len, 0);
    CHECK(p.label == NULL);
    CHECK(p.protocol == NULL);
}

TEST(dcep_open_write_refuses_small_buffer_and_bad_type)
{
    sfu_dcep_open o = {0};
    uint8_t buf[16];
    o.label = (const uint8_t *)"abcde";
    o.label_len = 5;
    CHECK_INT_EQ(sfu_dcep_write_open(&o, buf, 16), -1);
    CHECK_INT_EQ(sfu_dcep_write_open(&o, buf, 17 - 1), -1);
    o.label_len = 4;
    CHECK_INT_EQ(sfu_dcep_write_open(&o, buf, 16), 16);
    o.channel_type = 0x03;
    CHECK_INT_EQ(sfu_dcep_write_open(&o, buf, 16), -1);
    o.channel_type = 0;
    o.label = NULL; /* length without bytes */
    CHECK_INT_EQ(sfu_dcep_write_open(&o, buf, 16), -1);
}

TEST(dcep_open_truncated_rejected)
{
    sfu_dcep_open o = {0}, p;
    uint8_t buf[64];
    o.label = (const uint8_t *)"label";
    o.label_len = 5;
    o.protocol = (const uint8_t *)"proto";
    o.protocol_len = 5;
    int n = sfu_dcep_write_open(&o, buf, sizeof buf);
    REQUIRE(n == 22);
    for (int len = 0; len < n; len++)
        CHECK_INT_EQ(sfu_dcep_parse_open(buf, (size_t)len, &p), -1);
    CHECK_INT_EQ(sfu_dcep_parse_open(buf, (size_t)n, &p), 0);
    /* Trailing bytes are ignored. */
    CHECK_INT_EQ(sfu_dcep_parse_open(buf, (size_t)n + 3, &p), 0);
    CHECK_INT_EQ(sfu_dcep_parse_open(NULL, 10, &p), -1);
}

TEST(dcep_open_lying_lengths_rejected)
{
    sfu_dcep_open p;
    /* Label length 0xffff with 2 bytes present. */
    uint8_t a[] = {0x03, 0x00, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x00, 0x00, 'h', 'i'};
    CHECK_INT_EQ(sfu_dcep_parse_open(a, sizeof a, &p), -1);
    /* Label fits but the protocol length overruns. */
    uint8_t b[] = {0x03, 0x00, 0, 0, 0, 0, 0, 0, 0x00, 0x02, 0x00, 0x02, 'h', 'i', 'x'};
    CHECK_INT_EQ(sfu_dcep_parse_open(b, sizeof b, &p), -1);
    /* Both lengths add up to exactly what is there: fine. */
    uint8_t c[] = {0x03, 0x00, 0, 0, 0, 0, 0, 0, 0x00, 0x02, 0x00, 0x01, 'h', 'i', 'x'};
    CHECK_INT_EQ(sfu_dcep_parse_open(c, sizeof c, &p), 0);
    CHECK_MEM_EQ(p.protocol, "x", 1);
}

TEST(dcep_open_bad_type_fields_rejected)
{
    sfu_dcep_open p;
    uint8_t m[] = {0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK_INT_EQ(sfu_dcep_parse_open(m, sizeof m, &p), 0);
    m[1] = 0x03; /* unknown channel type */
    CHECK_INT_EQ(sfu_dcep_parse_open(m, sizeof m, &p), -1);
    m[1] = 0x83;
    CHECK_INT_EQ(sfu_dcep_parse_open(m, sizeof m, &p), -1);
    m[1] = 0x40;
    CHECK_INT_EQ(sfu_dcep_parse_open(m, sizeof m, &p), -1);
    m[1] = 0x00;
    m[0] = SFU_DCEP_MSG_ACK; /* not an OPEN */
    CHECK_INT_EQ(sfu_dcep_parse_open(m, sizeof m, &p), -1);
}

TEST(dcep_ack_build_and_parse)
{
    uint8_t b[4] = {0};
    CHECK_INT_EQ(sfu_dcep_write_ack(b, 0), -1);
    CHECK_INT_EQ(sfu_dcep_write_ack(b, sizeof b), 1);
    CHECK_UINT_EQ(b[0], 0x02);
    CHECK_INT_EQ(sfu_dcep_parse_ack(b, 1), 0);
    CHECK_INT_EQ(sfu_dcep_parse_ack(b, 0), -1);
    CHECK_INT_EQ(sfu_dcep_message_type(b, 1), SFU_DCEP_MSG_ACK);
    CHECK_INT_EQ(sfu_dcep_message_type(b, 0), -1);
    b[0] = 0x03;
    CHECK_INT_EQ(sfu_dcep_parse_ack(b, 1), -1);
}

TEST(dcep_channel_type_from_options)
{
    CHECK_INT_EQ(sfu_dcep_channel_type_from_options(1, -1, -1), SFU_DCEP_RELIABLE);
    CHECK_INT_EQ(sfu_dcep_channel_type_from_options(0, -1, -1), SFU_DCEP_RELIABLE_UNORDERED);
    CHECK_INT_EQ(sfu_dcep_channel_type_from_options(1, 0, -1), SFU_DCEP_PARTIAL_RELIABLE_REXMIT);
    CHECK_INT_EQ(sfu_dcep_channel_type_from_options(0, 3, -1),
                 SFU_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED);
    CHECK_INT_EQ(sfu_dcep_channel_type_from_options(1, -1, 500), SFU_DCEP_PARTIAL_RELIABLE_TIMED);
    CHECK_INT_EQ(sfu_dcep_channel_type_from_options(0, -1, 500),
                 SFU_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED);
    CHECK_INT_EQ(sfu_dcep_channel_type_from_options(1, 1, 1), -1);
}

TEST(dcep_ppids)
{
    int bin = -1, empty = -1;
    CHECK_INT_EQ(sfu_dcep_ppid_classify(51, &bin, &empty), 0);
    CHECK(bin == 0 && empty == 0);
    CHECK_INT_EQ(sfu_dcep_ppid_classify(53, &bin, &empty), 0);
    CHECK(bin == 1 && empty == 0);
    CHECK_INT_EQ(sfu_dcep_ppid_classify(56, &bin, &empty), 0);
    CHECK(bin == 0 && empty == 1);
    CHECK_INT_EQ(sfu_dcep_ppid_classify(57, &bin, &empty), 0);
    CHECK(bin == 1 && empty == 1);
    CHECK_INT_EQ(sfu_dcep_ppid_classify(50, &bin, &empty), -1);
    CHECK_INT_EQ(sfu_dcep_ppid_classify(52, &bin, &empty), -1);
    CHECK_INT_EQ(sfu_dcep_ppid_classify(54, &bin, &empty), -1);
    CHECK_INT_EQ(sfu_dcep_ppid_classify(0, &bin, &empty), -1);
    CHECK_UINT_EQ(sfu_dcep_ppid_for(0, 0), 51);
    CHECK_UINT_EQ(sfu_dcep_ppid_for(1, 0), 53);
    CHECK_UINT_EQ(sfu_dcep_ppid_for(0, 1), 56);
    CHECK_UINT_EQ(sfu_dcep_ppid_for(1, 1), 57);
}
