/*
 * Route table and dispatch for the control plane; see api.h. Matching is a
 * linear scan over a short table: literal segments compare exactly and
 * "{name}" matches any single non-empty segment. A path that matches with
 * another method gets 405 and an Allow header.
 */
#include "control/api.h"
#include "common/hex.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every family of routes; add a line when a new handler file appears. */
static const ctl_route_family families[] = {
    {"health", ctl_health_routes, &ctl_health_routes_count},
    {"auth", ctl_auth_routes, &ctl_auth_routes_count},
    {"auth-signup", ctl_auth_signup_routes, &ctl_auth_signup_routes_count},
    {"auth-google", ctl_auth_google_routes, &ctl_auth_google_routes_count},
    {"auth-admin", ctl_auth_admin_routes, &ctl_auth_admin_routes_count},
    {"audit", ctl_audit_routes, &ctl_audit_routes_count},
    {"contact", ctl_contact_routes, &ctl_contact_routes_count},
    {"mentors", ctl_mentor_routes, &ctl_mentor_routes_count},
    {"availability", ctl_availability_routes, &ctl_availability_routes_count},
    {"bookings", ctl_booking_routes, &ctl_booking_routes_count},
    {"sessions", ctl_session_routes, &ctl_session_routes_count},
    {"recordings", ctl_recording_routes, &ctl_recording_routes_count},
    {"payments", ctl_pay_routes, &ctl_pay_routes_count},
};
#define NFAMILIES (sizeof families / sizeof families[0])

size_t ctl_api_route_count(void)
{
    size_t n = 0;
    for (size_t f = 0; f < NFAMILIES; f++)
        n += *families[f].count;
    return n;
}

const ctl_route *ctl_api_route_at(size_t i)
{
    for (size_t f = 0; f < NFAMILIES; f++) {
        if (i < *families[f].count)
            return &families[f].routes[i];
        i -= *families[f].count;
    }
    return NULL;
}

const char *ctl_perm_name(ctl_perm p)
{
    static const char *const names[] = {"public", "user", "mentor", "admin"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

/* Does `path` match `pattern` segment by segment? Captures "{name}"
 * segments into req->params when req is given. */
static int path_matches(const char *pattern, const char *path, ctl_request *req)
{
    const char *p = pattern, *s = path;
    int nparams = 0;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            if (!pe)
                return 0;
            const char *se = strchr(s, '/');
            if (!se)
                se = s + strlen(s);
            if (se == s)
                return 0;
            if (req) {
                if (nparams == CTL_MAX_PARAMS || (size_t)(pe - p - 1) >= sizeof req->params[0].name ||
                    (size_t)(se - s) >= sizeof req->params[0].value)
                    return 0;
                memcpy(req->params[nparams].name, p + 1, (size_t)(pe - p - 1));
                req->params[nparams].name[pe - p - 1] = '\0';
                memcpy(req->params[nparams].value, s, (size_t)(se - s));
                req->params[nparams].value[se - s] = '\0';
            }
            nparams++;
            p = pe + 1;
            s = se;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    if (*p != '\0' || *s != '\0')
        return 0;
    if (req)
        req->nparams = nparams;
    return 1;
}

int ctl_api_known(const char *method, const char *path)
{
    (void)method;
    size_t n = ctl_api_route_count();
    for (size_t i = 0; i < n; i++)
        if (path_matches(ctl_api_route_at(i)->pattern, path, NULL))
            return 1;
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

static int role_allows(ctl_perm perm, const char *role)
{
    switch (perm) {
    case CTL_PERM_PUBLIC:
    case CTL_PERM_USER:
        return 1;
    case CTL_PERM_MENTOR:
        return !strcmp(role, "mentor") || !strcmp(role, "admin");
    case CTL_PERM_ADMIN:
        return !strcmp(role, "admin");
    }
    return 0;
}

void ctl_api_dispatch(ctl_ctx *ctx, ctl_request *req, ctl_response *resp)
{
    memset(resp, 0, sizeof *resp);
    char allow[128] = "";
    size_t n = ctl_api_route_count();
    for (size_t i = 0; i < n; i++) {
        const ctl_route *r = ctl_api_route_at(i);
        if (!path_matches(r->pattern, req->path, req))
            continue;
        if (strcmp(r->method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            req->route = r->pattern;
            memset(&req->who, 0, sizeof req->who);
            if (r->perm != CTL_PERM_PUBLIC) {
                if (ctl_auth_authenticate(ctx, req, &req->who, resp) != 0)
                    return;
                if (!role_allows(r->perm, req->who.role)) {
                    ctl_response_problem(resp, 403, "forbidden", "Forbidden",
                                         "your role may not use this resource", req);
                    return;
                }
            }
            r->handler(ctx, req, resp);
            return;
        }
        size_t al = strlen(allow);
        if (!strstr(allow, r->method))
            snprintf(allow + al, sizeof allow - al, "%s%s", al ? ", " : "", r->method);
    }
    if (allow[0]) {
        ctl_response_problem(resp, 405, "method-not-allowed", "Method Not Allowed",
                             "this resource does not support that method", req);
        ctl_response_add_header(resp, "Allow", allow);
        return;
    }
    ctl_response_problem(resp, 404, "not-found", "Not Found", "no such resource", req);
}

const char *ctl_req_header(const ctl_request *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *ctl_req_param(const ctl_request *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

int ctl_req_query(const ctl_request *req, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *p = req->query;
    while (*p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) >= klen && strncmp(p, key, klen) == 0 &&
            (p + klen == end || p[klen] == '=')) {
            const char *v = p + klen + (p + klen < end ? 1 : 0);
            size_t o = 0;
            for (; v < end; v++) {
                if (o + 1 >= cap)
                    return -1;
                if (*v == '%') {
                    if (end - v < 3 || ml_hex_digit(v[1]) < 0 || ml_hex_digit(v[2]) < 0)
                        return -1;
                    char c = (char)(ml_hex_digit(v[1]) * 16 + ml_hex_digit(v[2]));
                    if (c == '\0')
                        return -1;
                    out[o++] = c;
                    v += 2;
                } else {
                    out[o++] = *v == '+' ? ' ' : *v;
                }
            }
            out[o] = '\0';
            return 1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

void ctl_response_json(ctl_response *resp, int status, const char *json_text)
{
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    free(resp->body);
    resp->body = strdup(json_text);
    resp->body_len = resp->body ? strlen(resp->body) : 0;
}

void ctl_response_problem(ctl_response *resp, int status, const char *type_slug, const char *title,
                          const char *detail, const ctl_request *req)
{
    char type[160];
    snprintf(type, sizeof type, "https://mentorlink.dev/problems/%s", type_slug);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", title, "status", status,
                          "detail", detail ? detail : title);
    if (o && req) {
        json_object_set_new(o, "instance", json_string(req->path));
        if (req->request_id[0])
            json_object_set_new(o, "request_id", json_string(req->request_id));
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "application/problem+json");
    free(resp->body);
    resp->body = text;
    resp->body_len = text ? strlen(text) : 0;
}

int ctl_response_add_header(ctl_response *resp, const char *name, const char *value)
{
    if (resp->nheaders >= CTL_MAX_HEADERS)
        return -1;
    ctl_header *h = &resp->headers[resp->nheaders++];
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->value, sizeof h->value, "%s", value);
    return 0;
}

void ctl_response_free(ctl_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

int ctl_ctx_init(ctl_ctx *ctx, const ml_config *cfg, const char *database_url,
                 const char *redis_url, char *err, size_t errlen)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->cfg = cfg;
    ctl_db_init(&ctx->db, database_url, 3);
    ctl_db_set_timeouts(&ctx->db, cfg->db_lock_timeout_ms, cfg->db_statement_timeout_ms);
    if (ctl_redis_init(&ctx->redis, redis_url, 2000, err, errlen) != 0)
        return -1;
    ctx->redis_ok = 1;
    return 0;
}

void ctl_ctx_close(ctl_ctx *ctx)
{
    ctl_db_close(&ctx->db);
    ctl_redis_close(&ctx->redis);
}
