/* Unit tests for the pure parts of room routing: which simulcast layer a
 * publisher packet belongs to (rid header extension -> layer index in the
 * offer's order, repaired rid for RTX), as used to learn SSRC routes. */
#include "sfu/peer_room.h"
#include "sfu/router_internal.h"
#include "sfu/vp8.h"
#include "tests/unit/harness.h"

#include <string.h>

/* An RTP packet with one one-byte extension element (id, string). */
static size_t build(uint8_t *buf, uint32_t ssrc, uint8_t id, const char *value)
{
    sfu_rtp_ext el = {.id = id, .len = (uint8_t)strlen(value), .data = (const uint8_t *)value};
    uint8_t ext[32];
    uint16_t profile;
    int elen = sfu_rtp_ext_build(ext, sizeof ext, &el, 1, &profile);
    static const uint8_t payload[4] = {1, 2, 3, 4};
    sfu_rtp_packet p = {.extension = true,
                        .payload_type = 96,
                        .seq = 1,
                        .timestamp = 2,
                        .ssrc = ssrc,
                        .ext_profile = profile,
                        .ext = ext,
                        .ext_len = (size_t)elen,
                        .payload = payload,
                        .payload_len = 4};
    return (size_t)sfu_rtp_write(buf, 256, &p);
}

static sfu_peer_track simulcast_track(void)
{
    sfu_peer_track t;
    memset(&t, 0, sizeof t);
    t.role = SFU_TRACK_PRODUCE;
    t.n_layers = 3;
    strcpy(t.rids[0], "l");
    strcpy(t.rids[1], "m");
    strcpy(t.rids[2], "h");
    t.ext_rid = 10;
    t.ext_rrid = 11;
    return t;
}

TEST(router_rid_to_layer)
{
    sfu_peer_track t = simulcast_track();
    uint8_t buf[256];
    sfu_rtp_packet rp;
    uint8_t layer = 9;
    const char *rids[] = {"l", "m", "h"};
    for (int i = 0; i < 3; i++) {
        size_t n = build(buf, 100 + (uint32_t)i, 10, rids[i]);
        REQUIRE(sfu_rtp_parse(buf, n, &rp) == 0);
        CHECK_INT_EQ(sfu__peer_room_layer(NULL, &layer, &t, &rp, 0), 0);
        CHECK_INT_EQ(layer, i);
    }
    /* A rid the offer did not declare: -2 (dropped, counted); no rid
     * element: -1 (no route yet). */
    size_t n = build(buf, 1, 10, "x");
    REQUIRE(sfu_rtp_parse(buf, n, &rp) == 0);
    CHECK_INT_EQ(sfu__peer_room_layer(NULL, &layer, &t, &rp, 0), -2);
    n = build(buf, 1, 4, "0"); /* a mid element only */
    REQUIRE(sfu_rtp_parse(buf, n, &rp) == 0);
    CHECK_INT_EQ(sfu__peer_room_layer(NULL, &layer, &t, &rp, 0), -1);
}

TEST(router_rtx_uses_repaired_rid)
{
    sfu_peer_track t = simulcast_track();
    uint8_t buf[256];
    sfu_rtp_packet rp;
    uint8_t layer = 9;
    size_t n = build(buf, 7, 11, "m");
    REQUIRE(sfu_rtp_parse(buf, n, &rp) == 0);
    CHECK_INT_EQ(sfu__peer_room_layer(NULL, &layer, &t, &rp, 1), 0);
    CHECK_INT_EQ(layer, 1);
    /* The rid element does not name an RTX stream's layer. */
    n = build(buf, 7, 10, "m");
    REQUIRE(sfu_rtp_parse(buf, n, &rp) == 0);
    CHECK_INT_EQ(sfu__peer_room_layer(NULL, &layer, &t, &rp, 1), -1);
}

TEST(router_single_layer_track_is_layer_zero)
{
    sfu_peer_track t;
    memset(&t, 0, sizeof t);
    t.role = SFU_TRACK_PRODUCE;
    uint8_t buf[256];
    sfu_rtp_packet rp;
    uint8_t layer = 9;
    size_t n = build(buf, 5, 4, "1");
    REQUIRE(sfu_rtp_parse(buf, n, &rp) == 0);
    CHECK_INT_EQ(sfu__peer_room_layer(NULL, &layer, &t, &rp, 0), 0);
    CHECK_INT_EQ(layer, 0);
}

/* ---- resends rebuilt from the publisher's one copy (router_rtx.c) ---- */

/* A VP8 packet with a transport-wide element (id 5, value 0x1111), a
 * 15-bit PictureID 0x0567 and TL0PICIDX 3. */
static size_t build_vp8(uint8_t *buf, uint32_t ssrc, uint16_t seq)
{
    static const uint8_t tw[2] = {0x11, 0x11};
    sfu_rtp_ext el = {.id = 5, .len = 2, .data = tw};
    uint8_t ext[16];
    uint16_t profile;
    int elen = sfu_rtp_ext_build(ext, sizeof ext, &el, 1, &profile);
    static const uint8_t payload[] = {0x90, 0xc0, 0x85, 0x67, 0x03, 0x01, 0xaa, 0xbb, 0xcc, 0xdd};
    sfu_rtp_packet p = {.extension = true,
                        .payload_type = 96,
                        .seq = seq,
                        .timestamp = 1000,
                        .ssrc = ssrc,
                        .ext_profile = profile,
                        .ext = ext,
                        .ext_len = (size_t)elen,
                        .payload = payload,
                        .payload_len = sizeof payload};
    return (size_t)sfu_rtp_write(buf, 256, &p);
}

static int resend(sfu_peer_track *c, uint16_t seq, uint8_t *out, size_t cap)
{
    uint8_t ref[SFU_RTX_REF_SIZE];
    if (sfu_rtx_buffer_admit(c->rtxbuf, seq, 1000, ref) <= 0)
        return -2;
    return sfu__router_rtx_rebuild(c, seq, ref, out, cap);
}

TEST(router_resend_is_rebuilt_as_first_sent)
{
    sfu_peer_track t, t2, c;
    memset(&t, 0, sizeof t);
    memset(&t2, 0, sizeof t2);
    memset(&c, 0, sizeof c);
    t.role = t2.role = SFU_TRACK_PRODUCE;
    t.kind = t2.kind = SFU_SDP_KIND_VIDEO;
    t.ext_twcc = t2.ext_twcc = 5;
    c.role = SFU_TRACK_CONSUME;
    c.local_ssrc = 0xc0ffee;
    c.pt = 100;
    sfu_rtx_buffer_config cfg = {.ledger = true};
    c.rtxbuf = sfu_rtx_buffer_create(&cfg);
    REQUIRE(c.rtxbuf);

    uint8_t pkt[256], out[256];
    sfu_rtp_packet rp, got;
    sfu_vp8_desc d;
    sfu_rtp_ext e;
    size_t len = build_vp8(pkt, 0xaaaa, 40);
    REQUIRE(sfu_rtp_parse(pkt, len, &rp) == 0);
    sfu__router_rtx_keep(&t, 1, pkt, len, 0xaaaa, 0);
    sfu_consumer_out o = {.seq = 777, .ts = 90000, .pid = 0x1234, .tl0 = 9};
    sfu__router_rtx_note(&c, &t, 1, &rp, &o, true, 1, 4242, len, 0);
    o.seq = 778;
    sfu__router_rtx_note(&c, &t, 1, &rp, &o, true, -1, 0, len, 0);

    /* Written with the viewer's values: numbering, SSRC, payload type,
     * PictureID, TL0PICIDX and its transport-wide number. */
    int n = resend(&c, 777, out, sizeof out);
    REQUIRE(n == (int)len);
    REQUIRE(sfu_rtp_parse(out, (size_t)n, &got) == 0);
    CHECK_INT_EQ(got.seq, 777);
    CHECK_UINT_EQ(got.timestamp, 90000);
    CHECK_UINT_EQ(got.ssrc, 0xc0ffee);
    CHECK_INT_EQ(got.payload_type, 100);
    REQUIRE(sfu_vp8_parse(got.payload, got.payload_len, &d) == 0);
    CHECK_INT_EQ(d.picture_id, 0x1234);
    CHECK_INT_EQ(d.tl0picidx, 9);
    CHECK_MEM_EQ(got.payload + 5, rp.payload + 5, 5);
    REQUIRE(sfu_rtp_ext_find(&got, 5, &e) == 0);
    CHECK_INT_EQ(e.data[0] << 8 | e.data[1], 4242);
    /* The second copy had the element blanked. */
    n = resend(&c, 778, out, sizeof out);
    REQUIRE(n == (int)len);
    REQUIRE(sfu_rtp_parse(out, (size_t)n, &got) == 0);
    CHECK(sfu_rtp_ext_find(&got, 5, &e) != 0);
    CHECK_INT_EQ(got.seq, 778);
    /* A packet the source never had: gone. */
    o.seq = 779;
    rp.seq = 41;
    sfu__router_rtx_note(&c, &t, 1, &rp, &o, true, 0, 0, len, 0);
    CHECK_INT_EQ(resend(&c, 779, out, sizeof out), -1);

    /* The publisher's layer changes SSRC: its numbering starts over, what
     * was noted before is gone even where a number comes back. */
    len = build_vp8(pkt, 0xbbbb, 40);
    REQUIRE(sfu_rtp_parse(pkt, len, &rp) == 0);
    sfu__router_rtx_keep(&t, 1, pkt, len, 0xbbbb, 0);
    CHECK_INT_EQ(resend(&c, 778, out, sizeof out), -1);
    o.seq = 780;
    sfu__router_rtx_note(&c, &t, 1, &rp, &o, true, 0, 0, len, 0);
    CHECK_INT_EQ(resend(&c, 780, out, sizeof out), (int)len);

    /* The viewer moves to another publisher: the old copies are not its. */
    sfu__router_rtx_keep(&t2, 1, pkt, len, 0xbbbb, 0);
    o.seq = 781;
    sfu__router_rtx_note(&c, &t2, 1, &rp, &o, true, 0, 0, len, 0);
    CHECK_INT_EQ(resend(&c, 780, out, sizeof out), -1);
    CHECK_INT_EQ(resend(&c, 781, out, sizeof out), (int)len);

    /* The publisher leaves: its copies go at once (the viewer still holds
     * the source, which goes with it). */
    sfu__router_rtx_release(&t2);
    CHECK_INT_EQ(resend(&c, 781, out, sizeof out), -1);
    /* Too small an output buffer. */
    sfu__router_rtx_keep(&t, 1, pkt, len, 0xbbbb, 0);
    o.seq = 782;
    sfu__router_rtx_note(&c, &t, 1, &rp, &o, true, 0, 0, len, 0);
    CHECK_INT_EQ(resend(&c, 782, out, len - 1), -1);
    sfu__router_rtx_release(&t);
    sfu__router_rtx_release(&c);
    sfu_rtx_buffer_destroy(c.rtxbuf);
}
