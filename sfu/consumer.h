/*
 * One viewer's view of one published track: the rewriting that makes the
 * packets of a (possibly simulcast) publisher stream look like ONE
 * continuous stream to the viewer. The consumer forwards exactly one
 * spatial layer at a time ("current") and moves to another ("target") only
 * at a keyframe of the target layer. Across a switch the viewer sees:
 *
 *   - sequence numbers that continue by +1 (no gap for the packets of
 *     layers it never saw),
 *   - RTP timestamps that continue (advanced by the wall-clock time between
 *     the last packet of the old layer and the first of the new, at the
 *     codec clock rate, at least 1),
 *   - VP8 PictureID and TL0PICIDX that continue by +1.
 *
 * Non-simulcast tracks (audio, screen share) use the same code with one
 * layer: current = target = 0 from the start, no keyframe wait.
 *
 * Temporal layers (VP8 TID, e.g. Chromium's L1T3 in every simulcast
 * encoding): a temporal limit drops the pictures of higher temporal layers
 * within the forwarded spatial layer. Going down takes effect at the next
 * picture; going up waits for a picture that the higher layers may follow
 * (TID 0, or the layer-sync bit Y with TID <= the new limit). Dropped
 * pictures leave no trace for the viewer: sequence numbers and PictureIDs
 * continue by +1 over them (a bounded history of the last 128 input
 * sequence numbers keeps reordered packets numbered right); TL0PICIDX is
 * untouched because TID 0 is never dropped.
 *
 * Pure code: no allocation, no logging, time is passed in. Owned by the
 * subscribing peer's track (worker thread).
 */
#ifndef ML_SFU_CONSUMER_H
#define ML_SFU_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>

#define SFU_CONSUMER_MAX_LAYERS 3

typedef struct sfu_consumer {
    bool simulcast;
    uint32_t clock_rate; /* 90000 video, 48000 opus */
    int target;          /* layer we want, 0 = lowest */
    int current;         /* layer we forward, -1 before the first keyframe */
    bool started;        /* at least one packet forwarded */
    uint16_t seq_delta;  /* out = in + delta (mod 2^16) */
    uint32_t ts_delta;
    uint16_t pid_delta;
    uint8_t tl0_delta;
    uint16_t last_seq; /* highest forwarded (out numbering) */
    uint32_t last_ts;
    uint16_t last_pid;
    uint8_t last_tl0;
    bool have_pid, have_tl0;
    uint64_t last_us; /* wall clock of the highest forwarded packet */
    /* Temporal layers (within the current spatial layer). */
    int8_t tid_target;     /* highest TID wanted, -1 = all */
    int8_t tid_cur;        /* highest TID forwarded now, -1 = all */
    bool have_hi;          /* hi_in valid */
    uint16_t hi_in;        /* highest input seq of the current layer */
    uint64_t drop_bits[2]; /* bit i: input seq hi_in - i was dropped (i < 128) */
    uint16_t skipped;      /* input packets dropped in the current layer */
    bool have_pid_hi;
    uint16_t pid_hi_in;   /* highest input PictureID of the current layer */
    uint16_t pid_skipped; /* pictures dropped in the current layer */
    bool resume;          /* re-base at the next packet (sfu_consumer_resume) */
    bool resume_key;      /* ... which must start a keyframe */
    uint64_t switches, forwarded, dropped, dropped_temporal;
} sfu_consumer;

/* What sfu_consumer_process() decided for one packet. */
typedef struct sfu_consumer_out {
    uint16_t seq;
    uint32_t ts;
    uint16_t pid;  /* valid when the input had a PictureID */
    uint8_t tl0;   /* valid when the input had a TL0PICIDX */
    bool switched; /* this packet starts a new layer */
} sfu_consumer_out;

/* The per-packet input: the layer it belongs to and what the codec says. */
typedef struct sfu_consumer_in {
    int layer;
    uint16_t seq;
    uint32_t ts;
    bool keyframe_start; /* first packet of a keyframe */
    bool has_pid, has_tl0;
    uint16_t pid;
    uint8_t tl0;
    bool has_tid;     /* VP8 T bit: tid/layer_sync valid */
    uint8_t tid;      /* temporal layer 0..3 */
    bool layer_sync;  /* VP8 Y bit */
    bool frame_start; /* first packet of a picture (VP8 S=1, PID 0) */
    uint64_t now_us;
} sfu_consumer_in;

/* Start a consumer. simulcast: wait for a keyframe of the target layer. */
void sfu_consumer_init(sfu_consumer *c, bool simulcast, uint32_t clock_rate, int target);

/* Change the target layer (clamped to 0..SFU_CONSUMER_MAX_LAYERS-1). */
void sfu_consumer_set_target(sfu_consumer *c, int target);

/* Continue after a pause of the source (a server-side mute): the next
 * forwarded packet (with keyframe: the next keyframe start) directly
 * follows the last one forwarded, as at a layer switch, so the viewer sees
 * no gap in sequence numbers and timestamps that advanced by the wall-clock
 * time of the pause. */
void sfu_consumer_resume(sfu_consumer *c, bool keyframe);

/* Where a consumer's output numbering stands (sequence number, timestamp,
 * PictureID, TL0PICIDX of the last packet forwarded). When a viewer's
 * m-line is bound to another source it keeps its SSRC, and so its SRTP
 * stream: the new source's packets must go on from there (a number used
 * again would repeat an SRTP index, and the browser would drop packets
 * behind its replay window as replays). */
typedef struct sfu_consumer_mark {
    bool started, have_pid, have_tl0;
    uint16_t last_seq, last_pid;
    uint8_t last_tl0;
    uint32_t last_ts;
    uint64_t last_us;
} sfu_consumer_mark;

void sfu_consumer_get_mark(const sfu_consumer *c, sfu_consumer_mark *m);

/* Go on from m (a freshly initialized consumer, nothing forwarded yet):
 * the first packet forwarded (with keyframe: the first keyframe start)
 * follows m's last one, as after sfu_consumer_resume(). No-op when m never
 * started. */
void sfu_consumer_continue(sfu_consumer *c, const sfu_consumer_mark *m, bool keyframe);

/* Limit the temporal layers forwarded: TIDs above tid are dropped (-1 or
 * >= 3: all). Applied at picture boundaries (see above). */
void sfu_consumer_set_temporal(sfu_consumer *c, int tid);

/* Decide for one packet: 1 = forward with *out, 0 = drop. */
int sfu_consumer_process(sfu_consumer *c, const sfu_consumer_in *in, sfu_consumer_out *out);

/* True while the consumer waits for a keyframe of its target layer. */
bool sfu_consumer_wants_keyframe(const sfu_consumer *c);

/* Pick a layer for a max height: the highest of the n layers whose height
 * is <= max_height, else 0. heights[] lists layers lowest first, as seen in
 * keyframes; 0 = not seen yet: guessed from the nearest known layer
 * assuming each layer doubles the one below (all unknown: layer 0). */
int sfu_consumer_layer_for_height(const uint16_t *heights, int n, int max_height);

#endif
