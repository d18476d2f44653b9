/*
 * Internals of a peer connection shared by peer.c (lifecycle, offer/answer,
 * ICE glue, timers, events), peer_media.c (demux, DTLS, SRTP, RTP/RTCP echo)
 * and peer_dc.c (SCTP data channels, message echo). Everything in struct
 * sfu_peer is owned by the peer's worker thread, except the few fields
 * marked "any thread".
 */
#ifndef ML_SFU_PEER_INTERNAL_H
#define ML_SFU_PEER_INTERNAL_H

#include <glib.h>
#include <stdatomic.h>

#include "sfu/consumer.h"
#include "sfu/bwe.h"
#include "sfu/keyframe.h"
#include "sfu/layer_select.h"
#include "sfu/nack.h"
#include "sfu/rtx_buffer.h"
#include "sfu/negotiate.h"
#include "sfu/rtcp.h"
#include "sfu/rtcp_sender.h"
#include "sfu/rtp.h"
#include "sfu/peer.h"
#include "sfu/sctp.h"
#include "sfu/srtp.h"

#define SFU_PEER_MAX_SSRCS 32
#define SFU_PEER_PKT_BUF 2048
#define SFU_PEER_TWCC_MAX 256
#define SFU_PEER_MAX_TEMPORAL 3 /* temporal layers metered per simulcast layer */

/* One viewer's subscription to a published track (router_fwd.c). */
typedef struct sfu_fwd {
    struct sfu_peer *v;
    struct sfu_peer_track *c; /* &v->tracks[k] */
} sfu_fwd;

/* Shared copies of a publisher's packets for resends (router_rtx.c). */
typedef struct sfu_rtx_source sfu_rtx_source;

/* Echo state of one offered m-line. */
typedef struct sfu_peer_track {
    char mid[SFU_SDP_MID_LEN];
    sfu_sdp_kind kind;
    int echo; /* accepted, the browser sends and we send back */
    uint32_t local_ssrc, local_rtx_ssrc;
    uint8_t pt;     /* chosen codec payload type */
    int16_t rtx_pt; /* -1 when none */
    uint8_t ext_mid, ext_rid, ext_rrid, ext_twcc;
    char echo_rid[SFU_SDP_RID_LEN]; /* "" without simulcast */
    uint32_t remote_ssrc;           /* the browser's media SSRC we echo (learned) */
    uint32_t remote_rtx_ssrc;       /* its RTX SSRC from the offer, 0 if unknown */
    uint64_t last_pli_us;

    /* Room mode. */
    uint8_t role;      /* SFU_TRACK_* */
    uint8_t announced; /* track-added was broadcast */
    uint32_t clock_rate;
    /* PRODUCE: the publisher's layers, lowest first (rids in offer order). */
    uint8_t n_layers;
    char rids[SFU_CONSUMER_MAX_LAYERS][SFU_SDP_RID_LEN];
    uint32_t layer_ssrc[SFU_CONSUMER_MAX_LAYERS];
    uint16_t layer_height[SFU_CONSUMER_MAX_LAYERS];
    uint64_t layer_seen_us[SFU_CONSUMER_MAX_LAYERS]; /* last media packet of each layer */
    sfu_keyframe kf[SFU_CONSUMER_MAX_LAYERS];        /* keyframe request aggregation */
    sfu_nack *nack[SFU_CONSUMER_MAX_LAYERS];         /* upstream loss (video), owned */
    uint8_t ext_audio_level;
    sfu_rate_meter meter[SFU_CONSUMER_MAX_LAYERS]; /* bitrate of each layer */
    /* bitrate of each temporal layer (VP8 TID 0, 1, 2+) of each layer */
    sfu_rate_meter tmeter[SFU_CONSUMER_MAX_LAYERS][SFU_PEER_MAX_TEMPORAL];
    uint8_t active_mask; /* layers the browser was last told to encode */
    char stream[SFU_SDP_ID_LEN];
    sfu_rtcp_receiver rr[SFU_CONSUMER_MAX_LAYERS]; /* receiver reports about each layer */
    uint32_t sr_rtp[SFU_CONSUMER_MAX_LAYERS];      /* publisher's last SR: RTP time ... */
    uint64_t sr_us[SFU_CONSUMER_MAX_LAYERS];       /* ... and when it arrived (0 none) */
    bool muted;                                    /* server-side mute: not forwarded while set */
    /* The subscriptions to it, rebuilt when the room's generation moved
     * on (router_fwd.c): a packet goes straight to its viewers. Owned. */
    sfu_fwd *fwd;
    int n_fwd, fwd_cap;
    uint64_t fwd_gen; /* 0: never built */
    /* CONSUME: the published track we send, and how. */
    uint64_t src_peer;
    char src_mid[SFU_SDP_MID_LEN];
    int pin;        /* -1 automatic */
    int max_height; /* 0 none */
    sfu_consumer cons;
    sfu_consumer_mark cons_mark; /* where the output left off before a new binding */
    sfu_rtx_buffer *rtxbuf;      /* video: the viewer's resend ledger, owned */
    sfu_rtx_source *rtx_from;    /* the publisher copies the ledger points into (a ref) */
    uint16_t rtx_seq_next;       /* where a replaced rtxbuf's RTX numbering left off ... */
    bool rtx_seq_known;          /* ... (the RTX SSRC stays, so the numbering goes on) */
    sfu_layer_select ls;         /* automatic layer choice from the estimate */
    sfu_rtcp_sender sr;          /* sender reports for the stream we send */
    /* PRODUCE video: one copy of its recent packets per layer, for every
     * viewer's resends (router_rtx.c). Owned; viewers hold references. */
    sfu_rtx_source *rtx_own;
    uint32_t rr_highest; /* highest seq in the viewer's last report block about it */
} sfu_peer_track;

enum { SFU_TRACK_ECHO = 0, SFU_TRACK_PRODUCE, SFU_TRACK_CONSUME, SFU_TRACK_NONE };

/* A browser SSRC we have seen, and what to do with it. */
typedef struct sfu_peer_ssrc {
    uint32_t ssrc;
    int8_t track; /* index in tracks[] */
    uint8_t rtx;
    uint8_t drop; /* a simulcast layer we do not echo */
    int8_t layer; /* room mode: simulcast layer index */
} sfu_peer_ssrc;

struct sfu_peer {
    uint64_t id;
    const sfu_peer_env *env;
    sfu_worker *worker;
    GMainContext *ctx;
    sfu_peer_event_fn fn; /* NULL once closed by the owner */
    void *user;

    sfu_ice *ice;
    sfu_dtls *dtls;
    sfu_srtp *srtp;
    sfu_sctp *sctp;
    /* Timers live in the worker's heap (sfu_worker_timer_arm), not as
     * GSources: GLib looks at every source on every packet. */
    sfu_timer connect_timer;
    sfu_timer watchdog_timer;
    sfu_timer dtls_timer;
    GSource *teardown_src;
    GSource *sctp_src;         /* dispatches sfu_sctp_poll(); armed from any thread */
    sfu_timer ice_grace_timer; /* room mode: ICE failed, waiting for an ICE restart */

    int gathered;       /* gathering started */
    int answered;       /* an answer went out */
    int torn_down;      /* transport freed, CLOSED emitted */
    int ever_connected; /* DTLS reached CONNECTED once */
    sfu_ice_state ice_state;
    sfu_dtls_state dtls_state;
    char reported_ice[16], reported_dtls[16];
    char fail_reason[64];

    /* Negotiation. */
    uint64_t session_id, session_version;
    char remote_ufrag[SFU_SDP_ICE_LEN];
    char remote_pwd[SFU_SDP_ICE_LEN];
    sfu_sdp_fingerprint remote_fp;
    int bundle_mline;
    char bundle_mid[SFU_SDP_MID_LEN];
    int dc_mline; /* -1 when no data channel */
    uint16_t remote_sctp_port;
    uint32_t remote_max_message_size;
    int n_tracks;
    /* One slot per m-line offered so far (6.5 KB each): allocated by
     * sfu__peer_tracks_reserve() when an offer has more m-lines than any
     * before, zeroed, never shrunk; the index is the m-line's. Only the
     * offer task may reallocate it, so no pointer into it is kept across
     * tasks. */
    int tracks_cap;
    sfu_peer_track *tracks;
    int n_ssrcs;
    sfu_peer_ssrc ssrcs[SFU_PEER_MAX_SSRCS];
    int has_media;

    /* Transport-wide congestion control feedback for the browser. */
    sfu_timer twcc_timer;
    int n_twcc;
    uint8_t twcc_fb_count;
    uint32_t twcc_media_ssrc;
    sfu_twcc_arrival twcc[SFU_PEER_TWCC_MAX];

    /* Datagrams (DTLS flights) that could not be sent before libnice
     * selected a pair; sent when ICE connects. */
    GQueue early_out;

    uint64_t last_rx_us;

    /* Room mode: NULL in echo mode. */
    sfu_router *router;
    int may_publish;
    sfu_bwe *bwe; /* viewer bandwidth estimate from its TWCC feedback, owned */
    uint16_t twcc_out_seq;
    uint64_t last_select_us;
    uint64_t rtt_us;           /* smoothed RTT from report blocks (0 unknown) */
    uint64_t next_report_us;   /* when this peer's SR/RR go out next */
    uint32_t rr_ssrc;          /* sender SSRC of our RR/RRTR to this publisher */
    uint64_t last_feedback_us; /* last sign it receives (sfu__peer_room_feedback), or first send */
    uint64_t last_media_sent_us; /* last RTP packet forwarded to this viewer */
    bool stalled;                /* no feedback for a while: its video is not sent */

    sfu_peer_stats st;
    uint8_t pkt[SFU_PEER_PKT_BUF] __attribute__((aligned(16)));
};

/* peer.c */
/* Schedule teardown (safe from any callback): CLOSED with this reason. */
void sfu__peer_fail(sfu_peer *p, const char *reason);
/* Emit a STATE event if the ICE or DTLS state name changed. */
void sfu__peer_report_state(sfu_peer *p);
/* Send one datagram through ICE and count it. */
int sfu__peer_send(sfu_peer *p, const uint8_t *buf, size_t len);

/* Make room for n track slots (zeroed). Returns 0, -1 on OOM. */
int sfu__peer_tracks_reserve(sfu_peer *p, int n);

/* Emit a NOTIFY event (room mode). */
void sfu__peer_notify(sfu_peer *p, const char *json, int broadcast);
/* Deliver ev to the peer's event callback (peer id filled in). */
void sfu__peer_emit(sfu_peer *p, sfu_peer_event *ev);
/* Emit an ERROR event answering request req. */
void sfu__peer_emit_error(sfu_peer *p, uint64_t req, const char *code, const char *msg);

/* peer_media.c */
/* Create the DTLS endpoint (server unless the browser answered passive). */
int sfu__peer_dtls_create(sfu_peer *p, int server, char *err, size_t errlen);
/* One datagram from ICE. */
void sfu__peer_on_packet(sfu_peer *p, uint8_t *buf, size_t len);
/* Re-arm the DTLS retransmission timer from sfu_dtls_timeout_ms(). */
void sfu__peer_dtls_timer(sfu_peer *p);
/* Protect and send one RTCP packet built in buf (capacity cap). */
int sfu__peer_send_rtcp(sfu_peer *p, uint8_t *buf, size_t len, size_t cap);
/* Set up the DTLS retransmission timer (unarmed; at creation). */
void sfu__peer_dtls_timer_init(sfu_peer *p);
/* Free DTLS and SRTP state. */
void sfu__peer_media_free(sfu_peer *p);

/* peer_twcc.c */
/* Note the arrival of a browser RTP packet of track i (after SRTP). */
void sfu__peer_twcc_record(sfu_peer *p, int track, const sfu_rtp_packet *rp);
/* Stop the feedback timer. */
void sfu__peer_twcc_free(sfu_peer *p);
/* Set up the feedback timer (unarmed; at creation). */
void sfu__peer_twcc_init(sfu_peer *p);

/* peer_dc.c */
/* Start the SCTP association (after DTLS connected). */
int sfu__peer_sctp_start(sfu_peer *p);
/* SCTP packet from DTLS application data. */
void sfu__peer_sctp_input(sfu_peer *p, const uint8_t *data, size_t len);
/* Free the association. */
void sfu__peer_sctp_free(sfu_peer *p);

#endif
