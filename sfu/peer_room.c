/*
 * Room mode of a peer (see peer.h, router.h): how its offers are answered
 * (what it sends becomes a producer track, what it only receives is bound
 * to a published track), bindings, layer preferences and the floor. The
 * fan-out itself is in router_fwd.c.
 */
#include "sfu/peer_room.h"

#include "common/log.h"
#include "sfu/clock.h"
#include "sfu/router_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Find "<mid> <peer>:<srcmid>" for mid in the bindings text. */
static int find_binding(const char *bindings, const char *mid, uint64_t *peer, char *src_mid,
                        size_t cap)
{
    size_t ml = strlen(mid);
    for (const char *l = bindings; l && *l;) {
        const char *eol = strchr(l, '\n');
        size_t n = eol ? (size_t)(eol - l) : strlen(l);
        if (n > ml + 1 && !strncmp(l, mid, ml) && l[ml] == ' ') {
            char buf[128];
            size_t bn = n - ml - 1 < sizeof buf - 1 ? n - ml - 1 : sizeof buf - 1;
            memcpy(buf, l + ml + 1, bn);
            buf[bn] = '\0';
            char *colon = strchr(buf, ':');
            if (colon && colon[1]) {
                *colon = '\0';
                char *end;
                unsigned long long id = strtoull(buf, &end, 10);
                if (*end == '\0' && id > 0) {
                    *peer = id;
                    snprintf(src_mid, cap, "%s", colon + 1);
                    return 0;
                }
            }
        }
        l = eol ? eol + 1 : NULL;
    }
    return -1;
}

/* Free the viewer's retransmission buffer, remembering where its RTX
 * numbering left off for the next one on the same RTX SSRC. */
static void drop_rtxbuf(sfu_peer_track *t)
{
    if (!t->rtxbuf)
        return;
    t->rtx_seq_next = sfu_rtx_buffer_next_rtx_seq(t->rtxbuf);
    t->rtx_seq_known = true;
    sfu_rtx_buffer_destroy(t->rtxbuf);
    t->rtxbuf = NULL;
}

/* A viewer's resend ledger (router_rtx.c rebuilds from the publisher's copy). */
static sfu_rtx_buffer *new_ledger(void)
{
    sfu_rtx_buffer_config cfg = {.ledger = true};
    return sfu_rtx_buffer_create(&cfg);
}

static bool client_sends(const sfu_sdp_media *m)
{
    return m->direction == SFU_SDP_DIR_SENDONLY || m->direction == SFU_SDP_DIR_SENDRECV;
}

sfu_neg_action sfu__peer_room_action(const sfu_peer *p, const sfu_sdp_media *m)
{
    if (client_sends(m))
        return p->may_publish ? SFU_NEG_RECV : SFU_NEG_REJECT;
    return SFU_NEG_SEND;
}

void sfu__peer_room_local(sfu_peer *p, const sfu_sdp_media *m, int i, const char *bindings,
                          sfu_neg_local *l)
{
    sfu_peer_track *t = &p->tracks[i];
    sfu__router_changed(p->router); /* role and binding are set below */
    l->action[i] = sfu__peer_room_action(p, m);
    if (client_sends(m)) {
        uint8_t role = p->may_publish ? SFU_TRACK_PRODUCE : SFU_TRACK_NONE;
        if (t->role != role && t->role != SFU_TRACK_ECHO)
            sfu__peer_room_track_free(t); /* what it kept as viewer or publisher */
        t->role = role;
        return;
    }
    uint64_t peer = 0;
    char src_mid[SFU_SDP_MID_LEN];
    if (find_binding(bindings, m->mid, &peer, src_mid, sizeof src_mid) == 0 &&
        (peer != t->src_peer || strcmp(src_mid, t->src_mid) != 0)) {
        t->src_peer = peer;
        snprintf(t->src_mid, sizeof t->src_mid, "%s", src_mid);
        t->pin = -1;
        t->max_height = 0;
        if (t->cons.started) /* the new source goes on from here (same SSRC) */
            sfu_consumer_get_mark(&t->cons, &t->cons_mark);
        memset(&t->cons, 0, sizeof t->cons); /* started after the answer */
        /* shed temporal layers first, but not below half the frame rate
         * on the upper layers (then step the resolution down) */
        sfu_layer_select_config lcfg = {.min_temporal_upper = 1};
        sfu_layer_select_init(&t->ls, &lcfg);
        drop_rtxbuf(t);
    }
    if (t->role != SFU_TRACK_CONSUME)
        sfu__peer_room_track_free(t); /* its forwarding list, upstream NACK state, copies */
    t->role = SFU_TRACK_CONSUME;
    snprintf(l->track[i].stream_id, sizeof l->track[i].stream_id, "ml-%llu",
             (unsigned long long)t->src_peer);
    snprintf(l->track[i].track_id, sizeof l->track[i].track_id, "%llu:%s",
             (unsigned long long)t->src_peer, t->src_mid);
}

void sfu__peer_room_apply(sfu_peer *p, const sfu_neg_result *r)
{
    for (int i = 0; i < r->media_count; i++) {
        const sfu_neg_media *m = &r->media[i];
        sfu_peer_track *t = &p->tracks[i];
        t->echo_rid[0] = '\0';
        if (m->kind != SFU_SDP_KIND_AUDIO && m->kind != SFU_SDP_KIND_VIDEO)
            continue;
        t->clock_rate = m->codec.clock_rate ? m->codec.clock_rate : 90000;
        if (t->role == SFU_TRACK_PRODUCE) {
            t->echo = m->accepted && m->remote_sends;
            int n = m->rid_count > SFU_CONSUMER_MAX_LAYERS ? SFU_CONSUMER_MAX_LAYERS : m->rid_count;
            int same = n == t->n_layers;
            for (int k = 0; k < n && same; k++)
                same = !strcmp(t->rids[k], m->rids[k]);
            if (!same) {
                memset(t->layer_ssrc, 0, sizeof t->layer_ssrc);
                memset(t->layer_height, 0, sizeof t->layer_height);
            }
            t->n_layers = (uint8_t)n;
            t->ext_audio_level = m->ext_audio_level;
            for (int k = 0; k < (n ? n : 1); k++) {
                if (!same || t->kf[k].cfg.min_interval_us == 0) {
                    sfu_keyframe_init(&t->kf[k], NULL);
                    sfu_rate_meter_init(&t->meter[k], 1000000);
                    for (int tl = 0; tl < SFU_PEER_MAX_TEMPORAL; tl++)
                        sfu_rate_meter_init(&t->tmeter[k][tl], 1000000);
                }
                if (m->kind == SFU_SDP_KIND_VIDEO && !t->nack[k])
                    t->nack[k] = sfu_nack_create(NULL);
            }
            for (int k = 0; k < n; k++)
                snprintf(t->rids[k], sizeof t->rids[k], "%s", m->rids[k]);
            snprintf(t->stream, sizeof t->stream, "%s", m->remote_msid_stream);
        } else if (t->role == SFU_TRACK_CONSUME) {
            t->echo = 0;
            if (!m->accepted)
                t->role = SFU_TRACK_NONE;
            else if (!p->bwe && m->ext_twcc && !(p->bwe = sfu_bwe_create(NULL)))
                ML_WARN("room", "peer %llu: no bandwidth estimator", (unsigned long long)p->id);
            if (t->role == SFU_TRACK_CONSUME && m->kind == SFU_SDP_KIND_VIDEO && !t->rtxbuf) {
                t->rtxbuf = new_ledger();
                if (t->rtxbuf && t->rtx_pt >= 0 && t->local_rtx_ssrc)
                    sfu_rtx_buffer_set_rtx(t->rtxbuf, (uint8_t)t->rtx_pt, t->local_rtx_ssrc,
                                           t->rtx_seq_known ? t->rtx_seq_next
                                                            : (uint16_t)g_random_int());
            }
        } else {
            t->echo = 0;
        }
    }
    sfu__router_after_negotiation(p->router, p);
}

int sfu__peer_room_layer(sfu_peer *p, uint8_t *layer, const sfu_peer_track *t,
                         const sfu_rtp_packet *rp, int rtx)
{
    *layer = 0;
    if (t->n_layers < 2)
        return 0;
    uint8_t id = rtx ? t->ext_rrid : t->ext_rid;
    sfu_rtp_ext e;
    char rid[SFU_SDP_RID_LEN];
    if (!id || sfu_rtp_ext_find(rp, id, &e) != 0 || sfu_rtp_ext_string(&e, rid, sizeof rid) < 0)
        return -1;
    for (int k = 0; k < t->n_layers; k++)
        if (!strcmp(rid, t->rids[k])) {
            *layer = (uint8_t)k;
            return 0;
        }
    (void)p;
    return -2;
}

/* ---- tasks from the signaling thread ------------------------------------------ */

typedef struct layer_args {
    sfu_peer *p;
    int pin, max_height;
    char track[96];
} layer_args;

static void layer_task(void *arg)
{
    layer_args *a = arg;
    sfu_peer *p = a->p;
    if (!p->router)
        return;
    for (int i = 0; i < p->n_tracks; i++) {
        sfu_peer_track *t = &p->tracks[i];
        char id[96];
        snprintf(id, sizeof id, "%llu:%s", (unsigned long long)t->src_peer, t->src_mid);
        if (t->role != SFU_TRACK_CONSUME || strcmp(id, a->track) != 0)
            continue;
        sfu__router_set_layer_pref(p->router, p, i, a->pin, a->max_height);
    }
}

int sfu_peer_set_layer(sfu_peer *p, const char *track, int pin, int max_height)
{
    layer_args *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    a->p = p;
    a->pin = pin;
    a->max_height = max_height;
    snprintf(a->track, sizeof a->track, "%s", track);
    if (sfu_worker_post(p->worker, layer_task, a, free) != 0) {
        free(a);
        return -1;
    }
    return 0;
}

typedef struct floor_args {
    sfu_peer *p;
    int may;
} floor_args;

static void floor_task(void *arg)
{
    floor_args *a = arg;
    a->p->may_publish = a->may;
    if (!a->may && a->p->router)
        sfu__router_withdraw(a->p->router, a->p);
}

int sfu_peer_set_floor(sfu_peer *p, int may_publish)
{
    floor_args *a = malloc(sizeof *a);
    if (!a)
        return -1;
    a->p = p;
    a->may = may_publish;
    if (sfu_worker_post(p->worker, floor_task, a, free) != 0) {
        free(a);
        return -1;
    }
    return 0;
}

typedef struct mute_args {
    sfu_peer *p;
    int muted;
    char mid[SFU_SDP_MID_LEN];
} mute_args;

static void mute_task(void *arg)
{
    mute_args *a = arg;
    sfu_peer *p = a->p;
    for (int i = 0; i < p->n_tracks && p->router; i++) {
        sfu_peer_track *t = &p->tracks[i];
        if (t->role != SFU_TRACK_PRODUCE || strcmp(t->mid, a->mid) != 0 ||
            t->muted == (a->muted != 0))
            continue;
        t->muted = a->muted != 0;
        ML_DEBUG("room", "peer %llu: track %s %s", (unsigned long long)p->id, t->mid,
                 t->muted ? "muted" : "unmuted");
        if (!t->muted)
            sfu__router_unmuted(p->router, p, i);
    }
}

int sfu_peer_set_muted(sfu_peer *p, const char *mid, int muted)
{
    mute_args *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    a->p = p;
    a->muted = muted;
    snprintf(a->mid, sizeof a->mid, "%s", mid);
    if (sfu_worker_post(p->worker, mute_task, a, free) != 0) {
        free(a);
        return -1;
    }
    return 0;
}

/* ---- loss repair -------------------------------------------------------------- */

void sfu__peer_room_track_free(sfu_peer_track *t)
{
    for (int k = 0; k < SFU_CONSUMER_MAX_LAYERS; k++) {
        sfu_nack_destroy(t->nack[k]);
        t->nack[k] = NULL;
    }
    drop_rtxbuf(t);
    sfu__router_rtx_release(t);
    free(t->fwd);
    t->fwd = NULL;
    t->n_fwd = t->fwd_cap = 0;
    t->fwd_gen = 0;
}

void sfu__peer_room_free(sfu_peer *p)
{
    sfu_bwe_destroy(p->bwe);
    p->bwe = NULL;
    for (int i = 0; i < p->tracks_cap; i++)
        sfu__peer_room_track_free(&p->tracks[i]);
}

int sfu__peer_room_upstream(sfu_peer *p, sfu_peer_track *t, int layer, int rtx, uint8_t *pkt,
                            size_t *len, sfu_rtp_packet *rp)
{
    if (layer < 0 || layer >= SFU_CONSUMER_MAX_LAYERS)
        return 0;
    sfu_nack *n = t->nack[layer];
    if (rtx) {
        uint32_t ssrc = t->n_layers > 1 ? t->layer_ssrc[layer] : t->remote_ssrc;
        if (!n || !ssrc || rp->payload_len < 2)
            return 0; /* padding probes and RTX we cannot place */
        int nl = sfu_rtx_recover(pkt, SFU_PEER_PKT_BUF, pkt, *len, t->pt, ssrc);
        if (nl <= 0 || sfu_rtp_parse(pkt, (size_t)nl, rp) != 0)
            return 0;
        *len = (size_t)nl;
        if (sfu_nack_on_packet(n, rp->seq, sfu_now_us(), true) != SFU_NACK_RECOVERED)
            return 0;
        p->st.rtx_recovered++;
        return 1;
    }
    uint64_t now = sfu_now_us();
    sfu__router_on_received(t, layer, rp, now);
    if (!n)
        return 1;
    return sfu_nack_on_packet(n, rp->seq, now, false) != SFU_NACK_OLD;
}

void sfu__peer_room_on_nack(sfu_peer *p, const sfu_rtcp_fb *fb)
{
    sfu_peer_track *t = NULL;
    for (int i = 0; i < p->n_tracks && !t; i++)
        if (p->tracks[i].role == SFU_TRACK_CONSUME && p->tracks[i].local_ssrc == fb->media_ssrc)
            t = &p->tracks[i];
    if (!t || !t->rtxbuf || !p->srtp)
        return;
    uint16_t seqs[128];
    int n = sfu_rtcp_nack_expand(fb, seqs, 128);
    uint64_t now = sfu_now_us();
    uint8_t out[SFU_PEER_PKT_BUF] __attribute__((aligned(16)));
    uint8_t plain[SFU_PEER_PKT_BUF];
    for (int i = 0; i < n; i++) {
        uint8_t ref[SFU_RTX_REF_SIZE];
        int l = sfu_rtx_buffer_admit(t->rtxbuf, seqs[i], now, ref);
        if (l > 0) {
            int pl = sfu__router_rtx_rebuild(t, seqs[i], ref, plain, sizeof plain);
            if (pl < 0) {
                sfu_rtx_buffer_gone(t->rtxbuf); /* the publisher's copy is gone */
                l = SFU_RTX_MISSING;
            } else {
                l = sfu_rtx_buffer_finish(t->rtxbuf, seqs[i], now, plain, (size_t)pl, out,
                                          sizeof out - SFU_SRTP_MAX_OVERHEAD);
            }
        }
        if (l <= 0) {
            p->st.rtx_refused++; /* bounded by sfu_rtx_buffer */
            if (l == SFU_RTX_TOO_SOON)
                p->st.rtx_too_soon++;
            else if (l == SFU_RTX_OVER_BUDGET)
                p->st.rtx_over_budget++;
            else if (l == SFU_RTX_ERROR)
                p->st.rtx_failed++;
            else
                p->st.rtx_gone++;
            continue;
        }
        size_t plen = (size_t)l;
        if (sfu_srtp_protect_rtp(p->srtp, out, &plen, sizeof out) != 0 ||
            sfu__peer_send(p, out, plen) != 0) {
            p->st.rtx_refused++;
            p->st.rtx_failed++;
            continue;
        }
        p->st.rtp_out++;
        p->st.rtx_out++;
    }
}

/* ---- bandwidth estimate ---------------------------------------------------------- */

static __thread sfu_twcc_packet twcc_pkts[4096];

/* Feedback from a viewer: it reads again. A stalled viewer resumes its
 * video from keyframes, without a sequence gap. */
void sfu__peer_room_feedback(sfu_peer *p)
{
    p->last_feedback_us = sfu_now_us();
    if (!p->stalled || !p->router)
        return;
    p->stalled = false;
    ML_DEBUG("room", "peer %llu: feedback again, video resumes", (unsigned long long)p->id);
    for (int k = 0; k < p->n_tracks; k++) {
        sfu_peer_track *c = &p->tracks[k];
        if (c->role == SFU_TRACK_CONSUME && c->kind == SFU_SDP_KIND_VIDEO && c->cons.started) {
            sfu_consumer_resume(&c->cons, true);
            sfu__router_keyframe_request(p->router, p, k);
        }
    }
}

void sfu__peer_room_on_twcc(sfu_peer *p, const sfu_rtcp_fb *fb)
{
    if (!p->bwe)
        return;
    sfu__peer_room_feedback(p);
    int n = sfu_rtcp_parse_twcc(fb, NULL, twcc_pkts, sizeof twcc_pkts / sizeof twcc_pkts[0]);
    if (n > 0)
        sfu_bwe_on_feedback(p->bwe, twcc_pkts, (size_t)n, sfu_now_us());
}

void sfu__peer_room_on_remb(sfu_peer *p, const sfu_rtcp_fb *fb)
{
    sfu_rtcp_remb remb;
    if (p->bwe && sfu_rtcp_parse_remb(fb, &remb) == 0) {
        sfu__peer_room_feedback(p);
        sfu_bwe_on_remb(p->bwe, remb.bitrate, sfu_now_us());
    }
}
