/*
 * Route table and dispatch for the control plane; see api.h. Matching is a
 * linear scan over a short table: literal segments compare exactly and
 * "{name}" matches any single non-empty segment. A path that matches with
 * another method gets 405 and an Allow header.
 */
#include "control/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ctl_route routes[] = {
    {"GET", "/readyz", ctl_health_readyz, CTL_PERM_PUBLIC},
};

const ctl_route *ctl_api_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

/* Does `path` match `pattern` segment by segment? */
static int path_matches(const char *pattern, const char *path)
{
    const char *p = pattern, *s = path;
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
            p = pe + 1;
            s = se;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

int ctl_api_known(const char *method, const char *path)
{
    (void)method;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (path_matches(routes[i].pattern, path))
            return 1;
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

void ctl_api_dispatch(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    memset(resp, 0, sizeof *resp);
    char allow[128] = "";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_matches(routes[i].pattern, req->path))
            continue;
        if (strcmp(routes[i].method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            routes[i].handler(ctx, req, resp);
            return;
        }
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "", routes[i].method);
    }
    if (allow[0]) {
        ctl_response_problem(resp, 405, "method-not-allowed", "Method Not Allowed",
                             "this resource does not support that method", req);
        ctl_response_add_header(resp, "Allow", allow);
        return;
    }
    ctl_response_problem(resp, 404, "not-found", "Not Found", "no such resource", req);
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
