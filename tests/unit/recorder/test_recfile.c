/*
 * Unit tests for the raw recording file format (recorder/recfile*.c,
 * recorder/recout.c): header and record round trips, a torn last record at
 * every byte offset, a flipped byte in every position of a record (the
 * record is rejected by its CRC and the scanner resynchronises on the
 * next one), junk between records, and bad headers.
 */
#include "common/crc32.h"
#include "recorder/recfile.h"
#include "recorder/recout.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NREC 12

static void make_info(rec_file_info *info)
{
    memset(info, 0, sizeof *info);
    info->kind = REC_KIND_VIDEO;
    info->payload_type = 96;
    info->clock_rate = 90000;
    snprintf(info->codec, sizeof info->codec, "VP8");
    snprintf(info->room_id, sizeof info->room_id, "room-1");
    snprintf(info->session_id, sizeof info->session_id, "session-42");
    snprintf(info->track_id, sizeof info->track_id, "camera");
    info->start_wall_us = 1700000000000000ull;
    info->start_mono_us = 123456789;
    info->layer_count = 2;
    info->layers[0].ssrc = 0x11111111;
    snprintf(info->layers[0].rid, sizeof info->layers[0].rid, "h");
    info->layers[1].ssrc = 0x22222222;
    snprintf(info->layers[1].rid, sizeof info->layers[1].rid, "0123456789abcdef");
}

/* Payload of record i: i repeated (i * 37 % 300 + 1) times. */
static size_t payload_of(int i, uint8_t *buf)
{
    size_t n = (size_t)(i * 37 % 300 + 1);
    memset(buf, i, n);
    return n;
}

/* Build an in-memory file of NREC records; offs[i] = offset of record i. */
static size_t build(uint8_t *buf, size_t cap, size_t offs[NREC + 1])
{
    rec_file_info info;
    make_info(&info);
    int h = rec_header_encode(&info, buf, cap);
    size_t p = (size_t)h;
    for (int i = 0; i < NREC; i++) {
        uint8_t pl[400];
        size_t n = payload_of(i, pl);
        offs[i] = p;
        long r = rec_record_encode(buf + p, cap - p, REC_T_RTP, 1000u + (uint64_t)i, pl, n);
        p += (size_t)r;
    }
    offs[NREC] = p;
    return p;
}

typedef struct seen {
    int n;
    int ids[NREC * 2];
    int bad_payload;
} seen;

static int collect(void *ctx, const rec_record *r)
{
    seen *s = ctx;
    int id = r->len ? r->data[0] : -1;
    uint8_t pl[400];
    if (id < 0 || id >= NREC || r->len != payload_of(id, pl) || memcmp(pl, r->data, r->len) ||
        r->t_us != 1000u + (uint64_t)id)
        s->bad_payload++;
    if (s->n < NREC * 2)
        s->ids[s->n++] = id;
    return 0;
}

TEST(crc32_check_value)
{
    CHECK_UINT_EQ(ml_crc32(0, "123456789", 9), 0xCBF43926u);
    CHECK_UINT_EQ(ml_crc32(ml_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

TEST(header_round_trip_and_limits)
{
    rec_file_info a, b;
    make_info(&a);
    uint8_t buf[REC_HEADER_LEN];
    char err[128];
    REQUIRE(rec_header_encode(&a, buf, sizeof buf) == REC_HEADER_LEN);
    REQUIRE(rec_header_decode(buf, sizeof buf, &b, err, sizeof err) == REC_HEADER_LEN);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK_STR_EQ(b.layers[1].rid, "0123456789abcdef");
    /* A codec name without room for its NUL is refused. */
    memset(a.codec, 'x', sizeof a.codec);
    CHECK(rec_header_encode(&a, buf, sizeof buf) == -1);
    /* Every single-byte change in the header is detected. */
    make_info(&a);
    rec_header_encode(&a, buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] ^= 0x40;
        CHECK(rec_header_decode(buf, sizeof buf, &b, err, sizeof err) == -1);
        buf[i] ^= 0x40;
    }
    CHECK(rec_header_decode(buf, 100, &b, err, sizeof err) == -1);
    CHECK(strstr(err, "truncated header") != NULL);
    CHECK(rec_header_decode(buf, 0, &b, err, sizeof err) == -1);
}

TEST(typed_payloads_round_trip)
{
    rec_sr sr = {0xdeadbeef, 0x0123456789abcdefull, 0xcafebabe, 7, 9}, sr2;
    uint8_t b[24];
    CHECK(rec_sr_decode(b, rec_sr_encode(b, &sr), &sr2) == 0);
    CHECK(sr2.ssrc == sr.ssrc && sr2.ntp == sr.ntp && sr2.rtp_ts == sr.rtp_ts &&
          sr2.packet_count == 7 && sr2.octet_count == 9);
    CHECK(rec_sr_decode(b, 23, &sr2) == -1);
    rec_layer l = {0x12345678, "f"}, l2;
    uint8_t lb[4 + REC_RID_MAX];
    CHECK(rec_layer_decode(lb, rec_layer_encode(lb, &l), &l2) == 0);
    CHECK_UINT_EQ(l2.ssrc, 0x12345678);
    CHECK_STR_EQ(l2.rid, "f");
    rec_end e = {100, 3}, e2;
    uint8_t eb[16];
    CHECK(rec_end_decode(eb, rec_end_encode(eb, &e), &e2) == 0);
    CHECK_UINT_EQ(e2.drops, 3);
}

TEST(scan_reads_every_record)
{
    static uint8_t buf[16384];
    size_t offs[NREC + 1];
    size_t len = build(buf, sizeof buf, offs);
    rec_file_info info;
    rec_scan_stats st;
    seen s = {0};
    char err[128];
    REQUIRE(rec_scan_buffer(buf, len, &info, collect, &s, &st, err, sizeof err) == 0);
    CHECK_INT_EQ(st.records, NREC);
    CHECK_INT_EQ(st.rtp, NREC);
    CHECK_INT_EQ(st.bytes, len - REC_HEADER_LEN);
    CHECK(!st.torn_tail);
    CHECK_INT_EQ(st.bad_records, 0);
    CHECK_INT_EQ(s.bad_payload, 0);
    for (int i = 0; i < NREC; i++)
        CHECK_INT_EQ(s.ids[i], i);
}

TEST(truncation_at_every_offset_of_last_record_keeps_earlier_records)
{
    static uint8_t buf[16384];
    size_t offs[NREC + 1];
    build(buf, sizeof buf, offs);
    int cuts = 0;
    for (size_t cut = offs[NREC - 1]; cut < offs[NREC]; cut++) {
        rec_file_info info;
        rec_scan_stats st;
        seen s = {0};
        char err[128];
        REQUIRE(rec_scan_buffer(buf, cut, &info, collect, &s, &st, err, sizeof err) == 0);
        CHECK_INT_EQ(st.records, NREC - 1);
        CHECK_INT_EQ(s.bad_payload, 0);
        CHECK_INT_EQ(st.bad_records, 0);
        CHECK(st.torn_tail == (cut > offs[NREC - 1]));
        CHECK_INT_EQ(st.torn_bytes, cut - offs[NREC - 1]);
        cuts++;
    }
    CHECK(cuts > REC_RECORD_OVERHEAD);
}

TEST(flipped_byte_rejects_only_that_record_and_resynchronises)
{
    static uint8_t buf[16384];
    size_t offs[NREC + 1];
    size_t len = build(buf, sizeof buf, offs);
    const int victim = 5;
    for (size_t i = offs[victim]; i < offs[victim + 1]; i++) {
        buf[i] ^= 0x01;
        rec_file_info info;
        rec_scan_stats st;
        seen s = {0};
        char err[128];
        REQUIRE(rec_scan_buffer(buf, len, &info, collect, &s, &st, err, sizeof err) == 0);
        CHECK_INT_EQ(st.records, NREC - 1);
        CHECK_INT_EQ(st.bad_records, 1);
        CHECK_INT_EQ(st.first_bad_offset, offs[victim]);
        CHECK_INT_EQ(st.skipped_bytes, offs[victim + 1] - offs[victim]);
        CHECK(!st.torn_tail);
        CHECK_INT_EQ(s.bad_payload, 0);
        for (int k = 0, j = 0; k < NREC; k++)
            if (k != victim)
                CHECK_INT_EQ(s.ids[j++], k);
        buf[i] ^= 0x01;
    }
    /* A flip in the last record: it is bad (complete, wrong CRC), not torn. */
    buf[offs[NREC] - 1] ^= 0x80;
    rec_file_info info;
    rec_scan_stats st;
    char err[128];
    REQUIRE(rec_scan_buffer(buf, len, &info, NULL, NULL, &st, err, sizeof err) == 0);
    CHECK_INT_EQ(st.records, NREC - 1);
    CHECK_INT_EQ(st.bad_records, 1);
    CHECK(!st.torn_tail);
}

TEST(junk_between_records_is_skipped)
{
    static uint8_t buf[16384], out[20000];
    size_t offs[NREC + 1];
    size_t len = build(buf, sizeof buf, offs);
    size_t a = offs[3];
    memcpy(out, buf, a);
    /* Junk that even starts with the sync word and a plausible length. */
    static const uint8_t junk[] = {0x4D, 0x4C, 0x52, 0x31, 0, 0, 0, 4, 1, 0, 0, 0, 9, 9, 9};
    memcpy(out + a, junk, sizeof junk);
    memcpy(out + a + sizeof junk, buf + a, len - a);
    rec_file_info info;
    rec_scan_stats st;
    seen s = {0};
    char err[128];
    REQUIRE(rec_scan_buffer(out, len + sizeof junk, &info, collect, &s, &st, err, sizeof err) == 0);
    CHECK_INT_EQ(st.records, NREC);
    CHECK_INT_EQ(st.bad_records, 1);
    CHECK_INT_EQ(st.skipped_bytes, sizeof junk);
    CHECK_INT_EQ(s.bad_payload, 0);
}

TEST(rec_out_file_round_trip_clean_close_and_truncate)
{
    char dir[] = "/tmp/ml-recfile-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/t.mlrec", dir);
    rec_file_info info, got;
    make_info(&info);
    rec_out o;
    char err[256];
    rec_sync_policy pol = {.fsync_ms = 0, .fsync_bytes = 0};
    REQUIRE(rec_out_open(&o, path, &info, &pol, err, sizeof err) == 0);
    /* The file must not exist already. */
    rec_out o2;
    CHECK(rec_out_open(&o2, path, &info, &pol, err, sizeof err) == -1);
    for (int i = 0; i < NREC; i++) {
        uint8_t pl[400];
        size_t n = payload_of(i, pl);
        REQUIRE(rec_out_append(&o, REC_T_RTP, 1000u + (uint64_t)i, pl, n) == 0);
        if (i % 4 == 3)
            REQUIRE(rec_out_flush(&o, rec_mono_us(), 0) == 0);
    }
    CHECK(o.syncs >= 3);
    REQUIRE(rec_out_close(&o, 7, err, sizeof err) == 0);
    rec_scan_stats st;
    seen s = {0};
    REQUIRE(rec_scan_file(path, &got, NULL, NULL, &st, err, sizeof err) == 0);
    CHECK_INT_EQ(st.records, NREC + 1);
    CHECK(st.clean_end);
    CHECK_INT_EQ(st.totals.records, NREC);
    CHECK_INT_EQ(st.totals.drops, 7);
    CHECK_STR_EQ(got.session_id, "session-42");
    /* Truncate inside the END record: it is torn, the rest is intact. */
    REQUIRE(truncate(path, (off_t)(REC_HEADER_LEN + st.bytes - 5)) == 0);
    (void)s;
    REQUIRE(rec_scan_file(path, &got, NULL, NULL, &st, err, sizeof err) == 0);
    CHECK_INT_EQ(st.records, NREC);
    CHECK(st.torn_tail);
    CHECK(!st.clean_end);
    /* A file cut inside its header cannot be read, with a reason. */
    REQUIRE(truncate(path, 40) == 0);
    CHECK(rec_scan_file(path, &got, NULL, NULL, &st, err, sizeof err) == -1);
    CHECK(strstr(err, "truncated header") != NULL);
    CHECK(rec_scan_file("/nonexistent/x.mlrec", &got, NULL, NULL, &st, err, sizeof err) == -1);
    unlink(path);
    rmdir(dir);
}
