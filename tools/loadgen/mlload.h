/*
 * mlload: WebRTC load generator. Simulated peers with real ICE (libnice,
 * controlling), DTLS (client) and SRTP from sfu/, driven by a signaling
 * adapter, many peers per GLib context. See docs/benchmarks.md.
 */
#ifndef ML_LOADGEN_MLLOAD_H
#define ML_LOADGEN_MLLOAD_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* ---- pre-encoded media (media.c) ---- */

#define LG_LAYERS 3

typedef struct lg_frame {
    uint8_t *data;
    size_t len;
    int keyframe;
} lg_frame;

typedef struct lg_media {
    int width[LG_LAYERS], height[LG_LAYERS];
    int n_video; /* frames per layer (30 fps) */
    lg_frame *video[LG_LAYERS];
    int n_audio; /* 20 ms Opus frames */
    lg_frame *audio;
    uint64_t video_bytes[LG_LAYERS];
} lg_media;

/* Encode `seconds` of a moving test pattern into the three VP8 layers and
 * Opus. Returns 0, or -1 with a message in err. */
int lg_media_encode(lg_media *m, int seconds, int kf_interval_frames, char *err, size_t errlen);
void lg_media_free(lg_media *m);

/* ---- minimal WebSocket client (wsc.c) ---- */

typedef struct lg_ws lg_ws;

typedef struct lg_ws_callbacks {
    void (*on_text)(void *user, const char *text, size_t len);
    void (*on_closed)(void *user, const char *why);
} lg_ws_callbacks;

/* Connect (blocking, bounded by timeout_ms) to ws://host:port/path and
 * upgrade; then reads are served by a GSource on ctx. protocol may be NULL.
 * ctx NULL: connect only; lg_ws_attach() later, on the thread that owns
 * the context. Returns NULL with a message in err. */
lg_ws *lg_ws_connect(GMainContext *ctx, const char *host, int port, const char *path,
                     const char *protocol, int timeout_ms, const lg_ws_callbacks *cb, void *user,
                     char *err, size_t errlen);
/* Start serving reads of a connection made with ctx NULL: callbacks run on
 * ctx (call on ctx's thread). */
void lg_ws_attach(lg_ws *ws, GMainContext *ctx, const lg_ws_callbacks *cb, void *user);
/* Send one text message. Returns 0 or -1. */
int lg_ws_send_text(lg_ws *ws, const char *text, size_t len);
/* Close and free (no more callbacks). NULL is ignored. */
void lg_ws_free(lg_ws *ws);

#endif
