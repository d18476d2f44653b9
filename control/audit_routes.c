/*
 * GET /api/v1/admin/audit: the audit log for admins, newest first, with
 * filters and cursor pagination. Query parameters are checked strictly
 * (unknown ones are refused by name, values by pattern) before one
 * parameterised query runs; every filter is optional:
 *
 *   actor=<user id>          entries by that account
 *   action=<name>            exact action, or a prefix with "*": action=user.*
 *   target_type=<type>       e.g. booking
 *   target_id=<id>           with or without target_type
 *   since=<RFC 3339>         at >= since
 *   until=<RFC 3339>         at <  until
 *   limit, cursor            see pagination.h
 *
 * Reads are rate limited per admin (600 a minute), fail-open.
 */
#include "control/api.h"
#include "control/audit.h"
#include "control/json.h"
#include "control/pagination.h"
#include "control/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_params[] = {"actor", "action", "target_type", "target_id",
                                           "since", "until", "limit", "cursor"};

/* Refuse a query parameter we do not know (400 naming it). */
static int check_known(const ctl_request *req, ctl_response *resp)
{
    const char *p = req->query;
    while (*p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        size_t kl = (size_t)((eq ? eq : end) - p);
        int known = kl == 0;
        for (size_t i = 0; !known && i < sizeof known_params / sizeof known_params[0]; i++)
            known = strlen(known_params[i]) == kl && strncmp(known_params[i], p, kl) == 0;
        if (!known) {
            char name[48], detail[96];
            size_t n = kl < sizeof name - 1 ? kl : sizeof name - 1;
            for (size_t i = 0; i < n; i++) /* echo printable ASCII only */
                name[i] = (p[i] > 0x20 && p[i] < 0x7F) ? p[i] : '?';
            name[n] = '\0';
            snprintf(detail, sizeof detail, "unknown query parameter '%s'", name);
            ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request", detail, req);
            return -1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

static int bad_param(ctl_response *resp, const ctl_request *req, const char *detail)
{
    ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request", detail, req);
    return -1;
}

/* Read one optional parameter; -1 (400 sent) when it is malformed or too long. */
static int param(const ctl_request *req, ctl_response *resp, const char *key, char *out,
                 size_t cap, int *present)
{
    int rc = ctl_req_query(req, key, out, cap);
    if (rc < 0) {
        char d[96];
        snprintf(d, sizeof d, "%s is malformed or too long", key);
        return bad_param(resp, req, d);
    }
    *present = rc > 0 && out[0];
    return 0;
}

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || s[0] == '0')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return 0;
    return ctl_utf8_length(s, strlen(s)) >= 0;
}

/* action or "prefix*" -> exact value or a LIKE pattern with _ escaped. */
static int action_filter(const char *v, char *exact, size_t ecap, char *like, size_t lcap)
{
    size_t n = strlen(v);
    if (n > 1 && v[n - 1] == '*') {
        char prefix[72];
        if (n - 1 >= sizeof prefix)
            return -1;
        memcpy(prefix, v, n - 1);
        prefix[n - 1] = '\0';
        if (prefix[n - 2] == '.') /* "user.*": validate "user" */
            prefix[n - 2] = '\0';
        if (!ctl_audit_action_valid(prefix))
            return -1;
        size_t o = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            if (o + 3 >= lcap)
                return -1;
            if (v[i] == '_' || v[i] == '%' || v[i] == '\\')
                like[o++] = '\\';
            like[o++] = v[i];
        }
        like[o++] = '%';
        like[o] = '\0';
        exact[0] = '\0';
        return 0;
    }
    if (!ctl_audit_action_valid(v) || n >= ecap)
        return -1;
    memcpy(exact, v, n + 1);
    like[0] = '\0';
    return 0;
}

static json_t *row_json(PGresult *r, int i)
{
    json_t *details = json_loads(PQgetvalue(r, i, 9), 0, NULL);
    json_t *o = json_object();
    if (!o) {
        json_decref(details);
        return NULL;
    }
    json_object_set_new(o, "id", json_integer(strtoll(PQgetvalue(r, i, 0), NULL, 10)));
    json_object_set_new(o, "at", json_string(PQgetvalue(r, i, 1)));
    json_object_set_new(o, "actor_user_id", PQgetisnull(r, i, 2)
                                                ? json_null()
                                                : json_integer(strtoll(PQgetvalue(r, i, 2), NULL, 10)));
    static const char *const text_cols[] = {"actor_role", "action", "target_type", "target_id",
                                            "remote_addr", "request_id"};
    for (int c = 0; c < 6; c++)
        json_object_set_new(o, text_cols[c],
                            PQgetisnull(r, i, 3 + c) ? json_null()
                                                     : json_string(PQgetvalue(r, i, 3 + c)));
    json_object_set_new(o, "details", details ? details : json_object());
    return o;
}

static void list_audit(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    char actor[32], action[80], target_type[80], target_id[160], since[64], until[64];
    char exact[80] = "", like[160] = "", lim[16], after[32];
    int has_actor, has_action, has_tt, has_tid, has_since, has_until;
    ctl_page page;
    PGresult *r = NULL;
    json_t *items = NULL;
    /* A read: fail-open, so the log stays readable while Redis is down. */
    ctl_rate_policy pol = {"admin-read", 600, 60, 0};
    char who[32];
    snprintf(who, sizeof who, "%lld", req->who.user_id);
    if (ctl_ratelimit_check(ctx, &pol, who, req, resp) != 0)
        return;
    if (check_known(req, resp) != 0 ||
        ctl_page_from_query(ctx->cfg->cursor_secret, "audit", req, &page, resp) != 0 ||
        param(req, resp, "actor", actor, sizeof actor, &has_actor) != 0 ||
        param(req, resp, "action", action, sizeof action, &has_action) != 0 ||
        param(req, resp, "target_type", target_type, sizeof target_type, &has_tt) != 0 ||
        param(req, resp, "target_id", target_id, sizeof target_id, &has_tid) != 0 ||
        param(req, resp, "since", since, sizeof since, &has_since) != 0 ||
        param(req, resp, "until", until, sizeof until, &has_until) != 0)
        return;
    if (has_actor && !id_ok(actor)) {
        bad_param(resp, req, "actor must be a user id (a positive integer)");
        return;
    }
    if (has_action && action_filter(action, exact, sizeof exact, like, sizeof like) != 0) {
        bad_param(resp, req, "action must be an action name or a prefix ending in *");
        return;
    }
    if (has_tt && !ctl_audit_action_valid(target_type)) {
        bad_param(resp, req, "target_type must be a lower-case name");
        return;
    }
    if (has_tid && !printable(target_id)) {
        bad_param(resp, req, "target_id must be printable text");
        return;
    }
    if ((has_since && !ctl_json_is_timestamp(since)) || (has_until && !ctl_json_is_timestamp(until))) {
        bad_param(resp, req, "since and until must be RFC 3339 date-times with a time zone");
        return;
    }
    snprintf(lim, sizeof lim, "%d", page.limit + 1);
    snprintf(after, sizeof after, "%lld", page.after.id);
    const char *p[9] = {has_actor ? actor : NULL,  exact[0] ? exact : NULL,
                        like[0] ? like : NULL,     has_tt ? target_type : NULL,
                        has_tid ? target_id : NULL, has_since ? since : NULL,
                        has_until ? until : NULL,  page.has_cursor ? after : NULL,
                        lim};
    char err[256];
    if (ctl_db_ensure(&ctx->db, err, sizeof err) != 0) {
        ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                             "the database is unavailable", req);
        return;
    }
    r = PQexecParams(ctx->db.conn,
                     "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
                     "actor_user_id, actor_role, action, target_type, target_id, remote_addr, "
                     "request_id, details::text FROM audit_log "
                     "WHERE ($1::bigint IS NULL OR actor_user_id = $1::bigint) "
                     "AND ($2::text IS NULL OR action = $2) "
                     "AND ($3::text IS NULL OR action LIKE $3) "
                     "AND ($4::text IS NULL OR target_type = $4) "
                     "AND ($5::text IS NULL OR target_id = $5) "
                     "AND ($6::timestamptz IS NULL OR at >= $6::timestamptz) "
                     "AND ($7::timestamptz IS NULL OR at < $7::timestamptz) "
                     "AND ($8::bigint IS NULL OR id < $8::bigint) "
                     "ORDER BY id DESC LIMIT $9::int",
                     9, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strncmp(state, "22", 2) == 0) /* data exception: e.g. a year out of range */
            bad_param(resp, req, "a filter value is out of range");
        else
            ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                                 "the audit log cannot be read now", req);
        goto done;
    }
    int n = PQntuples(r), more = n > page.limit;
    if (more)
        n = page.limit;
    items = json_array();
    for (int i = 0; items && i < n; i++) {
        json_t *o = row_json(r, i);
        if (!o || json_array_append_new(items, o) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    if (!items) {
        ctl_response_problem(resp, 500, "internal", "Internal Server Error", "out of memory", req);
        goto done;
    }
    char next[CTL_CURSOR_MAX] = "";
    if (more) {
        ctl_cursor c = {.key = "", .id = strtoll(PQgetvalue(r, n - 1, 0), NULL, 10)};
        if (ctl_cursor_encode(ctx->cfg->cursor_secret, "audit", &c, next, sizeof next) != 0)
            next[0] = '\0';
    }
    ctl_page_respond(resp, items, next[0] ? next : NULL);
    ctl_response_add_header(resp, "Cache-Control", "no-store");
done:
    PQclear(r);
}

const ctl_route ctl_audit_routes[] = {
    {"GET", "/api/v1/admin/audit", list_audit, CTL_PERM_ADMIN,
     "Audit log, newest first, filtered by actor, action, target and time"},
};
const size_t ctl_audit_routes_count = sizeof ctl_audit_routes / sizeof ctl_audit_routes[0];
