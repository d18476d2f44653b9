/*
 * Rooms: membership, announcement of published tracks, fan-out with
 * simulcast layer selection, keyframe requests and layer pause/resume
 * (see router.h). Everything below except create/destroy runs on the
 * room's worker thread.
 *
 * Keyframe requests go through one sfu_keyframe aggregator per publisher
 * layer (sfu/keyframe.h: at most one PLI per ~500 ms however many viewers
 * ask). A room timer (TICK_MS) polls the aggregators, sends the NACKs of
 * the upstream loss trackers (sfu/nack.h, one per publisher video layer)
 * and runs the dominant speaker detector (sfu/speaker.h), fed from the
 * RFC 6464 audio levels of published audio. Every forwarded video packet
 * is kept once per publisher layer and noted in each viewer's resend
 * ledger, to answer the viewer's NACKs with RTX (router_rtx.c,
 * peer_room.c).
 *
 * Fan-out of a burst. libnice hands over every datagram waiting on the
 * publisher's socket in one dispatch (a frame's packets, often of all
 * simulcast layers). The per-packet work on the publisher's side (keyframe
 * and layer bookkeeping, taps, the copy kept for resends) is done as each
 * arrives; the copies for viewers are deferred to the end of the dispatch
 * and made viewer by viewer, all of the burst's packets for one viewer
 * before the next, so that they sit together in the send queue and go out
 * in one message with UDP GSO (udp_batch.c) instead of one system call
 * per packet per viewer. A burst is one publisher track's consecutive
 * packets (up to BURST_MAX; another track's packet ends it) and is sent
 * before anything changes the room's membership or tracks
 * (sfu__router_changed), so every pointer it holds is still valid; the
 * viewers are looked up when it is sent. SFU_FANOUT_BURST=0 forwards each
 * packet as it arrives (for comparisons).
 */
#include "sfu/router_internal.h"
#include "sfu/wire_internal.h"

#include "common/log.h"
#include "sfu/clock.h"
#include "sfu/peer_room.h"
#include "sfu/speaker.h"
#include "sfu/udp_batch.h"
#include "sfu/vp8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 20
#define SELECT_EVERY_US 200000u
#define SPEAKER_EVERY_US 200000u
#define STALL_US 3000000u

struct sfu_router {
    sfu_worker *worker;
    char name[72];
    GPtrArray *peers; /* sfu_peer *, worker only */
    sfu_timer tick;   /* every TICK_MS, in the worker's timer heap */
    sfu_speaker *speaker;
    uint32_t dominant; /* peer id announced, 0 none */
    uint64_t last_speaker_us;
    sfu__router_taps *taps; /* recording taps (router_tap.c), NULL when none */
    uint64_t gen;           /* sfu__router_changed(); never 0 */
};

static void tick_cb(void *data);
static void burst_send(void);

/* Scratch for one outgoing copy; the worker runs one packet at a time. */
static __thread uint8_t scratch[SFU_PEER_PKT_BUF] __attribute__((aligned(16)));

sfu_router *sfu_router_create(sfu_workers *ws, const char *name)
{
    sfu_worker *w = sfu_workers_pick(ws);
    if (!w)
        return NULL;
    sfu_router *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->worker = w;
    sfu_timer_init(&r->tick, tick_cb, r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->peers = g_ptr_array_new();
    r->gen = 1;
    return r;
}

sfu_worker *sfu_router_worker(const sfu_router *r)
{
    return r->worker;
}

static void destroy_task(void *arg)
{
    sfu_router *r = arg;
    burst_send(); /* (peers leave first, which sends any burst of theirs) */
    sfu_worker_timer_cancel(r->worker, &r->tick);
    sfu_speaker_destroy(r->speaker);
    sfu__router_tap_free(r);
    g_ptr_array_free(r->peers, TRUE);
    free(r);
}

void sfu_router_destroy(sfu_router *r)
{
    if (r && sfu_worker_post(r->worker, destroy_task, r, NULL) != 0)
        ML_WARN("room", "room %s: workers stopping, not freed", r->name);
}

void sfu__router_changed(sfu_router *r)
{
    if (r && ++r->gen == 0)
        r->gen = 1;
    /* A burst waiting to be sent goes out now, to the viewers of the
     * moment (its lists are rebuilt: the new gen), while its publisher
     * and tracks are still there. */
    burst_send();
}

void sfu__router_add(sfu_router *r, sfu_peer *p)
{
    burst_send();
    g_ptr_array_add(r->peers, p);
    sfu__router_changed(r);
    if (!sfu_timer_armed(&r->tick))
        sfu_worker_timer_arm(r->worker, &r->tick, TICK_MS);
    if (!r->speaker)
        r->speaker = sfu_speaker_create(NULL);
    if (r->speaker)
        sfu_speaker_add(r->speaker, (uint32_t)p->id);
}

void sfu__router_remove(sfu_router *r, sfu_peer *p)
{
    burst_send();
    g_ptr_array_remove(r->peers, p);
    sfu__router_changed(r);
    if (r->speaker)
        sfu_speaker_remove(r->speaker, (uint32_t)p->id);
    if (r->dominant == (uint32_t)p->id)
        r->dominant = 0;
    sfu__router_update_layers(r);
}

static sfu_peer *peer_by_id(sfu_router *r, uint64_t id)
{
    for (guint i = 0; i < r->peers->len; i++) {
        sfu_peer *q = g_ptr_array_index(r->peers, i);
        if (q->id == id)
            return q;
    }
    return NULL;
}

sfu_peer_track *sfu__router_find_track(sfu_router *r, uint64_t peer, const char *mid,
                                       sfu_peer **owner)
{
    sfu_peer *q = peer_by_id(r, peer);
    if (!q)
        return NULL;
    for (int i = 0; i < q->n_tracks; i++)
        if (q->tracks[i].role == SFU_TRACK_PRODUCE && q->tracks[i].echo &&
            !strcmp(q->tracks[i].mid, mid)) {
            if (owner)
                *owner = q;
            return &q->tracks[i];
        }
    return NULL;
}

/* ---- keyframes ---------------------------------------------------------- */

static void send_layer_pli(sfu_peer *pub, sfu_peer_track *t, int layer)
{
    uint32_t ssrc = t->n_layers > 1 ? t->layer_ssrc[layer] : t->remote_ssrc;
    if (!ssrc || !pub->srtp)
        return;
    uint8_t buf[64 + SFU_SRTP_MAX_OVERHEAD] __attribute__((aligned(8)));
    int n = sfu_rtcp_build_pli(buf, 64, t->local_ssrc ? t->local_ssrc : 1, ssrc);
    if (n > 0 && sfu__peer_send_rtcp(pub, buf, (size_t)n, sizeof buf) == 0)
        pub->st.pli_out++;
}

/* A keyframe request for a layer from viewer (0: the SFU itself). */
static void pli_layer_from(sfu_peer *pub, sfu_peer_track *t, int layer, uint32_t viewer)
{
    if (layer < 0 || layer >= SFU_CONSUMER_MAX_LAYERS)
        return;
    if (sfu_keyframe_request(&t->kf[layer], viewer, sfu_now_us(), NULL) == 1)
        send_layer_pli(pub, t, layer);
}

/* A viewer's request, refused by flood control: counted on the viewer. */
static void pli_layer_viewer(sfu_peer *v, sfu_peer *pub, sfu_peer_track *t, int layer)
{
    if (layer < 0 || layer >= SFU_CONSUMER_MAX_LAYERS)
        return;
    int rc = sfu_keyframe_request(&t->kf[layer], (uint32_t)v->id, sfu_now_us(), NULL);
    if (rc == 1)
        send_layer_pli(pub, t, layer);
    else if (rc < 0)
        v->st.pli_refused++;
}

static void pli_layer(sfu_peer *pub, sfu_peer_track *t, int layer)
{
    pli_layer_from(pub, t, layer, SFU_KEYFRAME_INTERNAL);
}

void sfu__router_pli_layer(sfu_peer *pub, sfu_peer_track *t, int layer)
{
    pli_layer(pub, t, layer);
}

sfu__router_taps **sfu__router_taps_of(sfu_router *r)
{
    return &r->taps;
}

GPtrArray *sfu__router_peers(sfu_router *r)
{
    return r->peers;
}

/* Upstream NACKs and deferred keyframe requests of one publisher track. */
static void tick_track(sfu_peer *pub, sfu_peer_track *t, uint64_t now)
{
    int n = t->n_layers > 1 ? t->n_layers : 1;
    for (int l = 0; l < n; l++) {
        if (sfu_keyframe_poll(&t->kf[l], now, NULL) == 1)
            send_layer_pli(pub, t, l);
        if (!t->nack[l])
            continue;
        uint16_t seqs[64];
        size_t k = sfu_nack_collect(t->nack[l], now, seqs, 64);
        uint32_t ssrc = t->n_layers > 1 ? t->layer_ssrc[l] : t->remote_ssrc;
        if (k > 0 && ssrc && pub->srtp) {
            uint8_t buf[512 + SFU_SRTP_MAX_OVERHEAD] __attribute__((aligned(8)));
            int len =
                sfu_rtcp_build_nack(buf, 512, t->local_ssrc ? t->local_ssrc : 1, ssrc, seqs, k);
            if (len > 0 && sfu__peer_send_rtcp(pub, buf, (size_t)len, sizeof buf) == 0)
                pub->st.nack_out++;
        }
        if (sfu_nack_take_keyframe_request(t->nack[l]))
            pli_layer(pub, t, l);
    }
}

static void speaker_tick(sfu_router *r, uint64_t now)
{
    if (!r->speaker || now - r->last_speaker_us < SPEAKER_EVERY_US)
        return;
    r->last_speaker_us = now;
    uint32_t dom = 0;
    if (sfu_speaker_update(r->speaker, now, &dom) != 1 || dom == r->dominant)
        return;
    r->dominant = dom;
    for (guint i = 0; i < r->peers->len; i++) {
        sfu_peer *q = g_ptr_array_index(r->peers, i);
        if ((uint32_t)q->id == dom) {
            char json[96];
            snprintf(json, sizeof json, "{\"type\":\"active-speaker\",\"participant\":%llu}",
                     (unsigned long long)q->id);
            sfu__peer_notify(q, json, 1);
        }
    }
}

/* What publisher track t offers now: the bitrate of every spatial layer
 * and, within it, of its temporal layers (cumulative: TID 0..t). A
 * temporal layer counts while packets of it arrive (last second). */
static void layer_info(const sfu_peer_track *t, uint64_t now, sfu_layer_info *info)
{
    memset(info, 0, sizeof *info);
    info->spatial_count = t->n_layers;
    info->temporal_count = 1;
    for (int l = 0; l < t->n_layers; l++) {
        info->active[l] = sfu_rate_meter_active(&t->meter[l], now, 500000);
        info->height[l] = t->layer_height[l];
        for (int tl = 1; tl < SFU_PEER_MAX_TEMPORAL; tl++)
            if (sfu_rate_meter_active(&t->tmeter[l][tl], now, 1000000) &&
                tl + 1 > info->temporal_count)
                info->temporal_count = (uint8_t)(tl + 1);
    }
    for (int l = 0; l < t->n_layers; l++) {
        uint64_t total = sfu_rate_meter_bps(&t->meter[l], now), sum = 0;
        for (int tl = 0; tl < info->temporal_count; tl++) {
            sum += sfu_rate_meter_bps(&t->tmeter[l][tl], now);
            /* the top temporal layer is the whole layer (packets without TID included) */
            info->bps[l][tl] = tl == info->temporal_count - 1 || sum > total ? total : sum;
        }
    }
}

/* Automatic layer choice of a viewer from its bandwidth estimate
 * (sfu/layer_select.h); pinned or height-limited tracks are left alone. */
static void select_layers(sfu_router *r, sfu_peer *v, uint64_t now)
{
    if (!v->bwe || now - v->last_select_us < SELECT_EVERY_US)
        return;
    v->last_select_us = now;
    uint64_t est = sfu_bwe_target(v->bwe);
    v->st.bwe_bps = est;
    for (int k = 0; k < v->n_tracks; k++) {
        sfu_peer_track *c = &v->tracks[k];
        if (c->role != SFU_TRACK_CONSUME || c->pin >= 0 || c->max_height > 0 || !c->cons.simulcast)
            continue;
        sfu_peer_track *t = sfu__router_find_track(r, c->src_peer, c->src_mid, NULL);
        if (!t || t->n_layers < 2)
            continue;
        sfu_layer_info info;
        layer_info(t, now, &info);
        sfu_layer sel = sfu_layer_select_update(&c->ls, &info, NULL, est, now);
        if (sel.spatial >= 0)
            sfu_consumer_set_temporal(&c->cons,
                                      sel.temporal >= info.temporal_count - 1 ? -1 : sel.temporal);
        if (sel.spatial >= 0 && sel.spatial != c->cons.target) {
            ML_DEBUG("room", "peer %llu: track %llu:%s layer %d -> %d (estimate %llu bps)",
                     (unsigned long long)v->id, (unsigned long long)c->src_peer, c->src_mid,
                     c->cons.target, sel.spatial, (unsigned long long)est);
            sfu_consumer_set_target(&c->cons, sel.spatial);
            sfu__router_keyframe_request(r, v, k);
        }
    }
}

/* A viewer that showed no sign of receiving (TWCC, REMB, or a report
 * block that advanced: sfu__peer_room_feedback) for STALL_US while we kept
 * sending it media does not read what we send (or cannot receive it):
 * stop its video, which bounds what it costs us and the network, until it
 * shows signs of life again. Audio keeps going (and revives it). */
static void check_stalled(sfu_peer *v, uint64_t now)
{
    if (!v->stalled && v->last_feedback_us &&
        v->last_media_sent_us > v->last_feedback_us + STALL_US) {
        v->stalled = true;
        ML_DEBUG("room", "peer %llu: no feedback for %llu ms, video paused",
                 (unsigned long long)v->id, (unsigned long long)(now - v->last_feedback_us) / 1000);
    }
}

static void tick_cb(void *data)
{
    sfu_router *r = data;
    sfu_worker_timer_arm(r->worker, &r->tick, TICK_MS);
    uint64_t now = sfu_now_us();
    for (guint i = 0; i < r->peers->len; i++) {
        check_stalled(g_ptr_array_index(r->peers, i), now);
        select_layers(r, g_ptr_array_index(r->peers, i), now);
    }
    for (guint i = 0; i < r->peers->len; i++) {
        sfu_peer *pub = g_ptr_array_index(r->peers, i);
        for (int k = 0; k < pub->n_tracks; k++)
            if (pub->tracks[k].role == SFU_TRACK_PRODUCE && pub->tracks[k].echo)
                tick_track(pub, &pub->tracks[k], now);
    }
    speaker_tick(r, now);
    for (guint i = 0; i < r->peers->len; i++)
        sfu__router_reports(r, g_ptr_array_index(r->peers, i), now);
}

void sfu__router_keyframe_request(sfu_router *r, sfu_peer *viewer, int track)
{
    sfu_peer_track *v = &viewer->tracks[track];
    sfu_peer *pub = NULL;
    sfu_peer_track *t = sfu__router_find_track(r, v->src_peer, v->src_mid, &pub);
    if (!t || t->kind != SFU_SDP_KIND_VIDEO)
        return;
    pli_layer_viewer(viewer, pub, t,
                     sfu_consumer_wants_keyframe(&v->cons) || v->cons.current < 0
                         ? v->cons.target
                         : v->cons.current);
}

void sfu__router_reconnected(sfu_router *r, sfu_peer *p)
{
    for (int i = 0; i < p->n_tracks; i++) {
        sfu_peer_track *v = &p->tracks[i];
        sfu_peer *pub = NULL;
        sfu_peer_track *t = v->role == SFU_TRACK_CONSUME
                                ? sfu__router_find_track(r, v->src_peer, v->src_mid, &pub)
                                : NULL;
        if (t && t->kind == SFU_SDP_KIND_VIDEO)
            pli_layer(pub, t, v->cons.current >= 0 ? v->cons.current : v->cons.target);
    }
}

/* ---- JSON helpers (ids are SDP tokens; anything else is replaced) -------- */

static void token(char *out, size_t cap, const char *in)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        char c = *in;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '{' || c == '}' || c == ':';
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
}

/* ---- layers watched -------------------------------------------------------- */

static void notify_layers(sfu_peer *pub, sfu_peer_track *t, uint8_t mask)
{
    char json[512], mid[SFU_SDP_MID_LEN];
    token(mid, sizeof mid, t->mid);
    int n = snprintf(json, sizeof json,
                     "{\"type\":\"layers\",\"track\":\"%llu:%s\",\"mid\":\"%s\",\"active\":{",
                     (unsigned long long)pub->id, mid, mid);
    for (int l = 0; l < t->n_layers && n < (int)sizeof json - 64; l++) {
        char rid[SFU_SDP_RID_LEN];
        token(rid, sizeof rid, t->rids[l]);
        n += snprintf(json + n, sizeof json - (size_t)n, "%s\"%s\":%s", l ? "," : "", rid,
                      (mask >> l) & 1 ? "true" : "false");
    }
    snprintf(json + n, sizeof json - (size_t)n, "}}");
    sfu__peer_notify(pub, json, 0);
}

void sfu__router_update_layers(sfu_router *r)
{
    for (guint i = 0; i < r->peers->len; i++) {
        sfu_peer *pub = g_ptr_array_index(r->peers, i);
        for (int k = 0; k < pub->n_tracks; k++) {
            sfu_peer_track *t = &pub->tracks[k];
            if (t->role != SFU_TRACK_PRODUCE || !t->echo || t->n_layers < 2)
                continue;
            uint8_t mask = 0;
            for (guint j = 0; j < r->peers->len; j++) {
                sfu_peer *v = g_ptr_array_index(r->peers, j);
                for (int m = 0; m < v->n_tracks; m++) {
                    sfu_peer_track *c = &v->tracks[m];
                    if (c->role != SFU_TRACK_CONSUME || c->src_peer != pub->id ||
                        strcmp(c->src_mid, t->mid) != 0)
                        continue;
                    if (c->pin < 0 && c->max_height <= 0 && v->bwe)
                        mask |= 0xff; /* automatic: every layer may be chosen */
                    mask |= (uint8_t)(1u << c->cons.target);
                    if (c->cons.current >= 0)
                        mask |= (uint8_t)(1u << c->cons.current);
                }
            }
            mask |= sfu__router_tap_mask(r, pub, t); /* recorded: keep the top layer */
            if (!mask)
                mask = 1; /* nobody watches: keep the cheapest layer warm */
            mask &= (uint8_t)((1u << t->n_layers) - 1);
            if (mask != t->active_mask) {
                /* a resumed encoding starts with a keyframe by itself */
                t->active_mask = mask;
                notify_layers(pub, t, mask);
            }
        }
    }
}

/* ---- announcements ----------------------------------------------------------- */

static void announce(sfu_peer *p, sfu_peer_track *t, int added)
{
    char json[1024], mid[SFU_SDP_MID_LEN], stream[SFU_SDP_ID_LEN];
    token(mid, sizeof mid, t->mid);
    token(stream, sizeof stream, t->stream);
    int n = snprintf(json, sizeof json,
                     "{\"type\":\"%s\",\"track\":\"%llu:%s\",\"participant\":%llu,"
                     "\"kind\":\"%s\",\"stream\":\"%s\",\"rids\":[",
                     added ? "track-added" : "track-removed", (unsigned long long)p->id, mid,
                     (unsigned long long)p->id, t->kind == SFU_SDP_KIND_AUDIO ? "audio" : "video",
                     stream);
    for (int l = 0; l < t->n_layers && t->n_layers > 1 && n < (int)sizeof json - 64; l++) {
        char rid[SFU_SDP_RID_LEN];
        token(rid, sizeof rid, t->rids[l]);
        n += snprintf(json + n, sizeof json - (size_t)n, "%s\"%s\"", l ? "," : "", rid);
    }
    snprintf(json + n, sizeof json - (size_t)n, "]}");
    sfu__peer_notify(p, json, 1);
    t->announced = (uint8_t)added;
}

/* The layer a viewer's preference asks for (automatic: the highest; the
 * bandwidth estimate then moves it, select_layers). The one place that
 * turns pin / max_height into a layer. */
static int target_for(const sfu_peer_track *c, const sfu_peer_track *src)
{
    int top = src->n_layers > 1 ? src->n_layers - 1 : 0;
    if (c->pin >= 0)
        return c->pin > top ? top : c->pin;
    if (c->max_height > 0)
        return sfu_consumer_layer_for_height(src->layer_height, src->n_layers, c->max_height);
    return top;
}

void sfu__router_set_layer_pref(sfu_router *r, sfu_peer *v, int k, int pin, int max_height)
{
    sfu_peer_track *c = &v->tracks[k];
    c->pin = pin;
    c->max_height = max_height;
    sfu_peer_track *src = sfu__router_find_track(r, c->src_peer, c->src_mid, NULL);
    if (!src || src->n_layers < 2)
        return;
    int target = target_for(c, src);
    sfu_consumer_set_target(&c->cons, target);
    sfu_consumer_set_temporal(&c->cons, -1); /* a chosen layer comes at full rate */
    ML_DEBUG("room", "peer %llu: track %llu:%s target layer %d", (unsigned long long)v->id,
             (unsigned long long)c->src_peer, c->src_mid, target);
    sfu__router_update_layers(r);
    sfu__router_keyframe_request(r, v, k);
}

void sfu__router_after_negotiation(sfu_router *r, sfu_peer *p)
{
    sfu__router_changed(r);
    for (int i = 0; i < p->n_tracks; i++) {
        sfu_peer_track *t = &p->tracks[i];
        int live = t->role == SFU_TRACK_PRODUCE && t->echo;
        if (live && !t->announced) {
            t->muted = false; /* a new publication starts unmuted */
            t->active_mask = (uint8_t)((1u << (t->n_layers ? t->n_layers : 1)) - 1);
            announce(p, t, 1);
        } else if (!live && t->announced) {
            announce(p, t, 0);
        }
        if (t->role == SFU_TRACK_CONSUME && t->src_peer && t->cons.clock_rate == 0) {
            sfu_peer_track *src = sfu__router_find_track(r, t->src_peer, t->src_mid, NULL);
            int sim = src && src->n_layers > 1;
            sfu_consumer_init(&t->cons, sim, t->kind == SFU_SDP_KIND_AUDIO ? 48000 : 90000,
                              src ? target_for(t, src) : 0);
            sfu_consumer_continue(&t->cons, &t->cons_mark, t->kind == SFU_SDP_KIND_VIDEO);
            t->cons_mark.started = false;
            if (src)
                sfu__router_keyframe_request(r, p, i);
        }
    }
    sfu__router_update_layers(r);
}

void sfu__router_unmuted(sfu_router *r, sfu_peer *pub, int track)
{
    sfu_peer_track *t = &pub->tracks[track];
    int video = t->kind == SFU_SDP_KIND_VIDEO;
    for (guint i = 0; i < r->peers->len; i++) {
        sfu_peer *v = g_ptr_array_index(r->peers, i);
        for (int k = 0; k < v->n_tracks && v != pub; k++) {
            sfu_peer_track *c = &v->tracks[k];
            if (c->role != SFU_TRACK_CONSUME || c->src_peer != pub->id ||
                strcmp(c->src_mid, t->mid) != 0 || !c->cons.started)
                continue;
            sfu_consumer_resume(&c->cons, video);
            if (video)
                sfu__router_keyframe_request(r, v, k);
        }
    }
}

void sfu__router_withdraw(sfu_router *r, sfu_peer *p)
{
    burst_send(); /* what it published until now */
    for (int i = 0; i < p->n_tracks; i++) {
        sfu_peer_track *t = &p->tracks[i];
        if (t->role != SFU_TRACK_PRODUCE)
            continue;
        t->echo = 0;
        if (t->announced)
            announce(p, t, 0);
        sfu__router_rtx_release(t); /* its copies for resends (made again if it publishes) */
    }
    sfu__router_update_layers(r);
}

/* ---- forwarding ------------------------------------------------------------- */

/* Where the publisher's transport-wide sequence element sits in a packet,
 * found once per packet so that each viewer's copy is rewritten in place
 * without parsing it again. */
typedef struct twcc_pos {
    size_t off; /* offset of the element's data */
    size_t len; /* its data length */
    size_t hdr; /* element header size (1 or 2) */
    int count;  /* elements with that id (more than one is malformed) */
} twcc_pos;

/* Turn extension elements the viewer must not see (the publisher's mid,
 * rid and repaired rid) into padding (id 0), and locate the transport-wide
 * sequence element, which send_to() rewrites or blanks per viewer. */
static void blank_extensions(uint8_t *pkt, const sfu_rtp_packet *rp, const sfu_peer_track *t,
                             twcc_pos *tw)
{
    sfu_rtp_ext_iter it;
    sfu_rtp_ext e;
    memset(tw, 0, sizeof *tw);
    if (sfu_rtp_ext_iter_init(&it, rp) != 0)
        return;
    size_t hdr = it.two_byte ? 2 : 1;
    while (sfu_rtp_ext_next(&it, &e) == 1) {
        if (!e.id)
            continue;
        size_t off = (size_t)(e.data - pkt);
        if (e.id == t->ext_mid || e.id == t->ext_rid || e.id == t->ext_rrid) {
            memset(pkt + off - hdr, 0, hdr + e.len);
        } else if (e.id == t->ext_twcc) {
            if (tw->count++ == 0) {
                tw->off = off;
                tw->len = e.len;
                tw->hdr = hdr;
            }
        }
    }
}

static void send_to(sfu_peer *v, sfu_peer_track *c, const sfu_peer_track *t, int layer,
                    const uint8_t *pkt, size_t len, const sfu_rtp_packet *rp, const sfu_vp8_desc *d,
                    const sfu_consumer_out *o, const twcc_pos *tw, uint64_t now)
{
    if (!v->srtp || len + SFU_SRTP_MAX_OVERHEAD > sizeof scratch)
        return;
    memcpy(scratch, pkt, len);
    sfu__router_rewrite(scratch, rp->header_len, c, d, o->seq, o->ts, o->pid, o->tl0);
    int twcc = 0;
    uint16_t twcc_seq = 0;
    if (tw->count) {
        /* The viewer's own transport-wide sequence, for its estimate. */
        if (v->bwe && c->ext_twcc == t->ext_twcc && tw->len == 2) {
            twcc = 1;
            twcc_seq = v->twcc_out_seq++;
            sfu__wr16(scratch + tw->off, twcc_seq);
            sfu_bwe_on_sent(v->bwe, twcc_seq, len, now);
        } else {
            twcc = -1;
            if (tw->count == 1)
                memset(scratch + tw->off - tw->hdr, 0, tw->hdr + tw->len);
            else
                sfu__router_blank_ext(scratch, len, t->ext_twcc);
        }
    }
    if (c->rtxbuf)
        sfu__router_rtx_note(c, t, layer, rp, o, d != NULL, twcc, twcc_seq, len, now);
    size_t plen = len;
    if (sfu_srtp_protect_rtp(v->srtp, scratch, &plen, sizeof scratch) != 0) {
        v->st.send_errors++;
        return;
    }
    if (sfu__peer_send(v, scratch, plen) == 0) {
        v->st.rtp_out++;
        v->last_media_sent_us = now;
        if (!v->last_feedback_us)
            v->last_feedback_us = now; /* feedback is due from here on */
        sfu__router_on_sent(c, o->ts, rp->payload_len, now);
    }
}

/* The viewers of published track t (of pub), in the room's member order:
 * the list is what the loop over every member's every track used to find
 * per packet (role, source peer and mid, an SSRC to send with). */
static void build_fwd(sfu_router *r, sfu_peer *pub, sfu_peer_track *t)
{
    t->n_fwd = 0;
    for (guint i = 0; i < r->peers->len; i++) {
        sfu_peer *v = g_ptr_array_index(r->peers, i);
        if (v == pub)
            continue;
        for (int k = 0; k < v->n_tracks; k++) {
            sfu_peer_track *c = &v->tracks[k];
            if (c->role != SFU_TRACK_CONSUME || c->src_peer != pub->id ||
                strcmp(c->src_mid, t->mid) != 0 || !c->local_ssrc)
                continue;
            if (t->n_fwd == t->fwd_cap) {
                int cap = t->fwd_cap ? t->fwd_cap * 2 : 8;
                sfu_fwd *n = realloc(t->fwd, (size_t)cap * sizeof *n);
                if (!n) {
                    t->fwd_gen = 0; /* out of memory: these viewers now, all at the next packet */
                    return;
                }
                t->fwd = n;
                t->fwd_cap = cap;
            }
            t->fwd[t->n_fwd++] = (sfu_fwd){.v = v, .c = c};
        }
    }
    t->fwd_gen = r->gen;
}

#ifdef __SANITIZE_ADDRESS__
/* A change that forgot sfu__router_changed() leaves a list that differs
 * from a fresh scan: abort, so the test that did it fails at once. */
static void check_fwd(sfu_router *r, sfu_peer *pub, sfu_peer_track *t)
{
    if (t->fwd_gen != r->gen)
        return; /* out of memory while building: rebuilt next time */
    int n = t->n_fwd;
    sfu_fwd *saved = n ? malloc((size_t)n * sizeof *saved) : NULL;
    if (n && !saved)
        return;
    if (n)
        memcpy(saved, t->fwd, (size_t)n * sizeof *saved);
    build_fwd(r, pub, t);
    if (t->n_fwd != n || (n && memcmp(saved, t->fwd, (size_t)n * sizeof *saved) != 0)) {
        ML_ERROR("room", "room %s: stale forwarding list of peer %llu track %s", r->name,
                 (unsigned long long)pub->id, t->mid);
        abort();
    }
    free(saved);
}
#endif

/* One received packet as the fan-out needs it (everything found on
 * arrival). rp and d are used for their values only: header_len, seq,
 * payload_len and the descriptor's offsets. */
typedef struct fwd_pkt {
    const uint8_t *data;
    size_t len;
    int layer;
    bool is_vp8;
    sfu_rtp_packet rp;
    sfu_vp8_desc d;
    sfu_consumer_in in;
    twcc_pos tw;
} fwd_pkt;

/* Send pkts[0..n) of publisher track t to each of its viewers in turn:
 * all of them to one viewer, then the next. now: the time of sending. */
static void fan_out(sfu_router *r, sfu_peer *pub, sfu_peer_track *t, const fwd_pkt *pkts, int n,
                    uint64_t now)
{
    int switched = 0;
    /* Per layer, the last packet of the burst that starts a keyframe: a
     * viewer waiting for one of that layer gets it further on, so the
     * packets before it ask for none (its arrival has already answered
     * the requests outstanding, sfu_keyframe_on_keyframe: a request made
     * now would be another keyframe). */
    int last_key[SFU_CONSUMER_MAX_LAYERS];
    for (int l = 0; l < SFU_CONSUMER_MAX_LAYERS; l++)
        last_key[l] = -1;
    for (int k = 0; k < n; k++)
        if (pkts[k].in.keyframe_start && pkts[k].layer >= 0 &&
            pkts[k].layer < SFU_CONSUMER_MAX_LAYERS)
            last_key[pkts[k].layer] = k;
    if (t->fwd_gen != r->gen)
        build_fwd(r, pub, t);
#ifdef __SANITIZE_ADDRESS__
    check_fwd(r, pub, t); /* sanitizer builds (the tests): the list is what a scan finds */
#endif
    const sfu_fwd *f = t->fwd;
    for (int i = 0; i < t->n_fwd; i++) {
        sfu_peer *v = f[i].v;
        sfu_peer_track *c = f[i].c;
        if (i + 1 < t->n_fwd) {
            /* The next viewer's state is cold in a large room: fetch it
             * while this one is sent. */
            __builtin_prefetch(f[i + 1].v);
            __builtin_prefetch(&f[i + 1].c->cons);
        }
        if (!v->srtp)
            continue;
        if (v->stalled && t->kind == SFU_SDP_KIND_VIDEO) {
            v->st.drop_stalled += (uint64_t)n;
            continue;
        }
        for (int k = 0; k < n; k++) {
            const fwd_pkt *p = &pkts[k];
            sfu_consumer_out o;
            uint64_t shed = c->cons.dropped_temporal;
            if (!sfu_consumer_process(&c->cons, &p->in, &o)) {
                if (c->cons.dropped_temporal != shed)
                    v->st.drop_temporal++;
                int tg = c->cons.target;
                if (sfu_consumer_wants_keyframe(&c->cons) &&
                    !(tg >= 0 && tg < SFU_CONSUMER_MAX_LAYERS && last_key[tg] > k))
                    pli_layer(pub, t, tg);
                continue;
            }
            if (o.switched)
                switched = 1;
            send_to(v, c, t, p->layer, p->data, p->len, &p->rp, p->is_vp8 ? &p->d : NULL, &o,
                    &p->tw, now);
        }
    }
    if (switched)
        sfu__router_update_layers(r);
}

/* ---- bursts (see the top of this file) -------------------------------------- */

#define BURST_MAX 32

typedef struct burst {
    sfu_router *r;
    sfu_peer *pub;
    int track;
    int n;
    int sending;
    fwd_pkt pkts[BURST_MAX];
    uint8_t data[BURST_MAX][SFU_PEER_PKT_BUF] __attribute__((aligned(16)));
} burst;

static __thread burst *tl_burst;

static void burst_free(gpointer data)
{
    if (tl_burst == data)
        tl_burst = NULL;
    free(data);
}

static GPrivate burst_key = G_PRIVATE_INIT(burst_free); /* a thread's, at its exit */

/* SFU_FANOUT_BURST=0: no bursts (read once, for every worker). */
static bool bursts_on(void)
{
    static gsize mode; /* 0 unread, 1 off, 2 on */
    if (g_once_init_enter(&mode)) {
        const char *e = getenv("SFU_FANOUT_BURST");
        g_once_init_leave(&mode, e && strcmp(e, "0") == 0 ? 1 : 2);
    }
    return mode == 2;
}

static void burst_send(void)
{
    burst *b = tl_burst;
    if (!b || b->n == 0 || b->sending)
        return;
    b->sending = 1;
    sfu_peer *pub = b->pub;
    sfu_router *r = b->r;
    int n = b->n;
    /* The track is looked up again: a renegotiation may have moved the
     * tracks (it calls sfu__router_changed first, which sends the burst,
     * so this is the same track unless the burst was made since). */
    if (b->track < pub->n_tracks && pub->tracks[b->track].role == SFU_TRACK_PRODUCE)
        fan_out(r, pub, &pub->tracks[b->track], b->pkts, n, sfu_now_us());
    b->n = 0;
    b->sending = 0;
}

static void burst_deferred(void)
{
    burst_send();
}

/* Keep p (data copied) for the end of the dispatch. Returns false when
 * bursts are off or cannot be kept here (sent at once instead). */
static bool burst_add(sfu_router *r, sfu_peer *pub, int track, const fwd_pkt *p)
{
    if (!bursts_on() || p->len > SFU_PEER_PKT_BUF)
        return false;
    burst *b = tl_burst;
    if (b && b->sending)
        return false; /* (a packet arriving while a burst is sent: not expected) */
    if (b && b->n > 0 && (b->r != r || b->pub != pub || b->track != track || b->n == BURST_MAX))
        burst_send();
    if (!b) {
        b = aligned_alloc(16, (sizeof *b + 15) & ~(size_t)15);
        if (!b)
            return false;
        b->n = 0;
        b->sending = 0;
        tl_burst = b;
        g_private_set(&burst_key, b);
    }
    if (b->n == 0 && sfu_udp_batch_defer(burst_deferred) != 0)
        return false; /* no send queue on this thread: nothing would run it */
    int k = b->n++;
    b->r = r;
    b->pub = pub;
    b->track = track;
    fwd_pkt *q = &b->pkts[k];
    *q = *p;
    memcpy(b->data[k], p->data, p->len);
    q->data = b->data[k];
    /* pointers into the packet follow it (only offsets are used) */
    const uint8_t *from = p->data;
    uint8_t *to = b->data[k];
    if (q->rp.csrc)
        q->rp.csrc = to + (q->rp.csrc - from);
    if (q->rp.ext)
        q->rp.ext = to + (q->rp.ext - from);
    if (q->rp.payload)
        q->rp.payload = to + (q->rp.payload - from);
    if (p->is_vp8 && q->d.payload)
        q->d.payload = to + (q->d.payload - from);
    return true;
}

void sfu__router_on_rtp(sfu_router *r, sfu_peer *pub, int track, int layer, uint8_t *pkt,
                        size_t len, const sfu_rtp_packet *rp)
{
    sfu_peer_track *t = &pub->tracks[track];
    if (t->muted) {
        pub->st.drop_muted++;
        return;
    }
    uint64_t now = sfu_now_us(); /* the one clock read of this packet */
    fwd_pkt p = {.data = pkt, .len = len, .layer = layer, .rp = *rp};
    sfu_vp8_desc *d = &p.d;
    p.is_vp8 = t->kind == SFU_SDP_KIND_VIDEO && rp->payload_len > 0 &&
               sfu_vp8_parse(rp->payload, rp->payload_len, d) == 0;
    bool is_vp8 = p.is_vp8;
    int key = is_vp8 && d->is_keyframe;
    if (key && layer >= 0 && layer < SFU_CONSUMER_MAX_LAYERS) {
        if (d->has_size)
            t->layer_height[layer] = d->height;
        sfu_keyframe_on_keyframe(&t->kf[layer], now);
        if (t->nack[layer])
            sfu_nack_on_keyframe(t->nack[layer], rp->seq);
    }
    if (t->kind == SFU_SDP_KIND_AUDIO && t->ext_audio_level && r->speaker) {
        sfu_rtp_ext e;
        bool voice;
        uint8_t level;
        if (sfu_rtp_ext_find(rp, t->ext_audio_level, &e) == 0 &&
            sfu_rtp_ext_audio_level(&e, &voice, &level) == 0)
            sfu_speaker_on_level(r->speaker, (uint32_t)pub->id, level, voice, now);
    }
    if (r->taps)
        sfu__router_tap_rtp(r, pub, t, layer, key, pkt, len, now);
    blank_extensions(pkt, rp, t, &p.tw);
    if (t->n_layers > 1 && layer >= 0 && layer < SFU_CONSUMER_MAX_LAYERS) {
        sfu_rate_meter_add(&t->meter[layer], len, now);
        if (is_vp8 && d->has_tid)
            sfu_rate_meter_add(
                &t->tmeter[layer]
                          [d->tid < SFU_PEER_MAX_TEMPORAL ? d->tid : SFU_PEER_MAX_TEMPORAL - 1],
                len, now);
    }
    p.in = (sfu_consumer_in){
        .layer = layer,
        .seq = rp->seq,
        .ts = rp->timestamp,
        .keyframe_start = key,
        .has_pid = is_vp8 && d->has_picture_id,
        .has_tl0 = is_vp8 && d->has_tl0picidx,
        .pid = is_vp8 ? d->picture_id : 0,
        .tl0 = is_vp8 ? d->tl0picidx : 0,
        .has_tid = is_vp8 && d->has_tid,
        .tid = is_vp8 ? d->tid : 0,
        .layer_sync = is_vp8 && d->layer_sync,
        .frame_start = is_vp8 && d->start && d->partition == 0,
        .now_us = now,
    };
    if (t->fwd_gen != r->gen)
        build_fwd(r, pub, t);
#ifdef __SANITIZE_ADDRESS__
    check_fwd(r, pub, t); /* (again when sent: a burst may wait) */
#endif
    if (t->n_fwd == 0)
        return; /* nobody watches (a burst would not find anyone either) */
    if (t->kind == SFU_SDP_KIND_VIDEO) {
        if (sfu__router_rtx_renews(t, layer, rp->ssrc))
            burst_send(); /* its viewers note the old copies first */
        sfu__router_rtx_keep(t, layer, pkt, len, rp->ssrc, now); /* the viewers' resends */
    }
    if (!burst_add(r, pub, track, &p))
        fan_out(r, pub, t, &p, 1, now);
}
