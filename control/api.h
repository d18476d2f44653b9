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

/* Who is calling; filled by the dispatcher before a protected handler runs. */
typedef struct ctl_principal {
    int authenticated;
    long long user_id;
    char role[16]; /* "admin", "mentor", "mentee" */
    char email[256];
    char session_id[64]; /* refresh-token family or token id, for audit */
} ctl_principal;

#define CTL_MAX_PARAMS 4

typedef struct ctl_request {
    char method[8];      /* GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS */
    char path[1024];     /* decoded path without the query */
    char query[2048];    /* raw query string, '&'-separated */
    char request_id[40]; /* echoed as X-Request-Id */
    char remote_addr[64];
    ctl_header headers[CTL_MAX_HEADERS]; /* selected request headers, lower-case names */
    int nheaders;
    const char *body; /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;
    /* Filled by the dispatcher: */
    struct {
        char name[32];
        char value[256];
    } params[CTL_MAX_PARAMS]; /* "{name}" segments of the matched pattern */
    int nparams;
    const char *route; /* matched pattern */
    ctl_principal who;
} ctl_request;

/* A request header by lower-case name, or NULL. */
const char *ctl_req_header(const ctl_request *req, const char *name);
/* A path parameter of the matched route ("{id}" -> "id"), or NULL. */
const char *ctl_req_param(const ctl_request *req, const char *name);
/* A query parameter, percent-decoded into out. 1 if present, 0 if absent,
 * -1 if it does not fit or is malformed. */
int ctl_req_query(const ctl_request *req, const char *key, char *out, size_t cap);

typedef struct ctl_response {
    int status;
    char content_type[64];
    char *body; /* malloc'd, owned by the response */
    size_t body_len;
    ctl_header headers[CTL_MAX_HEADERS];
    int nheaders;
} ctl_response;

/* Route a request to its handler: match the route, enforce its permission
 * (authenticating the caller for protected routes), run it. Always fills
 * resp (404/405/401/403 problems included). Runs on a pool thread. */
void ctl_api_dispatch(ctl_ctx *ctx, ctl_request *req, ctl_response *resp);
/* Whether method+path must go to the pool (a route or anything under /api). */
int ctl_api_known(const char *method, const char *path);

/* Resolve the caller of a protected route (auth.c): 0 and *who filled, or
 * -1 with a 401 problem in resp. */
int ctl_auth_authenticate(ctl_ctx *ctx, const ctl_request *req, ctl_principal *who,
                          ctl_response *resp);

/* Response helpers. */
void ctl_response_json(ctl_response *resp, int status, const char *json_text);
void ctl_response_problem(ctl_response *resp, int status, const char *type_slug, const char *title,
                          const char *detail, const ctl_request *req);
int ctl_response_add_header(ctl_response *resp, const char *name, const char *value);
void ctl_response_free(ctl_response *resp);

/* Route table entry. Each family of handlers (health.c, auth_*.c, ...)
 * exports one table; api.c lists the families. */
typedef void (*ctl_handler)(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp);
typedef enum {
    CTL_PERM_PUBLIC = 0, /* anyone */
    CTL_PERM_USER,       /* any signed-in account */
    CTL_PERM_MENTOR,     /* mentors and admins */
    CTL_PERM_ADMIN,      /* admins */
} ctl_perm;
typedef struct ctl_route {
    const char *method;
    const char *pattern; /* literal path; "{name}" matches one segment */
    ctl_handler handler;
    ctl_perm perm;
    const char *summary; /* one line, for `mentorlink routes` and the docs */
} ctl_route;

typedef struct ctl_route_family {
    const char *name;
    const ctl_route *routes;
    const size_t *count;
} ctl_route_family;

/* Every route, in table order (for tests comparing with docs/openapi.yaml). */
size_t ctl_api_route_count(void);
const ctl_route *ctl_api_route_at(size_t i);
const char *ctl_perm_name(ctl_perm p);

/* Families. */
extern const ctl_route ctl_health_routes[];
extern const size_t ctl_health_routes_count;
/* Accounts and access: auth_routes.c, auth_signup.c, auth_google.c, auth_admin.c */
extern const ctl_route ctl_auth_routes[];
extern const size_t ctl_auth_routes_count;
extern const ctl_route ctl_auth_signup_routes[];
extern const size_t ctl_auth_signup_routes_count;
extern const ctl_route ctl_auth_google_routes[];
extern const size_t ctl_auth_google_routes_count;
extern const ctl_route ctl_auth_admin_routes[];
extern const size_t ctl_auth_admin_routes_count;
/* Platform: audit_routes.c, contact.c */
extern const ctl_route ctl_audit_routes[];
extern const size_t ctl_audit_routes_count;
extern const ctl_route ctl_contact_routes[];
extern const size_t ctl_contact_routes_count;
/* Booking: mentor_routes.c, availability_routes.c, booking_routes.c, session_routes.c */
extern const ctl_route ctl_mentor_routes[];
extern const size_t ctl_mentor_routes_count;
extern const ctl_route ctl_availability_routes[];
extern const size_t ctl_availability_routes_count;
extern const ctl_route ctl_booking_routes[];
extern const size_t ctl_booking_routes_count;
extern const ctl_route ctl_session_routes[];
extern const size_t ctl_session_routes_count;
/* Recordings: recording_routes.c */
extern const ctl_route ctl_recording_routes[];
extern const size_t ctl_recording_routes_count;
/* Payments: pay_routes.c (with the webhook of pay_webhook.c) */
extern const ctl_route ctl_pay_routes[];
extern const size_t ctl_pay_routes_count;

#endif
