/* Unit tests for the pure parts of room routing: which simulcast layer a
 * publisher packet belongs to (rid header extension -> layer index in the
 * offer's order, repaired rid for RTX), as used to learn SSRC routes. */
#include "sfu/peer_room.h"
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
