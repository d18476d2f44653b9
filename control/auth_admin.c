/*
 * Account administration (admins only): list and search accounts with
 * cursor pagination, read one, and change an account's role or disable /
 * re-enable it. Every change is one transaction with its audit entries;
 * disabling also ends every session of the account (refresh families
 * revoked, live access tokens refused at once because authentication reads
 * the account on each request). An admin cannot disable or demote
 * themselves, so the last admin cannot lock everyone out by accident.
 */
#include "control/auth_internal.h"

#include "control/json.h"
#include "control/pagination.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SCOPE "admin-users"

/* "%" + pattern with LIKE metacharacters escaped + "%". */
static void like_pattern(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = '%';
    for (; *s && o + 3 < cap; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o++] = '%';
    out[o] = '\0';
}

static void list_users(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    ctl_page page;
    char email[256] = "", role[16] = "", pattern[520], after[24], lim[16];
    if (ctl_page_from_query(ctx->cfg->cursor_secret, PAGE_SCOPE, req, &page, resp) != 0)
        return;
    if (ctl_req_query(req, "email", email, sizeof email) < 0) {
        ctl_response_problem(resp, 400, "bad-query", "Bad Request",
                             "query parameter 'email' is malformed or too long", req);
        return;
    }
    if (ctl_req_query(req, "role", role, sizeof role) < 0 ||
        (role[0] && strcmp(role, "admin") && strcmp(role, "mentor") && strcmp(role, "mentee"))) {
        ctl_response_problem(resp, 400, "bad-query", "Bad Request",
                             "query parameter 'role' must be admin, mentor or mentee", req);
        return;
    }
    if (ctl_utf8_length(email, strlen(email)) < 0) {
        ctl_response_problem(resp, 400, "bad-query", "Bad Request",
                             "query parameter 'email' is not valid UTF-8", req);
        return;
    }
    PGconn *c = auth__db(ctx, req, resp);
    if (!c)
        return;
    like_pattern(email, pattern, sizeof pattern);
    snprintf(after, sizeof after, "%lld", page.has_cursor ? page.after.id : 0LL);
    snprintf(lim, sizeof lim, "%d", page.limit + 1);
    const char *p[] = {pattern, role, after, lim};
    PGresult *r = auth__exec(c,
                             "SELECT " AUTH_USER_COLS " FROM users "
                             "WHERE email::text ILIKE $1 AND ($2 = '' OR role = $2) "
                             "  AND id > $3::bigint ORDER BY id LIMIT $4::int",
                             4, p, PGRES_TUPLES_OK);
    if (!r) {
        auth__internal_error(resp, req);
        return;
    }
    json_t *items = json_array();
    int n = PQntuples(r), shown = n > page.limit ? page.limit : n;
    for (int i = 0; i < shown; i++)
        json_array_append_new(items, auth__user_json(r, i));
    char next[CTL_CURSOR_MAX] = "";
    if (n > page.limit) {
        ctl_cursor cur = {.key = "", .id = atoll(PQgetvalue(r, shown - 1, 0))};
        ctl_cursor_encode(ctx->cfg->cursor_secret, PAGE_SCOPE, &cur, next, sizeof next);
    }
    PQclear(r);
    ctl_page_respond(resp, items, next[0] ? next : NULL);
}

/* The {id} path parameter as a positive integer, or 0 after a 404. */
static long long user_id_param(const ctl_request *req, ctl_response *resp)
{
    const char *s = ctl_req_param(req, "id");
    char *end;
    long long id = s && s[0] >= '1' && s[0] <= '9' && strlen(s) <= 18 ? strtoll(s, &end, 10) : 0;
    if (id <= 0 || *end) {
        ctl_response_problem(resp, 404, "not-found", "Not Found", "no such user", req);
        return 0;
    }
    return id;
}

static void get_user(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    long long id = user_id_param(req, resp);
    if (!id)
        return;
    PGconn *c = auth__db(ctx, req, resp);
    if (!c)
        return;
    json_t *u = auth__load_user_json(c, id);
    if (!u) {
        ctl_response_problem(resp, 404, "not-found", "Not Found", "no such user", req);
        return;
    }
    ctl_json_respond(resp, 200, u);
}

static void patch_user(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    static const ctl_json_field fields[] = {
        {"role", CTL_JSON_ENUM, 0, 0, 0, "admin|mentor|mentee"},
        {"disabled", CTL_JSON_BOOL, 0, 0, 0, NULL},
    };
    json_t *body = NULL;
    PGresult *r = NULL;
    PGconn *c = NULL;
    long long id = user_id_param(req, resp);
    if (!id || ctl_json_body(req, fields, CTL_JSON_NFIELDS(fields), &body, resp) != 0)
        return;
    const char *new_role = ctl_json_str(body, "role");
    int has_disabled = ctl_json_has(body, "disabled");
    int disable = ctl_json_bool(body, "disabled", 0);
    if (!new_role && !has_disabled) {
        ctl_json_field_problem(resp, req, "role", "give role or disabled (or both)");
        goto out;
    }
    if (id == req->who.user_id && ((new_role && strcmp(new_role, "admin")) || disable)) {
        ctl_response_problem(resp, 409, "self-lockout", "Conflict",
                             "admins cannot demote or disable themselves", req);
        goto out;
    }
    if (!(c = auth__db(ctx, req, resp)))
        goto out;
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", id);
    const char *p[] = {uid, NULL, NULL};
    if (auth__begin(c) != 0)
        goto fail;
    r = auth__exec(c, "SELECT role, disabled FROM users WHERE id = $1::bigint FOR UPDATE", 1, p,
                   PGRES_TUPLES_OK);
    if (!r)
        goto fail;
    if (PQntuples(r) != 1) {
        auth__rollback(c);
        ctl_response_problem(resp, 404, "not-found", "Not Found", "no such user", req);
        goto out;
    }
    char old_role[16];
    snprintf(old_role, sizeof old_role, "%s", PQgetvalue(r, 0, 0));
    int was_disabled = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    r = NULL;
    const char *role = new_role ? new_role : old_role;
    int dis = has_disabled ? disable : was_disabled;
    p[1] = role;
    p[2] = dis ? "true" : "false";
    r = auth__exec(c,
                   "UPDATE users SET role = $2, disabled = $3::boolean, updated_at = now() "
                   "WHERE id = $1::bigint",
                   3, p, PGRES_COMMAND_OK);
    if (!r)
        goto fail;
    if (strcmp(role, old_role) != 0 &&
        auth__audit(c, req, 0, NULL, "user.role_changed", id,
                    json_pack("{s:s, s:s}", "from", old_role, "to", role)) != 0)
        goto fail;
    if (dis != was_disabled &&
        auth__audit(c, req, 0, NULL, dis ? "user.disabled" : "user.enabled", id, NULL) != 0)
        goto fail;
    if (dis && !was_disabled && auth__refresh_revoke_user(c, req, id, "disabled") < 0)
        goto fail;
    json_t *u = auth__load_user_json(c, id);
    if (!u || auth__commit(c) != 0) {
        json_decref(u);
        goto fail;
    }
    ctl_json_respond(resp, 200, u);
    goto out;
fail:
    auth__rollback(c);
    auth__internal_error(resp, req);
out:
    PQclear(r);
    json_decref(body);
}

const ctl_route ctl_auth_admin_routes[] = {
    {"GET", "/api/v1/admin/users", list_users, CTL_PERM_ADMIN,
     "List accounts (cursor pagination; ?email= substring, ?role=)"},
    {"GET", "/api/v1/admin/users/{id}", get_user, CTL_PERM_ADMIN, "One account"},
    {"PATCH", "/api/v1/admin/users/{id}", patch_user, CTL_PERM_ADMIN,
     "Change an account's role or disable/enable it (audited)"},
};
const size_t ctl_auth_admin_routes_count =
    sizeof ctl_auth_admin_routes / sizeof ctl_auth_admin_routes[0];
