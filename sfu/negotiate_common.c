/*
 * What the SFU supports, as tables (rtcp-fb types, header extensions with
 * the media kinds they apply to), and the m-line writers shared by answers
 * and offers: codec + RTX + feedback, extmaps, our track's msid/ssrc lines,
 * rejected m-lines, and the transport/BUNDLE/SCTP finishing pass.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>

#include "sfu/negotiate_internal.h"

static const struct fb_def {
    const char *type, *param;
    size_t flag; /* offset of the uint8_t flag in sfu_neg_media */
    int video_only;
} fb_table[] = {
    {"goog-remb", "", offsetof(sfu_neg_media, fb_remb), 1},
    {"transport-cc", "", offsetof(sfu_neg_media, fb_twcc), 0},
    {"ccm", "fir", offsetof(sfu_neg_media, fb_ccm_fir), 1},
    {"nack", "", offsetof(sfu_neg_media, fb_nack), 1},
    {"nack", "pli", offsetof(sfu_neg_media, fb_nack_pli), 1},
};

enum { K_AUDIO = 1, K_VIDEO = 2 };

static const struct ext_def {
    const char *uri;
    int kinds;
    uint8_t our_id;
    int recv_only; /* rid/rrid: only useful when we receive simulcast */
    size_t field;  /* offset of the uint8_t id in sfu_neg_media */
} ext_table[] = {
    {SFU_EXT_AUDIO_LEVEL, K_AUDIO, SFU_NEG_EXTID_AUDIO_LEVEL, 0,
     offsetof(sfu_neg_media, ext_audio_level)},
    {SFU_EXT_ABS_SEND_TIME, K_AUDIO | K_VIDEO, SFU_NEG_EXTID_ABS_SEND_TIME, 0,
     offsetof(sfu_neg_media, ext_abs_send_time)},
    {SFU_EXT_TWCC, K_AUDIO | K_VIDEO, SFU_NEG_EXTID_TWCC, 0, offsetof(sfu_neg_media, ext_twcc)},
    {SFU_EXT_MID, K_AUDIO | K_VIDEO, SFU_NEG_EXTID_MID, 0, offsetof(sfu_neg_media, ext_mid)},
    {SFU_EXT_RID, K_VIDEO, SFU_NEG_EXTID_RID, 1, offsetof(sfu_neg_media, ext_rid)},
    {SFU_EXT_RRID, K_VIDEO, SFU_NEG_EXTID_RRID, 1, offsetof(sfu_neg_media, ext_rrid)},
};

#define N_OF(t) (sizeof(t) / sizeof((t)[0]))

static void set_u8(sfu_neg_media *r, size_t off, uint8_t v)
{
    if (r)
        memcpy((char *)r + off, &v, 1);
}

static int ice_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n >= SFU_SDP_ICE_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
            return 0;
    return 1;
}

int sfu__neg_check_local(const sfu_neg_local *l, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!ice_ok(l->ice_ufrag))
        why = "local ice_ufrag must be 4..256 ice-chars";
    else if (!ice_ok(l->ice_pwd) || strlen(l->ice_pwd) < 22)
        why = "local ice_pwd must be 22..256 ice-chars";
    else if (strlen(l->fingerprint) != 95)
        why = "local fingerprint must be a SHA-256 fingerprint (32 hex pairs)";
    for (int i = 0; !why && i < 95; i++)
        if (i % 3 == 2 ? l->fingerprint[i] != ':' : !isxdigit((unsigned char)l->fingerprint[i]))
            why = "local fingerprint must be hex pairs separated by ':'";
    if (!why && (!l->cname[0] || strpbrk(l->cname, " \r\n")))
        why = "local cname must be a non-empty token";
    if (!why && l->candidate_count > SFU_NEG_MAX_LOCAL_CANDIDATES)
        why = "too many local candidates";
    if (why) {
        if (err && errlen)
            snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

void sfu__neg_session(sfu_sdp *s, const sfu_neg_local *l, int extmap_allow_mixed)
{
    sfu_sdp_init(s, l->session_id, l->session_version);
    s->has_msid_semantic = 1;
    strcpy(s->msid_semantic, "WMS *");
    s->extmap_allow_mixed = (uint8_t)(extmap_allow_mixed != 0);
}

int sfu__neg_add_codec(sfu_sdp_media *m, const sfu_sdp_codec *c, int rtx_pt,
                       const sfu_sdp_media *om, sfu_neg_media *r)
{
    if (sfu_sdp_media_add_codec(m, c->pt, c->name, c->clock_rate, c->channels, c->fmtp) != 0)
        return -1;
    for (size_t i = 0; i < N_OF(fb_table); i++) {
        const struct fb_def *f = &fb_table[i];
        if (f->video_only && m->kind != SFU_SDP_KIND_VIDEO)
            continue;
        if (om && !sfu_sdp_has_fb(om, c->pt, f->type, f->param))
            continue;
        if (sfu_sdp_media_add_fb(m, c->pt, f->type, f->param) != 0)
            return -1;
        set_u8(r, f->flag, 1);
    }
    if (rtx_pt >= 0) {
        char apt[16];
        snprintf(apt, sizeof apt, "apt=%u", (unsigned)c->pt);
        if (sfu_sdp_media_add_codec(m, (uint8_t)rtx_pt, "rtx", c->clock_rate, 0, apt) != 0)
            return -1;
    }
    if (r) {
        r->codec = *c;
        r->rtx_pt = (int16_t)rtx_pt;
    }
    return 0;
}

static int kind_bit(sfu_sdp_kind k)
{
    return k == SFU_SDP_KIND_AUDIO ? K_AUDIO : k == SFU_SDP_KIND_VIDEO ? K_VIDEO : 0;
}

int sfu__neg_add_extmaps(sfu_sdp_media *m, const sfu_sdp_media *om, sfu_neg_media *r)
{
    /* Keep the offer's order so the answer reads like the offer. */
    for (int i = 0; i < om->extmap_count; i++) {
        const sfu_sdp_extmap *e = &om->extmaps[i];
        for (size_t j = 0; j < N_OF(ext_table); j++) {
            const struct ext_def *d = &ext_table[j];
            if (!(d->kinds & kind_bit(m->kind)) || strcmp(e->uri, d->uri) != 0)
                continue;
            if (e->dir == SFU_SDP_EXT_DIR_INACTIVE)
                continue;
            if (sfu_sdp_media_add_extmap(m, e->id, e->uri) != 0)
                return -1;
            /* ids above 255 cannot occur; ids above 14 need two-byte headers */
            set_u8(r, d->field, (uint8_t)e->id);
        }
    }
    return 0;
}

int sfu__neg_add_our_extmaps(sfu_sdp_media *m, int with_rid, sfu_neg_media *r)
{
    for (size_t j = 0; j < N_OF(ext_table); j++) {
        const struct ext_def *d = &ext_table[j];
        if (!(d->kinds & kind_bit(m->kind)) || (d->recv_only && !with_rid))
            continue;
        if (sfu_sdp_media_add_extmap(m, d->our_id, d->uri) != 0)
            return -1;
        set_u8(r, d->field, d->our_id);
    }
    return 0;
}

int sfu__neg_add_track(sfu_sdp_media *m, const sfu_neg_track *t, const char *cname, int with_rtx,
                       sfu_neg_media *r)
{
    const char *stream = t->stream_id[0] ? t->stream_id : "-";
    if (strpbrk(stream, " \r\n") || strpbrk(t->track_id, " \r\n"))
        return -1;
    m->has_msid = 1;
    snprintf(m->msid_stream, sizeof m->msid_stream, "%s", stream);
    snprintf(m->msid_track, sizeof m->msid_track, "%s", t->track_id);
    if (t->ssrc == 0)
        return 0;
    char msid[SFU_SDP_ID_LEN];
    if (t->track_id[0]) {
        if ((size_t)snprintf(msid, sizeof msid, "%s %s", stream, t->track_id) >= sizeof msid)
            return -1;
    } else {
        snprintf(msid, sizeof msid, "%s", stream);
    }
    uint32_t ssrcs[2] = {t->ssrc, t->rtx_ssrc};
    int n = with_rtx && t->rtx_ssrc ? 2 : 1;
    if (n == 2 && sfu_sdp_media_add_ssrc_group(m, "FID", ssrcs, 2) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (sfu_sdp_media_add_ssrc(m, ssrcs[i], "cname", cname) != 0 ||
            sfu_sdp_media_add_ssrc(m, ssrcs[i], "msid", msid) != 0)
            return -1;
    if (r) {
        r->local_ssrc = t->ssrc;
        r->local_rtx_ssrc = n == 2 ? t->rtx_ssrc : 0;
    }
    return 0;
}

void sfu__neg_rejected_media(sfu_sdp *s, sfu_sdp_media *am, const sfu_sdp_media *om)
{
    char mid[SFU_SDP_MID_LEN];
    memcpy(mid, am->mid, sizeof mid);
    memset(am, 0, sizeof *am);
    memcpy(am->mid, mid, sizeof mid);
    am->kind = om->kind;
    am->proto = om->proto;
    memcpy(am->kind_raw, om->kind_raw, sizeof am->kind_raw);
    memcpy(am->proto_raw, om->proto_raw, sizeof am->proto_raw);
    strcpy(am->conn_addr, "0.0.0.0");
    am->port = 0;
    am->direction = SFU_SDP_DIR_INACTIVE;
    if (sfu_sdp_proto_is_rtp(om->proto)) {
        am->rtcp_mux = 1;
        const sfu_sdp_codec *c = sfu_sdp_codec_find(om, om->pts[0]);
        if (c && c->name[0] && c->clock_rate)
            sfu_sdp_media_add_codec(am, c->pt, c->name, c->clock_rate, c->channels, NULL);
        if (am->pt_count == 0) {
            am->pts[0] = om->pts[0];
            am->pt_count = 1;
        }
    } else {
        memcpy(am->fmt_raw, om->fmt_raw, sizeof am->fmt_raw);
    }
    (void)s;
}

int sfu__neg_finish(sfu_sdp *s, const sfu_neg_local *l, const sfu_neg_result *res,
                    sfu_sdp_setup setup, char *err, size_t errlen)
{
    sfu_sdp_group *g = &s->groups[0];
    memset(g, 0, sizeof *g);
    strcpy(g->semantics, "BUNDLE");
    s->group_count = 1;
    int first = -1;
    for (int i = 0; i < s->media_count && i < SFU_SDP_MAX_MEDIA; i++) {
        sfu_sdp_media *m = &s->media[i];
        const sfu_neg_media *r = &res->media[i];
        snprintf(m->ice_ufrag, sizeof m->ice_ufrag, "%s", l->ice_ufrag);
        snprintf(m->ice_pwd, sizeof m->ice_pwd, "%s", l->ice_pwd);
        snprintf(m->ice_options, sizeof m->ice_options, "trickle");
        m->ice_trickle = 1;
        snprintf(m->fingerprint.hash, sizeof m->fingerprint.hash, "sha-256");
        snprintf(m->fingerprint.value, sizeof m->fingerprint.value, "%s", l->fingerprint);
        for (char *p = m->fingerprint.value; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        m->setup = setup;
        if (!r->accepted)
            continue;
        if (first < 0)
            first = i;
        if (g->count >= SFU_SDP_MAX_GROUP_MIDS) {
            if (err && errlen)
                snprintf(err, errlen, "more than %d bundled m-lines", SFU_SDP_MAX_GROUP_MIDS);
            return -1;
        }
        memcpy(g->mids[g->count++], m->mid, SFU_SDP_MID_LEN);
        if (m->kind == SFU_SDP_KIND_APPLICATION) {
            strcpy(m->fmt_raw, "webrtc-datachannel");
            m->sctp_port = l->sctp_port ? l->sctp_port : 5000;
            m->max_message_size = l->max_message_size;
        }
    }
    if (first >= 0) {
        for (int i = 0; i < l->candidate_count; i++)
            if (sfu_sdp_add_candidate(s, first, &l->candidates[i]) != 0) {
                if (err && errlen)
                    snprintf(err, errlen, "local candidate %d cannot be written", i);
                return -1;
            }
        s->media[first].end_of_candidates = l->end_of_candidates;
    }
    return 0;
}

void sfu_neg_local_init(sfu_neg_local *l)
{
    memset(l, 0, sizeof *l);
    l->setup = SFU_SDP_SETUP_PASSIVE;
    strcpy(l->cname, "mentorlink");
    l->session_version = 1;
    l->sctp_port = 5000;
    l->max_message_size = 262144;
    for (int i = 0; i < SFU_SDP_MAX_MEDIA; i++)
        l->action[i] = SFU_NEG_RECV;
}
