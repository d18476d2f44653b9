/*
 * Running external programs (ffmpeg, ffprobe) for post-processing: spawn
 * with an argument vector (no shell), collect stdout, keep the tail of
 * stderr for error messages, enforce a timeout (SIGKILL to the child's
 * process group), cancel everything at shutdown, and
 * report the exit status. Plus ffprobe's view of a media file.
 */
#ifndef ML_RECORDER_TOOL_H
#define ML_RECORDER_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/*
 * Run argv[0] (searched in PATH) with argv, stdin from /dev/null. When out
 * is not NULL, *out receives stdout (malloc'd, NUL-terminated). Returns 0
 * when the program exited with status 0; otherwise -1 with err naming the
 * program, its exit status or signal (or timeout) and the last line(s) it
 * wrote to stderr.
 */
int rec_tool_run(char *const argv[], int timeout_s, char **out, char *err, size_t errlen);

/* Shutdown: kill (SIGKILL, whole process group) every program that
 * rec_tool_run is running and make later calls fail at once. One-way and
 * process-wide; safe from any thread. */
void rec_tool_cancel_all(void);
/* Whether rec_tool_cancel_all has run (a failed run was then cancelled,
 * not the program's fault). */
bool rec_tool_cancelled(void);

/* Sleep ms milliseconds unless rec_tool_cancel_all runs (then at once).
 * Returns true when it slept the whole time. */
bool rec_tool_sleep_ms(long ms);

/* ffprobe's summary of a media file. */
typedef struct rec_probe {
    double duration_s;
    bool has_audio, has_video;
    double audio_start_s, video_start_s;
    double audio_duration_s, video_duration_s; /* per stream (MP4); 0 when not given (WebM) */
    uint64_t audio_frames;                     /* coded audio frames (MP4); 0 when not given */
    int audio_rate;                            /* samples per second */
    int width, height; /* of the first video stream (the camera), like the fields above */
    int video_streams;
    char audio_codec[32], video_codec[32];
} rec_probe;

/* Run `ffprobe -show_streams -show_format -of json` on path. 0 or -1 + err. */
int rec_probe_file(const char *ffprobe, const char *path, int timeout_s, rec_probe *p, char *err,
                   size_t errlen);

#endif
