/*
 * SDP for WebRTC (unified plan): a fixed-size data model, a parser and a
 * writer. The model holds what an SFU needs from a browser offer or answer
 * (RFC 8866 lines, RFC 8829 JSEP attributes, BUNDLE RFC 8843, msid RFC 8830,
 * rid RFC 8851, simulcast RFC 8853, ICE RFC 8839, DTLS RFC 8842, SCTP RFC
 * 8841) and nothing else: unknown attributes and lines are skipped.
 *
 * Everything lives inside `sfu_sdp`; nothing is allocated. Every table has
 * a documented limit (SFU_SDP_MAX_*); input that exceeds one is an error,
 * never a silent truncation. The struct is large (sizeof(sfu_sdp) is
 * about 550 KB): allocate it on the heap or inside a long-lived owner,
 * not on a worker's stack.
 *
 * RTP-only attributes (rtpmap, fmtp, rtcp-fb, ssrc, ssrc-group, rid,
 * simulcast) are ignored on m-lines whose protocol is not RTP, and an
 * empty "a=fmtp:<pt>" is ignored, so what is parsed is exactly what
 * sfu_sdp_write() writes back.
 *
 * After parsing, session-level ice-ufrag/ice-pwd/ice-options/fingerprint/
 * setup/extmap-allow-mixed have been copied into every m-line that lacks its
 * own, so readers look at the m-line only. Candidates of all m-lines are in
 * one session-wide table, each tagged with its m-line index (with BUNDLE
 * they all belong to one transport).
 *
 * Status: functions return 0 (or a length) on success, -1 on error.
 */
#ifndef ML_SFU_SDP_H
#define ML_SFU_SDP_H

#include <stddef.h>
#include <stdint.h>

/* Limits. A Chromium offer (M120+, with AV1 and several H264 profiles)
 * carries 25 payload types and 55 rtcp-fb lines on its video m-line; newer
 * ones with H265 add about ten more payload types and twenty fb lines. */
#define SFU_SDP_MAX_MEDIA 16      /* m= lines per session */
#define SFU_SDP_MAX_CODECS 48     /* payload types (and rtpmap/fmtp) per m-line */
#define SFU_SDP_MAX_RTCP_FB 128   /* a=rtcp-fb lines per m-line */
#define SFU_SDP_MAX_EXTMAPS 24    /* a=extmap lines per m-line */
#define SFU_SDP_MAX_SSRCS 32      /* a=ssrc lines per m-line */
#define SFU_SDP_MAX_SSRC_GROUPS 8 /* a=ssrc-group lines per m-line */
#define SFU_SDP_MAX_GROUP_SSRCS 8 /* SSRCs in one ssrc-group */
#define SFU_SDP_MAX_RIDS 8        /* a=rid lines per m-line; also simulcast streams per direction */
#define SFU_SDP_MAX_RID_PTS 8     /* pt= values in one a=rid */
#define SFU_SDP_MAX_SIM_ALTS 4    /* ','-alternatives of one simulcast stream */
#define SFU_SDP_MAX_CANDIDATES 64 /* a=candidate lines in the whole session */
#define SFU_SDP_MAX_GROUPS 4      /* a=group lines (BUNDLE, LS, ...) */
#define SFU_SDP_MAX_GROUP_MIDS 16 /* mids in one a=group */
#define SFU_SDP_MAX_LINE 4096     /* bytes in one SDP line (without CRLF) */

/* String buffer sizes, including the terminating NUL. */
#define SFU_SDP_ID_LEN 128     /* msid ids, cname, ssrc attribute values, origin user */
#define SFU_SDP_MID_LEN 33     /* a=mid (MID header extension allows 16 bytes) */
#define SFU_SDP_RID_LEN 33     /* a=rid id */
#define SFU_SDP_ICE_LEN 257    /* ice-ufrag / ice-pwd (RFC 8839: at most 256 chars) */
#define SFU_SDP_FP_HASH_LEN 16 /* "sha-256" */
#define SFU_SDP_FP_LEN 192     /* fingerprint value "AB:CD:..." (sha-512 needs 191) */
#define SFU_SDP_ADDR_LEN 80    /* IPv4, IPv6, or hostname (mDNS "uuid.local") */
#define SFU_SDP_CODEC_NAME_LEN 24
#define SFU_SDP_FMTP_LEN 192     /* raw a=fmtp parameter string */
#define SFU_SDP_FB_LEN 24        /* rtcp-fb type and parameter */
#define SFU_SDP_URI_LEN 128      /* a=extmap URI */
#define SFU_SDP_PARAMS_LEN 128   /* raw a=rid restrictions */
#define SFU_SDP_EXT_ATTR_LEN 48  /* extmap extension attributes, verbatim */
#define SFU_SDP_TOKEN_LEN 64     /* proto, fmt of non-RTP m-lines, session name, ice-options */
#define SFU_SDP_CAND_EXT_LEN 128 /* candidate extensions we do not parse, verbatim */

typedef enum {
    SFU_SDP_KIND_AUDIO = 0,
    SFU_SDP_KIND_VIDEO,
    SFU_SDP_KIND_APPLICATION,
    SFU_SDP_KIND_OTHER, /* e.g. "text": parsed so it can be rejected */
} sfu_sdp_kind;

typedef enum {
    SFU_SDP_PROTO_OTHER = 0,
    SFU_SDP_PROTO_UDP_TLS_RTP_SAVPF, /* "UDP/TLS/RTP/SAVPF" (WebRTC media) */
    SFU_SDP_PROTO_TCP_TLS_RTP_SAVPF, /* "TCP/TLS/RTP/SAVPF" */
    SFU_SDP_PROTO_RTP_SAVPF,         /* "RTP/SAVPF" (legacy) */
    SFU_SDP_PROTO_RTP_AVPF,          /* "RTP/AVPF" */
    SFU_SDP_PROTO_RTP_AVP,           /* "RTP/AVP" */
    SFU_SDP_PROTO_UDP_DTLS_SCTP,     /* "UDP/DTLS/SCTP" (data channels) */
    SFU_SDP_PROTO_TCP_DTLS_SCTP,     /* "TCP/DTLS/SCTP" */
    SFU_SDP_PROTO_DTLS_SCTP,         /* "DTLS/SCTP" (old draft, a=sctpmap) */
} sfu_sdp_proto;

/* Media direction from the point of view of the SDP's author. */
typedef enum {
    SFU_SDP_DIR_SENDRECV = 0, /* default when no direction attribute */
    SFU_SDP_DIR_SENDONLY,
    SFU_SDP_DIR_RECVONLY,
    SFU_SDP_DIR_INACTIVE,
} sfu_sdp_direction;

typedef enum {
    SFU_SDP_SETUP_NONE = 0, /* attribute absent */
    SFU_SDP_SETUP_ACTPASS,
    SFU_SDP_SETUP_ACTIVE,
    SFU_SDP_SETUP_PASSIVE,
    SFU_SDP_SETUP_HOLDCONN,
} sfu_sdp_setup;

typedef enum {
    SFU_SDP_CAND_HOST = 0,
    SFU_SDP_CAND_SRFLX,
    SFU_SDP_CAND_PRFLX,
    SFU_SDP_CAND_RELAY,
} sfu_sdp_cand_type;

typedef enum {
    SFU_SDP_TCPTYPE_NONE = 0,
    SFU_SDP_TCPTYPE_ACTIVE,
    SFU_SDP_TCPTYPE_PASSIVE,
    SFU_SDP_TCPTYPE_SO,
} sfu_sdp_tcptype;

typedef enum {
    SFU_SDP_RID_SEND = 0,
    SFU_SDP_RID_RECV,
} sfu_sdp_rid_dir;

/* Extmap direction; NONE when the "/direction" suffix is absent. */
typedef enum {
    SFU_SDP_EXT_DIR_NONE = 0,
    SFU_SDP_EXT_DIR_SENDRECV,
    SFU_SDP_EXT_DIR_SENDONLY,
    SFU_SDP_EXT_DIR_RECVONLY,
    SFU_SDP_EXT_DIR_INACTIVE,
} sfu_sdp_ext_dir;

/* One payload type: a=rtpmap plus a=fmtp. `name` is empty for a payload
 * type that appears only in the m= line (static types such as 0 PCMU). */
typedef struct sfu_sdp_codec {
    uint8_t pt;                        /* 0..127 */
    char name[SFU_SDP_CODEC_NAME_LEN]; /* as written: "opus", "VP8", "H264", "rtx" */
    uint32_t clock_rate;               /* 0 when no rtpmap */
    uint8_t channels;                  /* 0 when absent in rtpmap (1 is implied for audio) */
    char fmtp[SFU_SDP_FMTP_LEN];       /* raw: "minptime=10;useinbandfec=1", "" if none */
} sfu_sdp_codec;

/* a=rtcp-fb:<pt|*> <type> [<param>] */
typedef struct sfu_sdp_rtcp_fb {
    int16_t pt;                 /* -1 for "*" */
    char type[SFU_SDP_FB_LEN];  /* "nack", "ccm", "goog-remb", "transport-cc" */
    char param[SFU_SDP_FB_LEN]; /* "pli", "fir", "" */
} sfu_sdp_rtcp_fb;

/* a=extmap:<id>[/<direction>] <uri> [<attributes>] */
typedef struct sfu_sdp_extmap {
    uint16_t id; /* 1..255 (RFC 8285) */
    sfu_sdp_ext_dir dir;
    char uri[SFU_SDP_URI_LEN];
    char attrs[SFU_SDP_EXT_ATTR_LEN]; /* extension attributes, verbatim, usually "" */
} sfu_sdp_extmap;

/* a=ssrc:<ssrc> <attribute>[:<value>] */
typedef struct sfu_sdp_ssrc {
    uint32_t ssrc;
    char attr[32];              /* "cname", "msid", ... */
    char value[SFU_SDP_ID_LEN]; /* "" when no value */
} sfu_sdp_ssrc;

/* a=ssrc-group:<semantics> <ssrc>... */
typedef struct sfu_sdp_ssrc_group {
    char semantics[16]; /* "FID", "SIM", "FEC-FR" */
    uint8_t count;
    uint32_t ssrcs[SFU_SDP_MAX_GROUP_SSRCS];
} sfu_sdp_ssrc_group;

/* a=rid:<id> <send|recv> [pt=a,b;max-width=..;...] */
typedef struct sfu_sdp_rid {
    char id[SFU_SDP_RID_LEN];
    sfu_sdp_rid_dir dir;
    uint8_t pt_count;
    uint8_t pts[SFU_SDP_MAX_RID_PTS]; /* from pt= */
    char params[SFU_SDP_PARAMS_LEN];  /* raw restrictions; read with sfu_sdp_param_get */
} sfu_sdp_rid;

/* a=simulcast: one direction's list, e.g. "h;~m;l,l2". Each stream is a
 * list of alternatives; '~' marks an alternative as paused. */
typedef struct sfu_sdp_sim_alt {
    char rid[SFU_SDP_RID_LEN];
    uint8_t paused;
} sfu_sdp_sim_alt;

typedef struct sfu_sdp_sim_stream {
    uint8_t alt_count;
    sfu_sdp_sim_alt alts[SFU_SDP_MAX_SIM_ALTS];
} sfu_sdp_sim_stream;

typedef struct sfu_sdp_sim_list {
    uint8_t count;
    sfu_sdp_sim_stream streams[SFU_SDP_MAX_RIDS];
} sfu_sdp_sim_list;

typedef struct sfu_sdp_simulcast {
    uint8_t present;
    sfu_sdp_sim_list send;
    sfu_sdp_sim_list recv;
} sfu_sdp_simulcast;

/* One ICE candidate (RFC 8839 section 5.1, plus the extensions browsers add). */
typedef struct sfu_sdp_candidate {
    uint8_t mline;       /* index of the m-line it belongs to (SDP only) */
    char foundation[33]; /* 1..32 ice-chars */
    uint16_t component;  /* 1 = RTP (with rtcp-mux the only one) */
    uint8_t tcp;         /* 0 = "udp", 1 = "tcp" */
    uint32_t priority;
    char address[SFU_SDP_ADDR_LEN]; /* IPv4, IPv6 or FQDN (mDNS) */
    uint16_t port;                  /* 0..65535 (tcp active uses 9 or 0) */
    sfu_sdp_cand_type type;
    uint8_t has_raddr; /* raddr and/or rport were given */
    char raddr[SFU_SDP_ADDR_LEN];
    uint16_t rport;
    sfu_sdp_tcptype tcptype;
    int32_t generation;             /* -1 when absent */
    int32_t network_id;             /* -1 when absent */
    int32_t network_cost;           /* -1 when absent */
    char ufrag[SFU_SDP_ICE_LEN];    /* "" when absent */
    char ext[SFU_SDP_CAND_EXT_LEN]; /* other "name value" pairs, verbatim, "" if none */
} sfu_sdp_candidate;

typedef struct sfu_sdp_fingerprint {
    char hash[SFU_SDP_FP_HASH_LEN]; /* lower case: "sha-256"; "" when absent */
    char value[SFU_SDP_FP_LEN];     /* upper-case hex pairs separated by ':' */
} sfu_sdp_fingerprint;

typedef struct sfu_sdp_media {
    sfu_sdp_kind kind;
    char kind_raw[16];   /* the media token as written ("audio", "text") */
    uint16_t port;       /* 0 = rejected / bundle-only */
    uint16_t port_count; /* from "port/count"; 0 when absent */
    sfu_sdp_proto proto;
    char proto_raw[SFU_SDP_TOKEN_LEN]; /* as written */
    /* Formats. RTP protocols: payload types in m= order. Others: raw fmt. */
    uint8_t pt_count;
    uint8_t pts[SFU_SDP_MAX_CODECS];
    char fmt_raw[SFU_SDP_TOKEN_LEN];  /* "webrtc-datachannel" for SCTP */
    char conn_addr[SFU_SDP_ADDR_LEN]; /* media c= address, "" if none */
    uint32_t bw_as, bw_tias;          /* b=AS (kbps), b=TIAS (bps); 0 when absent */

    char mid[SFU_SDP_MID_LEN]; /* "" when absent */
    uint8_t has_msid;
    char msid_stream[SFU_SDP_ID_LEN]; /* "-" when no stream */
    char msid_track[SFU_SDP_ID_LEN];  /* may be "" */
    sfu_sdp_direction direction;
    uint8_t rtcp_mux, rtcp_mux_only, rtcp_rsize, bundle_only, extmap_allow_mixed;

    /* Transport (copied from session level when absent here). */
    char ice_ufrag[SFU_SDP_ICE_LEN];
    char ice_pwd[SFU_SDP_ICE_LEN];
    uint8_t ice_trickle;                 /* a=ice-options contains "trickle" */
    char ice_options[SFU_SDP_TOKEN_LEN]; /* raw a=ice-options value */
    sfu_sdp_fingerprint fingerprint;
    sfu_sdp_setup setup;
    uint8_t end_of_candidates;

    /* RTP */
    uint8_t codec_count;
    sfu_sdp_codec codecs[SFU_SDP_MAX_CODECS];
    uint8_t fb_count;
    sfu_sdp_rtcp_fb fbs[SFU_SDP_MAX_RTCP_FB];
    uint8_t extmap_count;
    sfu_sdp_extmap extmaps[SFU_SDP_MAX_EXTMAPS];
    uint8_t ssrc_count;
    sfu_sdp_ssrc ssrcs[SFU_SDP_MAX_SSRCS];
    uint8_t ssrc_group_count;
    sfu_sdp_ssrc_group ssrc_groups[SFU_SDP_MAX_SSRC_GROUPS];
    uint8_t rid_count;
    sfu_sdp_rid rids[SFU_SDP_MAX_RIDS];
    sfu_sdp_simulcast simulcast;

    /* SCTP (application m-line) */
    uint16_t sctp_port;        /* a=sctp-port; 0 when absent */
    uint32_t max_message_size; /* a=max-message-size; 0 when absent */
} sfu_sdp_media;

/* a=group:<semantics> <mid>... */
typedef struct sfu_sdp_group {
    char semantics[16]; /* "BUNDLE", "LS" */
    uint8_t count;
    char mids[SFU_SDP_MAX_GROUP_MIDS][SFU_SDP_MID_LEN];
} sfu_sdp_group;

typedef struct sfu_sdp {
    /* o=<username> <sess-id> <sess-version> IN <IP4|IP6> <address> */
    char origin_user[SFU_SDP_ID_LEN];
    uint64_t session_id;
    uint64_t session_version;
    char origin_addrtype[8]; /* "IP4" / "IP6" */
    char origin_addr[SFU_SDP_ADDR_LEN];
    char session_name[SFU_SDP_TOKEN_LEN]; /* s= ("-") */
    uint64_t t_start, t_stop;             /* t= */
    char conn_addr[SFU_SDP_ADDR_LEN];     /* session c= address, "" if none */

    uint8_t group_count;
    sfu_sdp_group groups[SFU_SDP_MAX_GROUPS];
    uint8_t has_msid_semantic;
    /* Value after "a=msid-semantic:", trimmed ("WMS *"). Informational
     * only: a value too long for the buffer keeps just its first token. */
    char msid_semantic[SFU_SDP_TOKEN_LEN];
    uint8_t extmap_allow_mixed;
    uint8_t ice_lite;

    /* Session-level transport values, as written (also copied to media). */
    char ice_ufrag[SFU_SDP_ICE_LEN];
    char ice_pwd[SFU_SDP_ICE_LEN];
    char ice_options[SFU_SDP_TOKEN_LEN];
    sfu_sdp_fingerprint fingerprint;
    sfu_sdp_setup setup;

    uint8_t media_count;
    sfu_sdp_media media[SFU_SDP_MAX_MEDIA];

    uint8_t candidate_count;
    sfu_sdp_candidate candidates[SFU_SDP_MAX_CANDIDATES];
} sfu_sdp;

/* ---- parse / write ---------------------------------------------------- */

/* Parse `len` bytes of SDP (CRLF or LF line ends; no NUL bytes) into *out,
 * which is fully overwritten. Unknown attributes and lines are ignored. On
 * error returns -1 and writes "line N: a=<attr>: <problem>" into err (if
 * errlen > 0). */
int sfu_sdp_parse(const char *text, size_t len, sfu_sdp *out, char *err, size_t errlen);

/* Write *sdp as CRLF-terminated SDP text into buf and NUL-terminate it.
 * Returns the length written (without the NUL), or -1 when it does not fit
 * in cap bytes or the model holds something unwritable. Session-level
 * transport attributes are written only when set on the session; media-level
 * ones are always written per m-line. */
int sfu_sdp_write(const sfu_sdp *sdp, char *buf, size_t cap);

/* Parse one trickled candidate: "candidate:842163049 1 udp 1677729535
 * 192.0.2.1 46154 typ srflx raddr 10.0.0.1 rport 9 generation 0 ufrag abc
 * network-cost 999". An "a=" prefix and a trailing CR/LF are accepted; the
 * "candidate:" prefix is optional. NUL-terminated input. out->mline is 0. */
int sfu_sdp_candidate_parse(const char *line, sfu_sdp_candidate *out);
/* The same for a buffer of `len` bytes that need not be NUL-terminated. */
int sfu_sdp_candidate_parse_n(const char *line, size_t len, sfu_sdp_candidate *out);

/* Write "candidate:<foundation> <component> <udp|tcp> ..." (no "a=", no
 * CRLF) NUL-terminated into buf. Returns length or -1 if it does not fit. */
int sfu_sdp_candidate_write(const sfu_sdp_candidate *c, char *buf, size_t cap);

/* ---- building ----------------------------------------------------------- */

/* Zero *s and set the defaults of a session we author: o=- <id> <version>
 * IN IP4 127.0.0.1, s=-, t=0 0. */
void sfu_sdp_init(sfu_sdp *s, uint64_t session_id, uint64_t session_version);
/* Append an m-line (zeroed, kind and proto set, port 9, c=IN IP4 0.0.0.0).
 * Returns it, or NULL when SFU_SDP_MAX_MEDIA is reached. */
sfu_sdp_media *sfu_sdp_media_add(sfu_sdp *s, sfu_sdp_kind kind, sfu_sdp_proto proto);
/* Append a payload type to the m= list and its rtpmap/fmtp (fmtp may be NULL
 * or ""). -1 when full, pt > 127, pt already present, or a string is too long. */
int sfu_sdp_media_add_codec(sfu_sdp_media *m, uint8_t pt, const char *name, uint32_t clock_rate,
                            uint8_t channels, const char *fmtp);
/* Append a=rtcp-fb:<pt> <type> [<param>] (pt -1 for "*"; param may be NULL). */
int sfu_sdp_media_add_fb(sfu_sdp_media *m, int pt, const char *type, const char *param);
/* Append a=extmap:<id> <uri>. */
int sfu_sdp_media_add_extmap(sfu_sdp_media *m, uint16_t id, const char *uri);
/* Append a=ssrc:<ssrc> <attr>[:<value>] (value may be NULL). */
int sfu_sdp_media_add_ssrc(sfu_sdp_media *m, uint32_t ssrc, const char *attr, const char *value);
/* Append a=ssrc-group:<semantics> with n SSRCs. */
int sfu_sdp_media_add_ssrc_group(sfu_sdp_media *m, const char *semantics, const uint32_t *ssrcs,
                                 int n);
/* Append a candidate to the session table, tagged with m-line index mline. */
int sfu_sdp_add_candidate(sfu_sdp *s, int mline, const sfu_sdp_candidate *c);

/* ---- lookups ------------------------------------------------------------ */

/* The codec with payload type pt, or NULL. */
const sfu_sdp_codec *sfu_sdp_codec_find(const sfu_sdp_media *m, uint8_t pt);
/* The first codec (in m= order) named `name` (case-insensitive) with the
 * given clock rate (0 = any), or NULL. */
const sfu_sdp_codec *sfu_sdp_codec_find_name(const sfu_sdp_media *m, const char *name,
                                             uint32_t clock_rate);
/* The payload type of the "rtx" codec whose fmtp apt= is `pt`, or -1. */
int sfu_sdp_rtx_pt(const sfu_sdp_media *m, uint8_t pt);
/* The id of the extmap with this URI, or 0 when not present. */
int sfu_sdp_extmap_id(const sfu_sdp_media *m, const char *uri);
/* 1 if a=rtcp-fb lists <type> [<param>] for pt (or for "*"); param NULL or
 * "" means no parameter. */
int sfu_sdp_has_fb(const sfu_sdp_media *m, uint8_t pt, const char *type, const char *param);
/* The m-line index with this mid, or -1. */
int sfu_sdp_find_mid(const sfu_sdp *s, const char *mid);
/* The a=group with these semantics ("BUNDLE"), or NULL. */
const sfu_sdp_group *sfu_sdp_group_find(const sfu_sdp *s, const char *semantics);

/* Read one parameter from a "k=v;k2=v2" list (a=fmtp value or a=rid
 * restrictions; spaces around ';' are allowed; keys compare
 * case-insensitively). Copies the value into val (NUL-terminated) and
 * returns its length; -1 when absent, -2 when it does not fit in cap. A key
 * without '=' yields "". */
int sfu_sdp_param_get(const char *params, const char *key, char *val, size_t cap);
/* Like sfu_sdp_param_get for an unsigned decimal value; -1 when absent or
 * not a number that fits in *out. */
int sfu_sdp_param_u32(const char *params, const char *key, uint32_t *out);

/* Names used on the wire ("audio", "UDP/TLS/RTP/SAVPF", "sendrecv",
 * "actpass", "host", ...). */
const char *sfu_sdp_kind_name(sfu_sdp_kind k);
const char *sfu_sdp_proto_name(sfu_sdp_proto p);
const char *sfu_sdp_direction_name(sfu_sdp_direction d);
const char *sfu_sdp_setup_name(sfu_sdp_setup s);
const char *sfu_sdp_cand_type_name(sfu_sdp_cand_type t);

/* 1 for RTP protocols (SAVPF, AVPF, ...), 0 otherwise. */
int sfu_sdp_proto_is_rtp(sfu_sdp_proto p);

#endif
