/*
 * Unit tests for post-processing (recorder/process*.c, recorder/tool.c)
 * on synthetic sessions (recorder/synth.c: libvpx VP8 + libopus, RTP with
 * wrapping sequence numbers and timestamps, sender reports, a video
 * encoder latency of 300 ms): the WebM/MP4 are checked with ffprobe
 * (streams, codecs, duration within 0.5 s, audio/video start within
 * 100 ms), impairments are counted, the simulcast top layer is followed,
 * and bad inputs or a failing ffmpeg give an error while the raw files
 * stay untouched.
 */
#include "common/crc32.h"
#include "recorder/process.h"
#include "recorder/recfile.h"
#include "recorder/synth.h"
#include "recorder/tool.h"
#include "tests/unit/harness.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void mkdir_tmp(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/ml-process-XXXXXX");
    if (!mkdtemp(dir))
        abort();
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", dir);
}

static uint32_t file_crc(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint32_t crc = 0;
    uint8_t buf[8192];
    size_t n;
    if (!f)
        return 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crc = ml_crc32(crc, buf, n);
    fclose(f);
    return crc;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

TEST(impaired_session_gives_aligned_webm_mp4_and_thumbnail)
{
    char dir[64], out[128], err[1024];
    mkdir_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    rec_synth_opts so;
    rec_synth_defaults(&so);
    so.impair = true;
    rec_synth_result sr;
    REQUIRE(rec_synth_session(dir, &so, &sr, err, sizeof err) == 0);
    uint32_t crc_a = file_crc(sr.audio_path), crc_v = file_crc(sr.video_path);
    rec_process_opts po = {.mp4 = true, .thumbnail = true, .timeout_s = 120};
    rec_process_result r;
    if (rec_process_session(dir, out, &po, &r, err, sizeof err) != 0)
        th_fail(__FILE__, __LINE__, "process: %s", err);
    REQUIRE(r.has_audio && r.has_video);
    /* Impairments seen: one duplicate and one loss per track. */
    CHECK_INT_EQ(r.video.duplicates, 1);
    CHECK_INT_EQ(r.video.lost, 1);
    CHECK_INT_EQ(r.audio.duplicates, 1);
    CHECK_INT_EQ(r.audio.lost, 1);
    /* The frame that lost a packet and its successors up to the next keyframe are skipped. */
    CHECK_INT_EQ(r.video.frames, sr.video_frames_expected);
    CHECK_INT_EQ(r.video.frames + r.video.skipped_frames, sr.video_frames);
    CHECK_INT_EQ(r.audio.frames, sr.audio_frames - 1);
    CHECK(r.video.sr_aligned && r.audio.sr_aligned);
    CHECK(r.video.start_offset_us < 100000 && r.audio.start_offset_us < 100000);
    CHECK_INT_EQ(r.video.width, 320);
    /* ffprobe of both outputs. */
    rec_probe pw, pm;
    REQUIRE(rec_probe_file(NULL, r.webm_path, 60, &pw, err, sizeof err) == 0);
    REQUIRE(rec_probe_file(NULL, r.mp4_path, 60, &pm, err, sizeof err) == 0);
    CHECK(pw.has_audio && pw.has_video);
    CHECK_STR_EQ(pw.video_codec, "vp8");
    CHECK_STR_EQ(pw.audio_codec, "opus");
    CHECK(fabs(pw.duration_s - so.duration_s) < 0.5);
    CHECK(fabs(pw.audio_start_s - pw.video_start_s) < 0.1);
    CHECK(pm.has_audio && pm.has_video);
    CHECK_STR_EQ(pm.video_codec, "h264");
    CHECK_STR_EQ(pm.audio_codec, "aac");
    CHECK_INT_EQ(pm.width, 320);
    CHECK(fabs(pm.duration_s - so.duration_s) < 0.5);
    CHECK(fabs(pm.audio_start_s - pm.video_start_s) < 0.1);
    CHECK(fabs(r.duration_s - pm.duration_s) < 0.001);
    printf("# webm %.3f s (a %.3f v %.3f), mp4 %.3f s (a %.3f v %.3f), %llu/%llu/%llu bytes\n",
           pw.duration_s, pw.audio_start_s, pw.video_start_s, pm.duration_s, pm.audio_start_s,
           pm.video_start_s, (unsigned long long)r.webm_bytes, (unsigned long long)r.mp4_bytes,
           (unsigned long long)r.thumb_bytes);
    /* A JPEG thumbnail. */
    FILE *f = fopen(r.thumb_path, "rb");
    REQUIRE(f != NULL);
    uint8_t soi[2] = {0};
    CHECK(fread(soi, 1, 2, f) == 2 && soi[0] == 0xFF && soi[1] == 0xD8);
    fclose(f);
    /* The JSON report parses as an object with both tracks. */
    char *js = rec_process_result_json(&r);
    REQUIRE(js != NULL);
    CHECK(strstr(js, "\"audio\"") && strstr(js, "\"video\"") && strstr(js, "\"duplicates\": 1"));
    free(js);
    /* Raw files unchanged. */
    CHECK_UINT_EQ(file_crc(sr.audio_path), crc_a);
    CHECK_UINT_EQ(file_crc(sr.video_path), crc_v);
    rm_rf(dir);
}

TEST(without_sender_reports_arrival_times_are_used)
{
    char dir[64], out[128], err[1024];
    mkdir_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    rec_synth_opts so;
    rec_synth_defaults(&so);
    so.sender_reports = false;
    rec_synth_result sr;
    REQUIRE(rec_synth_session(dir, &so, &sr, err, sizeof err) == 0);
    rec_process_opts po = {.timeout_s = 120};
    rec_process_result r;
    REQUIRE(rec_process_session(dir, out, &po, &r, err, sizeof err) == 0);
    CHECK(!r.video.sr_aligned && !r.audio.sr_aligned);
    /* Arrival timing keeps the 300 ms encoder latency the SRs would have removed. */
    CHECK(llabs(r.video.start_offset_us - 300000) < 20000);
    CHECK(fabs(r.probe_av_start_diff_s - 0.3) < 0.03);
    CHECK(!exists(r.mp4_path[0] ? r.mp4_path : "/nonexistent"));
    /* The daemon's start alignment drops those 300 ms of audio (15 frames
     * of 20 ms): skipped, not counted as muxed. */
    rec_process_opts pa = {.align_start = true, .timeout_s = 120};
    REQUIRE(rec_process_session(dir, out, &pa, &r, err, sizeof err) == 0);
    printf("# aligned start: %llu audio frames muxed, %llu skipped\n",
           (unsigned long long)r.audio.frames, (unsigned long long)r.audio.skipped_frames);
    CHECK_INT_EQ(r.audio.frames + r.audio.skipped_frames, sr.audio_frames);
    CHECK(r.audio.skipped_frames >= 13 && r.audio.skipped_frames <= 17);
    CHECK(r.probe_av_start_diff_s < 0.03);
    rm_rf(dir);
}

TEST(simulcast_follows_top_layer_from_its_first_keyframe)
{
    char dir[64], out[128], err[1024];
    mkdir_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    rec_synth_opts so;
    rec_synth_defaults(&so);
    so.simulcast = true;
    rec_synth_result sr;
    REQUIRE(rec_synth_session(dir, &so, &sr, err, sizeof err) == 0);
    rec_process_opts po = {.mp4 = true, .timeout_s = 120};
    rec_process_result r;
    if (rec_process_session(dir, out, &po, &r, err, sizeof err) != 0)
        th_fail(__FILE__, __LINE__, "process: %s", err);
    CHECK_INT_EQ(r.video.layers, 2);
    CHECK_INT_EQ(r.video.layer_switches, 1);
    CHECK_STR_EQ(r.video.layer_rid, "h");
    /* 30 low-layer frames before the switch at 1 s, then the 60 top-layer frames. */
    CHECK_INT_EQ(r.video.frames, 90);
    CHECK_INT_EQ(r.video.width, 320);
    rec_probe pm;
    REQUIRE(rec_probe_file(NULL, r.mp4_path, 60, &pm, err, sizeof err) == 0);
    CHECK_INT_EQ(pm.width, 320);
    CHECK_INT_EQ(pm.height, 240);
    CHECK(fabs(pm.duration_s - so.duration_s) < 0.5);
    rm_rf(dir);
}

/* Synthetic raw files of two connections of one publisher (peer ids p1
 * then p2, the second starting start2_s later), processed into dir/out. */
static void two_connections(char *dir, size_t dircap, unsigned p1, unsigned p2, double start2_s,
                            bool mp4, rec_synth_result *s1, rec_synth_result *s2,
                            rec_process_result *r)
{
    char out[128], err[1024];
    mkdir_tmp(dir, dircap);
    snprintf(out, sizeof out, "%s/out", dir);
    rec_synth_opts so;
    rec_synth_defaults(&so);
    so.peer = p1;
    REQUIRE(rec_synth_session(dir, &so, s1, err, sizeof err) == 0);
    so.peer = p2;
    so.start_s = start2_s;
    REQUIRE(rec_synth_session(dir, &so, s2, err, sizeof err) == 0);
    rec_process_opts po = {.mp4 = mp4, .timeout_s = 120};
    if (rec_process_session(dir, out, &po, r, err, sizeof err) != 0)
        th_fail(__FILE__, __LINE__, "process: %s", err);
}

/* A mentor who reloads the page comes back as a new peer: both connections
 * are in the recording, one after the other, and the gap between them is
 * silent (audio and video stay in step after it). */
TEST(a_rejoin_is_joined_after_the_first_connection)
{
    char dir[64], err[1024];
    rec_synth_result s1, s2;
    rec_process_result r;
    /* peer 10 starts 5 s later (a 2 s gap); its names sort before peer 9's */
    two_connections(dir, sizeof dir, 9, 10, 5, true, &s1, &s2, &r);
    CHECK_INT_EQ(r.audio_segments, 2);
    CHECK_INT_EQ(r.video_segments, 2);
    CHECK_INT_EQ(r.ignored_tracks, 0);
    CHECK_INT_EQ(r.video.frames, s1.video_frames + s2.video_frames);
    CHECK_INT_EQ(r.audio.frames, s1.audio_frames + s2.audio_frames);
    CHECK_INT_EQ(r.video.rtp_packets, s1.video_packets + s2.video_packets);
    CHECK(strstr(r.video.path, "video-9-0.mlrec") != NULL); /* the first connection's */
    rec_probe pm;
    REQUIRE(rec_probe_file(NULL, r.mp4_path, 60, &pm, err, sizeof err) == 0);
    printf("# rejoin: mp4 %.3f s, audio %.3f s from %.3f, video %.3f s from %.3f\n", pm.duration_s,
           pm.audio_duration_s, pm.audio_start_s, pm.video_duration_s, pm.video_start_s);
    /* 3 s + 2 s gap + 3 s */
    CHECK(fabs(pm.duration_s - 8.0) < 0.5);
    /* the samples, not just the timestamps, span the gap (AAC: 1024 per frame) */
    REQUIRE(pm.audio_rate > 0);
    double audio_s = (double)pm.audio_frames * 1024 / pm.audio_rate;
    printf("# rejoin: %llu AAC frames = %.3f s of audio\n", (unsigned long long)pm.audio_frames,
           audio_s);
    CHECK(fabs(audio_s - pm.video_duration_s) < 0.25);
    CHECK(fabs(pm.audio_duration_s - pm.video_duration_s) < 0.25);
    CHECK(fabs(pm.audio_start_s - pm.video_start_s) < 0.1);
    rm_rf(dir);
}

/* Two connections that overlap (the new one joined before the old one
 * timed out): the later one's frames are muxed only from where the first
 * ends, video from its next keyframe. */
TEST(overlapping_connections_do_not_mux_frames_twice)
{
    char dir[64], err[1024];
    rec_synth_result s1, s2;
    rec_process_result r;
    two_connections(dir, sizeof dir, 3, 4, 2, false, &s1, &s2, &r); /* 1 s of overlap */
    CHECK_INT_EQ(r.video_segments, 2);
    /* the second connection's video resumes at its keyframe 1 s in (one
     * every 30 frames), audio right after the first connection's end */
    CHECK_INT_EQ(r.video.frames, s1.video_frames + s2.video_frames - 30);
    CHECK_INT_EQ(r.video.skipped_frames, 30);
    CHECK(r.audio.frames >= s1.audio_frames + s2.audio_frames - 51 &&
          r.audio.frames <= s1.audio_frames + s2.audio_frames - 49);
    rec_probe pw;
    REQUIRE(rec_probe_file(NULL, r.webm_path, 60, &pw, err, sizeof err) == 0);
    CHECK(fabs(pw.duration_s - 5.0) < 0.5);
    rm_rf(dir);
}

/* The daemon's start alignment (audio before the first video keyframe is
 * dropped) applies to the session's start only: a first connection with
 * audio alone keeps all of it, and so does the next one. */
TEST(start_alignment_keeps_an_audio_only_first_connection)
{
    char dir[64], out[128], err[1024];
    mkdir_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    rec_synth_opts so;
    rec_synth_result s1, s2;
    rec_synth_defaults(&so);
    so.peer = 1;
    so.no_video = true; /* camera off */
    REQUIRE(rec_synth_session(dir, &so, &s1, err, sizeof err) == 0);
    so.peer = 2;
    so.no_video = false;
    so.start_s = 4;
    REQUIRE(rec_synth_session(dir, &so, &s2, err, sizeof err) == 0);
    rec_process_opts po = {.align_start = true, .timeout_s = 120};
    rec_process_result r;
    if (rec_process_session(dir, out, &po, &r, err, sizeof err) != 0)
        th_fail(__FILE__, __LINE__, "process: %s", err);
    CHECK_INT_EQ(r.audio_segments, 2);
    CHECK_INT_EQ(r.video_segments, 1);
    CHECK_INT_EQ(r.audio.frames, s1.audio_frames + s2.audio_frames);
    /* the session starts with the first connection's audio, the picture 4 s later */
    CHECK_INT_EQ(r.audio.start_offset_us, 0);
    CHECK(llabs(r.video.start_offset_us - 4000000) < 300000);
    rec_probe pw;
    REQUIRE(rec_probe_file(NULL, r.webm_path, 60, &pw, err, sizeof err) == 0);
    CHECK(fabs(pw.duration_s - 7.0) < 0.5);
    rm_rf(dir);
}

/* A mentor on a flaky link: 12 connections (24 raw files) in one session. */
TEST(many_connections_are_all_joined)
{
    char dir[64], out[128], err[1024];
    mkdir_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    rec_synth_opts so;
    rec_synth_result sr;
    rec_synth_defaults(&so);
    so.duration_s = 1;
    unsigned frames = 0;
    for (unsigned k = 0; k < 12; k++) {
        so.peer = 100 + k;
        so.start_s = 1.5 * k;
        REQUIRE(rec_synth_session(dir, &so, &sr, err, sizeof err) == 0);
        frames += sr.video_frames;
    }
    rec_process_opts po = {.timeout_s = 120};
    rec_process_result r;
    if (rec_process_session(dir, out, &po, &r, err, sizeof err) != 0)
        th_fail(__FILE__, __LINE__, "process: %s", err);
    CHECK_INT_EQ(r.video_segments, 12);
    CHECK_INT_EQ(r.audio_segments, 12);
    CHECK_INT_EQ(r.video.frames, frames);
    rm_rf(dir);
}

/* The V (Cr) value at (x, y) of the MP4's picture at t seconds (-1 on error). */
static int chroma_v_at(const char *dir, const char *mp4, double t, int w, int h, int x, int y)
{
    char at[32], path[256], err[512];
    snprintf(at, sizeof at, "%.3f", t);
    snprintf(path, sizeof path, "%s/frame.yuv", dir);
    char *argv[] = {
        "ffmpeg", "-hide_banner", "-nostdin",  "-loglevel", "error", "-y",       "-ss",
        at,       "-i",           (char *)mp4, "-frames:v", "1",     "-pix_fmt", "yuv444p",
        "-f",     "rawvideo",     path,        NULL};
    if (rec_tool_run(argv, 60, NULL, err, sizeof err) != 0) {
        printf("# %s\n", err);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    size_t plane = (size_t)w * (size_t)h, off = 2 * plane + (size_t)y * (size_t)w + (size_t)x;
    int v = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && ftell(f) == (long)(3 * plane) &&
        fseek(f, (long)off, SEEK_SET) == 0)
        v = fgetc(f);
    if (f)
        fclose(f);
    return v;
}

/* A mentor who shares a screen for 2 s of a 6 s session (its camera on an
 * m-line whose file name sorts after the screen's, simulcast: its picture
 * grows when the top layer starts at 4.5 s, after the share): the WebM
 * carries the screen as a second video stream, and the MP4 shows the
 * camera, then the screen with the camera in the bottom right corner, then
 * the camera again (a size change does not black it out). */
TEST(a_screen_share_is_muxed_and_composed)
{
    char dir[64], out[128], err[1024];
    mkdir_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    rec_synth_opts so;
    rec_synth_result cam, scr, extra;
    rec_synth_defaults(&so);
    so.peer = 5;
    so.video_mid = 10; /* video-5-10.mlrec sorts before video-5-2.mlrec */
    so.duration_s = 6;
    so.simulcast = true;
    so.high_start_s = 4.5;
    REQUIRE(rec_synth_session(dir, &so, &cam, err, sizeof err) == 0);
    rec_synth_defaults(&so);
    so.peer = 5;
    so.video_mid = 2;
    so.no_audio = true;
    so.start_s = 2;
    so.duration_s = 2;
    so.width = 640;
    so.height = 360;
    so.chroma_v = 60;
    REQUIRE(rec_synth_session(dir, &so, &scr, err, sizeof err) == 0);
    rec_process_opts po = {.mp4 = true, .timeout_s = 120};
    rec_process_result r;
    if (rec_process_session(dir, out, &po, &r, err, sizeof err) != 0)
        th_fail(__FILE__, __LINE__, "process: %s", err);
    CHECK(r.has_screen);
    CHECK_INT_EQ(r.screen_segments, 1);
    CHECK_INT_EQ(r.video_segments, 1);
    CHECK_INT_EQ(r.ignored_tracks, 0);
    CHECK(strstr(r.video.path, "video-5-10.mlrec") != NULL);
    CHECK(strstr(r.screen.path, "video-5-2.mlrec") != NULL);
    CHECK(r.video.frames >= cam.video_frames); /* the low layer's, then the top's */
    CHECK_INT_EQ(r.video.layer_switches, 1);
    CHECK_INT_EQ(r.screen.frames, scr.video_frames);
    CHECK(llabs(r.screen.start_offset_us - 2000000) < 100000);
    char *js = rec_process_result_json(&r);
    REQUIRE(js != NULL);
    CHECK(strstr(js, "\"screen_segments\": 1") != NULL);
    free(js);
    rec_probe pw, pm;
    REQUIRE(rec_probe_file(NULL, r.webm_path, 60, &pw, err, sizeof err) == 0);
    CHECK_INT_EQ(pw.video_streams, 2);
    CHECK_INT_EQ(pw.width, 320); /* the camera's stream comes first */
    REQUIRE(rec_probe_file(NULL, r.mp4_path, 60, &pm, err, sizeof err) == 0);
    CHECK_INT_EQ(pm.video_streams, 1);
    CHECK_INT_EQ(pm.width, 640); /* the larger picture: the screen's */
    CHECK_INT_EQ(pm.height, 360);
    CHECK(fabs(pm.duration_s - 6.0) < 0.5);
    /* camera V 160, screen V 60; the camera's 4:3 picture is centred on black (V 128) */
    int c1 = chroma_v_at(dir, r.mp4_path, 1.0, 640, 360, 320, 180);
    int c3 = chroma_v_at(dir, r.mp4_path, 3.0, 640, 360, 320, 180);
    int p3 = chroma_v_at(dir, r.mp4_path, 3.0, 640, 360, 640 - 10 - 80, 360 - 10 - 30);
    int e3 = chroma_v_at(dir, r.mp4_path, 3.0, 640, 360, 4, 4);
    int c5 = chroma_v_at(dir, r.mp4_path, 5.0, 640, 360, 320, 180);
    int p5 = chroma_v_at(dir, r.mp4_path, 5.0, 640, 360, 4, 4);
    printf(
        "# screen share: V centre %d / %d / %d (1 s, 3 s, 5 s), corner at 3 s %d, edge %d / %d\n",
        c1, c3, c5, p3, e3, p5);
    CHECK(abs(c1 - 160) < 12);
    CHECK(abs(c3 - 60) < 12);
    CHECK(abs(p3 - 160) < 12);
    CHECK(abs(e3 - 60) < 12);
    CHECK(abs(c5 - 160) < 12);
    CHECK(abs(p5 - 128) < 12);
    /* a third video of the same connection is not muxed */
    rec_synth_defaults(&so);
    so.peer = 5;
    so.video_mid = 4;
    so.no_audio = true;
    so.start_s = 3;
    so.duration_s = 1;
    REQUIRE(rec_synth_session(dir, &so, &extra, err, sizeof err) == 0);
    rec_process_opts pw_only = {.timeout_s = 120};
    if (rec_process_session(dir, out, &pw_only, &r, err, sizeof err) != 0)
        th_fail(__FILE__, __LINE__, "process: %s", err);
    CHECK_INT_EQ(r.ignored_tracks, 1);
    CHECK(strstr(r.screen.path, "video-5-2.mlrec") != NULL);
    rm_rf(dir);
}

/* After a first connection with a camera, a connection whose camera sent
 * no picture and that shared a screen: that screen is its video (full
 * frame, not a corner of the first connection's last picture). */
TEST(a_screen_without_camera_picture_is_the_video)
{
    char dir[64], out[128], err[1024];
    mkdir_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    rec_synth_opts so;
    rec_synth_result first, cam, sr;
    rec_synth_defaults(&so);
    so.peer = 6;
    REQUIRE(rec_synth_session(dir, &so, &first, err, sizeof err) == 0);
    rec_synth_defaults(&so);
    so.peer = 7;
    so.start_s = 4;
    so.duration_s = 0.02; /* a camera file without a frame */
    so.no_audio = true;
    REQUIRE(rec_synth_session(dir, &so, &cam, err, sizeof err) == 0);
    CHECK_INT_EQ(cam.video_frames, 0);
    rec_synth_defaults(&so);
    so.peer = 7;
    so.video_mid = 2;
    so.start_s = 4.5;
    so.chroma_v = 60;
    REQUIRE(rec_synth_session(dir, &so, &sr, err, sizeof err) == 0);
    rec_process_opts po = {.mp4 = true, .timeout_s = 120};
    rec_process_result r;
    if (rec_process_session(dir, out, &po, &r, err, sizeof err) != 0)
        th_fail(__FILE__, __LINE__, "process: %s", err);
    CHECK(r.has_video);
    CHECK(!r.has_screen);
    CHECK_INT_EQ(r.video_segments, 2);
    CHECK_INT_EQ(r.screen_segments, 0);
    CHECK_INT_EQ(r.video.frames, first.video_frames + sr.video_frames);
    rec_probe pm;
    REQUIRE(rec_probe_file(NULL, r.mp4_path, 60, &pm, err, sizeof err) == 0);
    CHECK_INT_EQ(pm.video_streams, 1);
    CHECK_INT_EQ(pm.width, 320);
    CHECK(abs(chroma_v_at(dir, r.mp4_path, 1.5, 320, 240, 160, 120) - 160) < 12);
    CHECK(abs(chroma_v_at(dir, r.mp4_path, 6.0, 320, 240, 160, 120) - 60) < 12);
    CHECK(abs(chroma_v_at(dir, r.mp4_path, 6.0, 320, 240, 300, 220) - 60) < 12);
    rm_rf(dir);
}

TEST(bad_inputs_and_failing_ffmpeg_give_reasons_and_keep_raw_files)
{
    char dir[64], out[128], err[1024], path[256];
    mkdir_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    rec_process_opts po = {.mp4 = true, .thumbnail = true, .timeout_s = 60};
    rec_process_result r;
    /* No raw files. */
    CHECK(rec_process_session(dir, out, &po, &r, err, sizeof err) == -1);
    CHECK(strstr(err, "no raw recording files") != NULL);
    rec_synth_opts so;
    rec_synth_defaults(&so);
    so.duration_s = 2;
    rec_synth_result sr;
    REQUIRE(rec_synth_session(dir, &so, &sr, err, sizeof err) == 0);
    uint32_t crc_v = file_crc(sr.video_path), crc_a = file_crc(sr.audio_path);

    /* ffmpeg that fails: the reason carries its status and stderr. */
    snprintf(path, sizeof path, "%s/fake-ffmpeg", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fprintf(f, "#!/bin/sh\necho 'Unknown encoder libx264' >&2\nexit 3\n");
    fclose(f);
    chmod(path, 0755);
    po.ffmpeg = path;
    CHECK(rec_process_session(dir, out, &po, &r, err, sizeof err) == -1);
    CHECK(strstr(err, "MP4 transcode failed") != NULL);
    CHECK(strstr(err, "exited with status 3") != NULL);
    CHECK(strstr(err, "Unknown encoder libx264") != NULL);
    printf("# %s\n", err);
    snprintf(path, sizeof path, "%s/recording.mp4", out);
    CHECK(!exists(path));
    snprintf(path, sizeof path, "%s/recording.mp4.part", out);
    CHECK(!exists(path));
    /* ffmpeg that does not exist. */
    po.ffmpeg = "/nonexistent/ffmpeg";
    CHECK(rec_process_session(dir, out, &po, &r, err, sizeof err) == -1);
    CHECK(strstr(err, "exited with status 127") != NULL);
    /* ffmpeg that hangs: killed at the timeout. */
    snprintf(path, sizeof path, "%s/slow-ffmpeg", dir);
    f = fopen(path, "w");
    REQUIRE(f != NULL);
    fprintf(f, "#!/bin/sh\nexec sleep 30\n");
    fclose(f);
    chmod(path, 0755);
    po.ffmpeg = path;
    po.timeout_s = 1;
    CHECK(rec_process_session(dir, out, &po, &r, err, sizeof err) == -1);
    CHECK(strstr(err, "timed out after 1 s") != NULL);
    printf("# %s\n", err);
    po.timeout_s = 60;
    po.ffmpeg = NULL;

    /* A damaged record in the middle is skipped and reported; processing succeeds. */
    int fd = open(sr.video_path, O_RDWR);
    REQUIRE(fd >= 0);
    uint8_t b;
    off_t at = 4000;
    REQUIRE(pread(fd, &b, 1, at) == 1);
    b ^= 0x55;
    REQUIRE(pwrite(fd, &b, 1, at) == 1);
    CHECK(rec_process_session(dir, out, &po, &r, err, sizeof err) == 0);
    CHECK_INT_EQ(r.video.bad_records, 1);
    /* A cut file (crash) is processed up to its last complete record. */
    struct stat sb;
    REQUIRE(stat(sr.video_path, &sb) == 0);
    REQUIRE(truncate(sr.video_path, sb.st_size - 100) == 0);
    CHECK(rec_process_session(dir, out, &po, &r, err, sizeof err) == 0);
    CHECK(r.video.torn_tail);
    CHECK(r.has_video);
    /* A broken header: an error naming the file; nothing is deleted. */
    REQUIRE(pwrite(fd, "XX", 2, 0) == 2);
    close(fd);
    CHECK(rec_process_session(dir, out, &po, &r, err, sizeof err) == -1);
    CHECK(strstr(err, "video.mlrec") && strstr(err, "bad magic"));
    CHECK(exists(sr.video_path));
    CHECK_UINT_EQ(file_crc(sr.audio_path), crc_a);
    CHECK(crc_v != 0);
    rm_rf(dir);
}

TEST(tool_run_reports_signal_and_captures_stdout)
{
    char err[512];
    char *out = NULL;
    char *echo[] = {"sh", "-c", "printf hello; echo oops >&2", NULL};
    REQUIRE(rec_tool_run(echo, 10, &out, err, sizeof err) == 0);
    CHECK_STR_EQ(out, "hello");
    free(out);
    char *killself[] = {"sh", "-c", "echo dying >&2; kill -9 $$", NULL};
    CHECK(rec_tool_run(killself, 10, NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "killed by signal 9") && strstr(err, "dying"));
}
