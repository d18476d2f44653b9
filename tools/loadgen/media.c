/*
 * Test media for mlload: a moving test pattern encoded once at start with
 * libvpx into three VP8 layers (1280x720, 640x360, 320x180, 30 fps), and a
 * tone encoded with libopus into 20 ms frames. Frames are looped at send
 * time.
 */
#include "tools/loadgen/mlload.h"

#include <glib.h>
#include <math.h>
#include <opus/opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

static const int layer_w[LG_LAYERS] = {320, 640, 1280};
static const int layer_h[LG_LAYERS] = {180, 360, 720};
static const int layer_kbps[LG_LAYERS] = {150, 500, 1500};

/* Fill an I420 image with moving bars plus a moving box, under a grain
 * that changes every frame like a camera sensor's: without it the encoder
 * reaches a third of its target and sends keyframes of a few kilobytes,
 * far from what a browser's camera stream puts on the wire. */
static void draw_pattern(vpx_image_t *img, int frame)
{
    int w = (int)img->d_w, h = (int)img->d_h;
    uint32_t g = 0x9e3779b9u * (uint32_t)(frame + 1);
    for (int y = 0; y < h; y++) {
        uint8_t *row = img->planes[0] + (size_t)y * (size_t)img->stride[0];
        for (int x = 0; x < w; x++) {
            int bar = ((x + frame * 4) * 8 / w) & 7;
            uint32_t tex = ((uint32_t)x * 73856093u) ^ ((uint32_t)y * 19349663u);
            tex = (tex ^ (tex >> 13)) * 0x5bd1e995u;
            g = g * 1664525u + 1013904223u;
            row[x] = (uint8_t)(40 + bar * 25 + (int)((tex >> 27) & 31) - 16 + (int)(g >> 30) - 2);
        }
    }
    int bs = h / 4, bx = (frame * 7) % (w - bs), by = (frame * 3) % (h - bs);
    for (int y = by; y < by + bs; y++)
        memset(img->planes[0] + (size_t)y * (size_t)img->stride[0] + bx, 235, (size_t)bs);
    for (int p = 1; p <= 2; p++) {
        int cw = (w + 1) / 2, ch = (h + 1) / 2;
        for (int y = 0; y < ch; y++)
            memset(img->planes[p] + (size_t)y * (size_t)img->stride[p],
                   p == 1 ? 128 + ((frame + y) % 64) : 128 - ((frame * 2) % 64), (size_t)cw);
    }
}

static int encode_layer(lg_media *m, int layer, int frames, int kf, int *n_out, char *err,
                        size_t errlen)
{
    vpx_codec_enc_cfg_t cfg;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
        snprintf(err, errlen, "vpx: no default config");
        return -1;
    }
    int w = layer_w[layer], h = layer_h[layer];
    cfg.g_w = (unsigned)w;
    cfg.g_h = (unsigned)h;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = 30;
    cfg.rc_target_bitrate = (unsigned)layer_kbps[layer];
    cfg.rc_end_usage = VPX_CBR;
    /* Rate control as a browser's VP8 encoder sets it (libwebrtc): a
     * quantizer no coarser than 56, a one-second buffer. */
    cfg.rc_min_quantizer = 2;
    cfg.rc_max_quantizer = 56;
    cfg.rc_buf_sz = 1000;
    cfg.rc_buf_initial_sz = 500;
    cfg.rc_buf_optimal_sz = 600;
    cfg.rc_undershoot_pct = 100;
    cfg.rc_overshoot_pct = 15;
    cfg.g_lag_in_frames = 0;
    cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
    /* Keyframes every kf frames from the encoder's first, the warm-up
     * included (a multiple of kf frames). */
    cfg.kf_mode = VPX_KF_AUTO;
    cfg.kf_min_dist = cfg.kf_max_dist = (unsigned)kf;
    cfg.g_threads = 1;
    vpx_codec_ctx_t codec;
    if (vpx_codec_enc_init(&codec, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
        snprintf(err, errlen, "vpx: encoder init failed for %dx%d", w, h);
        return -1;
    }
    vpx_codec_control(&codec, VP8E_SET_CPUUSED, 12);
    /* A keyframe at most 9 average frames, the cap a browser's VP8 encoder
     * sets at 30 fps (libwebrtc's MaxIntraTarget). */
    vpx_codec_control(&codec, VP8E_SET_MAX_INTRA_BITRATE_PCT, 900);
    vpx_image_t *img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, (unsigned)w, (unsigned)h, 16);
    m->video[layer] = calloc((size_t)frames, sizeof(lg_frame));
    m->width[layer] = w;
    m->height[layer] = h;
    int rc = 0, got = 0;
    /* The first 2 x kf frames settle the rate control and are not kept:
     * it sizes a stream's first keyframes from too little history (at
     * 720p: 3 and 4 KB, then 22 KB, the size a browser's camera stream
     * has at this rate). */
    const int warmup = 2 * kf;
    for (int f = -warmup; f < frames && rc == 0; f++) {
        draw_pattern(img, f + warmup);
        vpx_enc_frame_flags_t flags = (f >= 0 && f % kf == 0) ? VPX_EFLAG_FORCE_KF : 0;
        if (vpx_codec_encode(&codec, img, f + warmup, 1, flags, VPX_DL_REALTIME) != VPX_CODEC_OK) {
            snprintf(err, errlen, "vpx: encode failed: %s", vpx_codec_error(&codec));
            rc = -1;
            break;
        }
        vpx_codec_iter_t it = NULL;
        const vpx_codec_cx_pkt_t *pkt;
        int have = 0;
        while ((pkt = vpx_codec_get_cx_data(&codec, &it)) != NULL) {
            if (pkt->kind != VPX_CODEC_CX_FRAME_PKT || have || f < 0)
                continue;
            lg_frame *fr = &m->video[layer][got++];
            fr->len = pkt->data.frame.sz;
            fr->data = malloc(fr->len);
            memcpy(fr->data, pkt->data.frame.buf, fr->len);
            fr->keyframe = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
            m->video_bytes[layer] += fr->len;
            have = 1;
        }
        if (f >= 0 && !have) { /* dropped frame: repeat the previous one (never the first) */
            if (got == 0) {
                snprintf(err, errlen, "vpx: first frame dropped");
                rc = -1;
                break;
            }
            lg_frame *fr = &m->video[layer][got];
            fr->len = m->video[layer][got - 1].len;
            fr->data = malloc(fr->len);
            memcpy(fr->data, m->video[layer][got - 1].data, fr->len);
            fr->keyframe = 0;
            got++;
        }
    }
    vpx_img_free(img);
    vpx_codec_destroy(&codec);
    *n_out = got;
    return rc;
}

static int encode_audio(lg_media *m, int seconds, char *err, size_t errlen)
{
    int e = 0;
    OpusEncoder *enc = opus_encoder_create(48000, 2, OPUS_APPLICATION_VOIP, &e);
    if (!enc) {
        snprintf(err, errlen, "opus: %s", opus_strerror(e));
        return -1;
    }
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
    int n = seconds * 50;
    m->audio = calloc((size_t)n, sizeof(lg_frame));
    opus_int16 pcm[960 * 2];
    uint8_t out[1500];
    for (int f = 0; f < n; f++) {
        for (int i = 0; i < 960; i++) {
            double t = (double)(f * 960 + i) / 48000.0;
            opus_int16 s = (opus_int16)(6000.0 * sin(2 * M_PI * 440.0 * t));
            pcm[2 * i] = pcm[2 * i + 1] = s;
        }
        opus_int32 len = opus_encode(enc, pcm, 960, out, sizeof out);
        if (len < 0) {
            snprintf(err, errlen, "opus: encode: %s", opus_strerror((int)len));
            opus_encoder_destroy(enc);
            return -1;
        }
        m->audio[f].len = (size_t)len;
        m->audio[f].data = malloc((size_t)len);
        memcpy(m->audio[f].data, out, (size_t)len);
    }
    m->n_audio = n;
    opus_encoder_destroy(enc);
    return 0;
}

/* One layer's encode on its own thread: each writes only its layer's
 * fields of the shared lg_media. */
typedef struct layer_job {
    lg_media *m;
    int layer, frames, kf, got, rc;
    char err[160];
} layer_job;

static gpointer layer_thread(gpointer data)
{
    layer_job *j = data;
    j->rc = encode_layer(j->m, j->layer, j->frames, j->kf, &j->got, j->err, sizeof j->err);
    return NULL;
}

static gpointer layer_thread_low(gpointer data)
{
    layer_job *jobs = data;
    layer_thread(&jobs[0]);
    layer_thread(&jobs[1]);
    return NULL;
}

int lg_media_encode(lg_media *m, int seconds, int kf, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (seconds < 1)
        seconds = 1;
    if (kf < 1)
        kf = 90;
    /* The two lower layers on a second thread, the 720p one (three
     * quarters of the work) and the audio on this one. */
    layer_job jobs[LG_LAYERS];
    for (int l = 0; l < LG_LAYERS; l++)
        jobs[l] = (layer_job){.m = m, .layer = l, .frames = seconds * 30, .kf = kf};
    GThread *low = g_thread_try_new("mlload-enc", layer_thread_low, jobs, NULL);
    if (!low)
        layer_thread_low(jobs);
    layer_thread(&jobs[2]);
    int arc = encode_audio(m, seconds, err, errlen);
    if (low)
        g_thread_join(low);
    m->n_video = seconds * 30; /* what lg_media_free walks (unset frames are zeroed) */
    for (int l = 0; l < LG_LAYERS; l++) {
        if (jobs[l].rc != 0) {
            snprintf(err, errlen, "%s", jobs[l].err);
            return -1;
        }
        if (jobs[l].got < m->n_video)
            m->n_video = jobs[l].got;
    }
    return arc;
}

void lg_media_free(lg_media *m)
{
    for (int l = 0; l < LG_LAYERS; l++) {
        for (int i = 0; m->video[l] && i < m->n_video; i++)
            free(m->video[l][i].data);
        free(m->video[l]);
    }
    for (int i = 0; m->audio && i < m->n_audio; i++)
        free(m->audio[i].data);
    free(m->audio);
    memset(m, 0, sizeof *m);
}
