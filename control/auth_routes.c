/*
 * Sign-in and sessions: password login, refresh (rotation), logout,
 * logout everywhere, password change, and /me.
 *
 * Login answers one 401 body for an unknown address, a wrong password and
 * an account without a password, and spends one Argon2id verification in
 * each case (a dummy hash for unknown addresses), so neither the body nor
 * the timing tells whether an address is registered. Limits (Redis, fail
 * closed): auth_ip_rate_per_minute per client IP, 10 attempts per address
 * per minute, and bans of 15 minutes after 5 failures per address or 20
 * per IP within 15 minutes.
 *
 * Refresh and logout are authenticated by the HttpOnly cookie, so they
 * also need the family's CSRF token in X-CSRF-Token and an Origin that is
 * the public origin (or in allowed_origins); see auth_refresh.c.
 */
#include "control/auth_internal.h"

#include "control/json.h"
#include "control/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGIN_PER_ACCOUNT_MINUTE 10
#define LOGIN_FAILS_ACCOUNT 5
#define LOGIN_FAILS_IP 20
#define LOGIN_BAN_S 900

static void login_failed(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp,
                         const char *email)
{
    int retry = 0, retry_ip = 0;
    int a = ctl_ratelimit_fail(ctx, "login-account", email, LOGIN_FAILS_ACCOUNT, LOGIN_BAN_S,
                               LOGIN_BAN_S, &retry);
    int b = ctl_ratelimit_fail(ctx, "login-ip", req->remote_addr, LOGIN_FAILS_IP, LOGIN_BAN_S,
                               LOGIN_BAN_S, &retry_ip);
    if (a == CTL_RL_LIMITED || b == CTL_RL_LIMITED) {
        ctl_ratelimit_problem(resp, req, retry > retry_ip ? retry : retry_ip);
        return;
    }
    ctl_response_problem(resp, 401, "invalid-credentials", "Invalid Credentials",
                         "the email or password is wrong", req);
}

static void login(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    static const ctl_json_field fields[] = {
        {"email", CTL_JSON_EMAIL, CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_LOWER, 3, 254, NULL},
        {"password", CTL_JSON_STRING, CTL_JSON_REQUIRED, 1, AUTH_PASSWORD_MAX, NULL},
    };
    json_t *body = NULL;
    PGresult *r = NULL;
    PGconn *c = NULL;
    if (ctl_json_body(req, fields, CTL_JSON_NFIELDS(fields), &body, resp) != 0)
        return;
    const char *email = ctl_json_str(body, "email");
    if (auth__limit(ctx, req, resp, "login-ip", req->remote_addr, ctx->cfg->auth_ip_rate_per_minute) ||
        auth__limit(ctx, req, resp, "login-account", email, LOGIN_PER_ACCOUNT_MINUTE))
        goto out;
    if (!(c = auth__db(ctx, req, resp)))
        goto out;
    const char *p[] = {email};
    r = auth__exec(c,
                   "SELECT id, password_hash, role, status, disabled FROM users WHERE email = $1",
                   1, p, PGRES_TUPLES_OK);
    if (!r)
        goto fail;
    int found = PQntuples(r) == 1;
    const char *hash = found && !PQgetisnull(r, 0, 1) ? PQgetvalue(r, 0, 1) : NULL;
    if (!auth__password_check(ctx->cfg, hash, ctl_json_str(body, "password"))) {
        login_failed(ctx, req, resp, email);
        goto out;
    }
    if (PQgetvalue(r, 0, 4)[0] == 't') {
        ctl_response_problem(resp, 403, "account-disabled", "Account Disabled",
                             "this account has been disabled", req);
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 3), "active") != 0) {
        ctl_response_problem(resp, 403, "verification-required", "Verification Required",
                             "confirm your email address with the code we sent first", req);
        goto out;
    }
    long long id = atoll(PQgetvalue(r, 0, 0));
    char role[16];
    snprintf(role, sizeof role, "%s", PQgetvalue(r, 0, 2));
    ctl_ratelimit_reset(ctx, "login-account", email, 0);
    auth_session s;
    if (auth__begin(c) != 0 ||
        auth__session_begin(ctx, c, req, id, email, role, sizeof role, "password", &s) != 0)
        goto fail;
    json_t *user = auth__load_user_json(c, id);
    if (auth__commit(c) != 0) {
        json_decref(user);
        goto fail;
    }
    auth__session_respond(ctx, req, resp, 200, &s, role, user);
    goto out;
fail:
    auth__rollback(c);
    auth__internal_error(resp, req);
out:
    PQclear(r);
    json_decref(body);
}

/* Origin and cookie for refresh/logout: 0 with token and csrf, or -1 with
 * a problem in resp. A missing cookie is `*missing = 1` (no problem yet). */
static int cookie_request(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, char *token,
                          const char **csrf, int *missing)
{
    *missing = 0;
    if (!auth__origin_allowed(ctx->cfg, req)) {
        ctl_response_problem(resp, 403, "origin-not-allowed", "Forbidden",
                             "this request must come from the application's own origin", req);
        return -1;
    }
    *csrf = ctl_req_header(req, "x-csrf-token");
    if (!*csrf || !(*csrf)[0]) {
        ctl_response_problem(resp, 403, "csrf", "Forbidden", "the X-CSRF-Token header is missing",
                             req);
        return -1;
    }
    if (!auth__cookie(req, AUTH_COOKIE_REFRESH, token, AUTH_TOKEN_TEXT) || !token[0])
        *missing = 1;
    return 0;
}

static void refresh(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    char token[AUTH_TOKEN_TEXT];
    const char *csrf;
    int missing;
    if (cookie_request(ctx, req, resp, token, &csrf, &missing) != 0)
        return;
    if (missing) {
        ctl_response_problem(resp, 401, "unauthenticated", "Unauthorized",
                             "no refresh token; sign in again", req);
        return;
    }
    PGconn *c = auth__db(ctx, req, resp);
    if (!c)
        return;
    auth_session s;
    int rc = auth__refresh_rotate(c, ctx->cfg, req, token, csrf, &s);
    if (rc < 0) {
        auth__internal_error(resp, req);
        return;
    }
    if (rc == AUTH_REFRESH_CSRF) {
        ctl_response_problem(resp, 403, "csrf", "Forbidden",
                             "the X-CSRF-Token header does not match this session", req);
        return;
    }
    if (rc != AUTH_REFRESH_OK) {
        ctl_response_problem(resp, 401, "unauthenticated", "Unauthorized",
                             rc == AUTH_REFRESH_REUSED
                                 ? "this refresh token was already used; the session was ended"
                                 : "the refresh token is not valid; sign in again",
                             req);
        auth__clear_cookies(resp);
        return;
    }
    json_t *user = auth__load_user_json(c, s.user_id);
    json_t *role = user ? json_object_get(user, "role") : NULL;
    if (!json_is_string(role)) {
        json_decref(user);
        auth__internal_error(resp, req);
        return;
    }
    char r[16];
    snprintf(r, sizeof r, "%s", json_string_value(role));
    auth__session_respond(ctx, req, resp, 200, &s, r, user);
}

static void logout(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    char token[AUTH_TOKEN_TEXT];
    const char *csrf;
    int missing;
    if (cookie_request(ctx, req, resp, token, &csrf, &missing) != 0)
        return;
    if (!missing) {
        PGconn *c = auth__db(ctx, req, resp);
        if (!c)
            return;
        long long uid;
        int rc = auth__refresh_logout(c, req, token, csrf, &uid);
        if (rc < 0) {
            auth__internal_error(resp, req);
            return;
        }
        if (rc == AUTH_REFRESH_CSRF) {
            ctl_response_problem(resp, 403, "csrf", "Forbidden",
                                 "the X-CSRF-Token header does not match this session", req);
            return;
        }
    }
    resp->status = 204;
    auth__clear_cookies(resp);
}

static void logout_all(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    PGconn *c = auth__db(ctx, req, resp);
    if (!c)
        return;
    if (auth__begin(c) != 0 ||
        auth__refresh_revoke_user(c, req, req->who.user_id, "logout_all") < 0 ||
        auth__commit(c) != 0) {
        auth__rollback(c);
        auth__internal_error(resp, req);
        return;
    }
    resp->status = 204;
    auth__clear_cookies(resp);
}

static void change_password(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    static const ctl_json_field fields[] = {
        {"current_password", CTL_JSON_STRING, CTL_JSON_REQUIRED, 1, AUTH_PASSWORD_MAX, NULL},
        {"new_password", CTL_JSON_STRING, CTL_JSON_REQUIRED, AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX,
         NULL},
    };
    json_t *body = NULL;
    PGresult *r = NULL;
    PGconn *c = NULL;
    char uid[24], hash[AUTH_HASH_MAX];
    if (ctl_json_body(req, fields, CTL_JSON_NFIELDS(fields), &body, resp) != 0)
        return;
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    if (auth__limit(ctx, req, resp, "login-account", req->who.email, LOGIN_PER_ACCOUNT_MINUTE))
        goto out;
    if (!(c = auth__db(ctx, req, resp)))
        goto out;
    const char *p[] = {uid, NULL};
    r = auth__exec(c, "SELECT password_hash FROM users WHERE id = $1::bigint", 1, p,
                   PGRES_TUPLES_OK);
    if (!r)
        goto fail;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        ctl_response_problem(resp, 409, "no-password", "No Password",
                             "this account signs in with Google and has no password", req);
        goto out;
    }
    if (!auth__password_check(ctx->cfg, PQgetvalue(r, 0, 0),
                              ctl_json_str(body, "current_password"))) {
        int retry = 0;
        if (ctl_ratelimit_fail(ctx, "login-account", req->who.email, LOGIN_FAILS_ACCOUNT,
                               LOGIN_BAN_S, LOGIN_BAN_S, &retry) == CTL_RL_LIMITED)
            ctl_ratelimit_problem(resp, req, retry);
        else
            ctl_json_field_problem(resp, req, "current_password", "is not the current password");
        goto out;
    }
    PQclear(r);
    r = NULL;
    if (auth__password_hash(ctx->cfg, ctl_json_str(body, "new_password"), hash, sizeof hash) != 0)
        goto fail;
    p[1] = hash;
    auth_session s;
    char role[16];
    snprintf(role, sizeof role, "%s", req->who.role);
    if (auth__begin(c) != 0)
        goto fail;
    r = auth__exec(c,
                   "UPDATE users SET password_hash = $2, updated_at = now() "
                   "WHERE id = $1::bigint",
                   2, p, PGRES_COMMAND_OK);
    if (!r || auth__refresh_revoke_user(c, req, req->who.user_id, "password_change") < 0 ||
        auth__audit(c, req, 0, NULL, "user.password_changed", req->who.user_id, NULL) != 0 ||
        auth__family_create(c, ctx->cfg, req->who.user_id, &s) != 0)
        goto fail;
    json_t *user = auth__load_user_json(c, req->who.user_id);
    if (auth__commit(c) != 0) {
        json_decref(user);
        goto fail;
    }
    auth__session_respond(ctx, req, resp, 200, &s, role, user);
    goto out;
fail:
    auth__rollback(c);
    auth__internal_error(resp, req);
out:
    PQclear(r);
    json_decref(body);
}

static void me(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    PGconn *c = auth__db(ctx, req, resp);
    if (!c)
        return;
    json_t *user = auth__load_user_json(c, req->who.user_id);
    if (!user) {
        auth__internal_error(resp, req);
        return;
    }
    ctl_json_respond(resp, 200, user);
    ctl_response_add_header(resp, "Cache-Control", "no-store");
}

const ctl_route ctl_auth_routes[] = {
    {"POST", "/api/v1/auth/login", login, CTL_PERM_PUBLIC,
     "Sign in with email and password: access token + refresh cookie"},
    {"POST", "/api/v1/auth/refresh", refresh, CTL_PERM_PUBLIC,
     "Rotate the refresh cookie and get a new access token (CSRF header)"},
    {"POST", "/api/v1/auth/logout", logout, CTL_PERM_PUBLIC,
     "End this sign-in: revoke the refresh cookie's family (CSRF header)"},
    {"POST", "/api/v1/auth/logout-all", logout_all, CTL_PERM_USER,
     "End every session of the caller"},
    {"POST", "/api/v1/auth/password", change_password, CTL_PERM_USER,
     "Change the password; ends every other session"},
    {"GET", "/api/v1/me", me, CTL_PERM_USER, "The signed-in account"},
};
const size_t ctl_auth_routes_count = sizeof ctl_auth_routes / sizeof ctl_auth_routes[0];
