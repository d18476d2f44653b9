/*
 * Post-processing of one session folder; see process.h. This file
 * orchestrates: find the raw files, load them (process_track.c), time
 * them on one clock, build frame lists (process_vp8.c, process_opus.c),
 * join the publisher's connections, mux WebM (process_mux.c), run ffmpeg
 * for the MP4 and the thumbnail (process_ffmpeg.c) and ffprobe for the
 * report (tool.c). Outputs appear under their final names
 * only when complete (written as *.part, then renamed).
 */
#include "recorder/process.h"
#include "recorder/process_internal.h"
#include "recorder/tool.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TRACKS 256 /* raw files of one session: a flaky mentor reconnects many times */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted paths of dir/ *.mlrec into names (malloc'd strings). Returns the count or -1. */
static int list_raw(const char *dir, char **names, int max, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 7 || strcmp(e->d_name + l - 6, ".mlrec") != 0)
            continue;
        if (n == max) {
            snprintf(err, errlen, "%s: more than %d raw files", dir, max);
            goto fail;
        }
        if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    return n;
fail:
    closedir(d);
    for (int i = 0; i < n; i++)
        free(names[i]);
    return -1;
}

static void fill_report(rec_track_report *rep, const rec__track *t)
{
    snprintf(rep->path, sizeof rep->path, "%s", t->path);
    snprintf(rep->codec, sizeof rep->codec, "%s", t->info.codec);
    rep->records = t->scan.records;
    rep->bad_records = t->scan.bad_records;
    rep->torn_tail = t->scan.torn_tail;
    rep->clean_end = t->scan.clean_end;
    rep->drops = t->scan.totals.drops;
    rep->malformed = t->malformed;
    rep->sr_aligned = t->nstreams > 0;
    for (size_t i = 0; i < t->nstreams; i++) {
        rep->rtp_packets += t->streams[i].npkts + t->streams[i].duplicates;
        rep->duplicates += t->streams[i].duplicates;
        rep->lost += t->streams[i].lost;
        rep->sr_aligned = rep->sr_aligned && t->streams[i].use_sr;
    }
}

/* A video track's frames: depacketized, the top simulcast layer followed. */
static int video_frames(const rec__track *t, int64_t offset, rec__frames *layers, rec__frames *out,
                        rec_track_report *rep)
{
    int rc = rec__vp8_frames(t, offset, layers, rep) != 0 ||
                     rec__simulcast_select(t, layers, out, rep) != 0
                 ? -1
                 : 0;
    for (size_t i = 0; i < REC_MAX_LAYERS * 2; i++)
        rec__frames_free(&layers[i]);
    return rc;
}

/* Drop the frames of f that start more than half a frame before t (the
 * audio heard while the first video keyframe was awaited), so that both
 * tracks of the file start together; at least one frame is kept. */
static size_t trim_leading(rec__frames *f, int64_t t)
{
    size_t k = 0;
    while (k + 1 < f->n && f->v[k].t_us + f->v[k].duration_us / 2 < t)
        k++;
    if (k == 0)
        return 0;
    for (size_t i = 0; i < k; i++)
        free(f->v[i].data);
    memmove(f->v, f->v + k, (f->n - k) * sizeof f->v[0]);
    f->n -= k;
    return k;
}

/* The tracks of one publisher connection. */
typedef struct rec__segment {
    unsigned long long peer; /* from the track id "<peer>:<mid>"; 0 when it has none */
    uint64_t start_wall_us;  /* its earliest file */
    rec__track *ta, *tv;
    rec__track *ts; /* its second video: a screen share */
} rec__segment;

/* The mid of a track id "<peer>:<mid>" as a number (-1 when not numeric). */
static long mid_of(const rec__track *t)
{
    const char *c = strchr(t->info.track_id, ':');
    char *end;
    long m = c ? strtol(c + 1, &end, 10) : -1;
    return c && end != c + 1 && *end == '\0' ? m : -1;
}

/* Which of two videos of a connection is its camera: the one whose file
 * started first (a screen is shared once the camera is on), then the lower
 * mid (the web client adds the camera's m-line first), then the name. */
static bool camera_before(const rec__track *a, const rec__track *b)
{
    if (a->info.start_wall_us != b->info.start_wall_us)
        return a->info.start_wall_us < b->info.start_wall_us;
    long ma = mid_of(a), mb = mid_of(b);
    if (ma != mb)
        return (unsigned long)ma < (unsigned long)mb; /* -1 (no number) last */
    return strcmp(a->path, b->path) < 0;
}

/* Place a VP8 video track of g: camera, screen, or one too many (returned). */
static rec__track *place_video(rec__segment *g, rec__track *t)
{
    rec__track *out = NULL;
    if (!g->tv) {
        g->tv = t;
    } else if (camera_before(t, g->tv)) {
        out = g->ts;
        g->ts = g->tv;
        g->tv = t;
    } else if (!g->ts) {
        g->ts = t;
    } else if (camera_before(t, g->ts)) {
        out = g->ts;
        g->ts = t;
    } else {
        out = t;
    }
    return out;
}

static rec__segment *segment_of(rec__segment *segs, size_t *n, const rec__track *t)
{
    unsigned long long peer = 0;
    char colon = 0;
    if (sscanf(t->info.track_id, "%llu%c", &peer, &colon) != 2 || colon != ':')
        peer = 0;
    for (size_t i = 0; i < *n; i++)
        if (segs[i].peer == peer) {
            if (t->info.start_wall_us < segs[i].start_wall_us)
                segs[i].start_wall_us = t->info.start_wall_us;
            return &segs[i];
        }
    rec__segment *g = &segs[(*n)++]; /* at most one per track */
    memset(g, 0, sizeof *g);
    g->peer = peer;
    g->start_wall_us = t->info.start_wall_us;
    return g;
}

static int cmp_segment(const void *a, const void *b)
{
    const rec__segment *x = a, *y = b;
    if (x->start_wall_us != y->start_wall_us)
        return x->start_wall_us < y->start_wall_us ? -1 : 1;
    return x->peer < y->peer ? -1 : x->peer > y->peer;
}

/* When a frame ends (at least 1 µs after it starts). */
static int64_t frame_end(const rec__frame *f)
{
    return f->t_us + (f->duration_us > 0 ? f->duration_us : 1);
}

/* Move the frames of src behind those of dst: frames that start before
 * dst's last frame ends (two connections overlapping) are dropped, and
 * video resumes at a keyframe. Counts what was dropped in rep (skipped,
 * not muxed). src is left empty; -1 on out of memory. */
static int append_frames(rec__frames *dst, rec__frames *src, bool video, rec_track_report *rep)
{
    int64_t end = dst->n ? frame_end(&dst->v[dst->n - 1]) : INT64_MIN;
    bool need_key = video && dst->n > 0;
    int rc = 0;
    for (size_t i = 0; i < src->n; i++) {
        rec__frame *f = &src->v[i];
        if (rc == 0 && f->t_us >= end && !(need_key && !f->key)) {
            need_key = false;
            if (rec__frames_take(dst, f) == 0)
                continue;
            rc = -1;
        }
        free(f->data);
        f->data = NULL;
        if (rc == 0 && rep->frames > 0) {
            rep->frames--;
            rep->skipped_frames++;
        }
    }
    src->n = 0;
    rec__frames_free(src);
    return rc;
}

/* Add one connection's report of a kind to the session's. */
static void add_report(rec_track_report *sum, const rec_track_report *seg, bool first)
{
    if (first) {
        *sum = *seg;
        return;
    }
    sum->records += seg->records;
    sum->rtp_packets += seg->rtp_packets;
    sum->duplicates += seg->duplicates;
    sum->lost += seg->lost;
    sum->malformed += seg->malformed;
    sum->bad_records += seg->bad_records;
    sum->drops += seg->drops;
    sum->torn_tail = sum->torn_tail || seg->torn_tail;
    sum->clean_end = sum->clean_end && seg->clean_end;
    sum->frames += seg->frames;
    sum->skipped_frames += seg->skipped_frames;
    if (seg->layers > sum->layers)
        sum->layers = seg->layers;
    sum->layer_switches += seg->layer_switches;
    snprintf(sum->layer_rid, sizeof sum->layer_rid, "%s", seg->layer_rid);
    sum->sr_aligned = sum->sr_aligned && seg->sr_aligned;
    if ((uint32_t)seg->width * seg->height > (uint32_t)sum->width * sum->height) {
        sum->width = seg->width; /* the MP4 is scaled to the largest picture */
        sum->height = seg->height;
    }
}

int rec_process_session(const char *dir, const char *out_dir, const rec_process_opts *o,
                        rec_process_result *r, char *err, size_t errlen)
{
    char **names = calloc(MAX_TRACKS, sizeof *names);
    rec__track *tracks = calloc(MAX_TRACKS, sizeof *tracks);
    rec__segment *segs = calloc(MAX_TRACKS, sizeof *segs);
    rec__span *shares = calloc(MAX_TRACKS, sizeof *shares); /* at most one per connection */
    size_t nshares = 0;
    unsigned reported[3] = {0, 0, 0}; /* audio, video, screen reports started */
    rec__frames audio = {0}, video = {0}, screen = {0}, layers[REC_MAX_LAYERS * 2];
    int channels = 0;
    int n = 0, loaded = 0, rc = -1;
    memset(r, 0, sizeof *r);
    memset(layers, 0, sizeof layers);
    if (!names || !tracks || !segs || !shares)
        goto oom;
    n = list_raw(dir, names, MAX_TRACKS, err, errlen);
    if (n < 0) {
        n = 0;
        goto fail;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s: no raw recording files (*.mlrec)", dir);
        goto fail;
    }
    for (; loaded < n; loaded++)
        if (rec__track_load(&tracks[loaded], names[loaded], err, errlen) != 0)
            goto fail;
    /* One segment per publisher connection (the peer id of its tracks; a
     * mentor who reloads the page comes back as a new peer): its first
     * Opus and first VP8 track, timed on their own clocks, then joined in
     * the order they started. */
    size_t nseg = 0;
    for (int i = 0; i < n; i++) {
        rec__track *t = &tracks[i];
        bool vp8 = !strcasecmp(t->info.codec, "VP8"), opus = !strcasecmp(t->info.codec, "opus");
        rec__segment *g = segment_of(segs, &nseg, t);
        if (t->info.kind == REC_KIND_VIDEO && vp8) {
            if (place_video(g, t))
                r->ignored_tracks++;
        } else if (t->info.kind == REC_KIND_AUDIO && opus && !g->ta) {
            g->ta = t;
        } else {
            r->ignored_tracks++;
        }
    }
    qsort(segs, nseg, sizeof segs[0], cmp_segment);
    for (size_t g = 0; g < nseg; g++) {
        rec__track *ta = segs[g].ta, *tv = segs[g].tv, *ts = segs[g].ts;
        if (!ta && !tv)
            continue; /* only tracks we do not mux */
        rec__track *chosen[3];
        size_t nc = 0;
        if (ta)
            chosen[nc++] = ta;
        if (tv)
            chosen[nc++] = tv;
        if (ts)
            chosen[nc++] = ts;
        for (size_t i = 0; i < nc; i++)
            if (chosen[i]->info.kind == REC_KIND_VIDEO &&
                chosen[i]->nstreams > REC_MAX_LAYERS * 2) {
                snprintf(err, errlen, "%s: too many SSRCs (%zu)", chosen[i]->path,
                         chosen[i]->nstreams);
                goto fail;
            }
        if (ta && !channels)
            channels = ta->info.channels;
        /* one sender clock for the connection's tracks */
        int64_t offset = 0;
        bool has_offset = rec__clock_offset(chosen, nc, &offset);
        for (size_t i = 0; i < nc; i++)
            rec__track_clock(chosen[i], has_offset, offset);
        rec__frames sa = {0}, sv = {0}, ss = {0};
        rec_track_report ra, rv, rs;
        memset(&ra, 0, sizeof ra);
        memset(&rv, 0, sizeof rv);
        memset(&rs, 0, sizeof rs);
        int bad = (ta && rec__opus_frames(ta, offset, &sa, &ra) != 0) ||
                  (tv && video_frames(tv, offset, layers, &sv, &rv) != 0) ||
                  (ts && video_frames(ts, offset, layers, &ss, &rs) != 0);
        if (ta)
            fill_report(&ra, ta);
        if (tv)
            fill_report(&rv, tv);
        if (ts)
            fill_report(&rs, ts);
        bool has_ts = ts != NULL;
        if (!bad && sv.n == 0 && ss.n > 0) {
            /* the camera gave no picture: the shared screen is the video */
            rec__frames tf = sv;
            sv = ss;
            ss = tf;
            rv = rs;
            has_ts = false;
        }
        /* The daemon's recordings (align_start): the audio heard before the
         * first video keyframe (the tap asks for one when it starts) is
         * dropped so both start together -- at the session's start only;
         * a later connection's early audio plays over the still picture. */
        if (!bad && o->align_start && audio.n == 0 && video.n == 0 && sa.n && sv.n) {
            size_t k = trim_leading(&sa, sv.v[0].t_us); /* not muxed: skipped */
            ra.frames -= k;
            ra.skipped_frames += k;
        }
        size_t audio_n0 = audio.n, video_n0 = video.n, screen_n0 = screen.n;
        if (bad || append_frames(&audio, &sa, false, &ra) != 0 ||
            append_frames(&video, &sv, true, &rv) != 0 ||
            append_frames(&screen, &ss, true, &rs) != 0) {
            rec__frames_free(&sa);
            rec__frames_free(&sv);
            rec__frames_free(&ss);
            goto oom;
        }
        if (screen.n > screen_n0) /* this connection's share, on the session clock */
            shares[nshares++] =
                (rec__span){screen.v[screen_n0].t_us, frame_end(&screen.v[screen.n - 1])};
        /* every track's counters go into the report; a connection counts
         * as a segment of a kind when some of its frames were muxed */
        if (ta)
            add_report(&r->audio, &ra, !reported[0]++);
        if (tv)
            add_report(&r->video, &rv, !reported[1]++);
        if (has_ts)
            add_report(&r->screen, &rs, !reported[2]++);
        r->audio_segments += audio.n > audio_n0;
        r->video_segments += video.n > video_n0;
        r->screen_segments += screen.n > screen_n0;
    }
    r->has_audio = audio.n > 0;
    r->has_video = video.n > 0;
    r->has_screen = screen.n > 0;
    if (!r->has_audio && !r->has_video) {
        snprintf(err, errlen, "%s: no usable audio or video (VP8/Opus) in %d raw file(s)", dir, n);
        goto fail;
    }
    /* the session: from the first frame of any kind to the last one's end */
    int64_t t0 = INT64_MAX, end = INT64_MIN;
    const rec__frames *all[] = {&audio, &video, &screen};
    for (size_t i = 0; i < 3; i++)
        if (all[i]->n) {
            if (all[i]->v[0].t_us < t0)
                t0 = all[i]->v[0].t_us;
            if (frame_end(&all[i]->v[all[i]->n - 1]) > end)
                end = frame_end(&all[i]->v[all[i]->n - 1]);
        }
    r->audio.start_offset_us = r->has_audio ? audio.v[0].t_us - t0 : 0;
    r->video.start_offset_us = r->has_video ? video.v[0].t_us - t0 : 0;
    r->screen.start_offset_us = r->has_screen ? screen.v[0].t_us - t0 : 0;
    if (mkdir(out_dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", out_dir, strerror(errno));
        goto fail;
    }
    char part[1100];
    snprintf(r->webm_path, sizeof r->webm_path, "%s/recording.webm", out_dir);
    snprintf(part, sizeof part, "%s.part", r->webm_path);
    if (rec__mux_webm(part, &audio, channels ? channels : 2, &video, &screen, t0, err, errlen) !=
            0 ||
        rename(part, r->webm_path) != 0) {
        unlink(part);
        r->webm_path[0] = '\0';
        goto fail;
    }
    r->webm_bytes = rec__file_size(r->webm_path);
    const char *final = r->webm_path;
    if (o->mp4) {
        rec__layout lay = {shares, nshares, t0, end}; /* a share holds screen frames */
        if (rec__transcode(o, r, &lay, out_dir, err, errlen) != 0)
            goto fail;
        final = r->mp4_path;
    }
    rec_probe pr;
    char e2[900];
    if (rec_probe_file(o->ffprobe, r->webm_path, o->timeout_s, &pr, e2, sizeof e2) != 0) {
        snprintf(err, errlen, "probing the WebM failed: %s", e2);
        goto fail;
    }
    if (pr.has_audio && pr.has_video)
        r->probe_av_start_diff_s = fabs(pr.audio_start_s - pr.video_start_s);
    if (final != r->webm_path &&
        rec_probe_file(o->ffprobe, final, o->timeout_s, &pr, e2, sizeof e2) != 0) {
        snprintf(err, errlen, "probing the MP4 failed: %s", e2);
        goto fail;
    }
    r->duration_s = pr.duration_s;
    if (o->thumbnail && r->has_video &&
        rec__thumbnail(o, r, out_dir, pr.duration_s, err, errlen) != 0)
        goto fail;
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    rc = -1;
done:
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        rec__frames_free(&layers[i]);
    rec__frames_free(&audio);
    rec__frames_free(&video);
    rec__frames_free(&screen);
    free(shares);
    for (int i = 0; i < loaded; i++)
        rec__track_free(&tracks[i]);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(tracks);
    free(segs);
    return rc;
}

static json_t *track_json(const rec_track_report *t)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:I, s:I, s:i, s:i, "
                     "s:s, s:b, s:f, s:i, s:i}",
                     "path", t->path, "codec", t->codec, "records", (json_int_t)t->records,
                     "rtp_packets", (json_int_t)t->rtp_packets, "duplicates",
                     (json_int_t)t->duplicates, "lost", (json_int_t)t->lost, "malformed",
                     (json_int_t)t->malformed, "bad_records", (json_int_t)t->bad_records, "drops",
                     (json_int_t)t->drops, "torn_tail", t->torn_tail, "clean_end", t->clean_end,
                     "frames", (json_int_t)t->frames, "skipped_frames",
                     (json_int_t)t->skipped_frames, "layers", (int)t->layers, "layer_switches",
                     (int)t->layer_switches, "layer_rid", t->layer_rid, "sr_aligned", t->sr_aligned,
                     "start_offset_s", (double)t->start_offset_us / 1e6, "width", (int)t->width,
                     "height", (int)t->height);
}

char *rec_process_result_json(const rec_process_result *r)
{
    json_t *o =
        json_pack("{s:f, s:f, s:s, s:I, s:s, s:I, s:s, s:I, s:i}", "duration_s", r->duration_s,
                  "av_start_diff_s", r->probe_av_start_diff_s, "webm", r->webm_path, "webm_bytes",
                  (json_int_t)r->webm_bytes, "mp4", r->mp4_path, "mp4_bytes",
                  (json_int_t)r->mp4_bytes, "thumbnail", r->thumb_path, "thumbnail_bytes",
                  (json_int_t)r->thumb_bytes, "ignored_tracks", (int)r->ignored_tracks);
    if (!o)
        return NULL;
    json_object_set_new(o, "audio_segments", json_integer(r->audio_segments));
    json_object_set_new(o, "video_segments", json_integer(r->video_segments));
    json_object_set_new(o, "screen_segments", json_integer(r->screen_segments));
    if (r->has_audio)
        json_object_set_new(o, "audio", track_json(&r->audio));
    if (r->has_video)
        json_object_set_new(o, "video", track_json(&r->video));
    if (r->has_screen)
        json_object_set_new(o, "screen", track_json(&r->screen));
    char *s = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    return s;
}
