/*
 * Offer/answer for the SFU (RFC 8829 JSEP, as the answerer to a browser, and
 * as the offerer for renegotiation towards a subscriber).
 *
 * The SFU runs one ICE/DTLS transport per peer, so everything is BUNDLEd
 * (RFC 8843) and rtcp-muxed. For each accepted RTP m-line we choose ONE
 * codec: the first of ours (opus; VP8, then H264 and VP9 when enabled) that
 * the offer lists, keeping the offer's payload type, plus the RTX payload
 * type whose apt= points at it. rtcp-fb and header extensions are the
 * intersection of the offer and what we support, keeping the offer's ids.
 * Simulcast "send" in the offer is answered with "recv" and the rids as recv.
 *
 * Pure code: no allocation, no logging; the caller owns every struct.
 */
#ifndef ML_SFU_NEGOTIATE_H
#define ML_SFU_NEGOTIATE_H

#include <stdint.h>

#include "sfu/sdp.h"

/* Header extension URIs we support. */
#define SFU_EXT_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define SFU_EXT_RID "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define SFU_EXT_RRID "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
#define SFU_EXT_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define SFU_EXT_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define SFU_EXT_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

/* Payload types and extension ids we use in offers we author. */
#define SFU_NEG_PT_OPUS 111
#define SFU_NEG_PT_VP8 96
#define SFU_NEG_PT_VP8_RTX 97
#define SFU_NEG_PT_H264 102
#define SFU_NEG_PT_H264_RTX 103
#define SFU_NEG_PT_VP9 98
#define SFU_NEG_PT_VP9_RTX 99
#define SFU_NEG_EXTID_AUDIO_LEVEL 1
#define SFU_NEG_EXTID_ABS_SEND_TIME 2
#define SFU_NEG_EXTID_TWCC 3
#define SFU_NEG_EXTID_MID 4
#define SFU_NEG_EXTID_RID 10
#define SFU_NEG_EXTID_RRID 11

#define SFU_NEG_MAX_LOCAL_CANDIDATES 16

/* What we do with one m-line. For application (data channel) m-lines any
 * value other than REJECT accepts it. */
typedef enum {
    SFU_NEG_REJECT = 0, /* port 0 */
    SFU_NEG_RECV,       /* we receive only (publisher's tracks) */
    SFU_NEG_SEND,       /* we send only (subscriber) */
    SFU_NEG_SENDRECV,
} sfu_neg_action;

/* Our outgoing stream on an m-line (used for SEND and SENDRECV). */
typedef struct sfu_neg_track {
    uint32_t ssrc;                  /* main SSRC; 0 = write no a=ssrc lines */
    uint32_t rtx_ssrc;              /* 0 = no RTX SSRC / FID group */
    char stream_id[SFU_SDP_ID_LEN]; /* msid stream id ("" -> "-") */
    char track_id[SFU_SDP_ID_LEN];  /* msid track id */
} sfu_neg_track;

/* Our side of the negotiation. Initialise with sfu_neg_local_init(). */
typedef struct sfu_neg_local {
    char ice_ufrag[SFU_SDP_ICE_LEN];
    char ice_pwd[SFU_SDP_ICE_LEN];
    char fingerprint[SFU_SDP_FP_LEN]; /* SHA-256 of our certificate, "AB:CD:..." */
    sfu_sdp_setup setup;              /* in answers; default PASSIVE. Offers use ACTPASS. */
    char cname[SFU_SDP_ID_LEN];       /* for a=ssrc cname */
    uint64_t session_id, session_version;
    uint8_t enable_h264, enable_vp9; /* VP8 and opus are always on */
    uint16_t sctp_port;              /* default 5000 */
    uint32_t max_message_size;       /* default 262144 */
    uint8_t candidate_count;         /* 0 with trickle */
    sfu_sdp_candidate candidates[SFU_NEG_MAX_LOCAL_CANDIDATES];
    uint8_t end_of_candidates; /* write a=end-of-candidates */
    /* Answers: per offer m-line index. Default SFU_NEG_RECV. */
    sfu_neg_action action[SFU_SDP_MAX_MEDIA];
    sfu_neg_track track[SFU_SDP_MAX_MEDIA];
} sfu_neg_local;

/* What was agreed for one m-line (index = m-line index of the offer). */
typedef struct sfu_neg_media {
    char mid[SFU_SDP_MID_LEN];
    sfu_sdp_kind kind;
    uint8_t accepted;            /* 0: rejected with port 0, see reason */
    char reason[64];             /* why rejected, "" when accepted */
    sfu_sdp_direction direction; /* our direction in the answer/offer */
    /* After negotiation (offer direction intersected with our action): */
    uint8_t remote_sends;    /* the remote side will send media to us */
    uint8_t remote_receives; /* the remote side will receive our media */

    /* RTP (audio/video) */
    sfu_sdp_codec codec; /* chosen codec with the remote's payload type */
    int16_t rtx_pt;      /* -1 when none */
    uint8_t fb_nack, fb_nack_pli, fb_ccm_fir, fb_remb, fb_twcc;
    uint8_t rtcp_rsize;
    /* Negotiated header extension ids; 0 = not negotiated. */
    uint8_t ext_mid, ext_rid, ext_rrid, ext_abs_send_time, ext_twcc, ext_audio_level;
    /* The remote's streams: from ssrc-group FID pairs (SIM order when
     * present), else one per distinct a=ssrc without RTX. */
    uint8_t remote_ssrc_count;
    uint32_t remote_ssrcs[SFU_SDP_MAX_RIDS];
    uint32_t remote_rtx_ssrcs[SFU_SDP_MAX_RIDS]; /* 0 when no RTX */
    char remote_cname[SFU_SDP_ID_LEN];
    char remote_msid_stream[SFU_SDP_ID_LEN];
    char remote_msid_track[SFU_SDP_ID_LEN];
    /* The remote's simulcast rids, in its a=simulcast order (first
     * alternative of each stream), or its a=rid lines without a=simulcast. */
    uint8_t rid_count;
    char rids[SFU_SDP_MAX_RIDS][SFU_SDP_RID_LEN];
    uint8_t rid_paused[SFU_SDP_MAX_RIDS];
    /* Ours when sending. */
    uint32_t local_ssrc, local_rtx_ssrc;

    /* SCTP (application) */
    uint16_t remote_sctp_port;
    uint32_t remote_max_message_size;
} sfu_neg_media;

typedef struct sfu_neg_result {
    uint8_t media_count;
    sfu_neg_media media[SFU_SDP_MAX_MEDIA];
    int bundle_index; /* m-line index carrying the transport, -1 if none */
    /* Remote transport parameters (of the bundle transport). */
    char remote_ice_ufrag[SFU_SDP_ICE_LEN];
    char remote_ice_pwd[SFU_SDP_ICE_LEN];
    uint8_t remote_ice_lite, remote_trickle;
    sfu_sdp_fingerprint remote_fingerprint;
    sfu_sdp_setup remote_setup;
    /* Our DTLS role as written: PASSIVE/ACTIVE in answers (ACTIVE when the
     * offer said passive), ACTPASS in offers. */
    sfu_sdp_setup local_setup;
} sfu_neg_result;

/* Defaults: setup PASSIVE, sctp_port 5000, max_message_size 262144, every
 * action RECV, cname "mentorlink", session_version 1; everything else 0/"". */
void sfu_neg_local_init(sfu_neg_local *l);

/* Build our answer to a parsed browser offer. *answer and *result are fully
 * overwritten. The answer's a=group:BUNDLE lists every accepted mid (none
 * when the offer had no BUNDLE group; then only its first usable m-line is
 * accepted). m-lines we cannot use (unknown kind or proto, not in BUNDLE,
 * no rtcp-mux, no common codec, action REJECT) are rejected with port 0 and
 * a reason in result. Returns -1 with a message in err when the offer as a
 * whole is unusable: an accepted m-line without ice-ufrag/ice-pwd or without
 * a fingerprint, setup holdconn, bad local parameters (ice_ufrag must be
 * 4..256 ice-chars, ice_pwd 22..256, fingerprint 32 hex pairs "AB:..",
 * cname a non-empty token, setup ACTIVE or PASSIVE), or nothing acceptable
 * at all. An offer without a=setup is treated as active (RFC 4145). */
int sfu_negotiate_answer(const sfu_sdp *offer, const sfu_neg_local *local, sfu_sdp *answer,
                         sfu_neg_result *result, char *err, size_t errlen);

/* One m-line of an offer we author. */
typedef struct sfu_neg_offer_media {
    sfu_sdp_kind kind; /* AUDIO, VIDEO or APPLICATION */
    char mid[SFU_SDP_MID_LEN];
    sfu_neg_action action; /* SEND for a subscriber; REJECT writes port 0 */
    sfu_neg_track track;
    char codec[SFU_SDP_CODEC_NAME_LEN]; /* only this codec ("VP8"); "" = all we enable */
    uint8_t simulcast_recv;             /* unused for now: reserved, keep 0 */
} sfu_neg_offer_media;

/* Build an offer from the SFU (a=setup:actpass) with our payload types
 * (SFU_NEG_PT_*) and extension ids (SFU_NEG_EXTID_*). *result describes it
 * as if accepted (the remote_* fields are empty) so the same code reads both.
 * Returns -1 with err when n is out of range, a mid is empty or repeated, or
 * the local parameters are incomplete. */
int sfu_negotiate_offer(const sfu_neg_local *local, const sfu_neg_offer_media *media, int n,
                        sfu_sdp *offer, sfu_neg_result *result, char *err, size_t errlen);

#endif
