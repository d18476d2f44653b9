/*
 * The "recording.process" job (payload {"recording_id": N}), run by any
 * job runner thread of the node that holds the raw files, off the media
 * path: post-process the raw folder (recorder/process.h: WebM aligned by
 * SR times, MP4 and thumbnail via ffmpeg), store the MP4 and the thumbnail
 * (recorder/storage.h: local disk or S3), and move the row to `ready` with
 * its sizes, duration and offsets.
 *
 * Failures: a processing failure (corrupt or empty raw files, ffmpeg
 * failing or timing out) will fail again the same way, so the row goes to
 * `failed` with the reason at once. A storage failure (disk full, S3
 * refusing or timing out) is retried by the job runner with back-off; the
 * row stays `processing` meanwhile and goes to `failed` with the reason
 * after the last attempt. Raw files are never deleted or modified here.
 * Shutdown (rec_tool_cancel_all) kills a running ffmpeg: the job returns
 * CTL_JOB_INTERRUPTED, the row stays `processing` (unless that interruption
 * ends the job, ctl_job_interrupt_is_final: then `failed`), and the job is queued
 * again at once without using up an attempt.
 */
#include "signaling/recording.h"

#include "common/log.h"
#include "control/api.h"
#include "control/jobs.h"
#include "recorder/process.h"
#include "recorder/storage.h"
#include "recorder/tool.h"

#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

static int mark_failed(ctl_ctx *ctx, long long id, const char *reason)
{
    char sid[32], r[1900];
    snprintf(sid, sizeof sid, "%lld", id);
    snprintf(r, sizeof r, "%s", reason[0] ? reason : "unknown failure");
    one_line(r);
    const char *p[2] = {sid, r};
    PGresult *res = PQexecParams(ctx->db.conn,
                                 "UPDATE recordings SET status = 'failed', failure_reason = $2 "
                                 "WHERE id = $1::bigint AND status = 'processing'",
                                 2, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        ML_ERROR("rec", "recording %lld: cannot mark failed: %s", id, PQresultErrorMessage(res));
    PQclear(res);
    ML_WARN("rec", "recording %lld failed: %s", id, r);
    return ok ? 0 : -1;
}

/* The node is shutting down: the job goes back to the queue, unless this
 * interruption ends it (jobs.h), and then the row must not stay processing. */
static int interrupted(ctl_ctx *ctx, const ctl_job *job, long long id)
{
    if (ctl_job_interrupt_is_final(job))
        mark_failed(ctx, id, "processing interrupted by node shutdowns too often");
    return CTL_JOB_INTERRUPTED;
}

static int mark_ready(ctl_ctx *ctx, long long id, const rec_process_result *res,
                      const rec_storage *st, const char *key, const char *thumb_key, uint64_t bytes,
                      char *err, size_t errlen)
{
    char sid[32], dur[32], ao[32], vo[32], ob[32];
    snprintf(sid, sizeof sid, "%lld", id);
    snprintf(dur, sizeof dur, "%lld", (long long)(res->duration_s * 1000.0 + 0.5));
    long long a = res->has_audio ? res->audio.start_offset_us / 1000 : 0;
    long long v = res->has_video ? res->video.start_offset_us / 1000 : 0;
    snprintf(ao, sizeof ao, "%lld", a > 0 ? a : 0);
    snprintf(vo, sizeof vo, "%lld", v > 0 ? v : 0);
    snprintf(ob, sizeof ob, "%llu", (unsigned long long)bytes);
    const char *p[8] = {
        sid, dur, ao, vo, ob, st->s3 ? "s3" : "local", key, thumb_key[0] ? thumb_key : NULL};
    PGresult *r = PQexecParams(
        ctx->db.conn,
        "UPDATE recordings SET status = 'ready', duration_ms = $2::integer, audio_offset_ms = "
        "$3::integer, video_offset_ms = $4::integer, output_bytes = $5::bigint, storage_kind = $6, "
        "storage_key = $7, thumbnail_key = $8 WHERE id = $1::bigint AND status = 'processing'",
        8, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "recording %lld: %s", id, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/* Store file under key; on the last attempt a failure fails the row. */
static int store(ctl_ctx *ctx, const ctl_job *job, long long id, const rec_storage *st,
                 const char *path, const char *key, rec_put_info *pi, char *err, size_t errlen)
{
    char e[1024];
    if (rec_storage_put(st, path, key, pi, e, sizeof e) == 0)
        return CTL_JOB_OK;
    one_line(e);
    snprintf(err, errlen, "storage: %s", e);
    if (rec_tool_cancelled()) {
        /* A shutdown aborted the upload: the processing is done again at
         * the next run (raw files are the source of truth). */
        ML_INFO("rec", "recording %lld: upload interrupted by shutdown", id);
        return interrupted(ctx, job, id);
    }
    if (job->attempt >= job->max_attempts) {
        mark_failed(ctx, id, err);
        return CTL_JOB_PERMANENT;
    }
    ML_WARN("rec", "recording %lld: %s (attempt %d of %d, will retry)", id, err, job->attempt,
            job->max_attempts);
    return CTL_JOB_RETRY;
}

int sig_rec_process_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    const ml_config *cfg = ctx->cfg;
    long long id = (long long)json_integer_value(json_object_get(job->payload, "recording_id"));
    if (id <= 0) {
        snprintf(err, errlen, "payload has no recording_id");
        return CTL_JOB_PERMANENT;
    }
    if (ctl_db_ensure(&ctx->db, err, errlen) != 0)
        return CTL_JOB_RETRY;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", id);
    const char *p[1] = {sid};
    PGresult *r =
        PQexecParams(ctx->db.conn,
                     "SELECT status, raw_dir, public_id::text, node_id FROM recordings WHERE id "
                     "= $1::bigint",
                     1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        snprintf(err, errlen, "recording %lld: %s", id,
                 PQresultStatus(r) == PGRES_TUPLES_OK ? "no such row" : PQresultErrorMessage(r));
        int transient = PQresultStatus(r) != PGRES_TUPLES_OK;
        PQclear(r);
        return transient ? CTL_JOB_RETRY : CTL_JOB_PERMANENT;
    }
    char status[16], raw[1024], uuid[64], node[160], me[160];
    snprintf(status, sizeof status, "%s", PQgetvalue(r, 0, 0));
    snprintf(raw, sizeof raw, "%s", PQgetvalue(r, 0, 1));
    snprintf(uuid, sizeof uuid, "%s", PQgetvalue(r, 0, 2));
    snprintf(node, sizeof node, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    sig_rec_node_id(cfg, me, sizeof me);
    struct stat sb;
    if (node[0] && strcmp(node, me) != 0 && stat(raw, &sb) != 0) {
        /* The raw files live on another node (no shared recording_dir):
         * leave the job to a runner there. */
        snprintf(err, errlen, "recording %lld: raw files are on node %s", id, node);
        return CTL_JOB_RETRY;
    }
    if (strcmp(status, "processing") != 0)
        return CTL_JOB_OK; /* done already, or failed and not retried */
    if (rec_tool_cancelled()) {
        snprintf(err, errlen, "recording %lld: not started, shutting down", id);
        return interrupted(ctx, job, id);
    }
    ctl_jobs_extend_lease(ctx, job, cfg->recording_process_timeout_s * 3 + 60, err, errlen);

    char out[1100], perr[2048] = "";
    snprintf(out, sizeof out, "%s/out", raw);
    rec_process_opts o = {.ffmpeg = cfg->recording_ffmpeg,
                          .ffprobe = cfg->recording_ffprobe,
                          .mp4 = true,
                          .thumbnail = true,
                          .align_start = true,
                          .timeout_s = cfg->recording_process_timeout_s};
    rec_process_result *res = calloc(1, sizeof *res);
    if (!res) {
        snprintf(err, errlen, "out of memory");
        return CTL_JOB_RETRY;
    }
    int rc = CTL_JOB_PERMANENT;
    if (rec_process_session(raw, out, &o, res, perr, sizeof perr) != 0) {
        one_line(perr);
        snprintf(err, errlen, "processing: %s", perr);
        if (rec_tool_cancelled()) {
            /* The node is shutting down and killed ffmpeg: not the
             * recording's fault. The row stays `processing` and the job is
             * queued again (the next start, or another node, runs it). */
            ML_INFO("rec", "recording %lld: processing interrupted by shutdown", id);
            rc = interrupted(ctx, job, id);
            goto done;
        }
        mark_failed(ctx, id, err);
        goto done;
    }
    rec_storage st;
    if (rec_storage_from_config(cfg, &st, err, errlen) != 0) {
        mark_failed(ctx, id, err);
        goto done;
    }
    char key[128], tkey[128] = "";
    const char *file = res->mp4_path[0] ? res->mp4_path : res->webm_path;
    snprintf(key, sizeof key, "%s/recording.%s", uuid, res->mp4_path[0] ? "mp4" : "webm");
    rec_put_info pi, ti;
    if ((rc = store(ctx, job, id, &st, file, key, &pi, err, errlen)) != CTL_JOB_OK)
        goto done;
    if (res->thumb_path[0]) {
        snprintf(tkey, sizeof tkey, "%s/thumbnail.jpg", uuid);
        if ((rc = store(ctx, job, id, &st, res->thumb_path, tkey, &ti, err, errlen)) != CTL_JOB_OK)
            goto done;
    }
    if (mark_ready(ctx, id, res, &st, key, tkey, pi.bytes, err, errlen) != 0) {
        rc = CTL_JOB_RETRY;
        goto done;
    }
    ML_INFO("rec",
            "recording %lld ready: %.2f s, %llu bytes, %s (A/V start %.3f s apart; %u "
            "connection(s), screen shared in %u connection(s))",
            id, res->duration_s, (unsigned long long)pi.bytes, pi.location,
            res->probe_av_start_diff_s, res->video_segments, res->screen_segments);
    rc = CTL_JOB_OK;
done:
    free(res);
    return rc;
}

int sig_rec_presign(const ml_config *cfg, const char *key, int ttl_s, char *url, size_t cap,
                    char *err, size_t errlen)
{
    rec_storage st;
    if (rec_storage_from_config(cfg, &st, err, errlen) != 0)
        return -1;
    return rec_storage_presign(&st, key, ttl_s, time(NULL), url, cap, err, errlen);
}
