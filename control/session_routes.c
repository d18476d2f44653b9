/*
 * Sessions and room access.
 *
 *   POST /api/v1/sessions/{id}/start   the mentor opens the room (live)
 *   POST /api/v1/sessions/{id}/end     the mentor ends it
 *   POST /api/v1/sessions/{id}/join    a room token for the mentor
 *                                      (publish) or a booked mentee
 *                                      (subscribe), inside the join window
 *   POST /api/v1/reviews/{id}/reply    the mentor answers a review
 *
 * Who may join and when is decided by booking_join_role() in PostgreSQL;
 * the token itself is signed here (control/room_token.c) and verified by
 * the signaling front door without a database round trip.
 */
#include "control/booking_internal.h"
#include "control/json.h"
#include "control/room_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

static void set_state(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, const char *to)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    long long id = ctl_bk__id_param(req, resp, "id");
    if (id <= 0)
        return;
    char sid[32], uid[32];
    snprintf(sid, sizeof sid, "%lld", id);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[3] = {sid, uid, to};
    ctl_bk__respond(ctx, req, resp, 200,
                    "SELECT booking_session_set($1::bigint, $2::bigint, $3)::text", 3, p);
}

static void start_session(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    set_state(ctx, req, resp, "live");
}

static void end_session(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    set_state(ctx, req, resp, "ended");
}

static void join(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    long long id = ctl_bk__id_param(req, resp, "id");
    if (id <= 0 || ctl_bk__db(ctx, req, resp) != 0)
        return;
    char err[256];
    if (ctl_room_token_init(ctx->cfg, err, sizeof err) != 0) {
        ML_ERROR("booking", "room tokens unavailable: %s", err);
        ctl_response_problem(resp, 503, "room-tokens-unavailable", "Service Unavailable",
                             "room tokens cannot be issued now", req);
        return;
    }
    char sid[32], uid[32];
    snprintf(sid, sizeof sid, "%lld", id);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[2] = {sid, uid};
    PGresult *r = PQexecParams(ctx->db.conn, "SELECT booking_join_role($1::bigint, $2::bigint)", 2,
                               NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ctl_bk__sql_problem(r, req, resp);
        PQclear(r);
        return;
    }
    ctl_room_claims c = {.session_id = id, .user_id = req->who.user_id};
    c.role = strcmp(PQgetvalue(r, 0, 0), "publish") == 0 ? CTL_ROOM_PUBLISH : CTL_ROOM_SUBSCRIBE;
    PQclear(r);
    c.iat = (long long)time(NULL);
    c.exp = c.iat + CTL_ROOM_TOKEN_TTL_S;
    char tok[CTL_ROOM_TOKEN_MAX];
    if (ctl_room_token_sign(&c, tok, sizeof tok) != 0) {
        ctl_response_problem(resp, 500, "internal", "Internal Server Error",
                             "the room token could not be signed", req);
        return;
    }
    json_t *o = json_pack("{s:s, s:I, s:s, s:I}", "room_token", tok, "session_id", (json_int_t)id,
                          "role", c.role == CTL_ROOM_PUBLISH ? "publish" : "subscribe",
                          "expires_in", (json_int_t)CTL_ROOM_TOKEN_TTL_S);
    ctl_json_respond(resp, 200, o);
    ctl_response_add_header(resp, "Cache-Control", "no-store");
}

static void reply(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    static const ctl_json_field f[] = {{"reply", CTL_JSON_STRING,
                                        CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_MULTILINE, 1,
                                        5000, NULL}};
    long long id = ctl_bk__id_param(req, resp, "id");
    json_t *body = NULL;
    if (id <= 0 || ctl_json_body(req, f, 1, &body, resp) != 0)
        return;
    char rid[32], uid[32];
    snprintf(rid, sizeof rid, "%lld", id);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[3] = {rid, uid, ctl_json_str(body, "reply")};
    ctl_bk__respond(ctx, req, resp, 200,
                    "SELECT booking_review_reply($1::bigint, $2::bigint, $3)::text", 3, p);
    json_decref(body);
}

const ctl_route ctl_session_routes[] = {
    {"POST", "/api/v1/sessions/{id}/start", start_session, CTL_PERM_MENTOR,
     "Open the session's room (scheduled -> live)"},
    {"POST", "/api/v1/sessions/{id}/end", end_session, CTL_PERM_MENTOR,
     "End the session (-> ended)"},
    {"POST", "/api/v1/sessions/{id}/join", join, CTL_PERM_USER,
     "A short-lived room token for the mentor or a booked mentee"},
    {"POST", "/api/v1/reviews/{id}/reply", reply, CTL_PERM_MENTOR,
     "The mentor's public reply to a review"},
};
const size_t ctl_session_routes_count = sizeof ctl_session_routes / sizeof ctl_session_routes[0];
