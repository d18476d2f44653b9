/*
 * One browser's peer connection as seen by the SFU: ICE (libnice) ->
 * RFC 7983 demux -> DTLS (we answer a=setup:passive, so we are the DTLS
 * server) -> SRTP/SRTCP and SCTP data channels. This first version runs in
 * ECHO MODE: every accepted audio/video m-line is answered sendrecv with our
 * own SSRC (and RTX SSRC for video); the browser's RTP on that m-line is
 * sent back with our SSRC (payload type, sequence numbers, timestamps and
 * header extensions kept); PLI/FIR aimed at our SSRC become a PLI to the
 * browser's SSRC; every data-channel message is sent back on its channel.
 * With a simulcast offer only the first rid of the offer's list is echoed;
 * the other layers are dropped (and counted).
 *
 * Threads. A peer lives on exactly one media worker. The functions below
 * (create, offer, candidate, close, ...) may be called from any thread (the
 * signaling thread): each copies its arguments and posts a task to the
 * peer's worker, so they never block on the media path. Results come back
 * as events through the sfu_peer_event_fn given at creation, called on the
 * worker thread; the receiver copies what it needs and hands it to its own
 * thread.
 *
 * Lifetime. The caller owns the handle from sfu_peer_create() until
 * sfu_peer_close(). A peer that fails (connect timeout, ICE or DTLS
 * failure, consent lost) tears its transport down, emits
 * SFU_PEER_EV_CLOSED and stays a harmless shell until sfu_peer_close()
 * frees it on its worker; after sfu_peer_close() the handle must not be
 * used and no more events arrive (events already emitted may still be in
 * the receiver's queue: match them by peer_id).
 */
#ifndef ML_SFU_PEER_H
#define ML_SFU_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "sfu/dtls.h"
#include "sfu/ice.h"
#include "sfu/worker.h"

/* Read-only state shared by every peer: configuration, resolved ICE
 * options, our DTLS certificate. Built once before the first peer and freed
 * after the last one. */
typedef struct sfu_peer_env {
    ml_config cfg;
    sfu_ice_options ice;
    sfu_dtls_cert *cert;
    sfu_workers *workers;
} sfu_peer_env;

/* Resolve the ICE options, load or generate the DTLS certificate and start
 * the media workers. Returns 0 or -1 with a message in err. */
int sfu_peer_env_init(sfu_peer_env *env, const ml_config *cfg, char *err, size_t errlen);

/* Stop the workers (peers must be closed first) and free the certificate. */
void sfu_peer_env_free(sfu_peer_env *env);

typedef enum {
    SFU_PEER_EV_ANSWER = 1,        /* text = answer SDP (req = the offer's tag) */
    SFU_PEER_EV_ERROR,             /* code + text (req = the request's tag) */
    SFU_PEER_EV_CANDIDATE,         /* text = "candidate:...", mid, mline */
    SFU_PEER_EV_END_OF_CANDIDATES, /* local gathering finished */
    SFU_PEER_EV_STATE,             /* ice_state, dtls_state changed */
    SFU_PEER_EV_STATS,             /* stats (req = the request's tag) */
    SFU_PEER_EV_CLOSED,            /* text = reason; the transport is gone */
    SFU_PEER_EV_NOTIFY,            /* room mode: text = a JSON object to send; mline = 1:
                                    * to every other member of the room, 0: to this peer */
} sfu_peer_event_type;

/* Counters of one peer (worker-owned; a copy travels in STATS events). */
typedef struct sfu_peer_stats {
    uint64_t packets_in, bytes_in;   /* every datagram from ICE */
    uint64_t packets_out, bytes_out; /* every datagram sent */
    uint64_t rtp_in, rtp_out, rtcp_in, rtcp_out;
    uint64_t dtls_in;
    uint64_t dropped;        /* total of the reasons below */
    uint64_t drop_garbage;   /* not DTLS/RTP/RTCP by its first bytes */
    uint64_t drop_early;     /* RTP/RTCP before SRTP keys exist */
    uint64_t drop_malformed; /* bad RTP/RTCP after decryption */
    uint64_t drop_unknown_ssrc;
    uint64_t drop_layer; /* simulcast layers we do not echo */
    uint64_t drop_srtp_auth, drop_srtp_replay, drop_srtp_other;
    uint64_t send_errors;
    uint64_t dtls_failures, dtls_bad_records;
    uint64_t pli_in, fir_in, pli_out, nack_in;
    uint64_t rtx_out;         /* room mode: retransmissions answering NACKs */
    uint64_t nack_out;        /* room mode: NACKs sent to a publisher */
    uint64_t rtx_recovered;   /* room mode: publisher RTX that filled a gap */
    uint64_t bwe_bps;         /* room mode: the viewer's estimate (stats only) */
    uint64_t sr_out;          /* room mode: sender reports sent (one per stream we send) */
    uint64_t rr_out;          /* room mode: receiver reports sent to this publisher */
    uint64_t rtt_us;          /* room mode: smoothed RTT from report blocks (0 unknown) */
    uint64_t rtx_refused;     /* room mode: NACKed packets not resent (the sum of the four below) */
    uint64_t rtx_gone;        /* ... no longer held, or too old when it would arrive */
    uint64_t rtx_too_soon;    /* ... resent less than an RTT ago */
    uint64_t rtx_over_budget; /* ... over the viewer's resend byte/packet budget */
    uint64_t
        rtx_failed; /* ... held but not sendable: malformed or too large, SRTP or send failed */
    uint64_t pli_refused;     /* room mode: keyframe requests refused by flood control */
    uint64_t drop_muted;      /* room mode: packets of a muted track, not forwarded */
    uint64_t drop_undeclared; /* room mode: a layer (rid) the offer did not declare */
    uint64_t ssrc_collisions; /* room mode: an SSRC already used by another stream */
    uint64_t drop_temporal;   /* room mode: packets of temporal layers shed for this viewer */
    uint64_t drop_stalled;    /* room mode: video not sent while the viewer gave no feedback */
    uint64_t dc_messages_in, dc_messages_out, dc_bytes_in, dc_bytes_out, dc_dropped;
    char srtp_profile[32];    /* "AEAD_AES_128_GCM", ... or "none" */
    char selected_local[128]; /* "host 127.0.0.1:40000" */
    char selected_remote[128];
    int ports[4]; /* our local host candidate ports */
    int n_ports;
} sfu_peer_stats;

typedef struct sfu_peer_event {
    sfu_peer_event_type type;
    uint64_t peer_id;
    uint64_t req;
    const char *code;            /* ERROR: "bad_sdp", "bad_request", "internal", ... */
    const char *text;            /* ANSWER sdp, ERROR message, CANDIDATE line, CLOSED reason */
    const char *mid;             /* CANDIDATE */
    int mline;                   /* CANDIDATE */
    const char *ice_state;       /* STATE: "new", "checking", "connected", "failed", "closed" */
    const char *dtls_state;      /* STATE: "new", "connecting", "connected", "failed", "closed" */
    const sfu_peer_stats *stats; /* STATS */
} sfu_peer_event;

/* Receives events on the peer's worker thread. Pointers in *ev are valid
 * only during the call. Must not block and must not call sfu_peer_*. */
typedef void (*sfu_peer_event_fn)(void *user, const sfu_peer_event *ev);

typedef struct sfu_peer sfu_peer;

/* Create a peer on the least loaded worker. id tags its events. Returns
 * NULL when the workers are stopping or memory is short. */
sfu_peer *sfu_peer_create(const sfu_peer_env *env, uint64_t id, sfu_peer_event_fn fn, void *user);

/* Apply a browser offer (copied). Answers with ANSWER or ERROR tagged req.
 * A later offer renegotiates; with new ICE credentials it restarts ICE
 * (DTLS and SRTP are kept). Returns -1 only if the task cannot be posted. */
int sfu_peer_offer(sfu_peer *p, const char *sdp, size_t len, uint64_t req);

/* Add a trickled remote candidate ("candidate:..."); mid/mline are
 * informational (everything is bundled). Bad candidates give an ERROR
 * event tagged req. */
int sfu_peer_add_candidate(sfu_peer *p, const char *candidate, uint64_t req);

/* The browser finished gathering. */
int sfu_peer_end_of_candidates(sfu_peer *p);

/* Ask for a STATS event tagged req. */
int sfu_peer_request_stats(sfu_peer *p, uint64_t req);

/* ---- Room mode (sfu/router.h) ----------------------------------------------
 * A room peer lives on its room's worker. Its offers are answered per
 * m-line: what the browser sends (sendonly/sendrecv) is received as a
 * published track when the peer may publish (else rejected); what it only
 * receives (recvonly) is sent to it, bound to a published track by the
 * `bindings` of the offer. */
typedef struct sfu_router sfu_router;

/* Create a peer in a room (on the room's worker). may_publish: mentor, or
 * a mentee that holds the floor. */
sfu_peer *sfu_peer_create_in(const sfu_peer_env *env, sfu_router *room, int may_publish,
                             uint64_t id, sfu_peer_event_fn fn, void *user);

/* Like sfu_peer_offer(); bindings (copied, may be NULL) is lines
 * "<mid> <publisher peer id>:<publisher mid>\n" binding the offer's recvonly
 * m-lines to published tracks (kept across later offers). */
int sfu_peer_offer_bind(sfu_peer *p, const char *sdp, size_t len, const char *bindings,
                        uint64_t req);

/* Viewer layer preference for the track "<peer>:<mid>" it receives: pin 0
 * (low) .. 2 (high), or -1 with max_height > 0, or both -1/0 for automatic
 * (the highest). */
int sfu_peer_set_layer(sfu_peer *p, const char *track, int pin, int max_height);

/* Grant (1) or take back (0) the right to publish. Taking it back stops
 * forwarding the peer's tracks at once (track-removed is broadcast). */
int sfu_peer_set_floor(sfu_peer *p, int may_publish);

/* Server-side mute of the peer's published track with this mid: while
 * muted its packets are dropped (counted in drop_muted) instead of
 * forwarded; on unmute every viewer continues without a gap (video from
 * the next keyframe, which is requested). */
int sfu_peer_set_muted(sfu_peer *p, const char *mid, int muted);

/* Tear down and free on the worker; the handle is invalid afterwards. */
void sfu_peer_close(sfu_peer *p);

#endif
