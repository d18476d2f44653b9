/*
 * VP8 depacketization (RFC 7741) and simulcast layer selection for
 * post-processing. Packets of one SSRC, already ordered by extended
 * sequence number, are grouped into frames by RTP timestamp; a frame is
 * complete when its packets are contiguous, the first starts partition 0
 * (S=1, PID=0) and the last carries the marker bit. Output starts on a
 * keyframe; after any loss (an incomplete frame or a gap between frames)
 * frames are skipped until the next keyframe, since later delta frames
 * would reference what was lost.
 *
 * Simulcast: each layer (SSRC) is depacketized on its own, then the frames
 * of all layers are walked in session time; the target is the highest
 * ranked layer present (a frame within the last 500 ms), ranked by keyframe
 * resolution, and the output switches to it only on one of its keyframes.
 */
#include "recorder/process_internal.h"
#include "sfu/vp8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRESENT_US 500000
#define SAME_TIME_US 5000

/* Depacketize one stream into frames. */
static int stream_frames(const rec__track *t, const rec__stream *s, int layer, int64_t offset_us,
                         rec__frames *out, rec_track_report *rep)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    bool need_key = true;
    int64_t prev_last = 0;
    bool have_prev = false;
    size_t i = 0;
    while (i < s->npkts) {
        size_t j = i + 1;
        while (j < s->npkts && s->pkts[j].ext_ts == s->pkts[i].ext_ts)
            j++;
        bool complete = s->pkts[j - 1].marker;
        if (have_prev && s->pkts[i].ext_seq != prev_last + 1)
            need_key = true; /* a gap before this frame: something was lost */
        for (size_t k = i + 1; k < j; k++)
            if (s->pkts[k].ext_seq != s->pkts[k - 1].ext_seq + 1)
                complete = false;
        sfu_vp8_desc d0;
        if (sfu_vp8_parse(s->pkts[i].payload, s->pkts[i].payload_len, &d0) != 0 || !d0.start ||
            d0.partition != 0)
            complete = false;
        size_t len = 0;
        for (size_t k = i; complete && k < j; k++) {
            sfu_vp8_desc d;
            if (sfu_vp8_parse(s->pkts[k].payload, s->pkts[k].payload_len, &d) != 0) {
                complete = false;
                break;
            }
            if (len + d.payload_len > cap) {
                size_t nc = (len + d.payload_len) * 2;
                uint8_t *nb = realloc(buf, nc);
                if (!nb)
                    goto fail;
                buf = nb;
                cap = nc;
            }
            memcpy(buf + len, d.payload, d.payload_len);
            len += d.payload_len;
        }
        prev_last = s->pkts[j - 1].ext_seq;
        have_prev = true;
        if (!complete || (need_key && !d0.is_keyframe)) {
            need_key = true;
            rep->skipped_frames++;
            i = j;
            continue;
        }
        need_key = false;
        rec__frame f = {
            .t_us = rec__stream_time(t, s, s->pkts[i].ext_ts, offset_us),
            .data = buf,
            .len = len,
            .key = d0.is_keyframe,
            .width = d0.has_size ? d0.width : 0,
            .height = d0.has_size ? d0.height : 0,
            .layer = layer,
        };
        if (rec__frames_push(out, &f) != 0)
            goto fail;
        i = j;
    }
    free(buf);
    return 0;
fail:
    free(buf);
    return -1;
}

int rec__vp8_frames(const rec__track *t, int64_t offset_us, rec__frames *per_stream,
                    rec_track_report *rep)
{
    for (size_t i = 0; i < t->nstreams; i++)
        if (stream_frames(t, &t->streams[i], (int)i, offset_us, &per_stream[i], rep) != 0)
            return -1;
    return 0;
}

/* Rank of each layer: keyframe area, then the order of the rid in the header. */
static int64_t layer_rank(const rec__track *t, const rec__frames *fr, size_t i)
{
    int64_t area = 0;
    for (size_t k = 0; k < fr->n; k++)
        if (fr->v[k].key && (int64_t)fr->v[k].width * fr->v[k].height > area)
            area = (int64_t)fr->v[k].width * fr->v[k].height;
    int order = 0;
    for (unsigned l = 0; l < t->info.layer_count; l++)
        if (t->info.layers[l].ssrc == t->streams[i].ssrc)
            order = (int)l;
    return area * 16 + order;
}

int rec__simulcast_select(const rec__track *t, rec__frames *per_stream, rec__frames *out,
                          rec_track_report *rep)
{
    size_t n = t->nstreams;
    int rc = -1;
    int64_t *rank = calloc(n ? n : 1, sizeof *rank);
    int64_t *last_seen = calloc(n ? n : 1, sizeof *last_seen);
    size_t *pos = calloc(n ? n : 1, sizeof *pos);
    bool *seen = calloc(n ? n : 1, sizeof *seen);
    if (!rank || !last_seen || !pos || !seen)
        goto fail;
    for (size_t i = 0; i < n; i++)
        rank[i] = layer_rank(t, &per_stream[i], i);
    int current = -1;
    rep->layers = 0;
    for (size_t i = 0; i < n; i++)
        rep->layers += per_stream[i].n > 0;
    for (;;) {
        /* Next frame in session time over all layers. */
        int l = -1;
        for (size_t i = 0; i < n; i++)
            if (pos[i] < per_stream[i].n &&
                (l < 0 || per_stream[i].v[pos[i]].t_us < per_stream[l].v[pos[l]].t_us))
                l = (int)i;
        if (l < 0)
            break;
        rec__frame *f = &per_stream[l].v[pos[l]++];
        last_seen[l] = f->t_us;
        seen[l] = true;
        int target = -1;
        for (size_t i = 0; i < n; i++)
            if (seen[i] && f->t_us - last_seen[i] <= PRESENT_US &&
                (target < 0 || rank[i] > rank[target]))
                target = (int)i;
        if (f->key && (current < 0 || (l == target && l != current))) {
            if (current >= 0)
                rep->layer_switches++;
            current = l;
            /* The old layer's frames for the same moment give way to the new one. */
            while (out->n && out->v[out->n - 1].t_us >= f->t_us - SAME_TIME_US) {
                free(out->v[out->n - 1].data);
                out->n--;
            }
        }
        if (l != current)
            continue;
        /* Keep time strictly increasing across switches. */
        if (out->n && f->t_us <= out->v[out->n - 1].t_us)
            f->t_us = out->v[out->n - 1].t_us + 1000;
        if (rec__frames_take(out, f) != 0) /* f keeps its fields, out its bytes */
            goto fail;
        if (f->width > rep->width || f->height > rep->height) {
            rep->width = f->width;
            rep->height = f->height;
        }
    }
    if (current >= 0)
        snprintf(rep->layer_rid, sizeof rep->layer_rid, "%s", t->streams[current].rid);
    rep->frames = out->n;
    rc = 0;
fail:
    free(rank);
    free(last_seen);
    free(pos);
    free(seen);
    return rc;
}
