/* Unit tests for sfu/layer_select.c: rate meter, hysteresis, pins, missing layers. */
#include "sfu/layer_select.h"
#include "tests/unit/harness.h"

#define MS 1000ull

/* Three simulcast layers (180p/360p/720p) with three temporal layers each. */
static void three_layers(sfu_layer_info *info)
{
    memset(info, 0, sizeof *info);
    info->spatial_count = 3;
    info->temporal_count = 3;
    static const uint64_t base[3] = {150000, 500000, 1500000};
    static const uint16_t h[3] = {180, 360, 720};
    for (int s = 0; s < 3; s++) {
        info->active[s] = true;
        info->height[s] = h[s];
        info->bps[s][0] = base[s] * 5 / 10;
        info->bps[s][1] = base[s] * 7 / 10;
        info->bps[s][2] = base[s];
    }
}

#define CHECK_LAYER(l, s, t)                                                                       \
    do {                                                                                           \
        CHECK_INT_EQ((l).spatial, (s));                                                            \
        CHECK_INT_EQ((l).temporal, (t));                                                           \
    } while (0)

TEST(rate_meter_measures_bitrate)
{
    sfu_rate_meter m;
    sfu_rate_meter_init(&m, 1000 * MS);
    CHECK_UINT_EQ(sfu_rate_meter_bps(&m, 0), 0);
    /* 1000 bytes every 10 ms = 800 kbit/s. */
    for (uint64_t t = 0; t < 3000 * MS; t += 10 * MS)
        sfu_rate_meter_add(&m, 1000, t);
    uint64_t bps = sfu_rate_meter_bps(&m, 3000 * MS);
    CHECK(bps > 760000 && bps < 840000);
    CHECK(sfu_rate_meter_active(&m, 3000 * MS, 100 * MS));
    /* Early: measured over the time since the first packet. */
    sfu_rate_meter_init(&m, 1000 * MS);
    for (uint64_t t = 0; t <= 200 * MS; t += 10 * MS)
        sfu_rate_meter_add(&m, 1000, t);
    bps = sfu_rate_meter_bps(&m, 200 * MS);
    CHECK(bps > 760000 && bps < 880000);
    /* Stopped: decays to zero and goes inactive. */
    CHECK_UINT_EQ(sfu_rate_meter_bps(&m, 2000 * MS), 0);
    CHECK(!sfu_rate_meter_active(&m, 2000 * MS, 500 * MS));
}

TEST(layer_select_starts_at_best_fit_and_goes_down_at_once)
{
    sfu_layer_info info;
    three_layers(&info);
    sfu_layer_select ls;
    sfu_layer_select_init(&ls, NULL);
    CHECK_LAYER(sfu_layer_select_current(&ls), -1, -1);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 3000000, 0), 2, 2);
    /* 1.3 Mbit/s < 0.9 x 1.5: shed a temporal layer first (2,1 = 1.05 M). */
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 1300000, 10 * MS), 2, 1);
    /* 600 k: below the whole 720p layer, down to 360p full. */
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 600000, 20 * MS), 1, 2);
    /* Nothing fits: lowest layer. */
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 10000, 30 * MS), 0, 0);
}

TEST(layer_select_goes_up_only_after_hold)
{
    sfu_layer_info info;
    three_layers(&info);
    sfu_layer_select ls;
    sfu_layer_select_init(&ls, NULL);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 520000, 0), 1, 2);
    /* 2 Mbit/s covers 1.2 x (2,2): but only after 2 s. */
    uint64_t t;
    for (t = 0; t < 2000 * MS; t += 100 * MS)
        CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 2000000, t), 1, 2);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 2000000, t), 2, 2);
}

TEST(layer_select_does_not_flap)
{
    sfu_layer_info info;
    three_layers(&info);
    sfu_layer_select ls;
    sfu_layer_select_init(&ls, NULL);
    sfu_layer_select_update(&ls, &info, NULL, 520000, 0);
    uint64_t before = ls.switches;
    /* The estimate oscillates around the next layer's bitrate x 1.2 every 500 ms. */
    for (uint64_t t = 0; t < 20000 * MS; t += 100 * MS) {
        uint64_t est = (t / (500 * MS)) % 2 ? 1000000 : 700000;
        sfu_layer l = sfu_layer_select_update(&ls, &info, NULL, est, t);
        CHECK_INT_EQ(l.spatial, 1);
    }
    CHECK_UINT_EQ(ls.switches, before);
}

TEST(layer_select_honours_preferences_and_pins)
{
    sfu_layer_info info;
    three_layers(&info);
    sfu_layer_select ls;
    sfu_layer_pref p;
    sfu_layer_pref_default(&p);
    p.max_height = 360;
    sfu_layer_select_init(&ls, NULL);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, &p, 5000000, 0), 1, 2);
    p.max_temporal = 0;
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, &p, 5000000, 1 * MS), 1, 0);
    /* Pin the lowest spatial layer: estimate ignored for spatial choice. */
    sfu_layer_pref_default(&p);
    p.pin_spatial = 0;
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, &p, 5000000, 2 * MS), 0, 2);
    p.pin_temporal = 1;
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, &p, 5000000, 3 * MS), 0, 1);
    /* Pin the top layer on a thin estimate: still the top spatial layer. */
    p.pin_spatial = 2;
    p.pin_temporal = -1;
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, &p, 100000, 4 * MS), 2, 0);
    /* A height limit below every layer gives the lowest one. */
    sfu_layer_pref_default(&p);
    p.max_height = 90;
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, &p, 5000000, 5 * MS), 0, 2);
}

TEST(layer_select_skips_missing_layers)
{
    sfu_layer_info info;
    three_layers(&info);
    sfu_layer_select ls;
    sfu_layer_select_init(&ls, NULL);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 5000000, 0), 2, 2);
    /* The 720p layer stops arriving: best remaining at once. */
    info.active[2] = false;
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 5000000, 10 * MS), 1, 2);
    /* A pinned layer that is missing falls back to automatic. */
    sfu_layer_pref p;
    sfu_layer_pref_default(&p);
    p.pin_spatial = 2;
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, &p, 5000000, 20 * MS), 1, 2);
    /* The middle one stops too; upswitch target skips it. */
    info.active[1] = false;
    info.active[2] = true;
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 200000, 30 * MS), 0, 2);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 5000000, 40 * MS), 0, 2);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 5000000, 2100 * MS), 2, 2);
    /* Nothing at all. */
    memset(info.active, 0, sizeof info.active);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 5000000, 3000 * MS), -1, -1);
}

TEST(layer_select_without_temporal_layers)
{
    sfu_layer_info info;
    memset(&info, 0, sizeof info);
    info.spatial_count = 2;
    info.temporal_count = 1;
    info.active[0] = info.active[1] = true;
    info.bps[0][0] = 200000;
    info.bps[1][0] = 1000000;
    sfu_layer_select ls;
    sfu_layer_select_init(&ls, NULL);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 1100000, 0), 1, 0);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 850000, 1 * MS), 0, 0);
}

TEST(layer_select_temporal_floor_for_upper_layers)
{
    sfu_layer_info info;
    three_layers(&info); /* per layer: T0 50 %, T0+1 70 %, all 100 % */
    sfu_layer_select_config cfg = {.min_temporal_upper = 1};
    sfu_layer_select ls;
    sfu_layer_select_init(&ls, &cfg);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 3000000, 0), 2, 2);
    /* 1.3 M: temporal layers are shed first (720p at T0+1 = 1.05 M). */
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 1300000, 10 * MS), 2, 1);
    /* 800 k fits 720p T0 (750 k), but that is below the floor: 360p full. */
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 800000, 20 * MS), 1, 2);
    /* 300 k: 360p T0+1 (350 k) does not fit, 360p T0 is below the floor:
     * the lowest layer at full rate. */
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 300000, 30 * MS), 0, 2);
    /* The lowest layer may still be thinned to its base. */
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 80000, 40 * MS), 0, 0);
    /* Without the floor 300 k would keep 360p at T0 (250 k). */
    sfu_layer_select_init(&ls, NULL);
    CHECK_LAYER(sfu_layer_select_update(&ls, &info, NULL, 300000, 0), 1, 0);
}
