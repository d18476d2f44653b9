/*
 * Health handlers. /healthz (process alive) is answered on the front-door
 * thread without touching storage; /readyz runs here, on a pool thread, and
 * asks PostgreSQL and Redis for real each time, reconnecting if they went
 * away, so it fails while a dependency is down and recovers by itself.
 */
#include "control/api.h"

#include <jansson.h>
#include <stdlib.h>

static void readyz(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    (void)req;
    char dberr[512] = "", rerr[512] = "";
    int db_ok = ctl_db_ping(&ctx->db, dberr, sizeof dberr) == 0;
    int redis_ok = ctx->redis_ok && ctl_redis_ping(&ctx->redis, rerr, sizeof rerr) == 0;
    json_t *o = json_pack("{s:s, s:s, s:s}", "status", db_ok && redis_ok ? "ready" : "unavailable",
                          "database", db_ok ? "ok" : dberr, "redis", redis_ok ? "ok" : rerr);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ctl_response_json(resp, db_ok && redis_ok ? 200 : 503, text ? text : "{}");
    free(text);
    ctl_response_add_header(resp, "Cache-Control", "no-store");
}

const ctl_route ctl_health_routes[] = {
    {"GET", "/readyz", readyz, CTL_PERM_PUBLIC, "Readiness: PostgreSQL and Redis answer"},
};
const size_t ctl_health_routes_count = sizeof ctl_health_routes / sizeof ctl_health_routes[0];
