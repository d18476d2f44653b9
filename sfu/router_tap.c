/*
 * Recording taps of a room (see "Recording tap" in router.h). A room holds
 * up to TAP_MAX taps, each naming one producer track ("<peer>:<mid>") and
 * an opaque sink with its callbacks. Everything here runs on the room's
 * worker: attach and detach arrive as posted tasks, packets come from
 * sfu__router_on_rtp() and SRs from the peer's RTCP path. The packet path
 * is a short loop over the room's taps and one callback per tapped packet
 * (the sink copies it into a ring and returns; it never waits).
 *
 * Simulcast: only the highest layer that is being received (rate meter
 * active within LAYER_ACTIVE_US) is recorded. When that changes the tap
 * asks for a keyframe on the new layer and records both layers until the
 * new layer's keyframe arrives, so the post-processor can switch cleanly.
 */
#include "sfu/router_internal.h"

#include "common/log.h"
#include "sfu/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_MAX 8
#define LAYER_ACTIVE_US 500000u

typedef struct tap {
    uint64_t peer;
    char mid[SFU_SDP_MID_LEN];
    const sfu_tap_ops *ops;
    void *sink;
    int cur, pending;  /* recorded layer, layer switched to (-1 none) */
    uint8_t announced; /* layers whose SSRC the sink was told */
    int live;          /* the sink took a packet */
    sfu_tap_stats st;
} tap;

struct sfu__router_taps {
    tap v[TAP_MAX];
    int n;
    int live; /* taps taking packets */
};

typedef struct tap_cmd {
    sfu_router *r;
    uint64_t peer;
    char mid[SFU_SDP_MID_LEN];
    const sfu_tap_ops *ops;
    void *sink;
} tap_cmd;

/* Tell the room that recording is on or off (through any member). */
static void notice(sfu_router *r, int on)
{
    GPtrArray *peers = sfu__router_peers(r);
    if (!peers || peers->len == 0)
        return;
    char json[64];
    snprintf(json, sizeof json, "{\"type\":\"recording\",\"state\":\"%s\"}", on ? "on" : "off");
    sfu__peer_notify(g_ptr_array_index(peers, 0), json, 1);
}

static sfu_peer_track *track_of(sfu_router *r, uint64_t peer, const char *mid, sfu_peer **owner)
{
    return sfu__router_find_track(r, peer, mid, owner);
}

static void attach_task(void *arg)
{
    tap_cmd *c = arg;
    sfu__router_taps **tp = sfu__router_taps_of(c->r);
    sfu_peer *pub = NULL;
    sfu_peer_track *t = track_of(c->r, c->peer, c->mid, &pub);
    if (!*tp)
        *tp = calloc(1, sizeof **tp);
    if (!t || !*tp || (*tp)->n >= TAP_MAX) {
        c->ops->attached(c->sink, NULL);
        return;
    }
    tap *x = &(*tp)->v[(*tp)->n++];
    memset(x, 0, sizeof *x);
    x->peer = c->peer;
    snprintf(x->mid, sizeof x->mid, "%s", c->mid);
    x->ops = c->ops;
    x->sink = c->sink;
    x->cur = x->pending = -1;
    sfu_tap_track info;
    memset(&info, 0, sizeof info);
    info.audio = t->kind == SFU_SDP_KIND_AUDIO;
    info.payload_type = t->pt;
    info.clock_rate = t->clock_rate ? t->clock_rate : info.audio ? 48000 : 90000;
    info.n_layers = t->n_layers > SFU_TAP_MAX_LAYERS ? SFU_TAP_MAX_LAYERS : t->n_layers;
    for (int l = 0; l < info.n_layers; l++) {
        snprintf(info.rids[l], sizeof info.rids[l], "%s", t->rids[l]);
        info.ssrcs[l] = t->layer_ssrc[l];
        if (t->layer_ssrc[l])
            x->announced |= (uint8_t)(1u << l);
    }
    if (info.n_layers <= 1)
        info.ssrcs[0] = t->remote_ssrc;
    ML_INFO("room", "tap on track %llu:%s (%s, %u layers)", (unsigned long long)c->peer, c->mid,
            info.audio ? "audio" : "video", info.n_layers);
    c->ops->attached(c->sink, &info);
    sfu__router_update_layers(c->r); /* keep the top layer encoding */
}

static void remove_at(sfu_router *r, sfu__router_taps *ts, int i)
{
    tap x = ts->v[i];
    ts->v[i] = ts->v[--ts->n];
    if (x.live && --ts->live == 0)
        notice(r, 0);
    ML_INFO("room", "tap off track %llu:%s: %llu packets, %llu drops", (unsigned long long)x.peer,
            x.mid, (unsigned long long)x.st.packets, (unsigned long long)x.st.drops);
    x.ops->detached(x.sink, &x.st);
}

static void detach_task(void *arg)
{
    tap_cmd *c = arg;
    sfu__router_taps *ts = *sfu__router_taps_of(c->r);
    for (int i = 0; ts && i < ts->n; i++)
        if (ts->v[i].sink == c->sink) {
            remove_at(c->r, ts, i);
            sfu__router_update_layers(c->r);
            return;
        }
}

static int post(sfu_router *r, sfu_worker_fn fn, uint64_t peer, const char *mid,
                const sfu_tap_ops *ops, void *sink)
{
    tap_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->r = r;
    c->peer = peer;
    snprintf(c->mid, sizeof c->mid, "%s", mid ? mid : "");
    c->ops = ops;
    c->sink = sink;
    if (sfu_worker_post(sfu_router_worker(r), fn, c, free) != 0) {
        free(c);
        return -1;
    }
    return 0;
}

int sfu_router_tap_attach(sfu_router *r, uint64_t peer, const char *mid, const sfu_tap_ops *ops,
                          void *sink)
{
    return post(r, attach_task, peer, mid, ops, sink);
}

int sfu_router_tap_detach(sfu_router *r, void *sink)
{
    return post(r, detach_task, 0, NULL, NULL, sink);
}

void sfu__router_tap_free(sfu_router *r)
{
    sfu__router_taps **tp = sfu__router_taps_of(r);
    while (*tp && (*tp)->n > 0)
        remove_at(r, *tp, (*tp)->n - 1);
    free(*tp);
    *tp = NULL;
}

/* Highest simulcast layer of t received lately (or `fallback`). */
static int top_layer(const sfu_peer_track *t, uint64_t now, int fallback)
{
    for (int l = t->n_layers - 1; l >= 0; l--)
        if (sfu_rate_meter_active(&t->meter[l], now, LAYER_ACTIVE_US))
            return l;
    return fallback;
}

/* Whether packet of `layer` is recorded; follows the top layer. */
static int want_layer(tap *x, sfu_peer *pub, sfu_peer_track *t, int layer, int key, uint64_t now)
{
    int top = top_layer(t, now, layer);
    if (x->cur < 0) {
        x->cur = top;
        sfu__router_pli_layer(pub, t, top);
    } else if (top != x->cur && top != x->pending) {
        x->pending = top;
        x->st.layer_switches++;
        sfu__router_pli_layer(pub, t, top);
    }
    if (x->pending >= 0 && layer == x->pending && key) {
        x->cur = x->pending;
        x->pending = -1;
    }
    return layer == x->cur || layer == x->pending;
}

void sfu__router_tap_rtp(sfu_router *r, sfu_peer *pub, sfu_peer_track *t, int layer, int key,
                         const uint8_t *pkt, size_t len, uint64_t now)
{
    sfu__router_taps *ts = *sfu__router_taps_of(r);
    for (int i = 0; i < ts->n; i++) {
        tap *x = &ts->v[i];
        if (x->peer != pub->id || strcmp(x->mid, t->mid) != 0)
            continue;
        if (t->n_layers > 1 && layer >= 0 && layer < SFU_TAP_MAX_LAYERS) {
            if (!((x->announced >> layer) & 1) && t->layer_ssrc[layer] &&
                x->ops->layer(x->sink, now, t->layer_ssrc[layer], t->rids[layer]) == 0)
                x->announced |= (uint8_t)(1u << layer);
            if (!want_layer(x, pub, t, layer, key, now))
                continue;
        }
        int rc = x->ops->rtp(x->sink, now, pkt, len);
        if (rc < 0) {
            x->st.drops++;
        } else if (rc == 0) {
            x->st.packets++;
            x->st.bytes += len;
            if (!x->live) {
                x->live = 1;
                if (t->kind == SFU_SDP_KIND_VIDEO) /* the file must start with a keyframe */
                    sfu__router_pli_layer(pub, t, x->cur >= 0 ? x->cur : 0);
                if (ts->live++ == 0)
                    notice(r, 1);
            }
        }
    }
}

void sfu__router_tap_rtcp(sfu_router *r, sfu_peer *p, const sfu_rtcp_pkt *pkt)
{
    sfu__router_taps *ts = *sfu__router_taps_of(r);
    sfu_rtcp_report rep;
    if (!ts || ts->n == 0 || sfu_rtcp_parse_report(pkt, &rep) != 0 || !rep.is_sr)
        return;
    uint64_t now = 0;
    for (int i = 0; i < ts->n; i++) {
        tap *x = &ts->v[i];
        if (x->peer != p->id)
            continue;
        sfu_peer_track *t = track_of(r, p->id, x->mid, NULL);
        if (!t)
            continue;
        int match = t->remote_ssrc == rep.ssrc;
        for (int l = 0; l < t->n_layers && !match; l++)
            match = t->layer_ssrc[l] == rep.ssrc;
        if (!match)
            continue;
        if (!now)
            now = sfu_now_us();
        if (x->ops->sr(x->sink, now, rep.ssrc, rep.ntp, rep.rtp_ts, rep.packet_count,
                       rep.octet_count) == 0)
            x->st.srs++;
        else
            x->st.drops++;
    }
}

uint8_t sfu__router_tap_mask(sfu_router *r, const sfu_peer *pub, const sfu_peer_track *t)
{
    sfu__router_taps *ts = *sfu__router_taps_of(r);
    for (int i = 0; ts && i < ts->n; i++)
        if (ts->v[i].peer == pub->id && !strcmp(ts->v[i].mid, t->mid) && t->n_layers > 1)
            return (uint8_t)(1u << (t->n_layers - 1));
    return 0;
}
