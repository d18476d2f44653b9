/*
 * The media path of a peer in echo mode: every datagram from ICE is
 * classified (RFC 7983); DTLS goes to the DTLS endpoint, whose connected
 * callback creates the SRTP session and starts SCTP; SRTP is unprotected,
 * parsed, routed by SSRC to its m-line (SSRCs from the offer, else learned
 * from the mid/rid header extensions), rewritten to our SSRC and sent back
 * protected; SRTCP PLI/FIR for our SSRCs become a PLI to the browser's
 * SSRC. Everything else is dropped and counted, never logged above debug.
 */
#include "sfu/peer_internal.h"

#include "common/log.h"
#include "sfu/clock.h"
#include "sfu/demux.h"
#include "sfu/peer_room.h"
#include "sfu/router_internal.h"
#include "sfu/rtcp.h"
#include "sfu/rtcp_xr.h"
#include "sfu/rtp.h"

#include <stdio.h>
#include <string.h>

#define PLI_MIN_INTERVAL_US 300000u

static void count_drop(sfu_peer *p, uint64_t *reason)
{
    (*reason)++;
    p->st.dropped++;
}

/* ---- DTLS ----------------------------------------------------------------- */

static void dtls_send(void *user, const uint8_t *data, size_t len)
{
    sfu__peer_send(user, data, len);
}

static void dtls_connected(void *user, const sfu_srtp_keys *keys)
{
    sfu_peer *p = user;
    char err[256];
    p->srtp = sfu_srtp_create(keys, err, sizeof err);
    if (!p->srtp) {
        ML_WARN("peer", "peer %llu: SRTP setup failed: %s", (unsigned long long)p->id, err);
        sfu__peer_fail(p, "srtp_failed");
        return;
    }
    snprintf(p->st.srtp_profile, sizeof p->st.srtp_profile, "%s",
             sfu_srtp_profile_name(keys->profile));
    p->ever_connected = 1;
    p->dtls_state = SFU_DTLS_STATE_CONNECTED;
    p->last_rx_us = sfu_now_us();
    ML_INFO("peer", "peer %llu connected (%s, %s)", (unsigned long long)p->id, p->st.srtp_profile,
            p->st.selected_local);
    sfu__peer_report_state(p);
    if (p->dc_mline >= 0 && sfu__peer_sctp_start(p) != 0)
        ML_WARN("peer", "peer %llu: cannot start SCTP", (unsigned long long)p->id);
}

static void dtls_app_data(void *user, const uint8_t *data, size_t len)
{
    sfu__peer_sctp_input(user, data, len);
}

static void dtls_failed(void *user, const char *reason)
{
    sfu_peer *p = user;
    p->st.dtls_failures++;
    p->dtls_state = SFU_DTLS_STATE_FAILED;
    ML_INFO("peer", "peer %llu: DTLS failed: %s", (unsigned long long)p->id, reason);
    sfu__peer_report_state(p);
    sfu__peer_fail(p, "dtls_failed");
}

static void dtls_closed(void *user)
{
    sfu_peer *p = user;
    p->dtls_state = SFU_DTLS_STATE_CLOSED;
    sfu__peer_report_state(p);
    sfu__peer_fail(p, "dtls_closed");
}

int sfu__peer_dtls_create(sfu_peer *p, int server, char *err, size_t errlen)
{
    sfu_dtls_callbacks cb = {
        .send = dtls_send,
        .connected = dtls_connected,
        .app_data = dtls_app_data,
        .failed = dtls_failed,
        .closed = dtls_closed,
    };
    const char *profiles = p->env->cfg.srtp_profiles[0] ? p->env->cfg.srtp_profiles : NULL;
    p->dtls = sfu_dtls_create(p->env->cert, server ? SFU_DTLS_ROLE_SERVER : SFU_DTLS_ROLE_CLIENT,
                              profiles, &cb, p);
    if (!p->dtls) {
        snprintf(err, errlen, "cannot create the DTLS endpoint");
        return -1;
    }
    return 0;
}

static void dtls_timer_cb(void *data)
{
    sfu_peer *p = data;
    if (p->dtls) {
        sfu_dtls_handle_timeout(p->dtls);
        sfu__peer_dtls_timer(p);
    }
}

void sfu__peer_dtls_timer_init(sfu_peer *p)
{
    sfu_timer_init(&p->dtls_timer, dtls_timer_cb, p);
}

void sfu__peer_dtls_timer(sfu_peer *p)
{
    sfu_worker_timer_cancel(p->worker, &p->dtls_timer);
    if (!p->dtls)
        return;
    sfu_dtls_state s = sfu_dtls_get_state(p->dtls);
    if (s != p->dtls_state && s != SFU_DTLS_STATE_CONNECTED) {
        p->dtls_state = s;
        sfu__peer_report_state(p);
    }
    int ms = sfu_dtls_timeout_ms(p->dtls);
    if (ms < 0)
        return;
    sfu_worker_timer_arm(p->worker, &p->dtls_timer, (uint64_t)ms);
}

void sfu__peer_media_free(sfu_peer *p)
{
    sfu_worker_timer_cancel(p->worker, &p->dtls_timer);
    sfu_dtls_destroy(p->dtls);
    p->dtls = NULL;
    sfu_srtp_destroy(p->srtp);
    p->srtp = NULL;
}

/* ---- RTP --------------------------------------------------------------------- */

static int track_by_local_ssrc(sfu_peer *p, uint32_t ssrc);

static int track_by_mid(sfu_peer *p, const sfu_rtp_packet *rp)
{
    uint8_t tried[16] = {0};
    int ntried = 0;
    for (int i = 0; i < p->n_tracks; i++) {
        uint8_t id = p->tracks[i].ext_mid;
        if (!id || memchr(tried, id, (size_t)ntried))
            continue;
        if (ntried < (int)sizeof tried)
            tried[ntried++] = id;
        sfu_rtp_ext e;
        char mid[SFU_SDP_MID_LEN];
        if (sfu_rtp_ext_find(rp, id, &e) != 0 || sfu_rtp_ext_string(&e, mid, sizeof mid) < 0)
            continue;
        for (int k = 0; k < p->n_tracks; k++)
            if (p->tracks[k].echo && !strcmp(p->tracks[k].mid, mid))
                return k;
    }
    return -1;
}

/* Room mode: a packet on a known SSRC whose rid names another layer than
 * the one learned for that SSRC (two streams sharing one SSRC). */
static int rid_contradicts(sfu_peer *p, const sfu_peer_ssrc *s, const sfu_rtp_packet *rp)
{
    const sfu_peer_track *t = &p->tracks[s->track];
    if (!p->router || t->role != SFU_TRACK_PRODUCE || t->n_layers < 2 || !rp->ext_len)
        return 0;
    uint8_t id = s->rtx ? t->ext_rrid : t->ext_rid;
    sfu_rtp_ext e;
    char rid[SFU_SDP_RID_LEN];
    if (!id || sfu_rtp_ext_find(rp, id, &e) != 0 || sfu_rtp_ext_string(&e, rid, sizeof rid) < 0)
        return 0;
    return strcmp(rid, t->rids[s->layer]) != 0;
}

/* Room mode: may a new SSRC take layer `layer` of track t? Not while
 * another SSRC still feeds it (seen within the last 2 s): that is a
 * collision, not a restart of the stream. */
static int layer_taken(const sfu_peer_track *t, int layer, uint32_t ssrc, uint64_t now)
{
    uint32_t cur = t->n_layers > 1 ? t->layer_ssrc[layer] : t->remote_ssrc;
    return cur && cur != ssrc && t->layer_seen_us[layer] && now - t->layer_seen_us[layer] < 2000000;
}

/* Find or learn the route of a browser SSRC; NULL when unknown, with the
 * drop counter to charge in *why. */
static sfu_peer_ssrc *route(sfu_peer *p, const sfu_rtp_packet *rp, uint64_t **why)
{
    *why = &p->st.drop_unknown_ssrc;
    for (int i = 0; i < p->n_ssrcs; i++)
        if (p->ssrcs[i].ssrc == rp->ssrc) {
            if (rid_contradicts(p, &p->ssrcs[i], rp)) {
                *why = &p->st.ssrc_collisions;
                return NULL;
            }
            return &p->ssrcs[i];
        }
    if (p->router && track_by_local_ssrc(p, rp->ssrc) >= 0) {
        *why = &p->st.ssrc_collisions; /* the browser uses an SSRC we send with */
        return NULL;
    }
    int track = -1;
    for (int i = 0; i < p->n_tracks && track < 0; i++)
        if (p->tracks[i].echo &&
            (p->tracks[i].remote_ssrc == rp->ssrc ||
             (p->tracks[i].remote_rtx_ssrc && p->tracks[i].remote_rtx_ssrc == rp->ssrc)))
            track = i;
    if (track < 0)
        track = track_by_mid(p, rp);
    if (track < 0 || p->n_ssrcs >= SFU_PEER_MAX_SSRCS)
        return NULL;
    sfu_peer_track *t = &p->tracks[track];
    sfu_peer_ssrc *s = &p->ssrcs[p->n_ssrcs];
    s->ssrc = rp->ssrc;
    s->track = (int8_t)track;
    s->rtx = t->rtx_pt >= 0 && rp->payload_type == (uint8_t)t->rtx_pt;
    s->drop = 0;
    s->layer = 0;
    if (p->router && t->role == SFU_TRACK_PRODUCE) {
        uint8_t layer;
        int lr = sfu__peer_room_layer(p, &layer, t, rp, s->rtx);
        if (lr != 0) {
            if (lr == -2)
                *why = &p->st.drop_undeclared; /* a rid the offer did not declare */
            return NULL;                       /* or wait for a packet that names its layer */
        }
        if (!s->rtx && layer_taken(t, layer, rp->ssrc, sfu_now_us())) {
            *why = &p->st.ssrc_collisions;
            return NULL;
        }
        s->layer = (int8_t)layer;
        if (!s->rtx && t->n_layers > 1)
            t->layer_ssrc[layer] = rp->ssrc;
    } else if (t->echo_rid[0]) {
        uint8_t id = s->rtx ? t->ext_rrid : t->ext_rid;
        sfu_rtp_ext e;
        char rid[SFU_SDP_RID_LEN];
        if (!id || sfu_rtp_ext_find(rp, id, &e) != 0 || sfu_rtp_ext_string(&e, rid, sizeof rid) < 0)
            return NULL; /* wait for a packet that names its layer */
        s->drop = strcmp(rid, t->echo_rid) != 0;
    }
    if (!s->rtx && !s->drop)
        t->remote_ssrc = rp->ssrc;
    p->n_ssrcs++;
    ML_DEBUG("peer", "peer %llu: ssrc %u -> mid %s%s%s", (unsigned long long)p->id, rp->ssrc,
             t->mid, s->rtx ? " (rtx)" : "", s->drop ? " (layer not echoed)" : "");
    return s;
}

static int on_rtp(sfu_peer *p, uint8_t *pkt, size_t len)
{
    size_t plen = len;
    int rc = sfu_srtp_unprotect_rtp(p->srtp, pkt, &plen);
    if (rc != 0) {
        count_drop(p, rc == SFU_SRTP_ERR_AUTH     ? &p->st.drop_srtp_auth
                      : rc == SFU_SRTP_ERR_REPLAY ? &p->st.drop_srtp_replay
                                                  : &p->st.drop_srtp_other);
        return -1;
    }
    sfu_rtp_packet rp;
    if (sfu_rtp_parse(pkt, plen, &rp) != 0) {
        count_drop(p, &p->st.drop_malformed);
        return 0;
    }
    p->st.rtp_in++;
    uint64_t *why;
    sfu_peer_ssrc *s = route(p, &rp, &why);
    if (!s) {
        count_drop(p, why);
        return 0;
    }
    sfu__peer_twcc_record(p, s->track, &rp);
    if (s->drop) {
        count_drop(p, &p->st.drop_layer);
        return 0;
    }
    sfu_peer_track *t = &p->tracks[s->track];
    if (p->router) {
        /* Room mode: fan out to the viewers. RTX from the publisher is not
         * used until the NACK generator (sfu/nack.h) is plugged in. */
        if (t->role == SFU_TRACK_PRODUCE && !s->rtx && s->layer >= 0 &&
            s->layer < SFU_CONSUMER_MAX_LAYERS)
            t->layer_seen_us[s->layer] = sfu_now_us();
        if (t->role != SFU_TRACK_PRODUCE || !t->echo ||
            !sfu__peer_room_upstream(p, t, s->layer, s->rtx, pkt, &plen, &rp)) {
            count_drop(p, &p->st.drop_layer);
            return 0;
        }
        sfu__router_on_rtp(p->router, p, s->track, s->layer, pkt, plen, &rp);
        return 0;
    }
    uint32_t out_ssrc = s->rtx ? t->local_rtx_ssrc : t->local_ssrc;
    if (!out_ssrc) {
        count_drop(p, &p->st.drop_unknown_ssrc);
        return 0;
    }
    sfu_rtp_set_ssrc(pkt, out_ssrc);
    if (sfu_srtp_protect_rtp(p->srtp, pkt, &plen, SFU_PEER_PKT_BUF) != 0) {
        p->st.send_errors++;
        return 0;
    }
    if (sfu__peer_send(p, pkt, plen) == 0)
        p->st.rtp_out++;
    return 0;
}

/* ---- RTCP ---------------------------------------------------------------------- */

static int track_by_local_ssrc(sfu_peer *p, uint32_t ssrc)
{
    for (int i = 0; i < p->n_tracks; i++)
        if ((p->tracks[i].echo || p->tracks[i].role == SFU_TRACK_CONSUME) && ssrc &&
            (p->tracks[i].local_ssrc == ssrc || p->tracks[i].local_rtx_ssrc == ssrc))
            return i;
    return -1;
}

int sfu__peer_send_rtcp(sfu_peer *p, uint8_t *buf, size_t len, size_t cap)
{
    if (!p->srtp || sfu_srtp_protect_rtcp(p->srtp, buf, &len, cap) != 0) {
        p->st.send_errors++;
        return -1;
    }
    if (sfu__peer_send(p, buf, len) != 0)
        return -1;
    p->st.rtcp_out++;
    return 0;
}

/* Ask the browser for a keyframe on the stream we echo on track i. */
static void send_pli(sfu_peer *p, int i)
{
    if (p->router) {
        if (p->tracks[i].role == SFU_TRACK_CONSUME)
            sfu__router_keyframe_request(p->router, p, i);
        return;
    }
    sfu_peer_track *t = &p->tracks[i];
    uint64_t now = sfu_now_us();
    if (!t->remote_ssrc || now - t->last_pli_us < PLI_MIN_INTERVAL_US)
        return;
    t->last_pli_us = now;
    uint8_t buf[64 + SFU_SRTP_MAX_OVERHEAD] __attribute__((aligned(8)));
    int n = sfu_rtcp_build_pli(buf, 64, t->local_ssrc, t->remote_ssrc);
    if (n <= 0)
        return;
    if (sfu__peer_send_rtcp(p, buf, (size_t)n, sizeof buf) == 0)
        p->st.pli_out++;
}

static int on_rtcp(sfu_peer *p, uint8_t *pkt, size_t len)
{
    size_t plen = len;
    int rc = sfu_srtp_unprotect_rtcp(p->srtp, pkt, &plen);
    if (rc != 0) {
        count_drop(p, rc == SFU_SRTP_ERR_AUTH     ? &p->st.drop_srtp_auth
                      : rc == SFU_SRTP_ERR_REPLAY ? &p->st.drop_srtp_replay
                                                  : &p->st.drop_srtp_other);
        return -1;
    }
    p->st.rtcp_in++;
    sfu_rtcp_iter it;
    sfu_rtcp_pkt rp;
    sfu_rtcp_iter_init(&it, pkt, plen);
    int r;
    while ((r = sfu_rtcp_next(&it, &rp)) == 1) {
        sfu_rtcp_fb fb;
        if (rp.pt == SFU_RTCP_PSFB && sfu_rtcp_parse_fb(&rp, &fb) == 0) {
            if (fb.fmt == SFU_RTCP_FMT_PLI) {
                p->st.pli_in++;
                int i = track_by_local_ssrc(p, fb.media_ssrc);
                if (i >= 0)
                    send_pli(p, i);
            } else if (fb.fmt == SFU_RTCP_FMT_AFB) {
                if (p->router)
                    sfu__peer_room_on_remb(p, &fb);
            } else if (fb.fmt == SFU_RTCP_FMT_FIR) {
                p->st.fir_in++;
                int n = sfu_rtcp_fir_count(&fb);
                for (int k = 0; k < n; k++) {
                    uint32_t ssrc;
                    uint8_t seq;
                    if (sfu_rtcp_fir_entry(&fb, (unsigned)k, &ssrc, &seq) != 0)
                        continue;
                    int i = track_by_local_ssrc(p, ssrc);
                    if (i >= 0)
                        send_pli(p, i);
                }
            }
        } else if (rp.pt == SFU_RTCP_RTPFB && rp.count == SFU_RTCP_FMT_NACK) {
            p->st.nack_in++; /* echo mode: no retransmission */
            if (p->router && sfu_rtcp_parse_fb(&rp, &fb) == 0)
                sfu__peer_room_on_nack(p, &fb);
        } else if (p->router && (rp.pt == SFU_RTCP_SR || rp.pt == SFU_RTCP_RR)) {
            sfu__router_on_report(p->router, p, &rp);
        } else if (p->router && rp.pt == SFU_RTCP_XR) {
            sfu__router_on_xr(p->router, p, &rp);
        } else if (p->router && rp.pt == SFU_RTCP_RTPFB && rp.count == SFU_RTCP_FMT_TWCC) {
            if (sfu_rtcp_parse_fb(&rp, &fb) == 0)
                sfu__peer_room_on_twcc(p, &fb);
        } else if (p->router && rp.pt == SFU_RTCP_SR) {
            sfu__router_tap_rtcp(p->router, p, &rp); /* recording: SR timing */
        }
    }
    if (r < 0)
        count_drop(p, &p->st.drop_malformed);
    return 0;
}

/* ---- entry -------------------------------------------------------------------- */

void sfu__peer_on_packet(sfu_peer *p, uint8_t *buf, size_t len)
{
    p->st.packets_in++;
    p->st.bytes_in += len;
    sfu_pkt_kind kind = sfu_demux(buf, len);
    if (kind == SFU_PKT_DTLS) {
        p->st.dtls_in++;
        if (!p->dtls) {
            count_drop(p, &p->st.drop_early);
            return;
        }
        if (sfu_dtls_input(p->dtls, buf, len) < 0)
            p->st.dtls_bad_records++;
        else
            p->last_rx_us = sfu_now_us();
        if (p->dtls)
            sfu__peer_dtls_timer(p);
        return;
    }
    if (kind != SFU_PKT_RTP && kind != SFU_PKT_RTCP) {
        count_drop(p, &p->st.drop_garbage);
        return;
    }
    if (!p->srtp) {
        count_drop(p, &p->st.drop_early);
        return;
    }
    if (len + SFU_SRTP_MAX_OVERHEAD > SFU_PEER_PKT_BUF || len < 8) {
        count_drop(p, &p->st.drop_malformed);
        return;
    }
    /* Work in our aligned buffer, which has room for the SRTP tag. */
    memcpy(p->pkt, buf, len);
    int rc = kind == SFU_PKT_RTP ? on_rtp(p, p->pkt, len) : on_rtcp(p, p->pkt, len);
    /* Only authenticated traffic proves the browser is still there. */
    if (rc == 0)
        p->last_rx_us = sfu_now_us();
}
