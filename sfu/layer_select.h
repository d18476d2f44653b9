/*
 * Simulcast / temporal layer selection for one viewer of one published
 * video track, plus the small bitrate meter that measures each incoming
 * layer.
 *
 * Given the measured bitrate of every (spatial, temporal) layer, the
 * viewer's bandwidth estimate, its preference (maximum height, pinned
 * layer) and the layer currently forwarded, sfu_layer_select_update()
 * returns the layer to forward. Going down is immediate when the estimate
 * falls below down_ratio x the current layer's bitrate, and temporal
 * layers are shed before the spatial layer is lowered. Going up needs the
 * estimate above up_ratio x the next layer's bitrate for up_hold_us
 * without interruption, so layers do not flap. A spatial layer that stops
 * arriving (inactive in the input) is skipped; when the current one stops
 * the best available one is chosen at once.
 *
 * Embeddable, no allocation, time passed in (microseconds).
 */
#ifndef ML_SFU_LAYER_SELECT_H
#define ML_SFU_LAYER_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFU_LAYER_MAX_SPATIAL 4
#define SFU_LAYER_MAX_TEMPORAL 4

/* ---- Bitrate meter ---- */

#define SFU_RATE_BUCKETS 16

/*
 * Bytes per bucket over a sliding window of SFU_RATE_BUCKETS buckets
 * (window_us / 16 each). One per incoming layer (rid, or rid + temporal
 * id).
 */
typedef struct sfu_rate_meter {
    uint64_t window_us;
    uint64_t bucket_us;
    uint64_t bytes[SFU_RATE_BUCKETS];
    uint64_t bucket_start[SFU_RATE_BUCKETS]; /* start time of each bucket's slot */
    uint64_t first_us;                       /* first packet, UINT64_MAX before */
    uint64_t last_us;                        /* last packet */
    uint64_t total_bytes;
} sfu_rate_meter;

/* Initialise with a window (0 = 1 s; rounded to a multiple of 16 us). */
void sfu_rate_meter_init(sfu_rate_meter *m, uint64_t window_us);
/* Count a packet of `bytes` bytes at now_us (times must not go backwards). */
void sfu_rate_meter_add(sfu_rate_meter *m, size_t bytes, uint64_t now_us);
/*
 * Bits per second over the window ending at now_us (over the time since the
 * first packet when that is shorter, at least one bucket). 0 with no data.
 */
uint64_t sfu_rate_meter_bps(const sfu_rate_meter *m, uint64_t now_us);
/* True if a packet arrived within the last `within_us`. */
bool sfu_rate_meter_active(const sfu_rate_meter *m, uint64_t now_us, uint64_t within_us);

/* ---- Layer selection ---- */

/* A layer: spatial and temporal index, -1 for "none" (nothing forwarded). */
typedef struct sfu_layer {
    int8_t spatial;
    int8_t temporal;
} sfu_layer;

/*
 * What the publisher sends. bps[s][t] is the bitrate of spatial layer s
 * including temporal layers 0..t (cumulative, as forwarded). Spatial
 * layers are ordered from lowest (0) to highest resolution. A layer with
 * active false (stopped arriving) is skipped. temporal_count is 1 when the
 * stream has no temporal layers.
 */
typedef struct sfu_layer_info {
    uint8_t spatial_count;  /* <= SFU_LAYER_MAX_SPATIAL */
    uint8_t temporal_count; /* <= SFU_LAYER_MAX_TEMPORAL, >= 1 */
    bool active[SFU_LAYER_MAX_SPATIAL];
    uint16_t height[SFU_LAYER_MAX_SPATIAL]; /* 0 = unknown */
    uint64_t bps[SFU_LAYER_MAX_SPATIAL][SFU_LAYER_MAX_TEMPORAL];
} sfu_layer_info;

/* The viewer's wishes. */
typedef struct sfu_layer_pref {
    uint16_t max_height; /* 0 = no limit; layers taller than this are not chosen */
    int8_t max_spatial;  /* -1 = no limit */
    int8_t max_temporal; /* -1 = no limit */
    int8_t pin_spatial;  /* -1 = automatic; else always this layer if active */
    int8_t pin_temporal; /* -1 = automatic (within the pinned spatial layer) */
} sfu_layer_pref;

typedef struct sfu_layer_select_config {
    double up_ratio;     /* estimate must exceed next bitrate x this; default 1.2 */
    double down_ratio;   /* below current bitrate x this, go down; default 0.9 */
    uint64_t up_hold_us; /* ... for this long to go up; default 2 s */
    /* Spatial layers above the lowest active one are not thinned below this
     * temporal layer (1 = at least TID 0+1, half the frame rate of L1T3):
     * below that the next lower resolution at full rate is preferred.
     * Default 0 (no floor). */
    int8_t min_temporal_upper;
} sfu_layer_select_config;

typedef struct sfu_layer_select {
    sfu_layer_select_config cfg;
    sfu_layer current;
    sfu_layer up_candidate; /* layer being considered for an upswitch */
    uint64_t up_since_us;   /* when the candidate became affordable */
    bool up_pending;
    uint64_t switches; /* layer changes made */
} sfu_layer_select;

/* Fill *p with "no preference". */
void sfu_layer_pref_default(sfu_layer_pref *p);

/* Initialise (c NULL = defaults); the current layer starts as none. */
void sfu_layer_select_init(sfu_layer_select *ls, const sfu_layer_select_config *c);

/*
 * Choose the layer to forward at now_us given the layers on offer, the
 * viewer's preference (NULL = none) and bandwidth estimate. Updates and
 * returns the current layer; {-1, -1} when no layer is active. When no
 * layer fits the estimate the lowest active layer (temporal 0) is used.
 * The caller requests a keyframe when the spatial layer changes.
 */
sfu_layer sfu_layer_select_update(sfu_layer_select *ls, const sfu_layer_info *info,
                                  const sfu_layer_pref *pref, uint64_t estimate_bps,
                                  uint64_t now_us);

/* The layer currently selected. */
sfu_layer sfu_layer_select_current(const sfu_layer_select *ls);

#endif
