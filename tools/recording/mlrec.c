/*
 * mlrec: command-line helper for recordings, the programs the daemon's job
 * runner calls (or links) for work off the media path:
 *
 *   mlrec info FILE...              scan raw files (salvage report, JSON)
 *   mlrec synth DIR [options]       write a synthetic session (tests)
 *   mlrec process DIR --out OUT     raw files -> WebM, MP4, thumbnail (JSON report)
 *   mlrec upload FILE KEY           store a file (local folder or S3), see mlrec_store.c
 *   mlrec presign KEY               presigned GET URL for an S3 object
 *
 * Exit status: 0 success, 1 failure (the reason on stderr), 2 usage.
 */
#include "recorder/process.h"
#include "recorder/recfile.h"
#include "recorder/synth.h"
#include "tools/recording/mlrec.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: mlrec info FILE...\n"
            "       mlrec synth DIR [--duration S] [--simulcast] [--impair] [--no-sr]\n"
            "                       [--video-delay-ms N] [--no-audio] [--no-video]\n"
            "                       [--peer N --start S] (connection N's files, S s later)\n"
            "                       [--screen] (video only: a 640x360 screen share, mid 2)\n"
            "       mlrec process DIR --out OUT [--no-mp4] [--no-thumbnail]\n"
            "                       [--ffmpeg PROG] [--ffprobe PROG] [--timeout S]\n"
            "       mlrec upload FILE KEY [--config FILE]\n"
            "       mlrec presign KEY [--ttl S] [--config FILE]\n");
    return 2;
}

static int cmd_info(int argc, char **argv)
{
    int rc = 0;
    if (argc < 1)
        return usage();
    for (int i = 0; i < argc; i++) {
        rec_file_info info;
        rec_scan_stats st;
        char err[512];
        if (rec_scan_file(argv[i], &info, NULL, NULL, &st, err, sizeof err) != 0) {
            fprintf(stderr, "mlrec: %s\n", err);
            rc = 1;
            continue;
        }
        json_t *layers = json_array();
        for (unsigned k = 0; k < info.layer_count; k++)
            json_array_append_new(layers,
                                  json_pack("{s:I, s:s}", "ssrc", (json_int_t)info.layers[k].ssrc,
                                            "rid", info.layers[k].rid));
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:I, "
            "s:b, s:b, s:I, s:I, s:I, s:I}",
            "file", argv[i], "kind", info.kind == REC_KIND_AUDIO ? "audio" : "video", "codec",
            info.codec, "payload_type", info.payload_type, "clock_rate", (int)info.clock_rate,
            "channels", info.channels, "room_id", info.room_id, "session_id", info.session_id,
            "track_id", info.track_id, "start_wall_us", (json_int_t)info.start_wall_us, "layers",
            layers, "records", (json_int_t)st.records, "bytes", (json_int_t)st.bytes, "rtp",
            (json_int_t)st.rtp, "sr", (json_int_t)st.sr, "bad_records", (json_int_t)st.bad_records,
            "clean_end", st.clean_end, "torn_tail", st.torn_tail, "torn_bytes",
            (json_int_t)st.torn_bytes, "skipped_bytes", (json_int_t)st.skipped_bytes, "drops",
            (json_int_t)st.totals.drops, "first_bad_offset", (json_int_t)st.first_bad_offset);
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(o);
    }
    return rc;
}

static int cmd_synth(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    rec_synth_opts o;
    rec_synth_defaults(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--duration") && i + 1 < argc)
            o.duration_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--video-delay-ms") && i + 1 < argc)
            o.video_delay_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--simulcast"))
            o.simulcast = true;
        else if (!strcmp(argv[i], "--impair"))
            o.impair = true;
        else if (!strcmp(argv[i], "--no-sr"))
            o.sender_reports = false;
        else if (!strcmp(argv[i], "--no-audio"))
            o.no_audio = true;
        else if (!strcmp(argv[i], "--no-video"))
            o.no_video = true;
        else if (!strcmp(argv[i], "--peer") && i + 1 < argc)
            o.peer = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--start") && i + 1 < argc)
            o.start_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--screen")) {
            o.no_audio = true;
            o.video_mid = 2;
            o.width = 640;
            o.height = 360;
            o.chroma_v = 60;
        } else
            return usage();
    }
    if (o.duration_s <= 0 || o.duration_s > 3600 || o.start_s < 0 || o.start_s > 86400)
        return usage();
    rec_synth_result r;
    char err[512];
    if (rec_synth_session(argv[0], &o, &r, err, sizeof err) != 0) {
        fprintf(stderr, "mlrec: %s\n", err);
        return 1;
    }
    printf("{\"video_frames\": %u, \"video_packets\": %u, \"audio_frames\": %u, "
           "\"audio_packets\": %u}\n",
           r.video_frames, r.video_packets, r.audio_frames, r.audio_packets);
    return 0;
}

static int cmd_process(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    rec_process_opts o = {.mp4 = true, .thumbnail = true};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--ffmpeg") && i + 1 < argc)
            o.ffmpeg = argv[++i];
        else if (!strcmp(argv[i], "--ffprobe") && i + 1 < argc)
            o.ffprobe = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            o.timeout_s = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-mp4"))
            o.mp4 = false;
        else if (!strcmp(argv[i], "--no-thumbnail"))
            o.thumbnail = false;
        else
            return usage();
    }
    if (!out)
        return usage();
    rec_process_result r;
    char err[1024];
    if (rec_process_session(argv[0], out, &o, &r, err, sizeof err) != 0) {
        fprintf(stderr, "mlrec: processing %s failed: %s (raw files kept)\n", argv[0], err);
        return 1;
    }
    char *s = rec_process_result_json(&r);
    if (s)
        printf("%s\n", s);
    free(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "synth"))
        return cmd_synth(argc - 2, argv + 2);
    if (!strcmp(cmd, "process"))
        return cmd_process(argc - 2, argv + 2);
    int rc = 2;
    if (!strcmp(cmd, "upload"))
        rc = mlrec_cmd_upload(argc - 2, argv + 2);
    else if (!strcmp(cmd, "presign"))
        rc = mlrec_cmd_presign(argc - 2, argv + 2);
    if (rc != 2)
        return rc;
    return usage();
}
