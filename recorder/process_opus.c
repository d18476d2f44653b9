/*
 * Opus depacketization (RFC 7587): one Opus packet per RTP packet, so each
 * payload is a frame; its duration comes from the TOC byte
 * (opus_packet_get_nb_samples at 48 kHz). Only the busiest SSRC of an
 * audio track is used (a track has one unless the sender restarted).
 */
#include "recorder/process_internal.h"

#include <opus/opus.h>

int rec__opus_frames(const rec__track *t, int64_t offset_us, rec__frames *out,
                     rec_track_report *rep)
{
    const rec__stream *s = NULL;
    for (size_t i = 0; i < t->nstreams; i++)
        if (!s || t->streams[i].npkts > s->npkts)
            s = &t->streams[i];
    if (!s)
        return 0;
    for (size_t k = 0; k < s->npkts; k++) {
        const rec__pkt *p = &s->pkts[k];
        int samples = opus_packet_get_nb_samples(p->payload, (opus_int32)p->payload_len, 48000);
        if (samples <= 0) {
            rep->skipped_frames++;
            continue;
        }
        rec__frame f = {
            .t_us = rec__stream_time(t, s, p->ext_ts, offset_us),
            .duration_us = (int64_t)samples * 1000000 / 48000,
            .data = (uint8_t *)p->payload,
            .len = p->payload_len,
            .key = true,
        };
        if (out->n && f.t_us <= out->v[out->n - 1].t_us)
            continue; /* same or earlier time: a restarted stream overlapping */
        if (rec__frames_push(out, &f) != 0)
            return -1;
    }
    rep->frames = out->n;
    rep->layers = 1;
    return 0;
}
