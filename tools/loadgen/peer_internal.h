/*
 * Internals of the mlload peer engine, shared by peer.c (transport, sending,
 * threads), peer_signal.c (MentorLink and Janus signaling) and peer_rx.c
 * (receive-side measurement and feedback). A peer and everything in it
 * belongs to one lg_thread and is only touched on that thread.
 */
#ifndef ML_LOADGEN_PEER_INTERNAL_H
#define ML_LOADGEN_PEER_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "sfu/dtls.h"
#include "sfu/ice.h"
#include "sfu/rtcp.h"
#include "sfu/rtp.h"
#include "sfu/sdp.h"
#include "sfu/srtp.h"
#include "tools/loadgen/lg.h"

#define TICK_MS LG_TICK_MS

/* LG_ROLE_MEETING: publishes one VP8 layer + Opus and subscribes to every
 * other participant's tracks (renegotiating as they appear). */
enum { LG_ROLE_ECHO = 0, LG_ROLE_MENTOR, LG_ROLE_MENTEE, LG_ROLE_MEETING, LG_ROLE_MEET_SUB };
/* Janus has no single peer connection per participant: a meeting
 * participant k is a publisher (LG_ROLE_MEETING, index k, feed id
 * janus_feed_base + k) plus a subscriber (LG_ROLE_MEET_SUB, index M + k)
 * to every other feed, which the server offers (multistream). */
#define LG_SUBSCRIBES_ALL(p)                                                                       \
    (((p)->role == LG_ROLE_MEETING && !(p)->t->run->janus) || (p)->role == LG_ROLE_MEET_SUB)
#define LG_IS_SUBSCRIBER(p) ((p)->role == LG_ROLE_MENTEE || (p)->role == LG_ROLE_MEET_SUB)
#define MAX_RTP 1200
#define VP8_CHUNK 1100
#define TWCC_MAX 512
#define NACK_MAX 64
/* Frame assembly of a received video stream: the last RX_RING packets by
 * extended sequence number (power of two), each slot ext << 3 | flags. */
#define RX_RING 1024
#define RX_GOT 1u
#define RX_MARKER 2u
#define RX_KEY 4u /* first packet of a keyframe */
/* A missing packet is NACKed at once, then again every LG_NACK_RETRY_US
 * while it stays missing, LG_NACK_TRIES times in all (a browser retries
 * each RTT, up to ten times). */
#define LG_NACK_RETRY_US 50000
#define LG_NACK_TRIES 10
/* After each payload: the sender's peer index (4 bytes) and its send time
 * (8 bytes, CLOCK_MONOTONIC us: the same clock in every mlload process on
 * the machine), big-endian. */
#define LG_TRAILER 12
/* Receive streams per peer: audio + video of up to LG_MAX_MEETING - 1
 * others (MentorLink offers at most 16 m-lines: 2 sent + 14 received). */
#define LG_MAX_RX (2 * (LG_MAX_MEETING - 1))
#define LG_MAX_SUB LG_MAX_RX
#define LG_MAX_REMOTE_SSRC 64

/* ---- receive side of one stream ---- */

typedef struct rx_stream {
    uint32_t ssrc;
    int video;
    int started;
    int from; /* sender's peer index from the trailer; -1 until decrypted */
    uint16_t max_seq;
    uint32_t cycles;
    uint32_t base_seq;
    uint64_t received, reordered;
    uint64_t exp_prior, recv_prior; /* for RR fraction lost */
    double jitter;                  /* in RTP timestamp units */
    int64_t last_transit;
    int have_transit;
    uint32_t clock;
    uint32_t prev_ts; /* RTP timestamp of the last packet in order: a new one starts a frame */
    uint64_t duplicates, repaired; /* late copies of packets held / of missing ones */
    /* video: frames as a decoder shows them. A frame is complete once all
     * its packets are in (resent ones too); it is shown once every frame
     * before it was, or when a complete keyframe after a hole lets the
     * decoder skip the hole. */
    uint32_t *ring;   /* RX_RING slots (video only, allocated on the first packet) */
    uint32_t scan;    /* next extended sequence number the assembly needs */
    int need_key;     /* nothing shown before the first keyframe */
    uint32_t key;     /* the newest keyframe start seen past scan, when have_key */
    int have_key;
    uint64_t last_complete_us;
    uint64_t frames, keyframes, freezes, freeze_ms;
    int width, height;
    struct {
        uint32_t ext;
        int tries;
        uint64_t last_us;
    } miss[NACK_MAX]; /* missing packets to NACK (again) */
    int n_miss;
    uint64_t last_pli_us;
} rx_stream;

typedef struct lg_peer {
    lg_thread *t;
    int index;
    int state; /* 0 signaling, 1 transport, 2 media, 3 failed, 4 closed */
    lg_ws *ws;
    sfu_ice *ice;
    sfu_dtls *dtls;
    sfu_srtp *srtp;
    int joined, gathered, offered, answered;
    uint64_t t_join_us, t_connected_us;
    uint64_t t_leave_us; /* churn: when this peer leaves (0 = stays) */
    int dead_ws;         /* the socket closed: free it from the tick */
    /* Janus adapter */
    json_int_t janus_session, janus_handle;
    int janus_sub_sent; /* mentee: subscriber join sent */
    json_int_t janus_pub_id; /* mentor: our publisher id, shared once published */
    uint64_t next_keepalive_us;
    /* negotiated */
    uint8_t ext_abs, ext_twcc;
    uint8_t pt_audio, pt_video;
    int pt_rtx; /* the video's RTX payload type (RFC 4588), -1 when none */
    uint32_t ssrc_audio, ssrc_video; /* ssrc_video: RTCP sender SSRC too */
    int role;                        /* LG_ROLE_* */
    /* room mode */
    char vtrack[64], atrack[64]; /* mentee: the mentor's tracks */
    int layer_active[LG_LAYERS]; /* mentor: from the server's "layers" */
    uint8_t ext_mid, ext_rid;
    /* send state */
    uint16_t seq_a, twcc_seq;
    uint32_t ts_a, ts_v;
    struct {
        uint32_t ssrc;
        uint16_t seq;
        uint16_t pic_id;
        uint8_t tl0;
    } vs[LG_LAYERS];
    int frame_idx, audio_idx;
    uint64_t next_video_us, next_audio_us;
    uint64_t pkts_v, bytes_v, pkts_a, bytes_a;
    int force_key;
    /* meeting: tracks of the others to subscribe to, in offer order */
    json_int_t my_peer_id;
    char sub_track[LG_MAX_SUB][64];
    int sub_video[LG_MAX_SUB];
    int n_sub, n_sub_offered; /* known, and in the last offer */
    int offer_inflight;       /* an offer is waiting for its answer */
    /* receive: echo/fanout use rx[0] (audio) and rx[1] (video); a meeting
     * participant one per SSRC, n_rx of them */
    rx_stream rx[LG_MAX_RX];
    int n_rx;
    /* meeting: each received video stream's RTX SSRC and its media SSRC,
     * from the FID groups of the server's SDP (on_rtx) */
    struct {
        uint32_t rtx, media;
    } rtx_map[LG_MAX_RX];
    int n_rtx_map;
    /* --gro: every SSRC the server's SDP announces it sends (a=ssrc) */
    uint32_t remote_ssrc[LG_MAX_REMOTE_SSRC];
    int n_remote_ssrc;
    sfu_twcc_arrival twcc[TWCC_MAX];
    int n_twcc;
    uint8_t twcc_fb_count;
    uint64_t next_twcc_us, next_rr_us;
    uint64_t rx_packets;
} lg_peer;

struct lg_thread {
    lg_run *run;
    int index;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    GPtrArray *peers;
    lg_totals tot;
    uint64_t live_connected, live_lost, live_expected;
    GSource *tick;
    uint64_t last_tick_us;
    GRand *rng; /* this thread's: which packets give delay samples */
};

/* peer.c */
void lg__peer_fail(lg_peer *p, int fatal, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Send one JSON message on the peer's WebSocket (takes o). */
void lg__send_json(lg_peer *p, json_t *o);
/* Send one datagram on the peer's ICE transport. */
void lg__transport_send(lg_peer *p, const uint8_t *buf, size_t len);
/* Remote ICE credentials/candidates, DTLS fingerprint, our DTLS role. */
void lg__apply_remote(lg_peer *p, const sfu_sdp *sdp, const sfu_sdp_media *first,
                      sfu_dtls_role role);

/* peer_tx.c */
/* The next frame of the media loop: every active layer for a mentor, the
 * --layer one otherwise; from the first (key) frame after a PLI. */
void lg__send_video_frame(lg_peer *p);
void lg__send_audio_frame(lg_peer *p);
/* The mid and rid header extensions (when negotiated and given) into el
 * (room for 2); returns how many. */
size_t lg__mid_rid_ext(const lg_peer *p, sfu_rtp_ext *el, const char *mid, const char *rid);
/* Protect and send one RTCP compound packet. */
void lg__send_rtcp(lg_peer *p, uint8_t *buf, size_t len);

/* peer_signal.c */
/* Send our offer once joined and gathered (and, for a mentee, once the
 * mentor's tracks are known). */
void lg__maybe_offer(lg_peer *p);
void lg__ws_on_text(void *user, const char *text, size_t len);
void lg__ws_on_closed(void *user, const char *why);

/* peer_rx.c */
/* Note the SSRCs the server announces for m: its a=ssrc lines (--gro
 * splits by them) and the RTX SSRC of each FID group (a meeting maps
 * resends by them). Reset both lists before the first m-line. */
void lg__rx_note_ssrcs(lg_peer *p, const sfu_sdp_media *m);
/* --gro: the length of the first packet of a datagram that may carry a
 * segmented send (all packets but the last of that length): the offset of
 * the first RTP or RTCP header past the first packet's own header and
 * tag whose SSRC is the first packet's or one the server announced; len
 * when there is none. *failed is set when one was found but the packets
 * after it do not line up (the datagram is then taken as one). */
size_t lg__segment_len(const lg_peer *p, const uint8_t *buf, size_t len, int *failed);
void lg__on_rtp(lg_peer *p, uint8_t *buf, size_t len);
void lg__on_rtcp(lg_peer *p, uint8_t *buf, size_t len);
/* Extended packets expected so far on a stream (0 before the first). */
uint64_t lg__stream_expected(const rx_stream *s);
void lg__send_reports(lg_peer *p, uint64_t now);
void lg__send_twcc(lg_peer *p);
/* Video streams needing NACK/PLI are walked by the tick (peer.c). */
void lg__rx_feedback(lg_peer *p, uint64_t now);

#endif
