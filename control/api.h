/*
 * The control plane's HTTP boundary, free of libwebsockets: signaling/http.c
 * turns a request into a ctl_request, a worker-pool thread runs
 * ctl_api_dispatch() with that thread's ctl_ctx (its own database and Redis
 * connections), and http.c writes the ctl_response back.
 *
 * Routes are one table (api.c): method, path pattern, handler, and the
 * permission each needs. Handlers live in files by family (health.c, ...).
 * Errors are RFC 9457 problem documents (application/problem+json).
 */
#ifndef ML_CONTROL_API_H
#define ML_CONTROL_API_H

#include <stddef.h>

#include "common/config.h"
#include "control/db.h"
#include "control/redis.h"

/* Per-thread context for handlers: owned by one pool thread. */
typedef struct ctl_ctx {
    const ml_config *cfg;
    ctl_db db;
    ctl_redis redis;
    int redis_ok; /* redis URL parsed */
} ctl_ctx;

int ctl_ctx_init(ctl_ctx *ctx, const ml_config *cfg, const char *database_url,
                 const char *redis_url, char *err, size_t errlen);
void ctl_ctx_close(ctl_ctx *ctx);

#define CTL_MAX_HEADERS 16

typedef struct ctl_header {
    char name[64];
    char value[512];
} ctl_header;

typedef struct ctl_request {
    char method[8];      /* GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS */
    char path[1024];     /* decoded path without the query */
    char query[2048];    /* raw query string, '&'-separated */
    char request_id[40]; /* echoed as X-Request-Id */
    char remote_addr[64];
    ctl_header headers[CTL_MAX_HEADERS]; /* selected request headers */
    int nheaders;
    const char *body; /* not NUL-terminated */
    size_t body_len;
} ctl_request;

typedef struct ctl_response {
    int status;
    char content_type[64];
    char *body; /* malloc'd, owned by the response */
    size_t body_len;
    ctl_header headers[CTL_MAX_HEADERS];
    int nheaders;
} ctl_response;

/* Route a request to its handler. Always fills resp (404/405 problems for
 * unknown routes). Runs on a pool thread. */
void ctl_api_dispatch(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp);
/* Whether method+path names a route that must run on the pool (1), or 0. */
int ctl_api_known(const char *method, const char *path);

/* Response helpers. */
void ctl_response_json(ctl_response *resp, int status, const char *json_text);
void ctl_response_problem(ctl_response *resp, int status, const char *type_slug, const char *title,
                          const char *detail, const ctl_request *req);
int ctl_response_add_header(ctl_response *resp, const char *name, const char *value);
void ctl_response_free(ctl_response *resp);

/* Route table entry (exposed so that tests can compare it with the OpenAPI
 * document). */
typedef void (*ctl_handler)(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp);
typedef enum { CTL_PERM_PUBLIC = 0, CTL_PERM_USER, CTL_PERM_MENTOR, CTL_PERM_ADMIN } ctl_perm;
typedef struct ctl_route {
    const char *method;
    const char *pattern; /* literal path; "{id}" matches one segment */
    ctl_handler handler;
    ctl_perm perm;
} ctl_route;
const ctl_route *ctl_api_routes(size_t *n);

/* Handlers (by family). */
void ctl_health_readyz(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp);

#endif
