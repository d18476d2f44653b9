/*
 * What every successful sign-in does (password login, email verification,
 * Google): start a refresh-token family in the caller's transaction,
 * promote the bootstrap admin if configured and no admin exists yet, write
 * an audit entry, then, after the commit, answer with a short-lived access
 * token and set the two cookies:
 *
 *   ml_refresh  the refresh token; HttpOnly; Secure; SameSite=Strict;
 *               Path=/api/v1/auth (only the auth routes ever see it)
 *   ml_csrf     the family's CSRF token, readable by the page (not
 *               HttpOnly) so it can echo it in X-CSRF-Token after a reload
 */
#include "control/auth_internal.h"

#include "control/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BOOTSTRAP_LOCK "7596223410003"

json_t *auth__user_json(PGresult *r, int row)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s}", "id",
                     (json_int_t)atoll(PQgetvalue(r, row, 0)), "email", PQgetvalue(r, row, 1),
                     "name", PQgetvalue(r, row, 2), "role", PQgetvalue(r, row, 3), "status",
                     PQgetvalue(r, row, 4), "disabled", PQgetvalue(r, row, 5)[0] == 't',
                     "has_password", PQgetvalue(r, row, 6)[0] == 't', "google_linked",
                     PQgetvalue(r, row, 7)[0] == 't', "created_at", PQgetvalue(r, row, 8));
}

json_t *auth__load_user_json(PGconn *c, long long user_id)
{
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", user_id);
    const char *p[] = {uid};
    PGresult *r = auth__exec(c, "SELECT " AUTH_USER_COLS " FROM users WHERE id = $1::bigint", 1,
                             p, PGRES_TUPLES_OK);
    if (!r)
        return NULL;
    json_t *o = PQntuples(r) == 1 ? auth__user_json(r, 0) : NULL;
    PQclear(r);
    return o;
}

/* The first admin: while no admin exists, the verified account named by
 * bootstrap_admin_email becomes one when it signs in. */
static int bootstrap_admin(ctl_ctx *ctx, PGconn *c, const ctl_request *req, long long user_id,
                           const char *email, char *role, size_t role_cap)
{
    const char *want = ctx->cfg->bootstrap_admin_email;
    if (!want[0] || strcasecmp(want, email) != 0 || !strcmp(role, "admin"))
        return 0;
    PGresult *r = auth__exec(c, "SELECT pg_advisory_xact_lock(" BOOTSTRAP_LOCK ")", 0, NULL,
                             PGRES_TUPLES_OK);
    if (!r)
        return -1;
    PQclear(r);
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", user_id);
    const char *p[] = {uid};
    r = auth__exec(c,
                   "UPDATE users SET role = 'admin', updated_at = now() "
                   "WHERE id = $1::bigint AND status = 'active' AND NOT disabled "
                   "  AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')",
                   1, p, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    int changed = atoi(PQcmdTuples(r));
    PQclear(r);
    if (!changed)
        return 0;
    json_t *d = json_pack("{s:s, s:s, s:s}", "from", role, "to", "admin", "reason",
                          "bootstrap_admin_email");
    snprintf(role, role_cap, "admin");
    return auth__audit(c, req, user_id, "admin", "user.role_changed", user_id, d);
}

int auth__session_begin(ctl_ctx *ctx, PGconn *c, const ctl_request *req, long long user_id,
                        const char *email, char *role, size_t role_cap, const char *method,
                        auth_session *s)
{
    if (bootstrap_admin(ctx, c, req, user_id, email, role, role_cap) != 0)
        return -1;
    if (auth__family_create(c, ctx->cfg, user_id, s) != 0)
        return -1;
    return auth__audit(c, req, user_id, role, "user.login", user_id,
                       json_pack("{s:s, s:I}", "method", method, "family",
                                 (json_int_t)s->family_id));
}

static void set_cookies(ctl_response *resp, const ml_config *cfg, const auth_session *s)
{
    char v[256];
    snprintf(v, sizeof v,
             AUTH_COOKIE_REFRESH "=%s; Path=/api/v1/auth; Max-Age=%d; HttpOnly; Secure; "
                                 "SameSite=Strict",
             s->refresh, cfg->refresh_token_ttl_s);
    ctl_response_add_header(resp, "Set-Cookie", v);
    if (s->csrf[0]) {
        snprintf(v, sizeof v, AUTH_COOKIE_CSRF "=%s; Path=/; Max-Age=%d; Secure; SameSite=Strict",
                 s->csrf, cfg->refresh_token_ttl_s);
        ctl_response_add_header(resp, "Set-Cookie", v);
    }
}

void auth__clear_cookies(ctl_response *resp)
{
    ctl_response_add_header(resp, "Set-Cookie",
                            AUTH_COOKIE_REFRESH "=; Path=/api/v1/auth; Max-Age=0; HttpOnly; "
                                                "Secure; SameSite=Strict");
    ctl_response_add_header(resp, "Set-Cookie",
                            AUTH_COOKIE_CSRF "=; Path=/; Max-Age=0; Secure; SameSite=Strict");
}

void auth__session_respond(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, int status,
                           const auth_session *s, const char *role, json_t *user)
{
    char token[CTL_JWT_MAX_TOKEN];
    if (auth__issue_access(ctx, s->user_id, role, token, sizeof token) != 0) {
        json_decref(user);
        auth__internal_error(resp, req);
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:i}", "access_token", token, "token_type", "Bearer",
                          "expires_in", ctx->cfg->access_token_ttl_s);
    if (o && s->csrf[0])
        json_object_set_new(o, "csrf_token", json_string(s->csrf));
    if (o && user)
        json_object_set_new(o, "user", user);
    else
        json_decref(user);
    ctl_json_respond(resp, status, o);
    if (resp->status == status) {
        set_cookies(resp, ctx->cfg, s);
        ctl_response_add_header(resp, "Cache-Control", "no-store");
    }
}
