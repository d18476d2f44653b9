/*
 * Loading one raw track file for post-processing: scan it (salvaging what
 * a crash left), group RTP packets by SSRC, extend sequence numbers and
 * timestamps over wrap-around in arrival order, sort by extended sequence
 * number, drop duplicates and count losses; collect sender reports with
 * their arrival times; and map RTP time to the session clock (sender
 * reports when present, otherwise the least-delayed arrival).
 */
#include "recorder/process_internal.h"
#include "sfu/rtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTP_UNIX_OFFSET_S 2208988800ll

static rec__stream *stream_for(rec__track *t, uint32_t ssrc)
{
    for (size_t i = 0; i < t->nstreams; i++)
        if (t->streams[i].ssrc == ssrc)
            return &t->streams[i];
    rec__stream *ns = realloc(t->streams, (t->nstreams + 1) * sizeof *ns);
    if (!ns)
        return NULL;
    t->streams = ns;
    rec__stream *s = &ns[t->nstreams++];
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    for (unsigned i = 0; i < t->info.layer_count; i++)
        if (t->info.layers[i].ssrc == ssrc)
            snprintf(s->rid, sizeof s->rid, "%s", t->info.layers[i].rid);
    return s;
}

static int64_t extend(int64_t *max, bool *seen, uint32_t v, unsigned bits)
{
    int64_t ext;
    if (!*seen) {
        ext = (int64_t)v;
        *seen = true;
        *max = ext;
        return ext;
    }
    if (bits == 16)
        ext = *max + (int16_t)(uint16_t)(v - (uint16_t)*max);
    else
        ext = *max + (int32_t)(v - (uint32_t)*max);
    if (ext > *max)
        *max = ext;
    return ext;
}

typedef struct load_ctx {
    rec__track *t;
    int failed;
} load_ctx;

static int64_t arrival_wall(const rec__track *t, uint64_t t_us)
{
    return (int64_t)t->info.start_wall_us + ((int64_t)t_us - (int64_t)t->info.start_mono_us);
}

static int on_rtp(rec__track *t, const rec_record *r)
{
    sfu_rtp_packet p;
    if (sfu_rtp_parse(r->data, r->len, &p) != 0 || p.payload_type != t->info.payload_type) {
        t->malformed++;
        return 0;
    }
    if (p.payload_len == 0)
        return 0; /* padding-only (probing) packet */
    rec__stream *s = stream_for(t, p.ssrc);
    if (!s)
        return -1;
    if (s->npkts == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        rec__pkt *np = realloc(s->pkts, nc * sizeof *np);
        if (!np)
            return -1;
        s->pkts = np;
        s->cap = nc;
    }
    /* One 'seen' flag serves both: they are set on the same first packet. */
    bool seen_seq = s->seen, seen_ts = s->seen;
    rec__pkt *k = &s->pkts[s->npkts++];
    k->ext_seq = extend(&s->max_seq, &seen_seq, p.seq, 16);
    k->ext_ts = extend(&s->max_ts, &seen_ts, p.timestamp, 32);
    s->seen = true;
    k->arrival_us = arrival_wall(t, r->t_us);
    k->marker = p.marker;
    k->payload = p.payload;
    k->payload_len = p.payload_len;
    return 0;
}

static int on_sr(rec__track *t, const rec_record *r)
{
    rec_sr sr;
    if (rec_sr_decode(r->data, r->len, &sr) != 0)
        return 0;
    rec__stream *s = stream_for(t, sr.ssrc);
    if (!s)
        return -1;
    if (!s->seen)
        return 0; /* timestamps are extended relative to packets: need one first */
    if (s->nsrs == s->srcap) {
        size_t nc = s->srcap ? s->srcap * 2 : 16;
        rec__srpt *np = realloc(s->srs, nc * sizeof *np);
        if (!np)
            return -1;
        s->srs = np;
        s->srcap = nc;
    }
    rec__srpt *q = &s->srs[s->nsrs++];
    int64_t secs = (int64_t)(sr.ntp >> 32) - NTP_UNIX_OFFSET_S;
    int64_t frac_us = (int64_t)(((sr.ntp & 0xffffffffu) * 1000000u) >> 32);
    q->ntp_us = secs * 1000000 + frac_us;
    bool seen = true;
    int64_t max = s->max_ts;
    q->ext_ts = extend(&max, &seen, sr.rtp_ts, 32); /* does not move the packets' max */
    q->arrival_us = arrival_wall(t, r->t_us);
    return 0;
}

static int on_record(void *arg, const rec_record *r)
{
    load_ctx *c = arg;
    int rc = 0;
    if (r->type == REC_T_RTP)
        rc = on_rtp(c->t, r);
    else if (r->type == REC_T_SR)
        rc = on_sr(c->t, r);
    else if (r->type == REC_T_LAYER) {
        rec_layer l;
        if (rec_layer_decode(r->data, r->len, &l) == 0) {
            rec__stream *s = stream_for(c->t, l.ssrc);
            if (!s)
                rc = -1;
            else
                snprintf(s->rid, sizeof s->rid, "%s", l.rid);
        }
    }
    if (rc)
        c->failed = 1;
    return rc;
}

static int cmp_pkt(const void *a, const void *b)
{
    const rec__pkt *x = a, *y = b;
    if (x->ext_seq != y->ext_seq)
        return x->ext_seq < y->ext_seq ? -1 : 1;
    return x->arrival_us < y->arrival_us ? -1 : x->arrival_us > y->arrival_us;
}

/* Sort by extended sequence number, keep the first copy of each, count gaps. */
static void order_stream(rec__stream *s)
{
    if (!s->npkts)
        return;
    qsort(s->pkts, s->npkts, sizeof *s->pkts, cmp_pkt);
    size_t w = 1;
    for (size_t i = 1; i < s->npkts; i++) {
        if (s->pkts[i].ext_seq == s->pkts[w - 1].ext_seq) {
            s->duplicates++;
            continue;
        }
        s->pkts[w++] = s->pkts[i];
    }
    s->npkts = w;
    int64_t span = s->pkts[w - 1].ext_seq - s->pkts[0].ext_seq + 1;
    s->lost = (uint64_t)(span - (int64_t)w);
}

int rec__track_load(rec__track *t, const char *path, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    if (rec_file_map(path, &t->map, err, errlen) != 0)
        return -1;
    load_ctx c = {t, 0};
    char e2[256];
    if (rec_scan_buffer(t->map.data, t->map.len, &t->info, on_record, &c, &t->scan, e2,
                        sizeof e2) != 0) {
        snprintf(err, errlen, "%s: %s", path, c.failed ? "out of memory" : e2);
        goto fail;
    }
    for (size_t i = 0; i < t->nstreams; i++)
        order_stream(&t->streams[i]);
    return 0;
fail:
    rec__track_free(t);
    return -1;
}

void rec__track_free(rec__track *t)
{
    for (size_t i = 0; i < t->nstreams; i++) {
        free(t->streams[i].pkts);
        free(t->streams[i].srs);
    }
    free(t->streams);
    t->streams = NULL;
    t->nstreams = 0;
    rec_file_unmap(&t->map);
}

bool rec__clock_offset(rec__track *const *tracks, size_t n, int64_t *offset_us)
{
    bool any = false;
    int64_t best = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < tracks[i]->nstreams; j++) {
            const rec__stream *s = &tracks[i]->streams[j];
            for (size_t k = 0; k < s->nsrs; k++) {
                int64_t d = s->srs[k].arrival_us - s->srs[k].ntp_us;
                if (!any || d < best)
                    best = d;
                any = true;
            }
        }
    *offset_us = best;
    return any;
}

static int64_t ts_to_us(int64_t ticks, uint32_t clock)
{
    return ticks * 1000000 / (int64_t)clock;
}

void rec__track_clock(rec__track *t, bool has_offset, int64_t offset_us)
{
    (void)offset_us;
    for (size_t i = 0; i < t->nstreams; i++) {
        rec__stream *s = &t->streams[i];
        s->use_sr = has_offset && s->nsrs > 0;
        int64_t best = 0;
        for (size_t k = 0; k < s->npkts; k++) {
            int64_t d = s->pkts[k].arrival_us - ts_to_us(s->pkts[k].ext_ts, t->info.clock_rate);
            if (k == 0 || d < best)
                best = d;
        }
        s->arrival_offset_us = best;
    }
}

int64_t rec__stream_time(const rec__track *t, const rec__stream *s, int64_t ext_ts,
                         int64_t offset_us)
{
    uint32_t clock = t->info.clock_rate;
    if (!s->use_sr)
        return ts_to_us(ext_ts, clock) + s->arrival_offset_us;
    /* The sender report nearest in RTP time. */
    const rec__srpt *best = &s->srs[0];
    for (size_t k = 1; k < s->nsrs; k++) {
        int64_t a = s->srs[k].ext_ts - ext_ts, b = best->ext_ts - ext_ts;
        if ((a < 0 ? -a : a) < (b < 0 ? -b : b))
            best = &s->srs[k];
    }
    return best->ntp_us + ts_to_us(ext_ts - best->ext_ts, clock) + offset_us;
}

int rec__frames_take(rec__frames *f, rec__frame *fr)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 256;
        rec__frame *nv = realloc(f->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        f->v = nv;
        f->cap = nc;
    }
    f->v[f->n++] = *fr;
    fr->data = NULL;
    return 0;
}

int rec__frames_push(rec__frames *f, const rec__frame *fr)
{
    rec__frame c = *fr;
    c.data = malloc(fr->len ? fr->len : 1);
    if (!c.data)
        return -1;
    memcpy(c.data, fr->data, fr->len);
    if (rec__frames_take(f, &c) == 0)
        return 0;
    free(c.data);
    return -1;
}

void rec__frames_free(rec__frames *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].data);
    free(f->v);
    memset(f, 0, sizeof *f);
}
