/*
 * Rooms: membership, announcement of published tracks, fan-out with
 * simulcast layer selection, keyframe requests and layer pause/resume
 * (see router.h); the packet path itself is router_fwd.c. Everything
 * below except create/destroy runs on the room's worker thread.
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
 */
#include "sfu/router_internal.h"

#include "common/log.h"
#include "sfu/clock.h"
#include "sfu/peer_room.h"
#include "sfu/speaker.h"

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
    sfu__router_burst_send(); /* (peers leave first, which sends any burst of theirs) */
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
    sfu__router_burst_send();
}

void sfu__router_add(sfu_router *r, sfu_peer *p)
{
    sfu__router_burst_send();
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
    sfu__router_burst_send();
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

uint64_t sfu__router_gen(const sfu_router *r)
{
    return r->gen;
}

struct sfu_speaker *sfu__router_speaker(sfu_router *r)
{
    return r->speaker;
}

const char *sfu__router_name(const sfu_router *r)
{
    return r->name;
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
    sfu__router_burst_send(); /* what it published until now */
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
