/*
 * Caller authentication for protected routes (the dispatcher's hook, see
 * api.h): `Authorization: Bearer <access token>`. The token is verified
 * with the shared keys (auth_jwt.c, auth_keys.c), then the account is read
 * from PostgreSQL on every request (one primary-key lookup), so a disabled
 * account's live tokens stop working at once and a role change applies to
 * the next request; the role in the token is informational only.
 */
#include "control/auth_internal.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int unauthorized(ctl_response *resp, const ctl_request *req, const char *detail,
                        int invalid_token)
{
    ctl_response_problem(resp, 401, "unauthenticated", "Unauthorized", detail, req);
    ctl_response_add_header(resp, "WWW-Authenticate",
                            invalid_token ? "Bearer error=\"invalid_token\"" : "Bearer");
    return -1;
}

static void expectations(const ctl_ctx *ctx, ctl_jwt_expect *ex, char *iss, size_t cap)
{
    auth__public_origin(ctx->cfg, iss, cap);
    ex->iss = iss;
    ex->aud = AUTH_AUDIENCE;
    ex->now = (long long)time(NULL);
    ex->leeway_s = AUTH_LEEWAY_S;
    ex->max_ttl_s = ctx->cfg->access_token_ttl_s;
}

int auth__issue_access(ctl_ctx *ctx, long long user_id, const char *role, char *out, size_t cap)
{
    const ctl_jwt_keyset *ks = auth__keys(ctx, 0);
    char iss[ML_CFG_STR + 16];
    if (!ks)
        return -1;
    auth__public_origin(ctx->cfg, iss, sizeof iss);
    return ctl_jwt_sign(ks, iss, AUTH_AUDIENCE, user_id, role, (long long)time(NULL),
                        ctx->cfg->access_token_ttl_s, out, cap, NULL);
}

/* Load the account behind a verified token: 0 usable, 1 gone/disabled/
 * pending, -1 database failure. */
static int load_account(PGconn *c, long long id, long long iat, ctl_principal *who)
{
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", id);
    const char *p[] = {uid};
    PGresult *r = auth__exec(c,
                             "SELECT role, email, disabled OR status <> 'active', "
                             "       sessions_valid_after FROM users WHERE id = $1::bigint",
                             1, p, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    int rc = 1;
    if (PQntuples(r) == 1 && PQgetvalue(r, 0, 2)[0] == 'f' && iat >= atoll(PQgetvalue(r, 0, 3))) {
        who->authenticated = 1;
        who->user_id = id;
        snprintf(who->role, sizeof who->role, "%s", PQgetvalue(r, 0, 0));
        snprintf(who->email, sizeof who->email, "%s", PQgetvalue(r, 0, 1));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int ctl_auth_authenticate(ctl_ctx *ctx, const ctl_request *req, ctl_principal *who,
                          ctl_response *resp)
{
    memset(who, 0, sizeof *who);
    const char *h = ctl_req_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return unauthorized(resp, req, "sign in to use this resource", 0);
    const char *token = h + 7;
    while (*token == ' ')
        token++;
    PGconn *c = auth__db(ctx, req, resp);
    if (!c)
        return -1;
    const ctl_jwt_keyset *ks = auth__keys(ctx, 0);
    if (!ks) {
        auth__internal_error(resp, req);
        return -1;
    }
    char iss[ML_CFG_STR + 16];
    ctl_jwt_expect ex;
    ctl_jwt_claims claims;
    expectations(ctx, &ex, iss, sizeof iss);
    int rc = ctl_jwt_verify(token, ks, &ex, &claims);
    if (rc == CTL_JWT_UNKNOWN_KID) {
        const ctl_jwt_keyset *fresh = auth__keys(ctx, 1);
        if (fresh)
            rc = ctl_jwt_verify(token, fresh, &ex, &claims);
    }
    if (rc != 0) {
        ML_DEBUG("auth", "access token refused: %s", ctl_jwt_strerror(rc));
        return unauthorized(resp, req, ctl_jwt_strerror(rc), 1);
    }
    int st = load_account(c, claims.sub, claims.iat, who);
    if (st < 0) {
        auth__internal_error(resp, req);
        return -1;
    }
    if (st > 0) {
        memset(who, 0, sizeof *who);
        return unauthorized(resp, req, "this account cannot sign in", 1);
    }
    snprintf(who->session_id, sizeof who->session_id, "%s", claims.jti);
    return 0;
}
