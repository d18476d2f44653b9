/*
 * A synthetic recorded session, for tests and `mlrec synth`: a few seconds
 * of a moving test pattern encoded with libvpx (VP8, optionally two
 * simulcast layers) and a tone encoded with libopus, packetized into RTP
 * (RFC 7741 descriptor, RFC 7587), with sender reports, realistic arrival
 * times (network delay, jitter, a video encoder latency, a sender clock
 * that differs from ours, sequence numbers and timestamps that wrap) and
 * optional impairments (reordering, duplicates, one lost packet per
 * track), written as raw files exactly as the live writer would.
 */
#ifndef ML_RECORDER_SYNTH_H
#define ML_RECORDER_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rec_synth_opts {
    double duration_s;     /* media length (default 3) */
    int width, height;     /* top video layer (default 320x240) */
    int fps;               /* default 30 */
    int keyframe_interval; /* frames (default 30) */
    bool simulcast;        /* add a half-size layer "l"; the top layer "h" starts at high_start_s */
    double high_start_s;
    int video_delay_ms;  /* extra arrival delay of video vs audio (encoder latency) */
    bool sender_reports; /* one SR per second per stream */
    bool impair;         /* reorder, duplicate and lose one packet per track */
    bool no_audio, no_video;
    double start_s;   /* start this long after the default start (a later connection) */
    unsigned peer;    /* nonzero: name files and tracks as the live recorder does for this
                         peer id (video-<peer>-<video_mid>.mlrec, audio-<peer>-1.mlrec) */
    int video_mid;    /* default 0; a screen share is another video m-line (e.g. 2) */
    uint8_t chroma_v; /* the picture's V (Cr) plane value (default 160): tells two
                         videos apart in a composed picture */
} rec_synth_opts;

typedef struct rec_synth_result {
    unsigned video_frames, audio_frames;   /* encoded */
    unsigned video_packets, audio_packets; /* written (duplicates included) */
    unsigned lost_video_frame;             /* index of the frame that lost a packet */
    unsigned video_frames_expected;        /* of the top layer, after loss recovery */
    char audio_path[1024], video_path[1024];
} rec_synth_result;

/* Fill opts with the defaults above (SRs on, no impairment). */
void rec_synth_defaults(rec_synth_opts *o);
/*
 * Write audio.mlrec and video.mlrec (or the peer's names) into dir (must
 * exist). Returns 0 or -1 + err.
 */
int rec_synth_session(const char *dir, const rec_synth_opts *o, rec_synth_result *res, char *err,
                      size_t errlen);

#endif
