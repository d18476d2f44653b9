/*
 * Parsers for the structured SDP attributes of one m-line: rtpmap, fmtp,
 * rtcp-fb, extmap, ssrc, ssrc-group, rid, simulcast, plus fingerprint and
 * the ICE credential strings, and the small slice helpers they share.
 * sdp_parse.c splits lines and dispatches here; each parser reads the
 * attribute value through a bounded cursor, checks every number and length
 * against the model's limits and reports a short reason on failure.
 */
#include <ctype.h>
#include <strings.h>

#include "sfu/sdp_internal.h"

int sfu__slice_ieq(sfu__slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

int sfu__ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

int sfu__slice_copy(sfu__slice s, char *dst, size_t cap)
{
    if (cap == 0 || s.n >= cap)
        return -1;
    memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
    return 0;
}

int sfu__slice_u64(sfu__slice s, uint64_t max, uint64_t *out)
{
    if (s.n == 0 || s.n > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

int sfu__slice_u32(sfu__slice s, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (sfu__slice_u64(s, max, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int sfu__slice_visible(sfu__slice s)
{
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] <= 0x20 || (unsigned char)s.p[i] >= 0x7f)
            return 0;
    return 1;
}

/* Printable ASCII including spaces (for values kept verbatim). */
static int slice_text(sfu__slice s)
{
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] < 0x20 || (unsigned char)s.p[i] >= 0x7f)
            if (s.p[i] != '\t')
                return 0;
    return 1;
}

/* Slice up to (not including) the first `sep` or the end; advances past sep. */
static sfu__slice split(sfu__slice *s, char sep)
{
    sfu__slice head = {s->p, 0};
    while (head.n < s->n && s->p[head.n] != sep)
        head.n++;
    if (head.n < s->n) {
        s->p += head.n + 1;
        s->n -= head.n + 1;
    } else {
        s->p += head.n;
        s->n = 0;
    }
    return head;
}

static int parse_pt(sfu__slice s, uint8_t *pt)
{
    uint32_t v;
    if (sfu__slice_u32(s, 127, &v) != 0)
        return -1;
    *pt = (uint8_t)v;
    return 0;
}

/* Find the codec for pt, or add an empty one (a=fmtp may precede rtpmap). */
static sfu_sdp_codec *codec_get(sfu_sdp_media *m, uint8_t pt, const char **why)
{
    for (int i = 0; i < m->codec_count; i++)
        if (m->codecs[i].pt == pt)
            return &m->codecs[i];
    if (m->codec_count >= SFU_SDP_MAX_CODECS) {
        *why = "too many payload types";
        return NULL;
    }
    sfu_sdp_codec *c = &m->codecs[m->codec_count++];
    memset(c, 0, sizeof *c);
    c->pt = pt;
    return c;
}

/* a=rtpmap:<pt> <name>/<clock>[/<channels>] */
int sfu__attr_rtpmap(sfu_sdp_media *m, sfu__cur *v, const char **why)
{
    uint8_t pt;
    uint32_t clock, ch = 0;
    if (parse_pt(sfu__cur_token(v), &pt) != 0) {
        *why = "payload type must be 0..127";
        return -1;
    }
    sfu__slice enc = sfu__cur_word(v);
    sfu__cur_skip_sp(v);
    if (!sfu__cur_eof(v) || enc.n == 0 || !sfu__slice_visible(enc)) {
        *why = "expected <pt> <name>/<clock>[/<channels>]";
        return -1;
    }
    sfu__slice name = split(&enc, '/');
    sfu__slice rate = split(&enc, '/');
    if (name.n == 0 || sfu__slice_u32(rate, UINT32_MAX, &clock) != 0 || clock == 0) {
        *why = "expected <name>/<clock rate>";
        return -1;
    }
    if (enc.n > 0 && (sfu__slice_u32(enc, 255, &ch) != 0 || ch == 0)) {
        *why = "channels must be 1..255";
        return -1;
    }
    sfu_sdp_codec *c = codec_get(m, pt, why);
    if (!c)
        return -1;
    if (c->name[0]) {
        *why = "duplicate rtpmap for payload type";
        return -1;
    }
    if (sfu__slice_copy(name, c->name, sizeof c->name) != 0) {
        *why = "codec name too long";
        return -1;
    }
    c->clock_rate = clock;
    c->channels = (uint8_t)ch;
    return 0;
}

/* a=fmtp:<pt> <parameters> */
int sfu__attr_fmtp(sfu_sdp_media *m, sfu__cur *v, const char **why)
{
    uint8_t pt;
    if (!sfu_sdp_proto_is_rtp(m->proto))
        return 0; /* old "a=fmtp:webrtc-datachannel ..." and friends */
    if (parse_pt(sfu__cur_token(v), &pt) != 0) {
        *why = "payload type must be 0..127";
        return -1;
    }
    sfu__slice params = sfu__cur_rest(v);
    if (params.n == 0)
        return 0; /* "a=fmtp:96 " carries nothing */
    if (!slice_text(params)) {
        *why = "control character in parameters";
        return -1;
    }
    sfu_sdp_codec *c = codec_get(m, pt, why);
    if (!c)
        return -1;
    if (sfu__slice_copy(params, c->fmtp, sizeof c->fmtp) != 0) {
        *why = "parameters too long";
        return -1;
    }
    return 0;
}

/* a=rtcp-fb:<pt|*> <type> [<param>] */
int sfu__attr_rtcp_fb(sfu_sdp_media *m, sfu__cur *v, const char **why)
{
    sfu__slice pts = sfu__cur_token(v);
    int16_t pt = -1;
    if (!sfu__slice_eq(pts, "*")) {
        uint8_t p;
        if (parse_pt(pts, &p) != 0) {
            *why = "payload type must be 0..127 or *";
            return -1;
        }
        pt = p;
    }
    sfu__slice type = sfu__cur_word(v);
    sfu__slice param = sfu__cur_rest(v);
    if (type.n == 0 || !sfu__slice_visible(type) || !slice_text(param)) {
        *why = "expected <pt> <type> [<parameter>]";
        return -1;
    }
    if (m->fb_count >= SFU_SDP_MAX_RTCP_FB) {
        *why = "too many rtcp-fb lines";
        return -1;
    }
    sfu_sdp_rtcp_fb *fb = &m->fbs[m->fb_count];
    fb->pt = pt;
    if (sfu__slice_copy(type, fb->type, sizeof fb->type) != 0 ||
        sfu__slice_copy(param, fb->param, sizeof fb->param) != 0) {
        *why = "feedback type or parameter too long";
        return -1;
    }
    m->fb_count++;
    return 0;
}

/* a=extmap:<id>[/<direction>] <uri> [<attributes>] */
int sfu__attr_extmap(sfu_sdp_media *m, sfu__cur *v, const char **why)
{
    sfu__slice idd = sfu__cur_token(v);
    sfu__slice id = split(&idd, '/');
    uint32_t n;
    if (sfu__slice_u32(id, 255, &n) != 0 || n == 0) {
        *why = "id must be 1..255";
        return -1;
    }
    sfu_sdp_ext_dir dir = SFU_SDP_EXT_DIR_NONE;
    if (id.p + id.n < idd.p) { /* a '/' was present */
        static const char *names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
        int found = 0;
        for (int i = 0; i < 4; i++)
            if (sfu__slice_eq(idd, names[i])) {
                dir = (sfu_sdp_ext_dir)(SFU_SDP_EXT_DIR_SENDRECV + i);
                found = 1;
            }
        if (!found) {
            *why = "unknown direction";
            return -1;
        }
    }
    sfu__slice uri = sfu__cur_word(v);
    sfu__slice attrs = sfu__cur_rest(v);
    if (uri.n == 0 || !sfu__slice_visible(uri) || !slice_text(attrs)) {
        *why = "expected <id> <uri>";
        return -1;
    }
    for (int i = 0; i < m->extmap_count; i++)
        if (m->extmaps[i].id == n) {
            *why = "duplicate id";
            return -1;
        }
    if (m->extmap_count >= SFU_SDP_MAX_EXTMAPS) {
        *why = "too many extmap lines";
        return -1;
    }
    sfu_sdp_extmap *e = &m->extmaps[m->extmap_count];
    e->id = (uint16_t)n;
    e->dir = dir;
    if (sfu__slice_copy(uri, e->uri, sizeof e->uri) != 0 ||
        sfu__slice_copy(attrs, e->attrs, sizeof e->attrs) != 0) {
        *why = "uri or attributes too long";
        return -1;
    }
    m->extmap_count++;
    return 0;
}

/* a=ssrc:<ssrc> <attribute>[:<value>] */
int sfu__attr_ssrc(sfu_sdp_media *m, sfu__cur *v, const char **why)
{
    uint32_t ssrc;
    if (sfu__slice_u32(sfu__cur_token(v), UINT32_MAX, &ssrc) != 0) {
        *why = "ssrc must be a 32-bit number";
        return -1;
    }
    sfu__cur_skip_sp(v);
    sfu__slice rest = sfu__cur_rest(v);
    sfu__slice attr = split(&rest, ':');
    if (attr.n == 0 || !sfu__slice_visible(attr) || !slice_text(rest)) {
        *why = "expected <ssrc> <attribute>[:<value>]";
        return -1;
    }
    if (m->ssrc_count >= SFU_SDP_MAX_SSRCS) {
        *why = "too many ssrc lines";
        return -1;
    }
    sfu_sdp_ssrc *s = &m->ssrcs[m->ssrc_count];
    s->ssrc = ssrc;
    if (sfu__slice_copy(attr, s->attr, sizeof s->attr) != 0 ||
        sfu__slice_copy(rest, s->value, sizeof s->value) != 0) {
        *why = "attribute or value too long";
        return -1;
    }
    m->ssrc_count++;
    return 0;
}

/* a=ssrc-group:<semantics> <ssrc> ... */
int sfu__attr_ssrc_group(sfu_sdp_media *m, sfu__cur *v, const char **why)
{
    sfu__slice sem = sfu__cur_token(v);
    if (m->ssrc_group_count >= SFU_SDP_MAX_SSRC_GROUPS) {
        *why = "too many ssrc-group lines";
        return -1;
    }
    sfu_sdp_ssrc_group *g = &m->ssrc_groups[m->ssrc_group_count];
    memset(g, 0, sizeof *g);
    if (sem.n == 0 || !sfu__slice_visible(sem) ||
        sfu__slice_copy(sem, g->semantics, sizeof g->semantics) != 0) {
        *why = "bad semantics";
        return -1;
    }
    for (;;) {
        sfu__slice t = sfu__cur_word(v);
        if (t.n == 0)
            break;
        if (g->count >= SFU_SDP_MAX_GROUP_SSRCS) {
            *why = "too many ssrcs in group";
            return -1;
        }
        if (sfu__slice_u32(t, UINT32_MAX, &g->ssrcs[g->count]) != 0) {
            *why = "ssrc must be a 32-bit number";
            return -1;
        }
        g->count++;
    }
    if (g->count == 0) {
        *why = "group without ssrcs";
        return -1;
    }
    m->ssrc_group_count++;
    return 0;
}

static int rid_id_ok(sfu__slice s)
{
    if (s.n == 0)
        return 0;
    for (size_t i = 0; i < s.n; i++)
        if (!isalnum((unsigned char)s.p[i]) && s.p[i] != '-' && s.p[i] != '_')
            return 0;
    return 1;
}

/* a=rid:<id> <send|recv> [pt=<fmt>,<fmt>;<restriction>=<value>;...] */
int sfu__attr_rid(sfu_sdp_media *m, sfu__cur *v, const char **why)
{
    sfu__slice id = sfu__cur_token(v);
    sfu__slice dir = sfu__cur_word(v);
    sfu__slice params = sfu__cur_rest(v);
    if (!rid_id_ok(id)) {
        *why = "bad rid id";
        return -1;
    }
    if (m->rid_count >= SFU_SDP_MAX_RIDS) {
        *why = "too many rid lines";
        return -1;
    }
    sfu_sdp_rid *r = &m->rids[m->rid_count];
    memset(r, 0, sizeof *r);
    if (sfu__slice_eq(dir, "send")) {
        r->dir = SFU_SDP_RID_SEND;
    } else if (sfu__slice_eq(dir, "recv")) {
        r->dir = SFU_SDP_RID_RECV;
    } else {
        *why = "direction must be send or recv";
        return -1;
    }
    if (sfu__slice_copy(id, r->id, sizeof r->id) != 0 || !sfu__slice_visible(params) ||
        sfu__slice_copy(params, r->params, sizeof r->params) != 0) {
        *why = "id or restrictions too long";
        return -1;
    }
    for (int i = 0; i < m->rid_count; i++)
        if (strcmp(m->rids[i].id, r->id) == 0) {
            *why = "duplicate rid";
            return -1;
        }
    sfu__slice rest = params;
    while (rest.n > 0) {
        sfu__slice kv = split(&rest, ';');
        sfu__slice key = split(&kv, '=');
        if (key.n == 0) {
            *why = "empty restriction";
            return -1;
        }
        if (!sfu__slice_eq(key, "pt"))
            continue;
        while (kv.n > 0) {
            sfu__slice f = split(&kv, ',');
            if (r->pt_count >= SFU_SDP_MAX_RID_PTS) {
                *why = "too many pt values";
                return -1;
            }
            if (parse_pt(f, &r->pts[r->pt_count]) != 0) {
                *why = "pt value must be 0..127";
                return -1;
            }
            r->pt_count++;
        }
    }
    m->rid_count++;
    return 0;
}

/* One direction's list: alternatives ',' streams ';', '~' = paused. */
static int sim_list(sfu__slice s, sfu_sdp_sim_list *l, const char **why)
{
    if (l->count > 0) {
        *why = "direction given twice";
        return -1;
    }
    if (s.n > 4 && memcmp(s.p, "rid=", 4) == 0) { /* draft-ietf-mmusic-sdp-simulcast-03 */
        s.p += 4;
        s.n -= 4;
    }
    if (s.n == 0) {
        *why = "empty stream list";
        return -1;
    }
    while (s.n > 0 || l->count == 0) {
        sfu__slice stream = split(&s, ';');
        if (l->count >= SFU_SDP_MAX_RIDS) {
            *why = "too many simulcast streams";
            return -1;
        }
        sfu_sdp_sim_stream *st = &l->streams[l->count++];
        memset(st, 0, sizeof *st);
        do {
            sfu__slice alt = split(&stream, ',');
            if (st->alt_count >= SFU_SDP_MAX_SIM_ALTS) {
                *why = "too many simulcast alternatives";
                return -1;
            }
            sfu_sdp_sim_alt *a = &st->alts[st->alt_count++];
            a->paused = 0;
            if (alt.n > 0 && alt.p[0] == '~') {
                a->paused = 1;
                alt.p++;
                alt.n--;
            }
            if (!rid_id_ok(alt) || sfu__slice_copy(alt, a->rid, sizeof a->rid) != 0) {
                *why = "bad rid in simulcast list";
                return -1;
            }
        } while (stream.n > 0);
    }
    return 0;
}

/* a=simulcast:<send|recv> <list> [<send|recv> <list>] */
int sfu__attr_simulcast(sfu_sdp_media *m, sfu__cur *v, const char **why)
{
    sfu_sdp_simulcast *sc = &m->simulcast;
    if (sc->present) {
        *why = "duplicate simulcast attribute";
        return -1;
    }
    memset(sc, 0, sizeof *sc);
    int n = 0;
    for (;;) {
        sfu__slice dir = sfu__cur_word(v);
        if (dir.n == 0)
            break;
        sfu__slice list = sfu__cur_word(v);
        sfu_sdp_sim_list *l;
        if (sfu__slice_eq(dir, "send")) {
            l = &sc->send;
        } else if (sfu__slice_eq(dir, "recv")) {
            l = &sc->recv;
        } else {
            *why = "direction must be send or recv";
            return -1;
        }
        if (sim_list(list, l, why) != 0)
            return -1;
        n++;
    }
    if (n == 0) {
        *why = "expected send or recv list";
        return -1;
    }
    sc->present = 1;
    return 0;
}

static int hash_len(const char *h)
{
    static const struct {
        const char *name;
        int len;
    } t[] = {{"sha-1", 20},   {"sha-224", 28}, {"sha-256", 32}, {"sha-384", 48},
             {"sha-512", 64}, {"md5", 16},     {"md2", 16}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(h, t[i].name) == 0)
            return t[i].len;
    return -1;
}

/* a=fingerprint:<hash> <XX:XX:...>. With several lines, keep sha-256. */
int sfu__attr_fingerprint(sfu_sdp_fingerprint *fp, sfu__cur *v, const char **why)
{
    sfu_sdp_fingerprint f;
    memset(&f, 0, sizeof f);
    sfu__slice hash = sfu__cur_token(v);
    sfu__slice val = sfu__cur_word(v);
    sfu__cur_skip_sp(v);
    if (hash.n == 0 || hash.n >= sizeof f.hash || !sfu__cur_eof(v)) {
        *why = "expected <hash function> <fingerprint>";
        return -1;
    }
    for (size_t i = 0; i < hash.n; i++)
        f.hash[i] = (char)tolower((unsigned char)hash.p[i]);
    int want = hash_len(f.hash);
    if (want < 0) {
        *why = "unknown hash function";
        return -1;
    }
    if (val.n != (size_t)want * 3 - 1 || val.n >= sizeof f.value) {
        *why = "fingerprint length does not match hash function";
        return -1;
    }
    for (size_t i = 0; i < val.n; i++) {
        char ch = val.p[i];
        if (i % 3 == 2) {
            if (ch != ':') {
                *why = "fingerprint must be hex pairs separated by ':'";
                return -1;
            }
        } else if (!isxdigit((unsigned char)ch)) {
            *why = "fingerprint must be hex pairs separated by ':'";
            return -1;
        }
        f.value[i] = (char)toupper((unsigned char)ch);
    }
    if (fp->hash[0] == '\0' || (strcmp(fp->hash, "sha-256") != 0 && strcmp(f.hash, "sha-256") == 0))
        *fp = f;
    return 0;
}

/* ice-ufrag / ice-pwd: 1..256 ice-chars (ALPHA / DIGIT / "+" / "/"). */
int sfu__attr_ice_str(char *dst, sfu__cur *v, const char **why)
{
    sfu__slice s = sfu__cur_rest(v);
    if (s.n == 0 || s.n >= SFU_SDP_ICE_LEN) {
        *why = "must be 1..256 characters";
        return -1;
    }
    for (size_t i = 0; i < s.n; i++)
        if (!isalnum((unsigned char)s.p[i]) && s.p[i] != '+' && s.p[i] != '/') {
            *why = "invalid character";
            return -1;
        }
    return sfu__slice_copy(s, dst, SFU_SDP_ICE_LEN);
}
