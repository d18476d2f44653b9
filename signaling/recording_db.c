/*
 * Recording rows and folders (see recording_internal.h): where recordings
 * live on this node, the node id, closing a row once its raw files are
 * complete (after a clean stop, or salvaged after a crash) and queueing its
 * post-processing job in the same transaction.
 */
#include "signaling/recording.h"
#include "signaling/recording_internal.h"

#include "common/log.h"
#include "control/jobs.h"
#include "recorder/recfile.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sig__rec_dir(const ml_config *cfg, char *out, size_t cap)
{
    if (cfg->recording_dir[0])
        snprintf(out, cap, "%s", cfg->recording_dir);
    else
        snprintf(out, cap, "%s/recordings", cfg->data_dir);
}

void sig_rec_node_id(const ml_config *cfg, char *out, size_t cap)
{
    char host[64] = "", dir[1024], real[PATH_MAX];
    gethostname(host, sizeof host - 1);
    sig__rec_dir(cfg, dir, sizeof dir);
    const char *d = realpath(dir, real) ? real : dir;
    size_t dl = strlen(d);
    /* node_id is at most 128 characters: keep the end of a long path */
    if (dl > 100)
        d += dl - 100;
    snprintf(out, cap, "%s:%s", host, d);
}

int sig__rec_mkdirs(const char *dir, char *err, size_t errlen)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    return -1;
}

/* Describe every *.mlrec of dir; sets *bytes. Returns the array (may be empty). */
static json_t *track_files(const char *dir, long long *bytes)
{
    json_t *a = json_array();
    *bytes = 0;
    DIR *d = opendir(dir);
    if (!d)
        return a;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 7 || strcmp(e->d_name + n - 6, ".mlrec") != 0)
            continue;
        char path[1400], err[256] = "";
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        rec_file_info info;
        rec_scan_stats st;
        memset(&info, 0, sizeof info);
        memset(&st, 0, sizeof st);
        int ok = rec_scan_file(path, &info, NULL, NULL, &st, err, sizeof err) == 0;
        *bytes += (long long)sb.st_size;
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:b}", "file", e->d_name, "kind",
                              info.kind == REC_KIND_AUDIO ? "audio" : "video", "codec", info.codec,
                              "bytes", (json_int_t)sb.st_size, "records", (json_int_t)st.records,
                              "drops", (json_int_t)st.totals.drops, "clean_end", st.clean_end,
                              "torn_tail", st.torn_tail);
        if (o && !ok)
            json_object_set_new(o, "error", json_string(err));
        if (o)
            json_array_append_new(a, o);
    }
    closedir(d);
    return a;
}

static int exec_ok(PGconn *c, const char *sql, int n, const char *const *p, char *err,
                   size_t errlen, int *rows)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    int st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        for (char *q = err; *q; q++)
            if (*q == '\n')
                *q = ' ';
        PQclear(r);
        return -1;
    }
    if (rows)
        *rows = atoi(PQcmdTuples(r));
    PQclear(r);
    return 0;
}

int sig__rec_close_row(PGconn *conn, long long row, const char *raw_dir, char *err, size_t errlen)
{
    long long bytes = 0;
    json_t *files = track_files(raw_dir, &bytes);
    char *ftext = json_dumps(files, JSON_COMPACT);
    size_t nfiles = json_array_size(files);
    json_decref(files);
    if (!ftext) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char id[32], b[32];
    snprintf(id, sizeof id, "%lld", row);
    snprintf(b, sizeof b, "%lld", bytes);
    const char *p[3] = {id, ftext, b};
    int rows = 0, rc = -1;
    if (nfiles == 0) {
        rc = exec_ok(conn,
                     "UPDATE recordings SET status = 'failed', ended_at = now(), failure_reason = "
                     "'nothing was recorded (no track file)', track_files = $2::jsonb, raw_bytes "
                     "= $3::bigint WHERE id = $1::bigint AND status = 'recording'",
                     3, p, err, errlen, NULL);
        free(ftext);
        return rc;
    }
    if (exec_ok(conn, "BEGIN", 0, NULL, err, errlen, NULL) != 0)
        goto out;
    if (exec_ok(conn,
                "UPDATE recordings SET status = 'processing', ended_at = now(), track_files = "
                "$2::jsonb, raw_bytes = $3::bigint WHERE id = $1::bigint AND status = 'recording'",
                3, p, err, errlen, &rows) != 0)
        goto rollback;
    if (rows == 1) {
        json_t *payload = json_pack("{s:I}", "recording_id", (json_int_t)row);
        char key[48];
        snprintf(key, sizeof key, "recording:%lld", row);
        ctl_job_spec spec = {.kind = "recording.process", .payload = payload, .dedupe_key = key};
        int jr = ctl_jobs_enqueue(conn, &spec, NULL, err, errlen);
        json_decref(payload);
        if (jr != 0)
            goto rollback;
    }
    rc = exec_ok(conn, "COMMIT", 0, NULL, err, errlen, NULL);
    goto out;
rollback:
    PQclear(PQexec(conn, "ROLLBACK"));
out:
    free(ftext);
    return rc;
}

int sig__rec_recover(PGconn *conn, const char *node, char *err, size_t errlen)
{
    const char *p[1] = {node};
    PGresult *r = PQexecParams(conn,
                               "SELECT id, raw_dir FROM recordings WHERE status = 'recording' AND "
                               "node_id = $1 ORDER BY id",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "recordings: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        long long id = atoll(PQgetvalue(r, i, 0));
        char e[512];
        if (sig__rec_close_row(conn, id, PQgetvalue(r, i, 1), e, sizeof e) != 0)
            ML_ERROR("rec", "recording %lld: cannot recover: %s", id, e);
        else
            ML_WARN("rec",
                    "recording %lld was interrupted (daemon stopped): raw files "
                    "salvaged, processing queued",
                    id);
    }
    PQclear(r);
    return 0;
}
