/*
 * Google sign-in: POST /api/v1/auth/google {id_token}. The ID token is an
 * RS256 JWT verified against Google's JWKS (auth_jwks.c, URL from
 * google_jwks_url) and then its claims, as Google documents: iss is one of
 * google_issuers, aud is google_client_id, exp not passed (iat not in the
 * future, nbf if present reached; 30 s leeway), email_verified true.
 *
 * The account: the one already linked to this Google subject; else the
 * one with this email, which gets linked (a pending one is activated, and
 * its never-verified password dropped, so nobody who pre-registered the
 * address can later sign in with it); else a new active mentee. A disabled
 * account is refused, and an account linked to a different Google subject
 * is not re-linked.
 */
#include "control/auth_internal.h"

#include "control/json.h"
#include "control/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct google_id {
    char sub[256];
    char email[256];
    char name[256];
} google_id;

static int issuer_ok(const char *list, const char *iss)
{
    size_t il = strlen(iss);
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n && n == il && !strncmp(p, iss, n))
            return 1;
        p += n;
    }
    return 0;
}

static int aud_ok(json_t *aud, const char *client_id)
{
    if (json_is_string(aud))
        return !strcmp(json_string_value(aud), client_id);
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), client_id))
            return 1;
    }
    return 0;
}

static int refuse(const char **why, const char *reason)
{
    *why = reason;
    return -1;
}

/* 0 and id filled, or -1 with a reason. */
static int check_claims(const ml_config *cfg, json_t *p, google_id *id, const char **why)
{
    long long now = (long long)time(NULL);
    json_t *iss = json_object_get(p, "iss"), *exp = json_object_get(p, "exp");
    json_t *iat = json_object_get(p, "iat"), *nbf = json_object_get(p, "nbf");
    json_t *sub = json_object_get(p, "sub"), *email = json_object_get(p, "email");
    json_t *ev = json_object_get(p, "email_verified"), *name = json_object_get(p, "name");
    *why = "the Google ID token is not valid";
    if (!json_is_string(iss) || !issuer_ok(cfg->google_issuers, json_string_value(iss)))
        return refuse(why, "the Google ID token has the wrong issuer");
    if (!aud_ok(json_object_get(p, "aud"), cfg->google_client_id))
        return refuse(why, "the Google ID token is for another application");
    if (!json_is_integer(exp) || json_integer_value(exp) <= now - AUTH_LEEWAY_S)
        return refuse(why, "the Google ID token has expired");
    if ((iat && (!json_is_integer(iat) || json_integer_value(iat) > now + AUTH_LEEWAY_S)) ||
        (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now + AUTH_LEEWAY_S)))
        return refuse(why, "the Google ID token is not valid yet");
    if (!(json_is_true(ev) ||
          (json_is_string(ev) && !strcmp(json_string_value(ev), "true"))))
        return refuse(why, "the Google account's email address is not verified");
    if (!json_is_string(sub) || json_string_length(sub) == 0 ||
        json_string_length(sub) >= sizeof id->sub || !json_is_string(email) ||
        json_string_length(email) >= sizeof id->email ||
        !ctl_json_is_email(json_string_value(email)))
        return -1;
    snprintf(id->sub, sizeof id->sub, "%s", json_string_value(sub));
    snprintf(id->email, sizeof id->email, "%s", json_string_value(email));
    id->name[0] = '\0';
    if (json_is_string(name) && json_string_length(name) < 200 &&
        ctl_utf8_length(json_string_value(name), json_string_length(name)) <= 100)
        snprintf(id->name, sizeof id->name, "%s", json_string_value(name));
    return 0;
}

/* Find, link or create the account (in the caller's transaction):
 * 0 with *uid and role, 1 disabled, 2 linked to another subject, -1. */
static int resolve_account(ctl_ctx *ctx, PGconn *c, const ctl_request *req, const google_id *g,
                           long long *uid, char *role, size_t role_cap)
{
    const char *p[] = {g->sub, g->email, g->name};
    PGresult *r = auth__exec(c,
                             "SELECT id, role, disabled, google_sub, status FROM users "
                             "WHERE google_sub = $1 OR email = $2 "
                             "ORDER BY (google_sub = $1) DESC NULLS LAST LIMIT 1 FOR UPDATE",
                             2, p, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    if (PQntuples(r) == 1) {
        *uid = atoll(PQgetvalue(r, 0, 0));
        snprintf(role, role_cap, "%s", PQgetvalue(r, 0, 1));
        int disabled = PQgetvalue(r, 0, 2)[0] == 't';
        int linked = !PQgetisnull(r, 0, 3);
        int other = linked && strcmp(PQgetvalue(r, 0, 3), g->sub) != 0;
        int pending = !strcmp(PQgetvalue(r, 0, 4), "pending");
        PQclear(r);
        if (disabled)
            return 1;
        if (other)
            return 2;
        if (linked)
            return 0;
        char id[24];
        snprintf(id, sizeof id, "%lld", *uid);
        const char *q[] = {id, g->sub};
        r = auth__exec(c,
                       pending ? "UPDATE users SET google_sub = $2, status = 'active', "
                                 "password_hash = NULL, updated_at = now() WHERE id = $1::bigint"
                               : "UPDATE users SET google_sub = $2, updated_at = now() "
                                 "WHERE id = $1::bigint",
                       2, q, PGRES_COMMAND_OK);
        if (!r)
            return -1;
        PQclear(r);
        return auth__audit(c, req, *uid, role, "user.google_linked", *uid,
                           json_pack("{s:b}", "activated", pending));
    }
    PQclear(r);
    r = auth__exec(c,
                   "INSERT INTO users (email, name, status, google_sub) "
                   "VALUES ($2, $3, 'active', $1) RETURNING id, role",
                   3, p, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    *uid = atoll(PQgetvalue(r, 0, 0));
    snprintf(role, role_cap, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    (void)ctx;
    return auth__audit(c, req, *uid, role, "user.created", *uid,
                       json_pack("{s:s}", "method", "google"));
}

static void google_signin(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    static const ctl_json_field fields[] = {
        {"id_token", CTL_JSON_STRING, CTL_JSON_REQUIRED | CTL_JSON_TRIM, 16, CTL_JWT_MAX_TOKEN,
         NULL},
    };
    json_t *body = NULL;
    ctl_jose j = {0};
    PGconn *c = NULL;
    if (!ctx->cfg->google_client_id[0]) {
        ctl_response_problem(resp, 404, "not-found", "Not Found",
                             "Google sign-in is not enabled on this server", req);
        return;
    }
    if (ctl_json_body(req, fields, CTL_JSON_NFIELDS(fields), &body, resp) != 0)
        return;
    if (auth__limit(ctx, req, resp, "google-ip", req->remote_addr,
                    ctx->cfg->auth_ip_rate_per_minute) != 0)
        goto out;
    const char *token = ctl_json_str(body, "id_token");
    const char *why = "the Google ID token is malformed";
    google_id g;
    if (ctl_jose_parse(token, &j) != 0)
        goto invalid;
    int v = auth__jwks_verify(ctx->cfg->google_jwks_url, &j, token);
    if (v == AUTH_JWKS_UNAVAILABLE) {
        ctl_response_problem(resp, 503, "unavailable", "Service Unavailable",
                             "Google's signing keys cannot be fetched; try again later", req);
        ctl_response_add_header(resp, "Retry-After", "60");
        goto out;
    }
    if (v != AUTH_JWKS_OK) {
        why = v == AUTH_JWKS_UNKNOWN_KID ? "the Google ID token is signed by an unknown key"
                                         : "the Google ID token signature is not valid";
        goto invalid;
    }
    if (check_claims(ctx->cfg, j.payload, &g, &why) != 0)
        goto invalid;
    if (!(c = auth__db(ctx, req, resp)))
        goto out;
    long long uid = 0;
    char role[16] = "mentee";
    auth_session s;
    if (auth__begin(c) != 0)
        goto fail;
    int rc = resolve_account(ctx, c, req, &g, &uid, role, sizeof role);
    if (rc < 0)
        goto fail;
    if (rc > 0) {
        auth__rollback(c);
        if (rc == 1)
            ctl_response_problem(resp, 403, "account-disabled", "Account Disabled",
                                 "this account has been disabled", req);
        else
            ctl_response_problem(resp, 409, "google-mismatch", "Conflict",
                                 "this email is linked to a different Google account", req);
        goto out;
    }
    if (auth__session_begin(ctx, c, req, uid, g.email, role, sizeof role, "google", &s) != 0)
        goto fail;
    json_t *user = auth__load_user_json(c, uid);
    if (auth__commit(c) != 0) {
        json_decref(user);
        goto fail;
    }
    auth__session_respond(ctx, req, resp, 200, &s, role, user);
    goto out;
invalid:
    ctl_response_problem(resp, 401, "invalid-google-token", "Unauthorized", why, req);
    goto out;
fail:
    auth__rollback(c);
    auth__internal_error(resp, req);
out:
    ctl_jose_free(&j);
    json_decref(body);
}

const ctl_route ctl_auth_google_routes[] = {
    {"POST", "/api/v1/auth/google", google_signin, CTL_PERM_PUBLIC,
     "Sign in with a Google ID token (verified against the configured JWKS)"},
};
const size_t ctl_auth_google_routes_count =
    sizeof ctl_auth_google_routes / sizeof ctl_auth_google_routes[0];
