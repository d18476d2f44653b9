/*
 * Small helpers for the auth files (see auth_internal.h): parameterised
 * statements with one status check, transactions, origins for the CSRF
 * defence of cookie-authenticated routes, cookies, random tokens.
 */
#include "control/auth_internal.h"
#include "common/hex.h"

#include "common/log.h"
#include "control/audit.h"
#include "control/b64url.h"
#include "control/ratelimit.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

PGconn *auth__db(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    char err[256];
    if (ctl_db_ensure(&ctx->db, err, sizeof err) != 0) {
        ML_WARN("auth", "database unavailable: %s", err);
        ctl_response_problem(resp, 503, "unavailable", "Service Unavailable",
                             "the database is unavailable; try again later", req);
        ctl_response_add_header(resp, "Retry-After", "5");
        return NULL;
    }
    return ctx->db.conn;
}

PGresult *auth__exec(PGconn *c, const char *sql, int n, const char *const *params,
                     ExecStatusType want)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == want)
        return r;
    ML_WARN("auth", "statement failed: %s", PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
}

static int simple(PGconn *c, const char *sql)
{
    PGresult *r = auth__exec(c, sql, 0, NULL, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

int auth__begin(PGconn *c)
{
    return simple(c, "BEGIN");
}

int auth__commit(PGconn *c)
{
    return simple(c, "COMMIT");
}

void auth__rollback(PGconn *c)
{
    ctl_db_end_open_tx(c);
}

void auth__public_origin(const ml_config *cfg, char *out, size_t cap)
{
    if (!cfg->public_url[0]) {
        snprintf(out, cap, "http://%s:%d", cfg->listen_host, cfg->listen_port);
        return;
    }
    const char *u = cfg->public_url;
    const char *sep = strstr(u, "://");
    const char *host = sep ? sep + 3 : u;
    size_t n = strcspn(host, "/?#");
    snprintf(out, cap, "%.*s", (int)(host - u + (long)n), u);
}

int auth__origin_allowed(const ml_config *cfg, const ctl_request *req)
{
    const char *origin = ctl_req_header(req, "origin");
    if (!origin || !origin[0] || !strcmp(origin, "null"))
        return 0;
    char mine[ML_CFG_STR + 16];
    auth__public_origin(cfg, mine, sizeof mine);
    if (!strcasecmp(origin, mine))
        return 1;
    const char *p = cfg->allowed_origins;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n && strlen(origin) == n && !strncasecmp(origin, p, n))
            return 1;
        p += n;
    }
    return 0;
}

int auth__cookie(const ctl_request *req, const char *name, char *out, size_t cap)
{
    const char *h = ctl_req_header(req, "cookie");
    size_t nl = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        size_t n = strcspn(h, ";");
        if (n > nl && !strncmp(h, name, nl) && h[nl] == '=') {
            size_t vl = n - nl - 1;
            while (vl && h[nl + vl] == ' ')
                vl--;
            if (vl >= cap)
                return 0;
            memcpy(out, h + nl + 1, vl);
            out[vl] = '\0';
            return 1;
        }
        h += n;
    }
    return 0;
}

int auth__random_token(size_t n, char *out, size_t cap)
{
    unsigned char buf[48];
    if (n > sizeof buf || RAND_bytes(buf, (int)n) != 1)
        return -1;
    return ctl_b64url_encode(buf, n, out, cap) < 0 ? -1 : 0;
}

void auth__sha256_hex(const char *text, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL);
    ml_hex_encode(md, 32, out);
}

void auth__internal_error(ctl_response *resp, const ctl_request *req)
{
    ctl_response_problem(resp, 500, "internal", "Internal Server Error",
                         "the request could not be completed; nothing was changed", req);
}

int auth__audit(PGconn *c, const ctl_request *req, long long actor_id, const char *actor_role,
                const char *action, long long target_user, json_t *details)
{
    ctl_audit_entry e;
    memset(&e, 0, sizeof e);
    if (req)
        ctl_audit_from_request(&e, req);
    if (actor_id > 0 && e.actor_user_id == 0) {
        e.actor_user_id = actor_id;
        e.actor_role = actor_role;
    }
    char target[24];
    snprintf(target, sizeof target, "%lld", target_user);
    e.action = action;
    e.target_type = target_user > 0 ? "user" : NULL;
    e.target_id = target_user > 0 ? target : NULL;
    e.details = details;
    char err[256];
    int rc = ctl_audit_write(c, &e, err, sizeof err);
    if (rc != 0)
        ML_WARN("auth", "audit %s failed: %s", action, err);
    json_decref(details);
    return rc == 0 ? 0 : -1;
}

int auth__limit(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, const char *bucket,
                const char *key, int per_minute)
{
    ctl_rate_policy p = {.bucket = bucket, .limit = per_minute, .window_s = 60, .fail_closed = 1};
    return ctl_ratelimit_check(ctx, &p, key, req, resp);
}
