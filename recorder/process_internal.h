/*
 * Internals shared by the post-processing files (process*.c): a loaded
 * track (its file mapped, packets grouped per SSRC, ordered by extended
 * sequence number, duplicates removed), the clock mapping from RTP time to
 * the session clock, and the frame lists handed to the muxer.
 *
 * Lifetimes: a rec__track owns its mapping and arrays; packets point into
 * the mapping. Frames own their bytes (rec__frames_free()).
 */
#ifndef ML_RECORDER_PROCESS_INTERNAL_H
#define ML_RECORDER_PROCESS_INTERNAL_H

#include "recorder/process.h"
#include "recorder/recfile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rec__pkt {
    int64_t ext_seq;    /* sequence number extended over wrap-around */
    int64_t ext_ts;     /* RTP timestamp extended over wrap-around */
    int64_t arrival_us; /* local wall-clock time of arrival (Unix µs) */
    bool marker;
    const uint8_t *payload; /* into the file mapping */
    size_t payload_len;
} rec__pkt;

typedef struct rec__srpt {
    int64_t ext_ts;
    int64_t ntp_us;     /* sender wall clock, Unix µs */
    int64_t arrival_us; /* local wall clock, Unix µs */
} rec__srpt;

/* One SSRC of a track (a simulcast layer, or the only stream). */
typedef struct rec__stream {
    uint32_t ssrc;
    char rid[REC_RID_MAX + 1];
    rec__pkt *pkts;
    size_t npkts, cap;
    rec__srpt *srs;
    size_t nsrs, srcap;
    uint64_t duplicates, lost;
    int64_t max_seq, max_ts; /* while loading */
    bool seen;
    /* Clock mapping, set by rec__stream_clock(). */
    bool use_sr;
    int64_t arrival_offset_us; /* local = ts_us + offset (arrival mode) */
} rec__stream;

typedef struct rec__track {
    char path[1024];
    rec_file_info info;
    rec_map map;
    rec_scan_stats scan;
    rec__stream *streams;
    size_t nstreams;
    uint64_t malformed; /* RTP records that did not parse or had another PT */
} rec__track;

/* A media frame ready for the muxer. */
typedef struct rec__frame {
    int64_t t_us;        /* session clock (local wall, Unix µs) */
    int64_t duration_us; /* 0 when unknown */
    uint8_t *data;
    size_t len;
    bool key;
    uint16_t width, height; /* VP8 keyframes */
    int layer;              /* stream index in the track */
} rec__frame;

typedef struct rec__frames {
    rec__frame *v;
    size_t n, cap;
} rec__frames;

/* Map, scan and organise one raw file. 0 or -1 + err (the file is untouched). */
int rec__track_load(rec__track *t, const char *path, char *err, size_t errlen);
void rec__track_free(rec__track *t);
/* Clock offset local - sender (µs) from every SR of the given tracks; 0 when there is none. */
bool rec__clock_offset(rec__track *const *tracks, size_t n, int64_t *offset_us);
/* Choose SR or arrival mapping for each stream of t (SR needs has_offset). */
void rec__track_clock(rec__track *t, bool has_offset, int64_t offset_us);
/* Local wall-clock time (µs) of an extended RTP timestamp of stream s. */
int64_t rec__stream_time(const rec__track *t, const rec__stream *s, int64_t ext_ts,
                         int64_t offset_us);

/* Append a copy of a frame (data is copied). 0 or -1. */
int rec__frames_push(rec__frames *f, const rec__frame *fr);
/* Append *fr itself: f owns its bytes afterwards (fr->data is cleared). */
int rec__frames_take(rec__frames *f, rec__frame *fr);
void rec__frames_free(rec__frames *f);

/* VP8: depacketize every stream of t into frames (per stream, in order). */
int rec__vp8_frames(const rec__track *t, int64_t offset_us, rec__frames *per_stream,
                    rec_track_report *rep);
/* Simulcast: pick the top present layer, switching on keyframes only. */
int rec__simulcast_select(const rec__track *t, rec__frames *per_stream, rec__frames *out,
                          rec_track_report *rep);
/* Opus: one frame per packet of the busiest stream of t. */
int rec__opus_frames(const rec__track *t, int64_t offset_us, rec__frames *out,
                     rec_track_report *rep);

/* When a screen was shared (session clock, µs), for the MP4's layout. */
typedef struct rec__span {
    int64_t from, to;
} rec__span;

typedef struct rec__layout {
    const rec__span *shares;
    size_t nshares; /* 0: the camera alone */
    int64_t t0, end;
} rec__layout;

/* Size of a file in bytes (0 when it cannot be read). */
uint64_t rec__file_size(const char *path);
/* r->webm_path to r->mp4_path (H.264/AAC; the layout of lay). 0 or -1 + err. */
int rec__transcode(const rec_process_opts *o, rec_process_result *r, const rec__layout *lay,
                   const char *out_dir, char *err, size_t errlen);
/* A JPEG of the camera near the start into r->thumb_path. 0 or -1 + err. */
int rec__thumbnail(const rec_process_opts *o, rec_process_result *r, const char *out_dir,
                   double duration_s, char *err, size_t errlen);

/* Mux audio, video and screen frames (any may be empty) into WebM; times relative to t0_us. */
int rec__mux_webm(const char *path, const rec__frames *audio, int channels,
                  const rec__frames *video, const rec__frames *screen, int64_t t0_us, char *err,
                  size_t errlen);

#endif
