/*
 * Post-processing of a recorded session (off the media path; run by the
 * job runner or `mlrec process`): read the raw track files of a session
 * folder, order and de-duplicate packets, depacketize VP8 and Opus, follow
 * the top simulcast layer, align audio and video with RTCP sender reports,
 * mux a WebM with libavformat (the camera, and a screen share as a second
 * video stream), then transcode to MP4 (H.264/AAC; while a screen is
 * shared the picture is the screen with the camera in a corner) and make
 * a JPEG thumbnail with the ffmpeg program. Raw files are only read, never
 * modified or deleted, whatever happens.
 */
#ifndef ML_RECORDER_PROCESS_H
#define ML_RECORDER_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_RID_MAX_STR 17

typedef struct rec_process_opts {
    const char *ffmpeg;  /* program for MP4 + thumbnail (NULL: "ffmpeg") */
    const char *ffprobe; /* program for the final report (NULL: "ffprobe") */
    bool mp4;            /* transcode to MP4 */
    bool thumbnail;      /* make thumbnail.jpg */
    int timeout_s;       /* per ffmpeg run; 0 means 3600 */
    bool align_start;    /* drop audio heard before the first video frame, so that
                            both tracks start together (the daemon's recordings) */
} rec_process_opts;

/* What processing found in one track. */
typedef struct rec_track_report {
    char path[1024];
    char codec[16];
    uint64_t records, rtp_packets, duplicates, lost, malformed;
    uint64_t bad_records, drops;
    bool torn_tail, clean_end;
    uint64_t frames, skipped_frames; /* frames muxed; incomplete or waiting for a keyframe */
    unsigned layers, layer_switches;
    char layer_rid[REC_RID_MAX_STR]; /* layer selected at the end ("" when none) */
    bool sr_aligned;                 /* timed by sender reports (else by arrival) */
    int64_t start_offset_us;         /* first frame, relative to the session start */
    uint16_t width, height;          /* largest video keyframe */
} rec_track_report;

typedef struct rec_process_result {
    bool has_audio, has_video, has_screen;
    rec_track_report audio, video;
    rec_track_report screen; /* a connection's second video (a screen share) */
    unsigned ignored_tracks; /* tracks not muxed: a connection's further audio tracks,
                                videos beyond two, codecs other than VP8/Opus */
    unsigned audio_segments, video_segments; /* publisher connections joined one after
                                                the other (a rejoin adds one) */
    unsigned screen_segments;                /* connections that shared a screen */
    double duration_s;                       /* of the final file (MP4, else WebM), from ffprobe */
    double probe_av_start_diff_s; /* |audio start - video start| in the WebM, from ffprobe */
    uint64_t webm_bytes, mp4_bytes, thumb_bytes;
    char webm_path[1024], mp4_path[1024], thumb_path[1024];
} rec_process_result;

/*
 * Process every *.mlrec file of dir into out_dir (created if missing):
 * recording.webm, and with the options recording.mp4 and thumbnail.jpg.
 * Returns 0 or -1 with a reason in err (a corrupt file, no usable media,
 * an ffmpeg failure with its stderr tail, ...). Outputs are written under
 * temporary names and renamed when complete.
 */
int rec_process_session(const char *dir, const char *out_dir, const rec_process_opts *o,
                        rec_process_result *r, char *err, size_t errlen);

/* The result as a JSON object text (malloc'd), or NULL. */
char *rec_process_result_json(const rec_process_result *r);

#endif
