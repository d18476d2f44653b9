/*
 * A room's packet path: a publisher's RTP packet to each of its viewers
 * (see router.c for rooms, layers and keyframes; router_rtx.c for the
 * copies kept for resends). Worker thread only.
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
#include "sfu/speaker.h"
#include "sfu/udp_batch.h"
#include "sfu/vp8.h"

#include <stdlib.h>
#include <string.h>

/* Scratch for one outgoing copy; the worker runs one packet at a time. */
static __thread uint8_t scratch[SFU_PEER_PKT_BUF] __attribute__((aligned(16)));

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
    for (guint i = 0; i < sfu__router_peers(r)->len; i++) {
        sfu_peer *v = g_ptr_array_index(sfu__router_peers(r), i);
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
    t->fwd_gen = sfu__router_gen(r);
}

#ifdef __SANITIZE_ADDRESS__
/* A change that forgot sfu__router_changed() leaves a list that differs
 * from a fresh scan: abort, so the test that did it fails at once. */
static void check_fwd(sfu_router *r, sfu_peer *pub, sfu_peer_track *t)
{
    if (t->fwd_gen != sfu__router_gen(r))
        return; /* out of memory while building: rebuilt next time */
    int n = t->n_fwd;
    sfu_fwd *saved = n ? malloc((size_t)n * sizeof *saved) : NULL;
    if (n && !saved)
        return;
    if (n)
        memcpy(saved, t->fwd, (size_t)n * sizeof *saved);
    build_fwd(r, pub, t);
    if (t->n_fwd != n || (n && memcmp(saved, t->fwd, (size_t)n * sizeof *saved) != 0)) {
        ML_ERROR("room", "room %s: stale forwarding list of peer %llu track %s", sfu__router_name(r),
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
    if (t->fwd_gen != sfu__router_gen(r))
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
                    sfu__router_pli_layer(pub, t, tg);
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

void sfu__router_burst_send(void)
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
    sfu__router_burst_send();
}

/* Send the pending burst now if the packet arriving for (r, pub, track,
 * layer) will not join it: another track's, a full burst, or a new SSRC
 * that renews its layer's resend copies (the burst's viewers note the old
 * copies first). Called before the packet's own keyframe bookkeeping: a
 * keyframe arriving here answers the requests outstanding, so the
 * burst's packets before it must make theirs first (as they would packet
 * by packet); a keyframe that joins the burst is seen by fan_out's
 * last_key instead. */
static void burst_close_for(sfu_router *r, sfu_peer *pub, int track, int layer, uint32_t ssrc)
{
    const burst *b = tl_burst;
    if (!b || b->n == 0 || b->sending)
        return;
    const sfu_peer_track *t = &pub->tracks[track];
    if (b->r != r || b->pub != pub || b->track != track || b->n == BURST_MAX ||
        (t->kind == SFU_SDP_KIND_VIDEO && sfu__router_rtx_renews(t, layer, ssrc)))
        sfu__router_burst_send();
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
    /* (a burst this packet cannot join was sent by burst_close_for) */
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
    burst_close_for(r, pub, track, layer, rp->ssrc);
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
    if (t->kind == SFU_SDP_KIND_AUDIO && t->ext_audio_level && sfu__router_speaker(r)) {
        sfu_rtp_ext e;
        bool voice;
        uint8_t level;
        if (sfu_rtp_ext_find(rp, t->ext_audio_level, &e) == 0 &&
            sfu_rtp_ext_audio_level(&e, &voice, &level) == 0)
            sfu_speaker_on_level(sfu__router_speaker(r), (uint32_t)pub->id, level, voice, now);
    }
    if (*sfu__router_taps_of(r))
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
    if (t->fwd_gen != sfu__router_gen(r))
        build_fwd(r, pub, t);
#ifdef __SANITIZE_ADDRESS__
    check_fwd(r, pub, t); /* (again when sent: a burst may wait) */
#endif
    if (t->n_fwd == 0)
        return; /* nobody watches (a burst would not find anyone either) */
    if (t->kind == SFU_SDP_KIND_VIDEO) /* (a renewal sent the burst: burst_close_for) */
        sfu__router_rtx_keep(t, layer, pkt, len, rp->ssrc, now); /* the viewers' resends */
    if (!burst_add(r, pub, track, &p))
        fan_out(r, pub, t, &p, 1, now);
}
