/*
 * A room ("router"): the set of peers of one group session and the
 * publish/subscribe fan-out between them. A room lives on exactly ONE
 * media worker; all of its peers are created on that worker
 * (sfu_peer_create_in), so forwarding from a publisher to its viewers is a
 * plain loop on one thread, without locks or per-packet allocation.
 *
 *   publisher RTP (SSRC / mid+rid) -> producer track, layer
 *        -> for each viewer track bound to it: sfu_consumer (one layer,
 *           continuous seq/ts/PictureID/TL0PICIDX) -> SRTP -> viewer
 *
 * Layers nobody watches are reported to the publisher (a NOTIFY "layers"
 * message: the page pauses those encodings); viewer PLI/FIR and layer
 * switches become throttled PLIs to the publisher's layer SSRC.
 *
 * Lifetime: the signaling thread creates the room, creates its peers with
 * sfu_peer_create_in(), and calls sfu_router_destroy() after closing the
 * last peer; every other function runs on the room's worker.
 */
#ifndef ML_SFU_ROUTER_H
#define ML_SFU_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "sfu/worker.h"

typedef struct sfu_router sfu_router;

/* Create an empty room on the least loaded worker (any thread). */
sfu_router *sfu_router_create(sfu_workers *ws, const char *name);

/* The room's worker. */
sfu_worker *sfu_router_worker(const sfu_router *r);

/* Free the room on its worker after the tasks already posted (the close
 * tasks of its peers) ran. Any thread. */
void sfu_router_destroy(sfu_router *r);

/* ---- Recording tap (sfu/router_tap.c) -------------------------------------
 * A tap copies one published track of a room to a sink owned by the caller
 * (the recorder, connected by the signaling layer): every RTP packet after
 * SRTP decryption (and NACK/RTX repair), the timing of the publisher's RTCP
 * sender reports for that track, and simulcast layers as they are learned.
 * Of a simulcast track only the top layer that is being sent is tapped (a
 * layer change taps both layers until the new one sends a keyframe, which
 * the tap requests); a tapped track's top layer is kept encoding even when
 * no viewer watches it. The callbacks run on the room's worker, must not
 * block (a ring push) and return 0 (taken), -1 (dropped: ring full) or 1
 * (the sink is not ready yet). When the first tap of a room starts taking
 * packets the room is told {"type":"recording","state":"on"}, and "off" when
 * the last one is detached.
 */
#define SFU_TAP_MAX_LAYERS 4
#define SFU_TAP_RID_LEN 17

/* What the tap found when it attached (worker thread). */
typedef struct sfu_tap_track {
    int audio;            /* 1 audio (Opus), 0 video (VP8) */
    uint8_t payload_type; /* negotiated media PT */
    uint32_t clock_rate;
    uint8_t n_layers;                      /* 0 or 1 without simulcast */
    char rids[SFU_TAP_MAX_LAYERS][SFU_TAP_RID_LEN];
    uint32_t ssrcs[SFU_TAP_MAX_LAYERS];    /* 0 when not yet learned */
} sfu_tap_track;

/* What a tap did, reported when it is detached. */
typedef struct sfu_tap_stats {
    uint64_t packets, bytes; /* handed to the sink */
    uint64_t drops;          /* refused by the sink (ring full) */
    uint64_t srs, layer_switches;
} sfu_tap_stats;

typedef struct sfu_tap_ops {
    int (*rtp)(void *sink, uint64_t t_us, const uint8_t *pkt, size_t len);
    int (*sr)(void *sink, uint64_t t_us, uint32_t ssrc, uint64_t ntp, uint32_t rtp_ts,
              uint32_t packets, uint32_t octets);
    int (*layer)(void *sink, uint64_t t_us, uint32_t ssrc, const char *rid);
    /* The tap is in place (info), or the track does not exist (NULL; the
     * tap was not created and detached will not be called). */
    void (*attached)(void *sink, const sfu_tap_track *info);
    /* The tap is gone: no callback for this sink will run again. */
    void (*detached)(void *sink, const sfu_tap_stats *st);
} sfu_tap_ops;

/* Tap the producer track "<peer>:<mid>" of the room into sink (any
 * thread; runs on the worker in posting order). ops must outlive the tap.
 * 0, or -1 when the worker is stopping (nothing will be called). */
int sfu_router_tap_attach(sfu_router *r, uint64_t peer, const char *mid, const sfu_tap_ops *ops,
                          void *sink);

/* Remove the tap of sink (any thread); ops->detached runs on the worker.
 * 0, or -1 when the worker is stopping. */
int sfu_router_tap_detach(sfu_router *r, void *sink);

#endif
