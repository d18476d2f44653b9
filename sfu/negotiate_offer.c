/*
 * Offers authored by the SFU, for (re)negotiation towards a subscriber:
 * every m-line gets our fixed payload types (SFU_NEG_PT_*) and extension
 * ids (SFU_NEG_EXTID_*), so that successive offers to one peer stay
 * consistent, and a=setup:actpass. The result struct is filled as if the
 * offer were accepted as written, so the transport reads offers and
 * answers the same way.
 */
#include <stdarg.h>
#include <stdio.h>

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

static const struct our_codec {
    const char *name;
    uint8_t pt, rtx_pt;
    const char *fmtp;
} video_codecs[] = {
    {"VP8", SFU_NEG_PT_VP8, SFU_NEG_PT_VP8_RTX, ""},
    {"H264", SFU_NEG_PT_H264, SFU_NEG_PT_H264_RTX,
     "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
    {"VP9", SFU_NEG_PT_VP9, SFU_NEG_PT_VP9_RTX, "profile-id=0"},
};

static int video_enabled(const sfu_neg_local *l, const struct our_codec *c)
{
    if (strcmp(c->name, "H264") == 0)
        return l->enable_h264;
    if (strcmp(c->name, "VP9") == 0)
        return l->enable_vp9;
    return 1;
}

static int offer_rtp(const sfu_neg_local *l, const sfu_neg_offer_media *om, sfu_sdp_media *m,
                     sfu_neg_media *r, char *err, size_t errlen)
{
    int send = om->action == SFU_NEG_SEND || om->action == SFU_NEG_SENDRECV;
    int recv = om->action == SFU_NEG_RECV || om->action == SFU_NEG_SENDRECV;
    m->direction = send && recv ? SFU_SDP_DIR_SENDRECV
                   : send       ? SFU_SDP_DIR_SENDONLY
                                : SFU_SDP_DIR_RECVONLY;
    m->rtcp_mux = 1;
    m->rtcp_rsize = 1;
    r->direction = m->direction;
    r->remote_sends = (uint8_t)recv;
    r->remote_receives = (uint8_t)send;
    r->rtcp_rsize = 1;
    int have = 0, rtx = 0;
    if (om->kind == SFU_SDP_KIND_AUDIO) {
        if (om->codec[0] && strcasecmp(om->codec, "opus") != 0)
            return fail(err, errlen, "mid %s: unsupported audio codec %s", om->mid, om->codec);
        sfu_sdp_codec c = {.pt = SFU_NEG_PT_OPUS,
                           .name = "opus",
                           .clock_rate = 48000,
                           .channels = 2,
                           .fmtp = "minptime=10;useinbandfec=1"};
        if (sfu__neg_add_codec(m, &c, -1, NULL, r) != 0)
            return fail(err, errlen, "mid %s: offer does not fit", om->mid);
        have = 1;
    } else {
        for (size_t i = 0; i < sizeof video_codecs / sizeof video_codecs[0]; i++) {
            const struct our_codec *oc = &video_codecs[i];
            if (om->codec[0] ? strcasecmp(om->codec, oc->name) != 0 : !video_enabled(l, oc))
                continue;
            sfu_sdp_codec c = {.pt = oc->pt, .clock_rate = 90000};
            snprintf(c.name, sizeof c.name, "%s", oc->name);
            snprintf(c.fmtp, sizeof c.fmtp, "%s", oc->fmtp);
            /* the first codec is the one the result reports */
            if (sfu__neg_add_codec(m, &c, oc->rtx_pt, NULL, have ? NULL : r) != 0)
                return fail(err, errlen, "mid %s: offer does not fit", om->mid);
            have = 1;
            rtx = 1;
        }
    }
    if (!have)
        return fail(err, errlen, "mid %s: unsupported video codec %s", om->mid, om->codec);
    if (sfu__neg_add_our_extmaps(m, recv && om->kind == SFU_SDP_KIND_VIDEO, r) != 0)
        return fail(err, errlen, "mid %s: offer does not fit", om->mid);
    if (send && sfu__neg_add_track(m, &om->track, l->cname, rtx, r) != 0)
        return fail(err, errlen, "mid %s: bad track ids", om->mid);
    return 0;
}

int sfu_negotiate_offer(const sfu_neg_local *l, const sfu_neg_offer_media *media, int n,
                        sfu_sdp *offer, sfu_neg_result *res, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!l || !media || !offer || !res)
        return fail(err, errlen, "missing argument");
    if (n < 1 || n > SFU_SDP_MAX_MEDIA)
        return fail(err, errlen, "offer needs 1..%d m-lines", SFU_SDP_MAX_MEDIA);
    memset(res, 0, sizeof *res);
    res->bundle_index = -1;
    res->local_setup = SFU_SDP_SETUP_ACTPASS;
    if (sfu__neg_check_local(l, err, errlen) != 0)
        return -1;
    sfu__neg_session(offer, l, 0);
    res->media_count = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        const sfu_neg_offer_media *om = &media[i];
        sfu_neg_media *r = &res->media[i];
        size_t mlen = strnlen(om->mid, sizeof om->mid);
        if (mlen == 0 || mlen >= sizeof om->mid || strpbrk(om->mid, " \t\r\n"))
            return fail(err, errlen, "m-line %d: mid must be a non-empty token", i);
        for (int j = 0; j < i; j++)
            if (strcmp(media[j].mid, om->mid) == 0)
                return fail(err, errlen, "m-line %d: duplicate mid %s", i, om->mid);
        if (om->kind != SFU_SDP_KIND_AUDIO && om->kind != SFU_SDP_KIND_VIDEO &&
            om->kind != SFU_SDP_KIND_APPLICATION)
            return fail(err, errlen, "m-line %d: unsupported kind", i);
        if ((unsigned)om->action > SFU_NEG_SENDRECV)
            return fail(err, errlen, "m-line %d: bad action", i);
        int app = om->kind == SFU_SDP_KIND_APPLICATION;
        sfu_sdp_media *m = sfu_sdp_media_add(
            offer, om->kind, app ? SFU_SDP_PROTO_UDP_DTLS_SCTP : SFU_SDP_PROTO_UDP_TLS_RTP_SAVPF);
        if (!m)
            return fail(err, errlen, "too many m-lines");
        memcpy(m->mid, om->mid, mlen + 1);
        memcpy(r->mid, om->mid, mlen + 1);
        r->kind = om->kind;
        r->rtx_pt = -1;
        if (app) {
            strcpy(m->fmt_raw, "webrtc-datachannel");
            r->direction = SFU_SDP_DIR_SENDRECV;
            r->remote_sends = r->remote_receives = om->action != SFU_NEG_REJECT;
        } else if (offer_rtp(l, om, m, r, err, errlen) != 0) {
            return -1;
        }
        if (om->action == SFU_NEG_REJECT) {
            m->port = 0;
            m->direction = SFU_SDP_DIR_INACTIVE;
            snprintf(r->reason, sizeof r->reason, "rejected by local policy");
            continue;
        }
        r->accepted = 1;
        if (res->bundle_index < 0)
            res->bundle_index = i;
    }
    if (res->bundle_index < 0)
        return fail(err, errlen, "offer has no active m-line");
    return sfu__neg_finish(offer, l, res, SFU_SDP_SETUP_ACTPASS, err, errlen);
}
