/*
 * SDP writer: turns an sfu_sdp into CRLF-terminated text in the layout
 * Chromium produces and accepts (session lines, groups, msid-semantic, then
 * per m-line: c=, candidates, ICE/DTLS, mid, extmaps, direction, msid,
 * rtcp-mux/rsize, rtpmap + rtcp-fb + fmtp per payload type, ssrc-groups,
 * ssrcs, rids, simulcast, SCTP). Writes into the caller's buffer only and
 * fails (-1) rather than truncating. Every string is checked so a model
 * holding CR/LF or, where a token is required, spaces cannot inject lines.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sfu/sdp_internal.h"

typedef struct wbuf {
    char *p;
    size_t cap, len;
    int bad;
} wbuf;

static void out(wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(wbuf *w, const char *fmt, ...)
{
    if (w->bad)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->cap - w->len) {
        w->bad = 1;
        return;
    }
    w->len += (size_t)n;
}

/* Text that may hold spaces but no line breaks. */
static const char *text(wbuf *w, const char *s)
{
    for (const char *q = s; *q; q++)
        if (*q == '\r' || *q == '\n')
            w->bad = 1;
    return s;
}

/* A token: non-empty, no whitespace. */
static const char *tok(wbuf *w, const char *s)
{
    if (!s[0])
        w->bad = 1;
    for (const char *q = s; *q; q++)
        if (*q == '\r' || *q == '\n' || *q == ' ' || *q == '\t')
            w->bad = 1;
    return s;
}

static const char *addrtype(const char *addr)
{
    return strchr(addr, ':') ? "IP6" : "IP4";
}

static void write_transport(wbuf *w, const char *ufrag, const char *pwd, const char *options,
                            const sfu_sdp_fingerprint *fp, sfu_sdp_setup setup)
{
    if (ufrag[0])
        out(w, "a=ice-ufrag:%s\r\n", tok(w, ufrag));
    if (pwd[0])
        out(w, "a=ice-pwd:%s\r\n", tok(w, pwd));
    if (options[0])
        out(w, "a=ice-options:%s\r\n", text(w, options));
    if (fp->hash[0])
        out(w, "a=fingerprint:%s %s\r\n", tok(w, fp->hash), tok(w, fp->value));
    if (setup != SFU_SDP_SETUP_NONE)
        out(w, "a=setup:%s\r\n", tok(w, sfu_sdp_setup_name(setup)));
}

static void write_sim_list(wbuf *w, const char *dir, const sfu_sdp_sim_list *l)
{
    out(w, "%s ", dir);
    for (int i = 0; i < l->count && i < SFU_SDP_MAX_RIDS; i++) {
        const sfu_sdp_sim_stream *st = &l->streams[i];
        if (st->alt_count == 0 || st->alt_count > SFU_SDP_MAX_SIM_ALTS)
            w->bad = 1;
        for (int j = 0; j < st->alt_count && j < SFU_SDP_MAX_SIM_ALTS; j++)
            out(w, "%s%s%s", j ? "," : (i ? ";" : ""), st->alts[j].paused ? "~" : "",
                tok(w, st->alts[j].rid));
    }
}

static void write_fbs(wbuf *w, const sfu_sdp_media *m, int pt, uint8_t *done)
{
    for (int i = 0; i < m->fb_count && i < SFU_SDP_MAX_RTCP_FB; i++) {
        const sfu_sdp_rtcp_fb *f = &m->fbs[i];
        if (done[i] || (pt != -2 && f->pt != pt))
            continue;
        done[i] = 1;
        if (f->pt < 0)
            out(w, "a=rtcp-fb:*");
        else
            out(w, "a=rtcp-fb:%d", f->pt);
        out(w, " %s%s%s\r\n", tok(w, f->type), f->param[0] ? " " : "", text(w, f->param));
    }
}

static void write_codec(wbuf *w, const sfu_sdp_media *m, const sfu_sdp_codec *c, uint8_t *done)
{
    if (c->name[0]) {
        out(w, "a=rtpmap:%u %s/%u", (unsigned)c->pt, tok(w, c->name), (unsigned)c->clock_rate);
        if (c->channels)
            out(w, "/%u", (unsigned)c->channels);
        out(w, "\r\n");
    }
    write_fbs(w, m, c->pt, done);
    if (c->fmtp[0])
        out(w, "a=fmtp:%u %s\r\n", (unsigned)c->pt, text(w, c->fmtp));
}

static void write_rtp(wbuf *w, const sfu_sdp_media *m)
{
    uint8_t done[SFU_SDP_MAX_RTCP_FB] = {0};
    uint8_t written[SFU_SDP_MAX_CODECS] = {0};
    for (int i = 0; i < m->pt_count && i < SFU_SDP_MAX_CODECS; i++)
        for (int j = 0; j < m->codec_count && j < SFU_SDP_MAX_CODECS; j++)
            if (!written[j] && m->codecs[j].pt == m->pts[i]) {
                written[j] = 1;
                write_codec(w, m, &m->codecs[j], done);
            }
    for (int j = 0; j < m->codec_count && j < SFU_SDP_MAX_CODECS; j++)
        if (!written[j])
            write_codec(w, m, &m->codecs[j], done);
    write_fbs(w, m, -2, done); /* "*" and feedback for unknown payload types */

    for (int i = 0; i < m->ssrc_group_count && i < SFU_SDP_MAX_SSRC_GROUPS; i++) {
        const sfu_sdp_ssrc_group *g = &m->ssrc_groups[i];
        if (g->count == 0 || g->count > SFU_SDP_MAX_GROUP_SSRCS)
            w->bad = 1;
        out(w, "a=ssrc-group:%s", tok(w, g->semantics));
        for (int j = 0; j < g->count && j < SFU_SDP_MAX_GROUP_SSRCS; j++)
            out(w, " %u", (unsigned)g->ssrcs[j]);
        out(w, "\r\n");
    }
    for (int i = 0; i < m->ssrc_count && i < SFU_SDP_MAX_SSRCS; i++) {
        const sfu_sdp_ssrc *s = &m->ssrcs[i];
        if (strchr(s->attr, ':'))
            w->bad = 1;
        out(w, "a=ssrc:%u %s%s%s\r\n", (unsigned)s->ssrc, tok(w, s->attr), s->value[0] ? ":" : "",
            text(w, s->value));
    }
    for (int i = 0; i < m->rid_count && i < SFU_SDP_MAX_RIDS; i++) {
        const sfu_sdp_rid *r = &m->rids[i];
        out(w, "a=rid:%s %s", tok(w, r->id), r->dir == SFU_SDP_RID_RECV ? "recv" : "send");
        if (r->params[0])
            out(w, " %s", tok(w, r->params));
        out(w, "\r\n");
    }
    if (m->simulcast.present) {
        const sfu_sdp_simulcast *sc = &m->simulcast;
        if (sc->send.count == 0 && sc->recv.count == 0)
            w->bad = 1;
        out(w, "a=simulcast:");
        if (sc->send.count)
            write_sim_list(w, "send", &sc->send);
        if (sc->send.count && sc->recv.count)
            out(w, " ");
        if (sc->recv.count)
            write_sim_list(w, "recv", &sc->recv);
        out(w, "\r\n");
    }
}

static void write_media(wbuf *w, const sfu_sdp *s, int idx)
{
    const sfu_sdp_media *m = &s->media[idx];
    int rtp = sfu_sdp_proto_is_rtp(m->proto);
    const char *proto =
        m->proto == SFU_SDP_PROTO_OTHER ? m->proto_raw : sfu_sdp_proto_name(m->proto);
    out(w, "m=%s %u",
        tok(w, m->kind == SFU_SDP_KIND_OTHER ? m->kind_raw : sfu_sdp_kind_name(m->kind)),
        (unsigned)m->port);
    if (m->port_count)
        out(w, "/%u", (unsigned)m->port_count);
    out(w, " %s", tok(w, proto));
    if (rtp) {
        if (m->pt_count == 0 || m->pt_count > SFU_SDP_MAX_CODECS)
            w->bad = 1;
        for (int i = 0; i < m->pt_count && i < SFU_SDP_MAX_CODECS; i++)
            out(w, " %u", (unsigned)(m->pts[i] & 0x7f));
    } else {
        if (!m->fmt_raw[0])
            w->bad = 1;
        out(w, " %s", text(w, m->fmt_raw));
    }
    out(w, "\r\n");
    if (m->conn_addr[0])
        out(w, "c=IN %s %s\r\n", addrtype(m->conn_addr), tok(w, m->conn_addr));
    if (m->bw_as)
        out(w, "b=AS:%u\r\n", (unsigned)m->bw_as);
    if (m->bw_tias)
        out(w, "b=TIAS:%u\r\n", (unsigned)m->bw_tias);
    for (int i = 0; i < s->candidate_count && i < SFU_SDP_MAX_CANDIDATES; i++) {
        if (s->candidates[i].mline != idx)
            continue;
        char line[SFU_SDP_MAX_LINE];
        if (sfu_sdp_candidate_write(&s->candidates[i], line, sizeof line) < 0)
            w->bad = 1;
        else
            out(w, "a=%s\r\n", line);
    }
    write_transport(w, m->ice_ufrag, m->ice_pwd, m->ice_options, &m->fingerprint, m->setup);
    if (m->mid[0])
        out(w, "a=mid:%s\r\n", tok(w, m->mid));
    if (m->extmap_allow_mixed && !s->extmap_allow_mixed)
        out(w, "a=extmap-allow-mixed\r\n");
    for (int i = 0; i < m->extmap_count && i < SFU_SDP_MAX_EXTMAPS; i++) {
        static const char *dirs[] = {"", "/sendrecv", "/sendonly", "/recvonly", "/inactive"};
        const sfu_sdp_extmap *e = &m->extmaps[i];
        if ((unsigned)e->dir > SFU_SDP_EXT_DIR_INACTIVE || e->id == 0 || e->id > 255)
            w->bad = 1;
        else
            out(w, "a=extmap:%u%s %s%s%s\r\n", (unsigned)e->id, dirs[e->dir], tok(w, e->uri),
                e->attrs[0] ? " " : "", text(w, e->attrs));
    }
    if (rtp || m->direction != SFU_SDP_DIR_SENDRECV)
        out(w, "a=%s\r\n", sfu_sdp_direction_name(m->direction));
    if (m->has_msid) {
        out(w, "a=msid:%s", tok(w, m->msid_stream));
        if (m->msid_track[0])
            out(w, " %s", tok(w, m->msid_track));
        out(w, "\r\n");
    }
    if (m->rtcp_mux)
        out(w, "a=rtcp-mux\r\n");
    if (m->rtcp_mux_only)
        out(w, "a=rtcp-mux-only\r\n");
    if (m->rtcp_rsize)
        out(w, "a=rtcp-rsize\r\n");
    if (m->bundle_only)
        out(w, "a=bundle-only\r\n");
    if (rtp)
        write_rtp(w, m);
    if (m->sctp_port)
        out(w, "a=sctp-port:%u\r\n", (unsigned)m->sctp_port);
    if (m->max_message_size)
        out(w, "a=max-message-size:%u\r\n", (unsigned)m->max_message_size);
    if (m->end_of_candidates)
        out(w, "a=end-of-candidates\r\n");
}

int sfu_sdp_write(const sfu_sdp *s, char *buf, size_t cap)
{
    if (!s || !buf || cap == 0)
        return -1;
    wbuf w = {buf, cap, 0, 0};
    buf[0] = '\0';
    if (s->media_count > SFU_SDP_MAX_MEDIA || s->group_count > SFU_SDP_MAX_GROUPS)
        return -1;
    out(&w, "v=0\r\n");
    out(&w, "o=%s %llu %llu IN %s %s\r\n", tok(&w, s->origin_user[0] ? s->origin_user : "-"),
        (unsigned long long)s->session_id, (unsigned long long)s->session_version,
        tok(&w, s->origin_addrtype[0] ? s->origin_addrtype : "IP4"),
        tok(&w, s->origin_addr[0] ? s->origin_addr : "127.0.0.1"));
    out(&w, "s=%s\r\n", text(&w, s->session_name[0] ? s->session_name : "-"));
    out(&w, "t=%llu %llu\r\n", (unsigned long long)s->t_start, (unsigned long long)s->t_stop);
    if (s->conn_addr[0])
        out(&w, "c=IN %s %s\r\n", addrtype(s->conn_addr), tok(&w, s->conn_addr));
    for (int i = 0; i < s->group_count; i++) {
        const sfu_sdp_group *g = &s->groups[i];
        if (g->count > SFU_SDP_MAX_GROUP_MIDS)
            return -1;
        out(&w, "a=group:%s", tok(&w, g->semantics));
        for (int j = 0; j < g->count; j++)
            out(&w, " %s", tok(&w, g->mids[j]));
        out(&w, "\r\n");
    }
    if (s->extmap_allow_mixed)
        out(&w, "a=extmap-allow-mixed\r\n");
    if (s->ice_lite)
        out(&w, "a=ice-lite\r\n");
    write_transport(&w, s->ice_ufrag, s->ice_pwd, s->ice_options, &s->fingerprint, s->setup);
    if (s->has_msid_semantic)
        out(&w, "a=msid-semantic: %s\r\n",
            s->msid_semantic[0] ? text(&w, s->msid_semantic) : "WMS");
    for (int i = 0; i < s->media_count; i++)
        write_media(&w, s, i);
    if (w.bad)
        return -1;
    return (int)w.len;
}
