/*
 * Recordings (see recording.h):
 *
 *   GET /api/v1/sessions/{id}/recordings   the session's recordings
 *   GET /api/v1/recordings/{id}             one recording (public uuid),
 *                                           with a playback link when ready
 *   GET /api/v1/recordings/{id}/media       a local file behind a signed,
 *                                           expiring link (no account needed)
 *
 * The first two answer 404 alike for a recording or session that does not
 * exist and for one the caller may not see, so ids cannot be probed. Each
 * successful access is written to the audit log.
 */
#include "control/recording.h"
#include "common/hex.h"

#include "common/log.h"
#include "control/api.h"
#include "control/audit.h"
#include "control/json.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MEDIA_MAX_BYTES (1024LL * 1024 * 1024)

static ctl_recording_presign_fn presigner;

void ctl_recording_set_presigner(ctl_recording_presign_fn fn)
{
    presigner = fn;
}

/* ---- the local link key ---------------------------------------------------- */

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static unsigned char url_key[32];
static int url_key_ok;
static const ml_config *key_cfg;

static void load_key(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/recording_url.key", key_cfg->data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        url_key_ok = read(fd, url_key, sizeof url_key) == (ssize_t)sizeof url_key;
        close(fd);
        if (url_key_ok)
            return;
    }
    if (RAND_bytes(url_key, sizeof url_key) != 1)
        return;
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    int ok = write(fd, url_key, sizeof url_key) == (ssize_t)sizeof url_key && fsync(fd) == 0;
    close(fd);
    /* link() fails if another process created the key first: use that one */
    if (ok && link(tmp, path) != 0 && errno == EEXIST) {
        unlink(tmp);
        url_key_ok = 0;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            url_key_ok = read(fd, url_key, sizeof url_key) == (ssize_t)sizeof url_key;
            close(fd);
        }
        return;
    }
    unlink(tmp);
    url_key_ok = ok;
}

static int link_sig(const ml_config *cfg, const char *id, const char *file, long long exp,
                    char out[65])
{
    key_cfg = cfg;
    pthread_once(&key_once, load_key);
    if (!url_key_ok)
        return -1;
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%s|%s|%lld", id, file, exp);
    unsigned char mac[32];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), url_key, sizeof url_key, (unsigned char *)msg, (size_t)n, mac, &maclen))
        return -1;
    ml_hex_encode(mac, sizeof mac, out);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static int db_ok(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    char err[256];
    if (ctl_db_ensure(&ctx->db, err, sizeof err) == 0)
        return 1;
    ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                         "the database is unavailable", req);
    return 0;
}

static int numeric(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static int uuid_ok(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex)
            return 0;
    }
    return 1;
}

/* 1 when the caller is the session's mentor, a confirmed attendee or an
 * admin; 0 when not (or no such session); -1 on a database error. */
static int may_see(ctl_ctx *ctx, const ctl_request *req, const char *session)
{
    if (!strcmp(req->who.role, "admin"))
        return 1;
    if (!numeric(session))
        return 0;
    char uid[32];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[2] = {session, uid};
    PGresult *r = PQexecParams(ctx->db.conn,
                               "SELECT EXISTS (SELECT 1 FROM sessions s WHERE s.id = $1::bigint "
                               "AND (s.mentor_id = $2::bigint OR EXISTS (SELECT 1 FROM bookings "
                               "b WHERE b.session_id = s.id AND b.mentee_id = $2::bigint AND "
                               "b.status = 'confirmed')))",
                               2, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) != PGRES_TUPLES_OK ? -1 : !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    return rc;
}

static void audit(ctl_ctx *ctx, const ctl_request *req, const char *action, const char *type,
                  const char *id)
{
    ctl_audit_entry e;
    memset(&e, 0, sizeof e);
    ctl_audit_from_request(&e, req);
    e.action = action;
    e.target_type = type;
    e.target_id = id;
    char err[256];
    if (ctl_audit_write(ctx->db.conn, &e, err, sizeof err) != 0)
        ML_WARN("api", "audit %s: %s", action, err);
}

static void not_found(ctl_response *resp, const ctl_request *req, const char *what)
{
    ctl_response_problem(resp, 404, "not-found", "Not Found", what, req);
}

#define ROW_JSON                                                                                   \
    "jsonb_build_object('id', public_id, 'session_id', session_ref, 'status', status, "            \
    "'failure_reason', failure_reason, 'duration_ms', duration_ms, 'audio_offset_ms', "            \
    "audio_offset_ms, 'video_offset_ms', video_offset_ms, 'output_bytes', output_bytes, "          \
    "'raw_bytes', raw_bytes, 'tracks', track_files, 'storage', storage_kind, 'attempts', "         \
    "attempts, 'started_at', started_at, 'ended_at', ended_at, 'updated_at', updated_at)::text"

/* ---- GET /api/v1/sessions/{id}/recordings ----------------------------------- */

static void list_for_session(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    const char *sid = ctl_req_param(req, "id");
    if (!sid || !numeric(sid)) {
        not_found(resp, req, "no such session");
        return;
    }
    if (!db_ok(ctx, req, resp))
        return;
    int ok = may_see(ctx, req, sid);
    if (ok <= 0) {
        if (ok < 0)
            ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                                 "the database is unavailable", req);
        else
            not_found(resp, req, "no such session");
        return;
    }
    const char *p[1] = {sid};
    PGresult *r = PQexecParams(ctx->db.conn,
                               "SELECT " ROW_JSON " FROM recordings WHERE session_ref = $1 "
                               "ORDER BY created_at, id",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                             "the database is unavailable", req);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, json_loads(PQgetvalue(r, i, 0), 0, NULL));
    PQclear(r);
    audit(ctx, req, "recording.listed", "session", sid);
    ctl_json_respond(resp, 200, json_pack("{s:o}", "items", items));
    ctl_response_add_header(resp, "Cache-Control", "no-store");
}

/* ---- GET /api/v1/recordings/{id} -------------------------------------------- */

static void base_url(const ml_config *cfg, char *out, size_t cap)
{
    if (cfg->public_url[0])
        snprintf(out, cap, "%s", cfg->public_url);
    else
        snprintf(out, cap, "http://%s:%d", cfg->listen_host, cfg->listen_port);
    size_t n = strlen(out);
    if (n && out[n - 1] == '/')
        out[n - 1] = '\0';
}

/* A link for object key (file "recording" or "thumbnail"); NULL on failure. */
static json_t *playback_link(ctl_ctx *ctx, const char *id, const char *kind, const char *key,
                             const char *file)
{
    const ml_config *cfg = ctx->cfg;
    int ttl = cfg->s3_presign_ttl_s;
    long long exp = (long long)time(NULL) + ttl;
    char url[4096], err[256];
    if (!strcmp(kind, "s3")) {
        if (!presigner || presigner(cfg, key, ttl, url, sizeof url, err, sizeof err) != 0) {
            ML_WARN("api", "recording %s: no presigned link: %s", id,
                    presigner ? err : "no presigner");
            return NULL;
        }
    } else {
        char sig[65], base[512];
        if (link_sig(cfg, id, file, exp, sig) != 0)
            return NULL;
        base_url(cfg, base, sizeof base);
        snprintf(url, sizeof url, "%s/api/v1/recordings/%s/media?file=%s&exp=%lld&sig=%s", base, id,
                 file, exp, sig);
    }
    char when[32];
    time_t t = (time_t)exp;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:s,s:s}", "url", url, "expires_at", when);
}

static void get_one(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    const char *id = ctl_req_param(req, "id");
    if (!id || !uuid_ok(id)) {
        not_found(resp, req, "no such recording");
        return;
    }
    if (!db_ok(ctx, req, resp))
        return;
    const char *p[1] = {id};
    PGresult *r = PQexecParams(ctx->db.conn,
                               "SELECT session_ref, status, coalesce(storage_kind, ''), "
                               "coalesce(storage_key, ''), coalesce(thumbnail_key, ''), " ROW_JSON
                               " FROM recordings WHERE public_id = $1::uuid",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        int err = PQresultStatus(r) != PGRES_TUPLES_OK;
        PQclear(r);
        if (err)
            ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                                 "the database is unavailable", req);
        else
            not_found(resp, req, "no such recording");
        return;
    }
    int ok = may_see(ctx, req, PQgetvalue(r, 0, 0));
    if (ok <= 0) {
        PQclear(r);
        not_found(resp, req, "no such recording");
        return;
    }
    json_t *o = json_loads(PQgetvalue(r, 0, 5), 0, NULL);
    if (o && !strcmp(PQgetvalue(r, 0, 1), "ready")) {
        json_t *l = playback_link(ctx, id, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), "recording");
        json_object_set_new(o, "playback", l ? l : json_null());
        if (PQgetvalue(r, 0, 4)[0]) {
            json_t *t =
                playback_link(ctx, id, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 4), "thumbnail");
            json_object_set_new(o, "thumbnail", t ? t : json_null());
        }
    }
    PQclear(r);
    audit(ctx, req, "recording.viewed", "recording", id);
    ctl_json_respond(resp, 200, o ? o : json_object());
    ctl_response_add_header(resp, "Cache-Control", "no-store");
}

/* ---- GET /api/v1/recordings/{id}/media --------------------------------------- */

static void media(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    const char *id = ctl_req_param(req, "id");
    char file[32], exps[32], sig[80], want[65];
    if (!id || !uuid_ok(id) || ctl_req_query(req, "file", file, sizeof file) != 1 ||
        ctl_req_query(req, "exp", exps, sizeof exps) != 1 ||
        ctl_req_query(req, "sig", sig, sizeof sig) != 1 ||
        (strcmp(file, "recording") && strcmp(file, "thumbnail"))) {
        ctl_response_problem(resp, 403, "forbidden", "Forbidden",
                             "a signed link (file, exp, sig) is required", req);
        return;
    }
    char *end = NULL;
    long long exp = strtoll(exps, &end, 10);
    if (!end || *end || strlen(sig) != 64 || link_sig(ctx->cfg, id, file, exp, want) != 0 ||
        CRYPTO_memcmp(sig, want, 64) != 0) {
        ctl_response_problem(resp, 403, "forbidden", "Forbidden", "the link is not valid", req);
        return;
    }
    if (exp < (long long)time(NULL)) {
        ctl_response_problem(resp, 403, "link-expired", "Forbidden", "the link has expired", req);
        return;
    }
    if (!db_ok(ctx, req, resp))
        return;
    const char *p[2] = {id, file};
    PGresult *r = PQexecParams(ctx->db.conn,
                               "SELECT CASE WHEN $2 = 'thumbnail' THEN thumbnail_key ELSE "
                               "storage_key END FROM recordings WHERE public_id = $1::uuid AND "
                               "status = 'ready' AND storage_kind = 'local'",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQgetisnull(r, 0, 0) ||
        strstr(PQgetvalue(r, 0, 0), "..")) {
        PQclear(r);
        not_found(resp, req, "no such file");
        return;
    }
    char path[2048];
    const ml_config *cfg = ctx->cfg;
    if (cfg->recording_dir[0])
        snprintf(path, sizeof path, "%s/%s", cfg->recording_dir, PQgetvalue(r, 0, 0));
    else
        snprintf(path, sizeof path, "%s/recordings/%s", cfg->data_dir, PQgetvalue(r, 0, 0));
    PQclear(r);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size > MEDIA_MAX_BYTES) {
        if (fd >= 0)
            close(fd);
        not_found(resp, req, "the file is not on this node");
        return;
    }
    char *body = malloc((size_t)sb.st_size + 1);
    size_t got = 0;
    while (body && got < (size_t)sb.st_size) {
        ssize_t n = read(fd, body + got, (size_t)sb.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!body || got != (size_t)sb.st_size) {
        free(body);
        ctl_response_problem(resp, 500, "internal", "Internal Server Error",
                             "the file could not be read", req);
        return;
    }
    resp->status = 200;
    snprintf(resp->content_type, sizeof resp->content_type, "%s",
             !strcmp(file, "thumbnail") ? "image/jpeg" : "video/mp4");
    resp->body = body;
    resp->body_len = got;
    ctl_response_add_header(resp, "Cache-Control", "private, no-store");
}

const ctl_route ctl_recording_routes[] = {
    {"GET", "/api/v1/sessions/{id}/recordings", list_for_session, CTL_PERM_USER,
     "Recordings of a session (its mentor, booked attendees, admins)"},
    {"GET", "/api/v1/recordings/{id}", get_one, CTL_PERM_USER,
     "One recording with a time-limited playback link when ready"},
    {"GET", "/api/v1/recordings/{id}/media", media, CTL_PERM_PUBLIC,
     "A locally stored recording file behind a signed, expiring link"},
};
const size_t ctl_recording_routes_count =
    sizeof ctl_recording_routes / sizeof ctl_recording_routes[0];
