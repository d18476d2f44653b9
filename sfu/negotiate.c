/*
 * Answering a browser's offer as the SFU. Walks the offer's m-lines, decides
 * for each whether we can take it (kind, protocol, BUNDLE, rtcp-mux, a
 * common codec, local policy), and writes the answer m-line next to a
 * summary (sfu_neg_media) the transport uses to set up demultiplexing:
 * payload types, RTX, header extension ids, the remote's SSRCs and rids.
 * Offers we author live in negotiate_offer.c; the shared tables and
 * m-line writers in negotiate_common.c.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sfu/negotiate.h"
#include "sfu/negotiate_internal.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void reject(sfu_neg_media *r, const char *why)
{
    r->accepted = 0;
    snprintf(r->reason, sizeof r->reason, "%s", why);
}

static int in_group(const sfu_sdp_group *g, const char *mid)
{
    for (int i = 0; g && i < g->count; i++)
        if (strcmp(g->mids[i], mid) == 0)
            return 1;
    return 0;
}

/* H264 with packetization-mode=1; prefer 42e01f, then the baseline family. */
static const sfu_sdp_codec *choose_h264(const sfu_sdp_media *om)
{
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < om->pt_count; i++) {
            const sfu_sdp_codec *c = sfu_sdp_codec_find(om, om->pts[i]);
            char plid[16];
            uint32_t pm;
            if (!c || strcasecmp(c->name, "H264") != 0 || c->clock_rate != 90000)
                continue;
            if (sfu_sdp_param_u32(c->fmtp, "packetization-mode", &pm) != 0 || pm != 1)
                continue;
            if (sfu_sdp_param_get(c->fmtp, "profile-level-id", plid, sizeof plid) != 6)
                plid[0] = '\0';
            if (pass == 0 && strcasecmp(plid, "42e01f") == 0)
                return c;
            if (pass == 1 &&
                (strncasecmp(plid, "42e0", 4) == 0 || strncasecmp(plid, "4200", 4) == 0))
                return c;
            if (pass == 2)
                return c;
        }
    return NULL;
}

/* VP9 profile 0 (profile-id absent or 0). */
static const sfu_sdp_codec *choose_vp9(const sfu_sdp_media *om)
{
    for (int i = 0; i < om->pt_count; i++) {
        const sfu_sdp_codec *c = sfu_sdp_codec_find(om, om->pts[i]);
        uint32_t prof = 0;
        if (!c || strcasecmp(c->name, "VP9") != 0 || c->clock_rate != 90000)
            continue;
        if (sfu_sdp_param_get(c->fmtp, "profile-id", NULL, 0) != -1 &&
            (sfu_sdp_param_u32(c->fmtp, "profile-id", &prof) != 0 || prof != 0))
            continue;
        return c;
    }
    return NULL;
}

const sfu_sdp_codec *sfu__neg_choose_codec(const sfu_sdp_media *om, const sfu_neg_local *l)
{
    if (om->kind == SFU_SDP_KIND_AUDIO) {
        const sfu_sdp_codec *c = sfu_sdp_codec_find_name(om, "opus", 48000);
        return c && c->channels == 2 ? c : NULL;
    }
    if (om->kind != SFU_SDP_KIND_VIDEO)
        return NULL;
    const sfu_sdp_codec *c = sfu_sdp_codec_find_name(om, "VP8", 90000);
    if (!c && l->enable_h264)
        c = choose_h264(om);
    if (!c && l->enable_vp9)
        c = choose_vp9(om);
    return c;
}

/* Remote SSRCs: SIM order if present, RTX from FID, then lone ssrcs. */
static void remote_streams(const sfu_sdp_media *om, sfu_neg_media *r)
{
    const sfu_sdp_ssrc_group *sim = NULL;
    for (int i = 0; i < om->ssrc_group_count; i++)
        if (strcmp(om->ssrc_groups[i].semantics, "SIM") == 0)
            sim = &om->ssrc_groups[i];
    uint32_t order[SFU_SDP_MAX_SSRCS];
    int n = 0;
    if (sim)
        for (int i = 0; i < sim->count; i++)
            order[n++] = sim->ssrcs[i];
    for (int i = 0; i < om->ssrc_group_count; i++) {
        const sfu_sdp_ssrc_group *g = &om->ssrc_groups[i];
        if (strcmp(g->semantics, "FID") == 0 && g->count == 2 && !sim && n < SFU_SDP_MAX_SSRCS)
            order[n++] = g->ssrcs[0];
    }
    for (int i = 0; i < om->ssrc_count && n < SFU_SDP_MAX_SSRCS; i++) {
        uint32_t s = om->ssrcs[i].ssrc;
        int known = 0;
        for (int j = 0; j < n; j++)
            known |= order[j] == s;
        for (int g = 0; g < om->ssrc_group_count; g++)
            if (strcmp(om->ssrc_groups[g].semantics, "FID") == 0 && om->ssrc_groups[g].count == 2 &&
                om->ssrc_groups[g].ssrcs[1] == s)
                known = 1;
        if (!known)
            order[n++] = s;
    }
    for (int i = 0; i < n && r->remote_ssrc_count < SFU_SDP_MAX_RIDS; i++) {
        uint32_t rtx = 0;
        for (int g = 0; g < om->ssrc_group_count; g++) {
            const sfu_sdp_ssrc_group *fg = &om->ssrc_groups[g];
            if (strcmp(fg->semantics, "FID") == 0 && fg->count == 2 && fg->ssrcs[0] == order[i])
                rtx = fg->ssrcs[1];
        }
        r->remote_ssrcs[r->remote_ssrc_count] = order[i];
        r->remote_rtx_ssrcs[r->remote_ssrc_count] = rtx;
        r->remote_ssrc_count++;
    }
    for (int i = 0; i < om->ssrc_count; i++)
        if (strcmp(om->ssrcs[i].attr, "cname") == 0 && !r->remote_cname[0])
            snprintf(r->remote_cname, sizeof r->remote_cname, "%s", om->ssrcs[i].value);
    if (om->has_msid) {
        snprintf(r->remote_msid_stream, sizeof r->remote_msid_stream, "%s", om->msid_stream);
        snprintf(r->remote_msid_track, sizeof r->remote_msid_track, "%s", om->msid_track);
    }
}

/* The remote's rids: a=simulcast send order, else its send rids. */
static void remote_rids(const sfu_sdp_media *om, sfu_neg_media *r)
{
    if (om->simulcast.present && om->simulcast.send.count) {
        for (int i = 0; i < om->simulcast.send.count; i++) {
            const sfu_sdp_sim_alt *a = &om->simulcast.send.streams[i].alts[0];
            memcpy(r->rids[r->rid_count], a->rid, SFU_SDP_RID_LEN);
            r->rid_paused[r->rid_count] = a->paused;
            r->rid_count++;
        }
        return;
    }
    for (int i = 0; i < om->rid_count; i++)
        if (om->rids[i].dir == SFU_SDP_RID_SEND) {
            memcpy(r->rids[r->rid_count], om->rids[i].id, SFU_SDP_RID_LEN);
            r->rid_count++;
        }
}

/* Answer rids/simulcast: "send h;m;l" becomes "recv h;m;l" with recv rids. */
static int answer_simulcast(const sfu_sdp_media *om, sfu_sdp_media *am)
{
    if (!om->simulcast.present || om->simulcast.send.count == 0)
        return 0;
    am->simulcast.present = 1;
    am->simulcast.recv = om->simulcast.send;
    for (int i = 0; i < om->simulcast.send.count; i++) {
        const sfu_sdp_sim_stream *st = &om->simulcast.send.streams[i];
        for (int j = 0; j < st->alt_count; j++) {
            if (am->rid_count >= SFU_SDP_MAX_RIDS)
                return -1;
            sfu_sdp_rid *rid = &am->rids[am->rid_count++];
            memset(rid, 0, sizeof *rid);
            memcpy(rid->id, st->alts[j].rid, sizeof rid->id);
            rid->dir = SFU_SDP_RID_RECV;
        }
    }
    return 0;
}

/* Decide and write one accepted RTP m-line. Returns 0, or 1 when rejected. */
static int answer_rtp(const sfu_sdp_media *om, const sfu_neg_local *l, int idx, sfu_sdp_media *am,
                      sfu_neg_media *r)
{
    const sfu_sdp_codec *c = sfu__neg_choose_codec(om, l);
    if (!c) {
        reject(r, "no common codec");
        return 1;
    }
    sfu_neg_action act = l->action[idx];
    int want_send = act == SFU_NEG_SEND || act == SFU_NEG_SENDRECV;
    int want_recv = act == SFU_NEG_RECV || act == SFU_NEG_SENDRECV;
    int off_send = om->direction == SFU_SDP_DIR_SENDRECV || om->direction == SFU_SDP_DIR_SENDONLY;
    int off_recv = om->direction == SFU_SDP_DIR_SENDRECV || om->direction == SFU_SDP_DIR_RECVONLY;
    int recv = want_recv && off_send, send = want_send && off_recv;
    am->direction = send && recv ? SFU_SDP_DIR_SENDRECV
                    : send       ? SFU_SDP_DIR_SENDONLY
                    : recv       ? SFU_SDP_DIR_RECVONLY
                                 : SFU_SDP_DIR_INACTIVE;
    r->direction = am->direction;
    r->remote_sends = (uint8_t)recv;
    r->remote_receives = (uint8_t)send;
    am->rtcp_mux = 1;
    am->rtcp_rsize = om->rtcp_rsize;
    r->rtcp_rsize = om->rtcp_rsize;

    int rtx = om->kind == SFU_SDP_KIND_VIDEO ? sfu_sdp_rtx_pt(om, c->pt) : -1;
    if (sfu__neg_add_codec(am, c, rtx, om, r) != 0 || sfu__neg_add_extmaps(am, om, r) != 0)
        return -1;
    if (send && sfu__neg_add_track(am, &l->track[idx], l->cname, rtx >= 0, r) != 0)
        return -1;
    if (recv) {
        remote_streams(om, r);
        remote_rids(om, r);
        if (answer_simulcast(om, am) != 0)
            return -1;
    }
    return 0;
}

static int check_transport(const sfu_sdp_media *om, int idx, char *err, size_t errlen)
{
    if (!om->ice_ufrag[0] || !om->ice_pwd[0])
        return fail(err, errlen, "offer m-line %d (mid %s): missing a=ice-ufrag/a=ice-pwd", idx,
                    om->mid);
    if (!om->fingerprint.hash[0])
        return fail(err, errlen, "offer m-line %d (mid %s): missing a=fingerprint", idx, om->mid);
    if (om->setup == SFU_SDP_SETUP_HOLDCONN)
        return fail(err, errlen, "offer m-line %d (mid %s): a=setup:holdconn is not supported", idx,
                    om->mid);
    return 0;
}

/* Why we cannot take this m-line, or NULL. */
static const char *unusable(const sfu_sdp *o, int idx, const sfu_neg_local *l,
                            const sfu_sdp_group *bundle, int accepted_so_far)
{
    const sfu_sdp_media *om = &o->media[idx];
    if (om->port == 0 && !om->bundle_only)
        return "rejected by offerer";
    if (l->action[idx] == SFU_NEG_REJECT)
        return "rejected by local policy";
    if (!om->mid[0])
        return "missing a=mid";
    if (bundle ? !in_group(bundle, om->mid) : accepted_so_far > 0)
        return "not in the BUNDLE group";
    switch (om->kind) {
    case SFU_SDP_KIND_AUDIO:
    case SFU_SDP_KIND_VIDEO:
        if (om->proto != SFU_SDP_PROTO_UDP_TLS_RTP_SAVPF &&
            om->proto != SFU_SDP_PROTO_TCP_TLS_RTP_SAVPF)
            return "unsupported protocol";
        if (!om->rtcp_mux)
            return "rtcp-mux required";
        return NULL;
    case SFU_SDP_KIND_APPLICATION:
        if ((om->proto != SFU_SDP_PROTO_UDP_DTLS_SCTP &&
             om->proto != SFU_SDP_PROTO_TCP_DTLS_SCTP) ||
            strcmp(om->fmt_raw, "webrtc-datachannel") != 0)
            return "unsupported protocol";
        return NULL;
    default:
        return "unsupported media kind";
    }
}

int sfu_negotiate_answer(const sfu_sdp *o, const sfu_neg_local *l, sfu_sdp *a, sfu_neg_result *res,
                         char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!o || !l || !a || !res)
        return fail(err, errlen, "missing argument");
    memset(res, 0, sizeof *res);
    res->bundle_index = -1;
    if (sfu__neg_check_local(l, err, errlen) != 0)
        return -1;
    if (l->setup != SFU_SDP_SETUP_PASSIVE && l->setup != SFU_SDP_SETUP_ACTIVE)
        return fail(err, errlen, "local setup must be active or passive in an answer");
    if (o->media_count == 0 || o->media_count > SFU_SDP_MAX_MEDIA)
        return fail(err, errlen, "offer has no m-lines");
    const sfu_sdp_group *bundle = sfu_sdp_group_find(o, "BUNDLE");

    sfu__neg_session(a, l, o->extmap_allow_mixed);
    res->media_count = o->media_count;
    int accepted = 0;
    for (int i = 0; i < o->media_count; i++) {
        const sfu_sdp_media *om = &o->media[i];
        sfu_neg_media *r = &res->media[i];
        memcpy(r->mid, om->mid, sizeof r->mid);
        r->kind = om->kind;
        r->rtx_pt = -1;
        sfu_sdp_media *am = sfu_sdp_media_add(a, om->kind, om->proto);
        if (!am)
            return fail(err, errlen, "too many m-lines");
        memcpy(am->mid, om->mid, sizeof am->mid);
        const char *why = unusable(o, i, l, bundle, accepted);
        if (!why && check_transport(om, i, err, errlen) != 0)
            return -1;
        int rc = 0;
        if (!why && om->kind == SFU_SDP_KIND_APPLICATION) {
            r->remote_sctp_port = om->sctp_port;
            r->remote_max_message_size = om->max_message_size;
            r->remote_sends = r->remote_receives = 1;
            r->direction = SFU_SDP_DIR_SENDRECV;
        } else if (!why) {
            rc = answer_rtp(om, l, i, am, r);
            if (rc < 0)
                return fail(err, errlen, "m-line %d (mid %s): answer does not fit", i, om->mid);
        }
        if (why)
            reject(r, why);
        if (why || rc > 0) {
            sfu__neg_rejected_media(a, am, om);
            continue;
        }
        r->accepted = 1;
        if (res->bundle_index < 0) {
            res->bundle_index = i;
            sfu_sdp_setup rs = om->setup == SFU_SDP_SETUP_NONE ? SFU_SDP_SETUP_ACTIVE : om->setup;
            res->remote_setup = rs;
            res->local_setup = rs == SFU_SDP_SETUP_PASSIVE  ? SFU_SDP_SETUP_ACTIVE
                               : rs == SFU_SDP_SETUP_ACTIVE ? SFU_SDP_SETUP_PASSIVE
                                                            : l->setup;
            memcpy(res->remote_ice_ufrag, om->ice_ufrag, sizeof res->remote_ice_ufrag);
            memcpy(res->remote_ice_pwd, om->ice_pwd, sizeof res->remote_ice_pwd);
            res->remote_fingerprint = om->fingerprint;
            res->remote_trickle = om->ice_trickle;
            res->remote_ice_lite = o->ice_lite;
        }
        accepted++;
    }
    if (accepted == 0)
        return fail(err, errlen, "no acceptable m-line in offer (m-line 0: %s)",
                    res->media[0].reason);
    if (sfu__neg_finish(a, l, res, res->local_setup, err, errlen) != 0)
        return -1;
    if (!bundle)
        a->group_count = 0; /* RFC 8843: no BUNDLE group in an answer unless offered */
    return 0;
}
