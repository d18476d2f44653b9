/*
 * SDP model helpers: building a description we author (init, add m-line,
 * codec, feedback, extmap, ssrc, candidate) and looking things up in a
 * parsed one (codec by payload type or name, RTX by apt, extmap id by URI,
 * rtcp-fb, mid, group, "k=v;k=v" parameters), plus the wire names of the
 * enums. Every builder checks the model's limits and the string lengths,
 * and refuses text that could break a line (CR, LF, NUL are impossible in
 * C strings; CR/LF are checked).
 */
#include <stdio.h>
#include <strings.h>

#include "sfu/sdp_internal.h"

/* Copy a C string into a fixed buffer; -1 when it does not fit or holds CR/LF. */
static int put(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= cap || strchr(src, '\r') || strchr(src, '\n'))
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

void sfu_sdp_init(sfu_sdp *s, uint64_t session_id, uint64_t session_version)
{
    memset(s, 0, sizeof *s);
    strcpy(s->origin_user, "-");
    s->session_id = session_id;
    s->session_version = session_version;
    strcpy(s->origin_addrtype, "IP4");
    strcpy(s->origin_addr, "127.0.0.1");
    strcpy(s->session_name, "-");
}

sfu_sdp_media *sfu_sdp_media_add(sfu_sdp *s, sfu_sdp_kind kind, sfu_sdp_proto proto)
{
    if (s->media_count >= SFU_SDP_MAX_MEDIA || (unsigned)kind > SFU_SDP_KIND_OTHER ||
        (unsigned)proto > SFU_SDP_PROTO_DTLS_SCTP)
        return NULL;
    sfu_sdp_media *m = &s->media[s->media_count++];
    memset(m, 0, sizeof *m);
    m->kind = kind;
    put(m->kind_raw, sizeof m->kind_raw, sfu_sdp_kind_name(kind));
    m->proto = proto;
    put(m->proto_raw, sizeof m->proto_raw, sfu_sdp_proto_name(proto));
    m->port = 9;
    strcpy(m->conn_addr, "0.0.0.0");
    return m;
}

int sfu_sdp_media_add_codec(sfu_sdp_media *m, uint8_t pt, const char *name, uint32_t clock_rate,
                            uint8_t channels, const char *fmtp)
{
    if (pt > 127 || m->codec_count >= SFU_SDP_MAX_CODECS || m->pt_count >= SFU_SDP_MAX_CODECS ||
        !name || !name[0] || strchr(name, ' ') || strchr(name, '/') || clock_rate == 0)
        return -1;
    if (sfu_sdp_codec_find(m, pt))
        return -1;
    for (int i = 0; i < m->pt_count; i++)
        if (m->pts[i] == pt)
            return -1;
    sfu_sdp_codec *c = &m->codecs[m->codec_count];
    memset(c, 0, sizeof *c);
    c->pt = pt;
    c->clock_rate = clock_rate;
    c->channels = channels;
    if (put(c->name, sizeof c->name, name) != 0 || put(c->fmtp, sizeof c->fmtp, fmtp) != 0)
        return -1;
    m->codec_count++;
    m->pts[m->pt_count++] = pt;
    return 0;
}

int sfu_sdp_media_add_fb(sfu_sdp_media *m, int pt, const char *type, const char *param)
{
    if (pt < -1 || pt > 127 || m->fb_count >= SFU_SDP_MAX_RTCP_FB || !type || !type[0] ||
        strchr(type, ' '))
        return -1;
    sfu_sdp_rtcp_fb *fb = &m->fbs[m->fb_count];
    fb->pt = (int16_t)pt;
    if (put(fb->type, sizeof fb->type, type) != 0 || put(fb->param, sizeof fb->param, param) != 0)
        return -1;
    m->fb_count++;
    return 0;
}

int sfu_sdp_media_add_extmap(sfu_sdp_media *m, uint16_t id, const char *uri)
{
    if (id == 0 || id > 255 || m->extmap_count >= SFU_SDP_MAX_EXTMAPS || !uri || !uri[0] ||
        strchr(uri, ' '))
        return -1;
    for (int i = 0; i < m->extmap_count; i++)
        if (m->extmaps[i].id == id)
            return -1;
    sfu_sdp_extmap *e = &m->extmaps[m->extmap_count];
    memset(e, 0, sizeof *e);
    e->id = id;
    if (put(e->uri, sizeof e->uri, uri) != 0)
        return -1;
    m->extmap_count++;
    return 0;
}

int sfu_sdp_media_add_ssrc(sfu_sdp_media *m, uint32_t ssrc, const char *attr, const char *value)
{
    if (m->ssrc_count >= SFU_SDP_MAX_SSRCS || !attr || !attr[0] || strchr(attr, ':') ||
        strchr(attr, ' '))
        return -1;
    sfu_sdp_ssrc *s = &m->ssrcs[m->ssrc_count];
    s->ssrc = ssrc;
    if (put(s->attr, sizeof s->attr, attr) != 0 || put(s->value, sizeof s->value, value) != 0)
        return -1;
    m->ssrc_count++;
    return 0;
}

int sfu_sdp_media_add_ssrc_group(sfu_sdp_media *m, const char *semantics, const uint32_t *ssrcs,
                                 int n)
{
    if (m->ssrc_group_count >= SFU_SDP_MAX_SSRC_GROUPS || n <= 0 || n > SFU_SDP_MAX_GROUP_SSRCS ||
        !semantics || !semantics[0] || strchr(semantics, ' '))
        return -1;
    sfu_sdp_ssrc_group *g = &m->ssrc_groups[m->ssrc_group_count];
    memset(g, 0, sizeof *g);
    if (put(g->semantics, sizeof g->semantics, semantics) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        g->ssrcs[i] = ssrcs[i];
    g->count = (uint8_t)n;
    m->ssrc_group_count++;
    return 0;
}

int sfu_sdp_add_candidate(sfu_sdp *s, int mline, const sfu_sdp_candidate *c)
{
    if (mline < 0 || mline >= s->media_count || s->candidate_count >= SFU_SDP_MAX_CANDIDATES)
        return -1;
    char tmp[SFU_SDP_MAX_LINE];
    if (sfu_sdp_candidate_write(c, tmp, sizeof tmp) < 0)
        return -1; /* refuse what we could not write */
    sfu_sdp_candidate *d = &s->candidates[s->candidate_count++];
    *d = *c;
    d->mline = (uint8_t)mline;
    return 0;
}

/* ---- lookups ------------------------------------------------------------ */

const sfu_sdp_codec *sfu_sdp_codec_find(const sfu_sdp_media *m, uint8_t pt)
{
    for (int i = 0; i < m->codec_count; i++)
        if (m->codecs[i].pt == pt)
            return &m->codecs[i];
    return NULL;
}

const sfu_sdp_codec *sfu_sdp_codec_find_name(const sfu_sdp_media *m, const char *name,
                                             uint32_t clock_rate)
{
    for (int i = 0; i < m->pt_count; i++) {
        const sfu_sdp_codec *c = sfu_sdp_codec_find(m, m->pts[i]);
        if (c && strcasecmp(c->name, name) == 0 && (clock_rate == 0 || c->clock_rate == clock_rate))
            return c;
    }
    return NULL;
}

int sfu_sdp_rtx_pt(const sfu_sdp_media *m, uint8_t pt)
{
    for (int i = 0; i < m->pt_count; i++) {
        const sfu_sdp_codec *c = sfu_sdp_codec_find(m, m->pts[i]);
        uint32_t apt;
        if (c && strcasecmp(c->name, "rtx") == 0 && sfu_sdp_param_u32(c->fmtp, "apt", &apt) == 0 &&
            apt == pt)
            return c->pt;
    }
    return -1;
}

int sfu_sdp_extmap_id(const sfu_sdp_media *m, const char *uri)
{
    for (int i = 0; i < m->extmap_count; i++)
        if (strcmp(m->extmaps[i].uri, uri) == 0)
            return m->extmaps[i].id;
    return 0;
}

int sfu_sdp_has_fb(const sfu_sdp_media *m, uint8_t pt, const char *type, const char *param)
{
    if (!param)
        param = "";
    for (int i = 0; i < m->fb_count; i++) {
        const sfu_sdp_rtcp_fb *f = &m->fbs[i];
        if ((f->pt == -1 || f->pt == pt) && strcmp(f->type, type) == 0 &&
            strcmp(f->param, param) == 0)
            return 1;
    }
    return 0;
}

int sfu_sdp_find_mid(const sfu_sdp *s, const char *mid)
{
    if (!mid || !mid[0])
        return -1;
    for (int i = 0; i < s->media_count; i++)
        if (strcmp(s->media[i].mid, mid) == 0)
            return i;
    return -1;
}

const sfu_sdp_group *sfu_sdp_group_find(const sfu_sdp *s, const char *semantics)
{
    for (int i = 0; i < s->group_count; i++)
        if (strcmp(s->groups[i].semantics, semantics) == 0)
            return &s->groups[i];
    return NULL;
}

int sfu_sdp_param_get(const char *params, const char *key, char *val, size_t cap)
{
    if (!params || !key)
        return -1;
    size_t klen = strlen(key);
    const char *p = params;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *item = p;
        while (*p && *p != ';')
            p++;
        const char *iend = p;
        while (iend > item && (iend[-1] == ' ' || iend[-1] == '\t'))
            iend--;
        const char *eq = NULL;
        for (const char *q = item; q < iend && !eq; q++)
            if (*q == '=')
                eq = q;
        const char *kend = eq ? eq : iend;
        while (kend > item && (kend[-1] == ' ' || kend[-1] == '\t'))
            kend--;
        if ((size_t)(kend - item) == klen && strncasecmp(item, key, klen) == 0) {
            const char *v = eq ? eq + 1 : iend;
            while (v < iend && (*v == ' ' || *v == '\t'))
                v++;
            size_t n = (size_t)(iend - v);
            if (!val || n >= cap)
                return -2;
            memcpy(val, v, n);
            val[n] = '\0';
            return (int)n;
        }
    }
    return -1;
}

int sfu_sdp_param_u32(const char *params, const char *key, uint32_t *out)
{
    char buf[24];
    int n = sfu_sdp_param_get(params, key, buf, sizeof buf);
    if (n <= 0)
        return -1;
    return sfu__slice_u32((sfu__slice){buf, (size_t)n}, UINT32_MAX, out);
}

/* ---- names --------------------------------------------------------------- */

const char *sfu_sdp_kind_name(sfu_sdp_kind k)
{
    static const char *n[] = {"audio", "video", "application", "other"};
    return (unsigned)k <= SFU_SDP_KIND_OTHER ? n[k] : "other";
}

const char *sfu_sdp_proto_name(sfu_sdp_proto p)
{
    static const char *n[] = {"",         "UDP/TLS/RTP/SAVPF", "TCP/TLS/RTP/SAVPF", "RTP/SAVPF",
                              "RTP/AVPF", "RTP/AVP",           "UDP/DTLS/SCTP",     "TCP/DTLS/SCTP",
                              "DTLS/SCTP"};
    return (unsigned)p <= SFU_SDP_PROTO_DTLS_SCTP ? n[p] : "";
}

const char *sfu_sdp_direction_name(sfu_sdp_direction d)
{
    static const char *n[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
    return (unsigned)d <= SFU_SDP_DIR_INACTIVE ? n[d] : "inactive";
}

const char *sfu_sdp_setup_name(sfu_sdp_setup s)
{
    static const char *n[] = {"", "actpass", "active", "passive", "holdconn"};
    return (unsigned)s <= SFU_SDP_SETUP_HOLDCONN ? n[s] : "";
}

const char *sfu_sdp_cand_type_name(sfu_sdp_cand_type t)
{
    static const char *n[] = {"host", "srflx", "prflx", "relay"};
    return (unsigned)t <= SFU_SDP_CAND_RELAY ? n[t] : "host";
}

int sfu_sdp_proto_is_rtp(sfu_sdp_proto p)
{
    return p >= SFU_SDP_PROTO_UDP_TLS_RTP_SAVPF && p <= SFU_SDP_PROTO_RTP_AVP;
}
