/*
 * Retransmissions from one shared copy per publisher (see router_internal.h).
 *
 * A viewer's copy of a packet differs from the publisher's only in a few
 * header fields: sequence number, timestamp, SSRC, payload type, VP8
 * PictureID and TL0PICIDX, and the transport-wide sequence element
 * (rewritten with the viewer's own number or blanked). So instead of
 * every viewer keeping a byte ring of its own copies (a 256 KiB ring per
 * 720p viewer, and a copy into cold memory per viewer per packet), each
 * video publisher track keeps one ring per simulcast layer (sfu_rtx_source,
 * byte mode of sfu_rtx_buffer) and each viewer a ledger (ledger mode):
 * per packet sent, where its bytes are (ring generation, layer, publisher
 * sequence number) and the values it was rewritten with. A NACKed packet
 * is rebuilt from the two through the same rewrite as the first send.
 *
 * A ring's generation is unique across the process: it changes when the
 * publisher's SSRC for that layer changes (the sequence numbers start
 * over) and when the publisher track goes away, so a viewer whose ledger
 * points into an older ring, or another publisher's, finds nothing and
 * the request counts as gone (the viewer's decoder then asks for a
 * keyframe, as it would after a loss too old to repair). A viewer holds a
 * reference to the source it last read from; a publisher that leaves
 * frees its rings at once, the small struct goes with the last viewer.
 */
#include "sfu/router_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/vp8.h"

/* The publisher's ring holds at least as long as its viewers may ask
 * (a viewer's useful age: 1 s, or three of its RTTs): 3 s, or three of the
 * longest viewer RTT seen, as far as 4096 packets and 2 MiB go (~6 s of
 * 2.5 Mbit/s video, for RTTs up to 2 s). */
#define SOURCE_PACKETS 4096
#define SOURCE_MAX_AGE_US 3000000ull
#define SOURCE_RING_MAX (2u * 1024u * 1024u)

struct sfu_rtx_source {
    int refs; /* the publisher track's, plus one per viewer track reading it */
    sfu_rtx_buffer *ring[SFU_CONSUMER_MAX_LAYERS];
    uint32_t ssrc[SFU_CONSUMER_MAX_LAYERS];
    uint32_t gen[SFU_CONSUMER_MAX_LAYERS]; /* 0: no ring */
    uint64_t rtt_us;                       /* the longest viewer RTT seen */
};

enum { REF_VP8 = 1, REF_TWCC_WRITE = 2, REF_TWCC_BLANK = 4 };

/* What a viewer's ledger keeps per packet. */
typedef struct rtx_ref {
    uint32_t gen;
    uint32_t ts;
    uint16_t src_seq;
    uint16_t pid;
    uint16_t twcc_seq;
    uint8_t layer;
    uint8_t tl0;
    uint8_t twcc_id;
    uint8_t flags;
} rtx_ref;

_Static_assert(sizeof(rtx_ref) <= SFU_RTX_REF_SIZE, "ledger reference too large");

static atomic_uint next_gen;

static uint32_t new_gen(void)
{
    uint32_t g;
    do
        g = atomic_fetch_add(&next_gen, 1) + 1;
    while (g == 0);
    return g;
}

static void source_unref(sfu_rtx_source *s)
{
    if (!s || --s->refs > 0)
        return;
    for (int k = 0; k < SFU_CONSUMER_MAX_LAYERS; k++)
        sfu_rtx_buffer_destroy(s->ring[k]);
    free(s);
}

void sfu__router_rtx_keep(sfu_peer_track *t, int layer, const uint8_t *pkt, size_t len,
                          uint32_t ssrc, uint64_t now)
{
    if (layer < 0 || layer >= SFU_CONSUMER_MAX_LAYERS)
        return;
    sfu_rtx_source *s = t->rtx_own;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return;
        s->refs = 1;
        t->rtx_own = s;
    }
    if (!s->ring[layer] || s->ssrc[layer] != ssrc) {
        /* First packet of the layer, or a new SSRC (its numbering starts
         * over): a fresh ring, and what viewers noted before is gone. */
        sfu_rtx_buffer_destroy(s->ring[layer]);
        sfu_rtx_buffer_config cfg = {.capacity = SOURCE_PACKETS,
                                     .max_age_us = SOURCE_MAX_AGE_US,
                                     .ring_bytes = SOURCE_RING_MAX};
        s->ring[layer] = sfu_rtx_buffer_create(&cfg);
        s->gen[layer] = s->ring[layer] ? new_gen() : 0;
        s->ssrc[layer] = ssrc;
        if (!s->ring[layer])
            return;
        sfu_rtx_buffer_set_rtt(s->ring[layer], s->rtt_us);
    }
    (void)sfu_rtx_buffer_store(s->ring[layer], pkt, len, now);
}

bool sfu__router_rtx_renews(const sfu_peer_track *t, int layer, uint32_t ssrc)
{
    const sfu_rtx_source *s = t->rtx_own;
    return s && layer >= 0 && layer < SFU_CONSUMER_MAX_LAYERS && s->ring[layer] &&
           s->ssrc[layer] != ssrc;
}

void sfu__router_rtx_note(sfu_peer_track *c, const sfu_peer_track *t, int layer,
                          const sfu_rtp_packet *rp, const sfu_consumer_out *o, bool vp8, int twcc,
                          uint16_t twcc_seq, size_t len, uint64_t now)
{
    if (c->rtx_from != t->rtx_own) {
        source_unref(c->rtx_from);
        c->rtx_from = t->rtx_own;
        if (c->rtx_from)
            c->rtx_from->refs++;
    }
    const sfu_rtx_source *s = c->rtx_from;
    rtx_ref r = {
        .gen = s && layer >= 0 && layer < SFU_CONSUMER_MAX_LAYERS ? s->gen[layer] : 0,
        .ts = o->ts,
        .src_seq = rp->seq,
        .pid = o->pid,
        .twcc_seq = twcc_seq,
        .layer = (uint8_t)(layer >= 0 ? layer : 0),
        .tl0 = o->tl0,
        .twcc_id = t->ext_twcc,
        .flags = (uint8_t)((vp8 ? REF_VP8 : 0) | (twcc > 0 ? REF_TWCC_WRITE : 0) |
                           (twcc < 0 ? REF_TWCC_BLANK : 0)),
    };
    uint8_t buf[SFU_RTX_REF_SIZE] = {0};
    memcpy(buf, &r, sizeof r);
    (void)sfu_rtx_buffer_note(c->rtxbuf, o->seq, len, now, buf);
}

void sfu__router_rewrite(uint8_t *pkt, size_t header_len, const sfu_peer_track *c,
                         const sfu_vp8_desc *d, uint16_t seq, uint32_t ts, uint16_t pid,
                         uint8_t tl0)
{
    sfu_rtp_set_seq(pkt, seq);
    sfu_rtp_set_timestamp(pkt, ts);
    sfu_rtp_set_ssrc(pkt, c->local_ssrc);
    sfu_rtp_set_pt(pkt, c->pt);
    if (d) {
        if (d->has_picture_id)
            sfu_vp8_set_picture_id(pkt + header_len, d, pid);
        if (d->has_tl0picidx)
            sfu_vp8_set_tl0picidx(pkt + header_len, d, tl0);
    }
}

void sfu__router_blank_ext(uint8_t *pkt, size_t len, uint8_t id)
{
    sfu_rtp_packet rp;
    sfu_rtp_ext_iter it;
    sfu_rtp_ext e;
    if (sfu_rtp_parse(pkt, len, &rp) != 0 || sfu_rtp_ext_iter_init(&it, &rp) != 0)
        return;
    int hdr = it.two_byte ? 2 : 1;
    while (sfu_rtp_ext_next(&it, &e) == 1)
        if (e.id == id)
            memset(pkt + (e.data - pkt) - hdr, 0, (size_t)hdr + e.len);
}

int sfu__router_rtx_rebuild(const sfu_peer_track *c, uint16_t seq, const void *ref, uint8_t *out,
                            size_t cap)
{
    rtx_ref r;
    memcpy(&r, ref, sizeof r);
    const sfu_rtx_source *s = c->rtx_from;
    if (!s || !r.gen || r.layer >= SFU_CONSUMER_MAX_LAYERS || s->gen[r.layer] != r.gen ||
        !s->ring[r.layer])
        return -1;
    size_t len;
    const uint8_t *p = sfu_rtx_buffer_get(s->ring[r.layer], r.src_seq, &len, NULL);
    sfu_rtp_packet rp;
    if (!p || len > cap)
        return -1;
    memcpy(out, p, len);
    if (sfu_rtp_parse(out, len, &rp) != 0)
        return -1;
    sfu_vp8_desc d;
    int vp8 = (r.flags & REF_VP8) && rp.payload_len > 0 &&
              sfu_vp8_parse(rp.payload, rp.payload_len, &d) == 0;
    sfu__router_rewrite(out, rp.header_len, c, vp8 ? &d : NULL, seq, r.ts, r.pid, r.tl0);
    if (r.flags & REF_TWCC_WRITE)
        (void)sfu_rtp_set_twcc_seq(out, len, r.twcc_id, r.twcc_seq);
    else if (r.flags & REF_TWCC_BLANK)
        sfu__router_blank_ext(out, len, r.twcc_id);
    return (int)len;
}

void sfu__router_rtx_viewer_rtt(sfu_peer_track *c, uint64_t rtt_us)
{
    sfu_rtx_source *s = c->rtx_from;
    if (!s || rtt_us <= s->rtt_us)
        return;
    s->rtt_us = rtt_us;
    for (int k = 0; k < SFU_CONSUMER_MAX_LAYERS; k++)
        if (s->ring[k])
            sfu_rtx_buffer_set_rtt(s->ring[k], rtt_us);
}

void sfu__router_rtx_release(sfu_peer_track *t)
{
    sfu_rtx_source *s = t->rtx_own;
    if (s) {
        /* The publisher's track is gone: its copies with it; viewers that
         * still point here find no ring. */
        for (int k = 0; k < SFU_CONSUMER_MAX_LAYERS; k++) {
            sfu_rtx_buffer_destroy(s->ring[k]);
            s->ring[k] = NULL;
            s->gen[k] = 0;
        }
        source_unref(s);
        t->rtx_own = NULL;
    }
    source_unref(t->rtx_from);
    t->rtx_from = NULL;
}
