/*
 * The ffmpeg runs of post-processing (see process.h): the MP4 transcode,
 * with the screen-share layout when a screen was shared, and the
 * thumbnail. Outputs are written as *.part and renamed when complete.
 */
#include "recorder/process_internal.h"
#include "recorder/tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t rec__file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Run ffmpeg with args writing to final via final.part; rename on success. */
static int run_ffmpeg(const rec_process_opts *o, char **args, int nargs, const char *final,
                      char *err, size_t errlen)
{
    char part[1100];
    snprintf(part, sizeof part, "%s.part", final);
    char *argv[48];
    int k = 0;
    argv[k++] = (char *)(o->ffmpeg ? o->ffmpeg : "ffmpeg");
    argv[k++] = "-hide_banner";
    argv[k++] = "-nostdin";
    argv[k++] = "-loglevel";
    argv[k++] = "error";
    argv[k++] = "-y";
    for (int i = 0; i < nargs && k < 46; i++)
        argv[k++] = args[i];
    argv[k++] = part;
    argv[k] = NULL;
    if (rec_tool_run(argv, o->timeout_s, NULL, err, errlen) != 0) {
        unlink(part);
        return -1;
    }
    if (rec__file_size(part) == 0 || rename(part, final) != 0) {
        snprintf(err, errlen, "%s: ffmpeg produced no output", final);
        unlink(part);
        return -1;
    }
    return 0;
}

/* ffmpeg's expression "t is in one of the shares" (seconds from t0), or NULL. */
static char *shares_expr(const rec__layout *lay)
{
    size_t cap = lay->nshares * 48 + 1, len = 0;
    char *e = malloc(cap);
    if (!e)
        return NULL;
    e[0] = '\0';
    for (size_t i = 0; i < lay->nshares; i++)
        len += (size_t)snprintf(e + len, cap - len, "%sbetween(t,%.3f,%.3f)", i ? "+" : "",
                                (double)(lay->shares[i].from - lay->t0) / 1e6,
                                (double)(lay->shares[i].to - lay->t0) / 1e6);
    return e;
}

/* scale + pad filters fitting any picture into w x h (centred, black bars) */
static void fit_filter(char *buf, size_t cap, int w, int h)
{
    snprintf(buf, cap,
             "scale=%d:%d:force_original_aspect_ratio=decrease:force_divisible_by=2,"
             "pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1",
             w, h, w, h);
}

/*
 * The MP4's picture while a screen is shared: the screen fills the frame
 * (scaled to fit, centred on black) and the camera sits in the bottom
 * right corner, a quarter of the width wide at its own aspect ratio
 * (cam_w x cam_h); at other times the camera fills the frame. A 30 fps
 * black background of the session's length carries both, so the layout
 * changes at the times the shares began and ended whatever either stream
 * does (a still picture stays up during a gap). The screen is read from a
 * second opening of the WebM ([1:v:1]): with one demuxer for both, ffmpeg
 * would hold every decoded frame while an overlay waited for the screen's
 * next frame (gigabytes over a long session after a share ended).
 */
static char *compose_graph(const rec__layout *lay, int w, int h, int cam_w, int cam_h)
{
    char *on = shares_expr(lay), *g = NULL;
    if (!on)
        return NULL;
    int pw = (w / 4) & ~1, margin = (w / 64) & ~1;
    if (pw < 2)
        pw = 2;
    int ph = cam_w > 0 && cam_h > 0 ? (int)((long)pw * cam_h / cam_w) & ~1 : (pw * 9 / 16) & ~1;
    if (ph < 2)
        ph = 2;
    double d = (double)(lay->end - lay->t0) / 1e6;
    char fit[160], pip[160];
    fit_filter(fit, sizeof fit, w, h);
    fit_filter(pip, sizeof pip, pw, ph);
    if (asprintf(&g,
                 "color=c=black:s=%dx%d:r=30:d=%.3f[base];"
                 "[0:v:0]split[c0][c1];[c0]%s[cam];[c1]%s[pip];[1:v:1]%s[scr];"
                 "[base][cam]overlay=eof_action=repeat[b1];"
                 "[b1][scr]overlay=eof_action=repeat:enable='%s'[b2];"
                 "[b2][pip]overlay=x=W-w-%d:y=H-h-%d:eof_action=repeat:enable='%s',"
                 "format=yuv420p[v]",
                 w, h, d > 0.04 ? d : 0.04, fit, pip, fit, on, margin, margin, on) < 0)
        g = NULL;
    free(on);
    return g;
}

int rec__transcode(const rec_process_opts *o, rec_process_result *r, const rec__layout *lay,
                   const char *out_dir, char *err, size_t errlen)
{
    int w = r->video.width, h = r->video.height;
    if (lay->nshares && (uint32_t)r->screen.width * r->screen.height > (uint32_t)w * h) {
        w = r->screen.width; /* the larger picture, so the screen stays legible */
        h = r->screen.height;
    }
    w = (w + 1) & ~1;
    h = (h + 1) & ~1;
    char scale[64];
    snprintf(scale, sizeof scale, "scale=%d:%d", w, h);
    char *graph = NULL;
    if (r->has_video && lay->nshares &&
        !(graph = compose_graph(lay, w < 16 ? 1280 : w, h < 16 ? 720 : h, r->video.width,
                                r->video.height))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(r->mp4_path, sizeof r->mp4_path, "%s/recording.mp4", out_dir);
    char *args[40];
    int n = 0;
    if (graph) {
        /* -reinit_filter 0: a picture size change (a simulcast layer switch,
         * a rejoin) must not rebuild the graph, which would restart the
         * canvas and drop what it holds; the scale filters follow sizes */
        char *v[] = {"-reinit_filter",
                     "0",
                     "-i",
                     r->webm_path,
                     "-reinit_filter",
                     "0",
                     "-i",
                     r->webm_path,
                     "-filter_complex",
                     graph,
                     "-map",
                     "[v]",
                     "-map",
                     "0:a?"};
        memcpy(args + n, v, sizeof v);
        n += 14;
    } else {
        args[n++] = "-i";
        args[n++] = r->webm_path;
        if (r->has_video) {
            args[n++] = "-vf";
            args[n++] = scale;
        }
    }
    if (r->has_video) {
        char *v[] = {"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"};
        memcpy(args + n, v, sizeof v);
        n += 6;
    }
    if (r->has_audio) {
        /* a gap between two connections of the publisher becomes silence
         * (the AAC track would otherwise close it up and drift from the video) */
        char *a[] = {"-af", "aresample=async=1", "-c:a", "aac", "-b:a", "128k"};
        memcpy(args + n, a, sizeof a);
        n += 6;
    }
    char *m[] = {"-movflags", "+faststart", "-f", "mp4"};
    memcpy(args + n, m, sizeof m);
    n += 4;
    char e2[900];
    int rc = run_ffmpeg(o, args, n, r->mp4_path, e2, sizeof e2);
    free(graph);
    if (rc != 0) {
        snprintf(err, errlen, "MP4 transcode failed: %s", e2);
        r->mp4_path[0] = '\0';
        return -1;
    }
    r->mp4_bytes = rec__file_size(r->mp4_path);
    return 0;
}

int rec__thumbnail(const rec_process_opts *o, rec_process_result *r, const char *out_dir,
                   double duration_s, char *err, size_t errlen)
{
    char at[32];
    snprintf(at, sizeof at, "%.3f", duration_s > 2 ? 1.0 : duration_s / 2);
    snprintf(r->thumb_path, sizeof r->thumb_path, "%s/thumbnail.jpg", out_dir);
    /* the camera (a larger shared screen would be ffmpeg's own choice) */
    char *args[] = {"-ss",       at,  "-i",   r->webm_path, "-map", "0:v:0",
                    "-frames:v", "1", "-q:v", "3",          "-f",   "image2"};
    char e2[900];
    if (run_ffmpeg(o, args, 12, r->thumb_path, e2, sizeof e2) != 0) {
        snprintf(err, errlen, "thumbnail failed: %s", e2);
        r->thumb_path[0] = '\0';
        return -1;
    }
    r->thumb_bytes = rec__file_size(r->thumb_path);
    return 0;
}
