/*
 * Synthetic recorded sessions; see synth.h. Each track is built as a list
 * of events (arrival time + record), impaired if asked, sorted by arrival
 * and written through rec_out, so the files are what the live writer would
 * have produced for the same packets.
 *
 * Clocks: the sender's wall clock starts at W0; ours runs CLOCK_SKEW_US
 * ahead. A frame captured at sender time c is stamped c in RTP time; its
 * packets arrive at c + 20 ms network delay (+ video_delay for video,
 * modelling encoder latency) + up to 4 ms jitter, on our clock. Sender
 * reports map sender time to RTP time exactly, so SR-based alignment
 * recovers capture time and arrival-based alignment is off by video_delay.
 */
#include "recorder/synth.h"
#include "recorder/recout.h"
#include "sfu/rtp.h"
#include "sfu/vp8.h"

#include <math.h>
#include <opus/opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#define W0_US 1700000000000000ll
#define CLOCK_SKEW_US 1234567ll
#define NET_US 20000ll
#define MONO0_US 5000000ll
#define MAX_PAYLOAD 1100
#define NTP_UNIX_OFFSET_S 2208988800ll

typedef struct ev {
    int64_t arrival; /* our wall clock, µs */
    uint8_t type;
    size_t len;
    uint8_t *data;
    unsigned order; /* insertion order, for a stable sort */
} ev;

typedef struct evlist {
    ev *v;
    size_t n, cap;
} evlist;

static uint32_t rng_state = 12345;
static int64_t start_shift_us; /* opts.start_s: both wall clocks move */

static uint32_t rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) & 0x7fff;
}

static int ev_add(evlist *l, int64_t arrival, uint8_t type, const uint8_t *data, size_t len)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 512;
        ev *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    uint8_t *d = malloc(len);
    if (!d)
        return -1;
    memcpy(d, data, len);
    l->v[l->n] = (ev){arrival, type, len, d, (unsigned)l->n};
    l->n++;
    return 0;
}

static void ev_free(evlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].data);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_ev(const void *a, const void *b)
{
    const ev *x = a, *y = b;
    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return x->order < y->order ? -1 : 1;
}

static int64_t local_us(int64_t sender_us)
{
    return W0_US + start_shift_us + CLOCK_SKEW_US + sender_us;
}

static int add_sr(evlist *l, uint32_t ssrc, uint32_t ts0, uint32_t clock, int64_t s_us)
{
    int64_t wall = W0_US + start_shift_us + s_us;
    uint64_t secs = (uint64_t)(wall / 1000000 + NTP_UNIX_OFFSET_S);
    uint64_t frac = ((uint64_t)(wall % 1000000) << 32) / 1000000;
    rec_sr sr = {ssrc, secs << 32 | frac, ts0 + (uint32_t)(s_us * clock / 1000000), 0, 0};
    uint8_t b[24];
    size_t n = rec_sr_encode(b, &sr);
    return ev_add(l, local_us(s_us) + NET_US, REC_T_SR, b, n);
}

static int write_file(const char *path, const rec_file_info *info, evlist *l, char *err,
                      size_t errlen)
{
    if (l->n > 1) /* an empty list has no array (a track without a frame) */
        qsort(l->v, l->n, sizeof *l->v, cmp_ev);
    rec_out o;
    rec_sync_policy pol = {.fsync_ms = 1000, .fsync_bytes = 1 << 20};
    if (rec_out_open(&o, path, info, &pol, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t t = (uint64_t)(MONO0_US + l->v[i].arrival - (int64_t)info->start_wall_us);
        if (rec_out_append(&o, l->v[i].type, t, l->v[i].data, l->v[i].len) != 0) {
            snprintf(err, errlen, "%s: write failed", path);
            rec_out_abandon(&o);
            return -1;
        }
    }
    return rec_out_close(&o, 0, err, errlen);
}

static void fill_pattern(vpx_image_t *img, int frame, uint8_t chroma_v)
{
    for (unsigned y = 0; y < img->d_h; y++)
        for (unsigned x = 0; x < img->d_w; x++) {
            int box = (int)x / 16 == (frame / 2) % (int)(img->d_w / 16 + 1) && y < img->d_h / 2;
            img->planes[0][y * (unsigned)img->stride[0] + x] =
                box ? 235 : (uint8_t)((x * 2 + y + (unsigned)frame * 3) & 0xff);
        }
    for (int p = 1; p < 3; p++)
        for (unsigned y = 0; y < (img->d_h + 1) / 2; y++)
            memset(img->planes[p] + y * (unsigned)img->stride[p],
                   p == 1 ? 90 + frame % 60 : chroma_v, (img->d_w + 1) / 2);
}

typedef struct layer_spec {
    int w, h;
    int first_frame, nframes;
    uint32_t ssrc, ts0;
    uint16_t seq0;
    bool top;
} layer_spec;

/* Encode and packetize one video layer into events. */
static int video_layer(const rec_synth_opts *o, const layer_spec *ls, evlist *l,
                       rec_synth_result *res, char *err, size_t errlen)
{
    vpx_codec_ctx_t codec;
    vpx_codec_enc_cfg_t cfg;
    vpx_image_t img;
    bool codec_ok = false, img_ok = false;
    int rc = -1;
    uint16_t seq = ls->seq0;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
        goto fail;
    cfg.g_w = (unsigned)ls->w;
    cfg.g_h = (unsigned)ls->h;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = o->fps;
    cfg.rc_target_bitrate = (unsigned)(ls->w * ls->h / 200);
    cfg.g_lag_in_frames = 0;
    cfg.kf_mode = VPX_KF_DISABLED;
    cfg.g_threads = 1;
    if (vpx_codec_enc_init(&codec, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
        goto fail;
    codec_ok = true;
    if (!vpx_img_alloc(&img, VPX_IMG_FMT_I420, (unsigned)ls->w, (unsigned)ls->h, 16))
        goto fail;
    img_ok = true;
    int lose = o->impair && ls->top ? o->keyframe_interval + 10 : -1;
    for (int i = 0; i < ls->nframes; i++) {
        int f = ls->first_frame + i; /* frame index on the session's timeline */
        fill_pattern(&img, f, o->chroma_v);
        vpx_enc_frame_flags_t flags = i % o->keyframe_interval == 0 ? VPX_EFLAG_FORCE_KF : 0;
        if (vpx_codec_encode(&codec, &img, i, 1, flags, VPX_DL_REALTIME) != VPX_CODEC_OK)
            goto fail;
        vpx_codec_iter_t it = NULL;
        const vpx_codec_cx_pkt_t *cx;
        int64_t capture = (int64_t)f * 1000000 / o->fps;
        uint32_t ts = ls->ts0 + (uint32_t)(capture * 90000 / 1000000);
        while ((cx = vpx_codec_get_cx_data(&codec, &it)) != NULL) {
            if (cx->kind != VPX_CODEC_CX_FRAME_PKT)
                continue;
            const uint8_t *fb = cx->data.frame.buf;
            size_t left = cx->data.frame.sz, off = 0;
            unsigned part = 0;
            size_t first_ev = l->n;
            while (left) {
                size_t chunk = left > MAX_PAYLOAD ? MAX_PAYLOAD : left;
                uint8_t pay[MAX_PAYLOAD + SFU_VP8_DESC_MAX], pkt[1500];
                sfu_vp8_desc d = {.start = part == 0,
                                  .has_picture_id = true,
                                  .picture_id_15 = true,
                                  .picture_id = (uint16_t)(i & 0x7fff)};
                int dl = sfu_vp8_write_desc(pay, sizeof pay, &d);
                memcpy(pay + dl, fb + off, chunk);
                sfu_rtp_packet p = {.marker = chunk == left,
                                    .payload_type = 96,
                                    .seq = seq++,
                                    .timestamp = ts,
                                    .ssrc = ls->ssrc,
                                    .payload = pay,
                                    .payload_len = (size_t)dl + chunk};
                int n = sfu_rtp_write(pkt, sizeof pkt, &p);
                int64_t arr = local_us(capture) + NET_US + o->video_delay_ms * 1000ll +
                              rnd() % 4000 + part * 200;
                bool drop = i == lose && part == 0;
                if (n < 0 || (!drop && ev_add(l, arr, REC_T_RTP, pkt, (size_t)n) != 0))
                    goto fail;
                if (o->impair && ls->top && i == 10 && part == 0 &&
                    ev_add(l, arr + 3000, REC_T_RTP, pkt, (size_t)n) != 0)
                    goto fail;
                off += chunk;
                left -= chunk;
                part++;
            }
            /* Reorder: the first packet of frame 20 arrives after the one that follows it. */
            if (o->impair && ls->top && i == 20 && l->n > first_ev)
                l->v[first_ev].arrival += 40000;
        }
        if (ls->top)
            res->video_frames++;
    }
    if (ls->top) {
        res->lost_video_frame = lose >= 0 ? (unsigned)lose : 0;
        int skipped = 0;
        if (lose >= 0 && lose < ls->nframes) {
            int next_key = (lose / o->keyframe_interval + 1) * o->keyframe_interval;
            skipped = (next_key < ls->nframes ? next_key : ls->nframes) - lose;
        }
        res->video_frames_expected = (unsigned)(ls->nframes - skipped);
    }
    for (int64_t s = 500000; s < (int64_t)(ls->first_frame + ls->nframes) * 1000000 / o->fps;
         s += 1000000)
        if (s >= (int64_t)ls->first_frame * 1000000 / o->fps && o->sender_reports &&
            add_sr(l, ls->ssrc, ls->ts0, 90000, s) != 0)
            goto fail;
    rc = 0;
fail:
    if (rc)
        snprintf(err, errlen, "synthetic video: encoding failed");
    if (img_ok)
        vpx_img_free(&img);
    if (codec_ok)
        vpx_codec_destroy(&codec);
    return rc;
}

static int audio_track(const rec_synth_opts *o, evlist *l, rec_synth_result *res, char *err,
                       size_t errlen)
{
    int e;
    OpusEncoder *enc = opus_encoder_create(48000, 2, OPUS_APPLICATION_AUDIO, &e);
    if (!enc) {
        snprintf(err, errlen, "synthetic audio: opus_encoder_create: %s", opus_strerror(e));
        return -1;
    }
    int rc = -1;
    const uint32_t ssrc = 0xA0D10001, ts0 = 0xFFFFF000;
    uint16_t seq = 65530;
    int nframes = (int)(o->duration_s * 50);
    int16_t pcm[960 * 2];
    for (int k = 0; k < nframes; k++) {
        for (int i = 0; i < 960; i++) {
            double t = (double)(k * 960 + i) / 48000.0;
            int16_t v = (int16_t)(9000 * sin(2 * M_PI * 440 * t));
            pcm[2 * i] = pcm[2 * i + 1] = v;
        }
        uint8_t op[1500], pkt[1600];
        int n = opus_encode(enc, pcm, 960, op, sizeof op);
        if (n < 0)
            goto fail;
        int64_t capture = (int64_t)k * 20000;
        sfu_rtp_packet p = {.marker = k == 0,
                            .payload_type = 111,
                            .seq = seq++,
                            .timestamp = ts0 + (uint32_t)k * 960,
                            .ssrc = ssrc,
                            .payload = op,
                            .payload_len = (size_t)n};
        int pn = sfu_rtp_write(pkt, sizeof pkt, &p);
        int64_t arr = local_us(capture) + NET_US + rnd() % 4000;
        if (o->impair && k == 81)
            arr -= 25000; /* arrives before packet 80 */
        if (pn < 0 || (!(o->impair && k == 50) && ev_add(l, arr, REC_T_RTP, pkt, (size_t)pn)))
            goto fail;
        if (o->impair && k == 70 && ev_add(l, arr + 3000, REC_T_RTP, pkt, (size_t)pn))
            goto fail;
        res->audio_frames++;
    }
    for (int64_t s = 500000; o->sender_reports && s < (int64_t)nframes * 20000; s += 1000000)
        if (add_sr(l, ssrc, ts0, 48000, s) != 0)
            goto fail;
    rc = 0;
fail:
    if (rc && !err[0])
        snprintf(err, errlen, "synthetic audio: encoding failed");
    opus_encoder_destroy(enc);
    return rc;
}

void rec_synth_defaults(rec_synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->duration_s = 3;
    o->width = 320;
    o->height = 240;
    o->fps = 30;
    o->keyframe_interval = 30;
    o->high_start_s = 1;
    o->video_delay_ms = 300;
    o->sender_reports = true;
    o->chroma_v = 160;
}

/* Track id and file of one kind: the live recorder's "<peer>:<mid>" and
 * <kind>-<peer>-<mid>.mlrec for a peer, else the fixed names. */
static void name_track(const rec_synth_opts *o, const char *dir, const char *kind, int mid,
                       const char *fixed_id, rec_file_info *info, char *path, size_t cap)
{
    if (o->peer) {
        snprintf(info->track_id, sizeof info->track_id, "%u:%d", o->peer, mid);
        snprintf(path, cap, "%s/%s-%u-%d.mlrec", dir, kind, o->peer, mid);
    } else {
        snprintf(info->track_id, sizeof info->track_id, "%s", fixed_id);
        snprintf(path, cap, "%s/%s.mlrec", dir, kind);
    }
}

static void base_info(rec_file_info *info, uint8_t kind)
{
    memset(info, 0, sizeof *info);
    info->kind = kind;
    info->start_wall_us = (uint64_t)(W0_US + start_shift_us + CLOCK_SKEW_US);
    info->start_mono_us = MONO0_US;
    snprintf(info->room_id, sizeof info->room_id, "synthetic-room");
    snprintf(info->session_id, sizeof info->session_id, "synthetic-session");
}

int rec_synth_session(const char *dir, const rec_synth_opts *o, rec_synth_result *res, char *err,
                      size_t errlen)
{
    evlist a = {0}, v = {0};
    int rc = -1;
    memset(res, 0, sizeof *res);
    err[0] = '\0';
    rng_state = 12345;
    start_shift_us = (int64_t)(o->start_s * 1e6);
    int nframes = (int)(o->duration_s * o->fps);
    if (!o->no_video) {
        rec_file_info info;
        base_info(&info, REC_KIND_VIDEO);
        info.payload_type = 96;
        info.clock_rate = 90000;
        snprintf(info.codec, sizeof info.codec, "VP8");
        name_track(o, dir, "video", o->video_mid, o->video_mid ? "screen" : "camera", &info,
                   res->video_path, sizeof res->video_path);
        uint32_t ssrc = 0x71DE0001u + ((uint32_t)o->video_mid << 8);
        layer_spec top = {o->width, o->height, 0, nframes, ssrc, 0xFFFF0000, 65500, true};
        if (o->simulcast) {
            layer_spec low = {o->width / 2, o->height / 2, 0,   nframes,
                              0x71DE0002,   0x12345678,    100, false};
            int hs = (int)(o->high_start_s * o->fps);
            top.first_frame = hs;
            top.nframes = nframes - hs;
            info.layer_count = 2;
            info.layers[0] = (rec_layer){low.ssrc, "l"};
            info.layers[1] = (rec_layer){top.ssrc, "h"};
            if (video_layer(o, &low, &v, res, err, errlen) != 0)
                goto fail;
        } else {
            info.layer_count = 1;
            info.layers[0] = (rec_layer){top.ssrc, ""};
        }
        if (video_layer(o, &top, &v, res, err, errlen) != 0)
            goto fail;
        for (size_t i = 0; i < v.n; i++)
            res->video_packets += v.v[i].type == REC_T_RTP;
        if (write_file(res->video_path, &info, &v, err, errlen) != 0)
            goto fail;
    }
    if (!o->no_audio) {
        rec_file_info info;
        base_info(&info, REC_KIND_AUDIO);
        info.payload_type = 111;
        info.clock_rate = 48000;
        info.channels = 2;
        snprintf(info.codec, sizeof info.codec, "opus");
        name_track(o, dir, "audio", 1, "microphone", &info, res->audio_path,
                   sizeof res->audio_path);
        info.layer_count = 1;
        info.layers[0] = (rec_layer){0xA0D10001, ""};
        if (audio_track(o, &a, res, err, errlen) != 0)
            goto fail;
        for (size_t i = 0; i < a.n; i++)
            res->audio_packets += a.v[i].type == REC_T_RTP;
        if (write_file(res->audio_path, &info, &a, err, errlen) != 0)
            goto fail;
    }
    rc = 0;
fail:
    ev_free(&a);
    ev_free(&v);
    return rc;
}
