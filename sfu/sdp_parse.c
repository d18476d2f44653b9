/*
 * SDP parser: splits the text into lines (CRLF or LF), handles the session
 * description lines (v, o, s, t, c, b, m) and dispatches a= attributes
 * through one table that says where each may appear. The structured
 * attributes are parsed in sdp_attr.c, candidates in sdp_candidate.c.
 *
 * Policy: unknown lines and attributes are skipped; a known attribute that
 * is malformed or overflows a limit fails the whole parse with
 * "line N: a=<name>: <reason>". Media-level attributes found at session
 * level (and the reverse) are ignored, as RFC 8866 asks of unknown ones.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sfu/sdp_internal.h"

typedef struct pctx {
    sfu_sdp *s;
    sfu_sdp_media *m; /* current m-line, NULL at session level */
    int line;
    char *err;
    size_t errlen;
    uint8_t seen_o, seen_s, session_eoc;
} pctx;

static int fail(pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(pctx *c, const char *fmt, ...)
{
    if (c->err && c->errlen > 0) {
        c->err[0] = '\0';
        int n = c->line > 0 ? snprintf(c->err, c->errlen, "line %d: ", c->line) : 0;
        if (n >= 0 && (size_t)n < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* ---- attributes ---------------------------------------------------------- */

/* Where an attribute counts; AT_RTP: only on m-lines with an RTP protocol
 * (elsewhere it is ignored like an unknown attribute). */
enum { AT_SESSION = 1, AT_MEDIA = 2, AT_BOTH = 3, AT_RTP = 4 };

typedef int (*attr_fn)(pctx *c, sfu__cur *v, const char **why);

static int at_group(pctx *c, sfu__cur *v, const char **why)
{
    if (c->s->group_count >= SFU_SDP_MAX_GROUPS) {
        *why = "too many groups";
        return -1;
    }
    sfu_sdp_group *g = &c->s->groups[c->s->group_count];
    memset(g, 0, sizeof *g);
    sfu__slice sem = sfu__cur_token(v);
    if (sem.n == 0 || !sfu__slice_visible(sem) ||
        sfu__slice_copy(sem, g->semantics, sizeof g->semantics) != 0) {
        *why = "bad semantics";
        return -1;
    }
    for (;;) {
        sfu__slice mid = sfu__cur_word(v);
        if (mid.n == 0)
            break;
        if (g->count >= SFU_SDP_MAX_GROUP_MIDS) {
            *why = "too many mids";
            return -1;
        }
        if (!sfu__slice_visible(mid) || sfu__slice_copy(mid, g->mids[g->count], SFU_SDP_MID_LEN)) {
            *why = "bad mid";
            return -1;
        }
        g->count++;
    }
    c->s->group_count++;
    return 0;
}

static int at_msid_semantic(pctx *c, sfu__cur *v, const char **why)
{
    sfu__slice all = sfu__cur_rest(v);
    sfu__cur t = {all.p, all.p + all.n};
    sfu__slice first = sfu__cur_token(&t);
    if (!sfu__slice_visible(first)) {
        *why = "bad semantic";
        return -1;
    }
    for (size_t i = 0; i < all.n; i++)
        if ((unsigned char)all.p[i] < 0x20 || (unsigned char)all.p[i] >= 0x7f) {
            *why = "control character";
            return -1;
        }
    if (sfu__slice_copy(all, c->s->msid_semantic, sizeof c->s->msid_semantic) != 0 &&
        sfu__slice_copy(first, c->s->msid_semantic, sizeof c->s->msid_semantic) != 0) {
        *why = "semantic too long";
        return -1;
    }
    c->s->has_msid_semantic = 1;
    return 0;
}

static int at_extmap_allow_mixed(pctx *c, sfu__cur *v, const char **why)
{
    if (c->m)
        c->m->extmap_allow_mixed = 1;
    else
        c->s->extmap_allow_mixed = 1;
    return 0;
}

static int at_ice_lite(pctx *c, sfu__cur *v, const char **why)
{
    c->s->ice_lite = 1;
    return 0;
}

static int at_ice_ufrag(pctx *c, sfu__cur *v, const char **why)
{
    return sfu__attr_ice_str(c->m ? c->m->ice_ufrag : c->s->ice_ufrag, v, why);
}

static int at_ice_pwd(pctx *c, sfu__cur *v, const char **why)
{
    return sfu__attr_ice_str(c->m ? c->m->ice_pwd : c->s->ice_pwd, v, why);
}

static int at_ice_options(pctx *c, sfu__cur *v, const char **why)
{
    sfu__slice all = sfu__cur_rest(v);
    char *dst = c->m ? c->m->ice_options : c->s->ice_options;
    for (size_t i = 0; i < all.n; i++)
        if ((unsigned char)all.p[i] < 0x20 || (unsigned char)all.p[i] >= 0x7f) {
            *why = "control character";
            return -1;
        }
    if (all.n == 0 || sfu__slice_copy(all, dst, SFU_SDP_TOKEN_LEN) != 0) {
        *why = "empty or too long";
        return -1;
    }
    return 0;
}

static int at_fingerprint(pctx *c, sfu__cur *v, const char **why)
{
    return sfu__attr_fingerprint(c->m ? &c->m->fingerprint : &c->s->fingerprint, v, why);
}

static int at_setup(pctx *c, sfu__cur *v, const char **why)
{
    static const char *names[] = {"actpass", "active", "passive", "holdconn"};
    sfu__slice s = sfu__cur_rest(v);
    for (int i = 0; i < 4; i++)
        if (sfu__slice_eq(s, names[i])) {
            sfu_sdp_setup r = (sfu_sdp_setup)(SFU_SDP_SETUP_ACTPASS + i);
            if (c->m)
                c->m->setup = r;
            else
                c->s->setup = r;
            return 0;
        }
    *why = "must be actpass, active, passive or holdconn";
    return -1;
}

static int at_end_of_candidates(pctx *c, sfu__cur *v, const char **why)
{
    if (c->m)
        c->m->end_of_candidates = 1;
    else
        c->session_eoc = 1;
    return 0;
}

static int at_candidate(pctx *c, sfu__cur *v, const char **why)
{
    if (c->s->candidate_count >= SFU_SDP_MAX_CANDIDATES) {
        *why = "too many candidates";
        return -1;
    }
    sfu_sdp_candidate *cand = &c->s->candidates[c->s->candidate_count];
    if (sfu__candidate_parse(v, cand, why) != 0)
        return -1;
    cand->mline = (uint8_t)(c->m - c->s->media);
    c->s->candidate_count++;
    return 0;
}

static int at_mid(pctx *c, sfu__cur *v, const char **why)
{
    sfu__slice s = sfu__cur_rest(v);
    if (s.n == 0 || !sfu__slice_visible(s) || sfu__slice_copy(s, c->m->mid, sizeof c->m->mid)) {
        *why = "must be 1..32 visible characters";
        return -1;
    }
    return 0;
}

static int at_msid(pctx *c, sfu__cur *v, const char **why)
{
    sfu__slice stream = sfu__cur_token(v);
    sfu__slice track = sfu__cur_word(v);
    sfu__cur_skip_sp(v);
    if (stream.n == 0 || !sfu__slice_visible(stream) || !sfu__slice_visible(track) ||
        !sfu__cur_eof(v)) {
        *why = "expected <stream id> [<track id>]";
        return -1;
    }
    if (sfu__slice_copy(stream, c->m->msid_stream, sizeof c->m->msid_stream) != 0 ||
        sfu__slice_copy(track, c->m->msid_track, sizeof c->m->msid_track) != 0) {
        *why = "id too long";
        return -1;
    }
    c->m->has_msid = 1;
    return 0;
}

static int at_sendrecv(pctx *c, sfu__cur *v, const char **why)
{
    c->m->direction = SFU_SDP_DIR_SENDRECV;
    return 0;
}

static int at_sendonly(pctx *c, sfu__cur *v, const char **why)
{
    c->m->direction = SFU_SDP_DIR_SENDONLY;
    return 0;
}

static int at_recvonly(pctx *c, sfu__cur *v, const char **why)
{
    c->m->direction = SFU_SDP_DIR_RECVONLY;
    return 0;
}

static int at_inactive(pctx *c, sfu__cur *v, const char **why)
{
    c->m->direction = SFU_SDP_DIR_INACTIVE;
    return 0;
}

static int at_rtcp_mux(pctx *c, sfu__cur *v, const char **why)
{
    c->m->rtcp_mux = 1;
    return 0;
}

static int at_rtcp_mux_only(pctx *c, sfu__cur *v, const char **why)
{
    c->m->rtcp_mux_only = 1;
    return 0;
}

static int at_rtcp_rsize(pctx *c, sfu__cur *v, const char **why)
{
    c->m->rtcp_rsize = 1;
    return 0;
}

static int at_bundle_only(pctx *c, sfu__cur *v, const char **why)
{
    c->m->bundle_only = 1;
    return 0;
}

static int at_sctp_port(pctx *c, sfu__cur *v, const char **why)
{
    uint32_t n;
    if (sfu__slice_u32(sfu__cur_rest(v), 65535, &n) != 0 || n == 0) {
        *why = "must be 1..65535";
        return -1;
    }
    c->m->sctp_port = (uint16_t)n;
    return 0;
}

static int at_max_message_size(pctx *c, sfu__cur *v, const char **why)
{
    if (sfu__slice_u32(sfu__cur_rest(v), UINT32_MAX, &c->m->max_message_size) != 0) {
        *why = "must be a 32-bit number";
        return -1;
    }
    return 0;
}

#define MEDIA_ATTR(fn, inner)                                                                      \
    static int fn(pctx *c, sfu__cur *v, const char **why)                                          \
    {                                                                                              \
        return inner(c->m, v, why);                                                                \
    }
MEDIA_ATTR(at_rtpmap, sfu__attr_rtpmap)
MEDIA_ATTR(at_fmtp, sfu__attr_fmtp)
MEDIA_ATTR(at_rtcp_fb, sfu__attr_rtcp_fb)
MEDIA_ATTR(at_extmap, sfu__attr_extmap)
MEDIA_ATTR(at_ssrc, sfu__attr_ssrc)
MEDIA_ATTR(at_ssrc_group, sfu__attr_ssrc_group)
MEDIA_ATTR(at_rid, sfu__attr_rid)
MEDIA_ATTR(at_simulcast, sfu__attr_simulcast)
#undef MEDIA_ATTR

static const struct attr_def {
    const char *name;
    int where;
    attr_fn fn;
} attrs[] = {
    {"group", AT_SESSION, at_group},
    {"msid-semantic", AT_SESSION, at_msid_semantic},
    {"ice-lite", AT_SESSION, at_ice_lite},
    {"extmap-allow-mixed", AT_BOTH, at_extmap_allow_mixed},
    {"ice-ufrag", AT_BOTH, at_ice_ufrag},
    {"ice-pwd", AT_BOTH, at_ice_pwd},
    {"ice-options", AT_BOTH, at_ice_options},
    {"fingerprint", AT_BOTH, at_fingerprint},
    {"setup", AT_BOTH, at_setup},
    {"end-of-candidates", AT_BOTH, at_end_of_candidates},
    {"candidate", AT_MEDIA, at_candidate},
    {"mid", AT_MEDIA, at_mid},
    {"msid", AT_MEDIA, at_msid},
    {"sendrecv", AT_MEDIA, at_sendrecv},
    {"sendonly", AT_MEDIA, at_sendonly},
    {"recvonly", AT_MEDIA, at_recvonly},
    {"inactive", AT_MEDIA, at_inactive},
    {"rtcp-mux", AT_MEDIA, at_rtcp_mux},
    {"rtcp-mux-only", AT_MEDIA, at_rtcp_mux_only},
    {"rtcp-rsize", AT_MEDIA, at_rtcp_rsize},
    {"bundle-only", AT_MEDIA, at_bundle_only},
    {"rtpmap", AT_MEDIA | AT_RTP, at_rtpmap},
    {"fmtp", AT_MEDIA | AT_RTP, at_fmtp},
    {"rtcp-fb", AT_MEDIA | AT_RTP, at_rtcp_fb},
    {"extmap", AT_MEDIA, at_extmap},
    {"ssrc", AT_MEDIA | AT_RTP, at_ssrc},
    {"ssrc-group", AT_MEDIA | AT_RTP, at_ssrc_group},
    {"rid", AT_MEDIA | AT_RTP, at_rid},
    {"simulcast", AT_MEDIA | AT_RTP, at_simulcast},
    {"sctp-port", AT_MEDIA, at_sctp_port},
    {"max-message-size", AT_MEDIA, at_max_message_size},
};

static int parse_attr(pctx *c, sfu__cur *v)
{
    sfu__slice name = {v->p, 0};
    while (v->p < v->end && *v->p != ':')
        v->p++;
    name.n = (size_t)(v->p - name.p);
    int has_value = sfu__cur_char(v, ':');
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        const struct attr_def *d = &attrs[i];
        if (!sfu__slice_eq(name, d->name))
            continue;
        if (!(d->where & (c->m ? AT_MEDIA : AT_SESSION)))
            return 0;
        if ((d->where & AT_RTP) && !sfu_sdp_proto_is_rtp(c->m->proto))
            return 0;
        /* Flags take no value; all others need one. */
        int flag = d->fn == at_extmap_allow_mixed || d->fn == at_ice_lite ||
                   d->fn == at_end_of_candidates || d->fn == at_sendrecv || d->fn == at_sendonly ||
                   d->fn == at_recvonly || d->fn == at_inactive || d->fn == at_rtcp_mux ||
                   d->fn == at_rtcp_mux_only || d->fn == at_rtcp_rsize || d->fn == at_bundle_only;
        if (!flag && (!has_value || sfu__cur_eof(v)))
            return fail(c, "a=%s: missing value", d->name);
        if (flag && has_value && !sfu__cur_eof(v))
            return fail(c, "a=%s: takes no value", d->name);
        const char *why = "malformed";
        if (d->fn(c, v, &why) != 0)
            return fail(c, "a=%s: %s", d->name, why);
        return 0;
    }
    return 0; /* unknown attribute */
}

/* ---- session description lines ----------------------------------------- */

static int parse_origin(pctx *c, sfu__cur *v)
{
    sfu_sdp *s = c->s;
    sfu__slice user = sfu__cur_token(v);
    sfu__slice id = sfu__cur_word(v), ver = sfu__cur_word(v);
    sfu__slice net = sfu__cur_word(v), at = sfu__cur_word(v), addr = sfu__cur_word(v);
    sfu__cur_skip_sp(v);
    if (user.n == 0 || !sfu__slice_visible(user) ||
        sfu__slice_copy(user, s->origin_user, sizeof s->origin_user) != 0 ||
        sfu__slice_u64(id, UINT64_MAX, &s->session_id) != 0 ||
        sfu__slice_u64(ver, UINT64_MAX, &s->session_version) != 0 || !sfu__slice_eq(net, "IN") ||
        !(sfu__slice_eq(at, "IP4") || sfu__slice_eq(at, "IP6")) ||
        sfu__slice_copy(at, s->origin_addrtype, sizeof s->origin_addrtype) != 0 || addr.n == 0 ||
        !sfu__slice_visible(addr) ||
        sfu__slice_copy(addr, s->origin_addr, sizeof s->origin_addr) != 0 || !sfu__cur_eof(v))
        return fail(c, "o=: expected <user> <sess-id> <version> IN <IP4|IP6> <address>");
    c->seen_o = 1;
    return 0;
}

static int parse_conn(pctx *c, sfu__cur *v, char *dst)
{
    sfu__slice net = sfu__cur_token(v), at = sfu__cur_word(v), addr = sfu__cur_word(v);
    sfu__cur_skip_sp(v);
    if (!sfu__slice_eq(net, "IN") || !(sfu__slice_eq(at, "IP4") || sfu__slice_eq(at, "IP6")) ||
        addr.n == 0 || !sfu__slice_visible(addr) || !sfu__cur_eof(v) ||
        sfu__slice_copy(addr, dst, SFU_SDP_ADDR_LEN) != 0)
        return fail(c, "c=: expected IN <IP4|IP6> <address>");
    return 0;
}

static int parse_bandwidth(pctx *c, sfu__cur *v)
{
    sfu__slice all = sfu__cur_rest(v);
    sfu__slice type = {all.p, 0};
    while (type.n < all.n && all.p[type.n] != ':')
        type.n++;
    if (type.n == all.n)
        return fail(c, "b=: expected <type>:<value>");
    sfu__slice val = {all.p + type.n + 1, all.n - type.n - 1};
    uint32_t n;
    int as = sfu__slice_eq(type, "AS"), tias = sfu__slice_eq(type, "TIAS");
    if (!as && !tias)
        return 0;
    if (sfu__slice_u32(val, UINT32_MAX, &n) != 0)
        return fail(c, "b=%s: value must be a 32-bit number", as ? "AS" : "TIAS");
    if (c->m) {
        if (as)
            c->m->bw_as = n;
        else
            c->m->bw_tias = n;
    }
    return 0;
}

static const char *const kinds[] = {"audio", "video", "application"};
static const char *const protos[] = {
    NULL,      "UDP/TLS/RTP/SAVPF", "TCP/TLS/RTP/SAVPF", "RTP/SAVPF", "RTP/AVPF",
    "RTP/AVP", "UDP/DTLS/SCTP",     "TCP/DTLS/SCTP",     "DTLS/SCTP"};

/* m=<media> <port>[/<count>] <proto> <fmt> ... */
static int parse_media(pctx *c, sfu__cur *v)
{
    sfu_sdp *s = c->s;
    if (s->media_count >= SFU_SDP_MAX_MEDIA)
        return fail(c, "m=: more than %d m-lines", SFU_SDP_MAX_MEDIA);
    sfu_sdp_media *m = &s->media[s->media_count++];
    c->m = m;
    sfu__slice kind = sfu__cur_token(v);
    if (kind.n == 0 || !sfu__slice_visible(kind) ||
        sfu__slice_copy(kind, m->kind_raw, sizeof m->kind_raw) != 0)
        return fail(c, "m=: bad media type");
    m->kind = SFU_SDP_KIND_OTHER;
    for (int i = 0; i < 3; i++)
        if (sfu__slice_eq(kind, kinds[i]))
            m->kind = (sfu_sdp_kind)i;

    sfu__slice ports = sfu__cur_word(v);
    sfu__slice port = ports;
    for (port.n = 0; port.n < ports.n && ports.p[port.n] != '/'; port.n++)
        ;
    uint32_t n;
    if (sfu__slice_u32(port, 65535, &n) != 0)
        return fail(c, "m=: port must be 0..65535");
    m->port = (uint16_t)n;
    if (port.n < ports.n) {
        sfu__slice cnt = {ports.p + port.n + 1, ports.n - port.n - 1};
        if (sfu__slice_u32(cnt, 65535, &n) != 0 || n == 0)
            return fail(c, "m=: bad port count");
        m->port_count = (uint16_t)n;
    }

    sfu__slice proto = sfu__cur_word(v);
    if (proto.n == 0 || !sfu__slice_visible(proto) ||
        sfu__slice_copy(proto, m->proto_raw, sizeof m->proto_raw) != 0)
        return fail(c, "m=: bad protocol");
    m->proto = SFU_SDP_PROTO_OTHER;
    for (int i = 1; i < (int)(sizeof protos / sizeof protos[0]); i++)
        if (sfu__slice_eq(proto, protos[i]))
            m->proto = (sfu_sdp_proto)i;

    int fmts = 0;
    if (sfu_sdp_proto_is_rtp(m->proto)) {
        for (;;) {
            sfu__slice f = sfu__cur_word(v);
            if (f.n == 0)
                break;
            uint32_t pt;
            if (sfu__slice_u32(f, 127, &pt) != 0)
                return fail(c, "m=: payload type must be 0..127");
            for (int i = 0; i < m->pt_count; i++)
                if (m->pts[i] == pt)
                    return fail(c, "m=: duplicate payload type %u", (unsigned)pt);
            if (m->pt_count >= SFU_SDP_MAX_CODECS)
                return fail(c, "m=: more than %d payload types", SFU_SDP_MAX_CODECS);
            m->pts[m->pt_count++] = (uint8_t)pt;
            fmts++;
        }
    } else {
        sfu__slice f = sfu__cur_rest(v);
        for (size_t i = 0; i < f.n; i++)
            if ((unsigned char)f.p[i] < 0x20 || (unsigned char)f.p[i] >= 0x7f)
                return fail(c, "m=: control character in formats");
        if (sfu__slice_copy(f, m->fmt_raw, sizeof m->fmt_raw) != 0)
            return fail(c, "m=: format list too long");
        fmts = f.n > 0;
    }
    if (fmts == 0)
        return fail(c, "m=: no formats");
    return 0;
}

/* ---- driver -------------------------------------------------------------- */

static int parse_line(pctx *c, const char *p, const char *end)
{
    if (end - p < 2 || p[1] != '=' || p[0] < 'a' || p[0] > 'z')
        return fail(c, "expected <type>=<value>");
    sfu__cur v = {p + 2, end};
    char type = p[0];
    if (c->line == 1) {
        sfu__slice ver = sfu__cur_rest(&v);
        if (type != 'v' || !sfu__slice_eq(ver, "0"))
            return fail(c, "SDP must start with v=0");
        return 0;
    }
    switch (type) {
    case 'v':
        return fail(c, "v=: repeated");
    case 'o':
        if (c->seen_o || c->m)
            return fail(c, "o=: repeated or misplaced");
        return parse_origin(c, &v);
    case 's':
        if (c->seen_s || c->m)
            return fail(c, "s=: repeated or misplaced");
        c->seen_s = 1;
        for (const char *q = v.p; q < v.end; q++)
            if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
                return fail(c, "s=: control character");
        if (sfu__slice_copy(sfu__cur_rest(&v), c->s->session_name, sizeof c->s->session_name))
            return fail(c, "s=: session name too long");
        return 0;
    case 't': {
        sfu__slice a = sfu__cur_token(&v), b = sfu__cur_word(&v);
        if (c->m || sfu__slice_u64(a, UINT64_MAX, &c->s->t_start) != 0 ||
            sfu__slice_u64(b, UINT64_MAX, &c->s->t_stop) != 0)
            return fail(c, "t=: expected <start> <stop>");
        return 0;
    }
    case 'c':
        return parse_conn(c, &v, c->m ? c->m->conn_addr : c->s->conn_addr);
    case 'b':
        return parse_bandwidth(c, &v);
    case 'm':
        if (!c->seen_o || !c->seen_s)
            return fail(c, "m=: before o= and s=");
        return parse_media(c, &v);
    case 'a':
        return parse_attr(c, &v);
    default:
        return 0; /* i, u, e, p, r, z, k and unknown types */
    }
}

/* Copy session-level transport values into m-lines that lack them. */
static void inherit(sfu_sdp *s, int session_eoc)
{
    for (int i = 0; i < s->media_count; i++) {
        sfu_sdp_media *m = &s->media[i];
        if (!m->ice_ufrag[0])
            memcpy(m->ice_ufrag, s->ice_ufrag, sizeof m->ice_ufrag);
        if (!m->ice_pwd[0])
            memcpy(m->ice_pwd, s->ice_pwd, sizeof m->ice_pwd);
        if (!m->ice_options[0])
            memcpy(m->ice_options, s->ice_options, sizeof m->ice_options);
        if (!m->fingerprint.hash[0])
            m->fingerprint = s->fingerprint;
        if (m->setup == SFU_SDP_SETUP_NONE)
            m->setup = s->setup;
        if (s->extmap_allow_mixed)
            m->extmap_allow_mixed = 1;
        if (session_eoc)
            m->end_of_candidates = 1;
        /* "trickle" as a whole token of ice-options */
        sfu__cur t = {m->ice_options, m->ice_options + strlen(m->ice_options)};
        for (;;) {
            sfu__slice w = sfu__cur_word(&t);
            if (w.n == 0)
                break;
            if (sfu__slice_eq(w, "trickle"))
                m->ice_trickle = 1;
        }
    }
}

int sfu_sdp_parse(const char *text, size_t len, sfu_sdp *out, char *err, size_t errlen)
{
    pctx c = {.s = out, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!text || len == 0)
        return fail(&c, "empty SDP");
    if (memchr(text, '\0', len))
        return fail(&c, "NUL byte in SDP");
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        c.line++;
        if (le > p && le[-1] == '\r')
            le--;
        if (le - p > SFU_SDP_MAX_LINE)
            return fail(&c, "line longer than %d bytes", SFU_SDP_MAX_LINE);
        for (const char *q = p; q < le; q++)
            if (*q == '\r')
                return fail(&c, "stray carriage return");
        if (le > p && parse_line(&c, p, le) != 0)
            return -1;
        if (le == p && c.line == 1)
            return fail(&c, "SDP must start with v=0");
        p = next;
    }
    if (!c.seen_o || !c.seen_s)
        return fail(&c, "missing %s line", c.seen_o ? "s=" : "o=");
    for (int i = 0; i < out->media_count; i++)
        for (int j = 0; j < i; j++)
            if (out->media[i].mid[0] && strcmp(out->media[i].mid, out->media[j].mid) == 0) {
                c.line = 0;
                return fail(&c, "a=mid: duplicate mid \"%s\"", out->media[i].mid);
            }
    inherit(out, c.session_eoc);
    return 0;
}
