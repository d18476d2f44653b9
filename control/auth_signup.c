/*
 * Sign-up with an email code: register (account `pending`, code emailed),
 * verify (account `active`, signed in), resend. Answers never say whether
 * an address is already registered: registering a taken address answers
 * exactly like a new one (202) and instead emails the owner a notice;
 * resend answers 202 for any address; a wrong, expired or missing code and
 * an unknown address all get the same 400.
 *
 * Limits (Redis, fail closed): per client IP per minute
 * (auth_ip_rate_per_minute), at most 3 codes sent and 3 verification
 * attempts per address per minute, and a 15-minute ban of the address
 * after 10 wrong codes. Each code also allows AUTH_OTP_MAX_ATTEMPTS tries.
 */
#include "control/auth_internal.h"

#include "control/json.h"
#include "control/outbox.h"
#include "control/ratelimit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OTP_PER_MINUTE 3
#define OTP_FAILS_BEFORE_BAN 10
#define OTP_BAN_S 900

static void accepted(ctl_response *resp)
{
    json_t *o = json_pack("{s:s, s:s}", "status", "verification_required", "detail",
                          "if the address can receive a code, one is on its way");
    ctl_json_respond(resp, 202, o);
}

/* The address is taken by an active account: tell its owner, not the caller. */
static int notify_owner(PGconn *c, const char *email, long long user_id)
{
    ctl_email m = {.to = email,
                   .subject = "Someone tried to sign up with your address",
                   .text = "Hello,\n\nSomeone tried to create a MentorLink account with this "
                           "address, which already has one. If it was you, sign in instead. "
                           "If not, you can ignore this email.\n",
                   .tag = "signup.duplicate",
                   .user_id = user_id};
    char err[256];
    return ctl_outbox_email(c, &m, err, sizeof err);
}

static void register_account(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    static const ctl_json_field fields[] = {
        {"email", CTL_JSON_EMAIL, CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_LOWER, 3, 254, NULL},
        {"password", CTL_JSON_STRING, CTL_JSON_REQUIRED, AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX, NULL},
        {"name", CTL_JSON_STRING, CTL_JSON_REQUIRED | CTL_JSON_TRIM, 1, 100, NULL},
    };
    json_t *body = NULL;
    PGresult *r = NULL;
    PGconn *c = NULL;
    if (ctl_json_body(req, fields, CTL_JSON_NFIELDS(fields), &body, resp) != 0)
        return;
    const char *email = ctl_json_str(body, "email"), *name = ctl_json_str(body, "name");
    if (auth__limit(ctx, req, resp, "signup-ip", req->remote_addr, ctx->cfg->auth_ip_rate_per_minute) ||
        auth__limit(ctx, req, resp, "otp-send", email, OTP_PER_MINUTE))
        goto out;
    char hash[AUTH_HASH_MAX];
    if (auth__password_hash(ctx->cfg, ctl_json_str(body, "password"), hash, sizeof hash) != 0) {
        auth__internal_error(resp, req);
        goto out;
    }
    if (!(c = auth__db(ctx, req, resp)))
        goto out;
    if (auth__begin(c) != 0)
        goto fail;
    const char *p[] = {email, name, hash};
    /* A new address, or a pending one (the latest registration's password
     * and name win; only the mailbox owner can use the new code). */
    r = auth__exec(c,
                   "INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) "
                   "ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name, "
                   "  password_hash = EXCLUDED.password_hash, updated_at = now() "
                   "  WHERE users.status = 'pending' AND NOT users.disabled "
                   "RETURNING id",
                   3, p, PGRES_TUPLES_OK);
    if (!r)
        goto fail;
    if (PQntuples(r) == 1) {
        if (auth__otp_issue(c, ctx->cfg, atoll(PQgetvalue(r, 0, 0)), email, name) != 0)
            goto fail;
    } else {
        PQclear(r);
        const char *q[] = {email};
        r = auth__exec(c, "SELECT id FROM users WHERE email = $1 AND NOT disabled", 1, q,
                       PGRES_TUPLES_OK);
        if (!r)
            goto fail;
        if (PQntuples(r) == 1 && notify_owner(c, email, atoll(PQgetvalue(r, 0, 0))) != 0)
            goto fail;
    }
    PQclear(r);
    r = NULL;
    if (auth__commit(c) != 0)
        goto fail;
    accepted(resp);
    goto out;
fail:
    auth__rollback(c);
    auth__internal_error(resp, req);
out:
    PQclear(r);
    json_decref(body);
}

static void resend(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    static const ctl_json_field fields[] = {
        {"email", CTL_JSON_EMAIL, CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_LOWER, 3, 254, NULL},
    };
    json_t *body = NULL;
    PGresult *r = NULL;
    PGconn *c = NULL;
    if (ctl_json_body(req, fields, CTL_JSON_NFIELDS(fields), &body, resp) != 0)
        return;
    const char *email = ctl_json_str(body, "email");
    if (auth__limit(ctx, req, resp, "signup-ip", req->remote_addr, ctx->cfg->auth_ip_rate_per_minute) ||
        auth__limit(ctx, req, resp, "otp-send", email, OTP_PER_MINUTE))
        goto out;
    if (!(c = auth__db(ctx, req, resp)))
        goto out;
    if (auth__begin(c) != 0)
        goto fail;
    const char *p[] = {email};
    r = auth__exec(c,
                   "SELECT id, name FROM users WHERE email = $1 AND status = 'pending' "
                   "AND NOT disabled FOR UPDATE",
                   1, p, PGRES_TUPLES_OK);
    if (!r)
        goto fail;
    if (PQntuples(r) == 1 &&
        auth__otp_issue(c, ctx->cfg, atoll(PQgetvalue(r, 0, 0)), email, PQgetvalue(r, 0, 1)) != 0)
        goto fail;
    if (auth__commit(c) != 0)
        goto fail;
    accepted(resp);
    goto out;
fail:
    auth__rollback(c);
    auth__internal_error(resp, req);
out:
    PQclear(r);
    json_decref(body);
}

static int six_digits(const char *s)
{
    if (strlen(s) != 6)
        return 0;
    for (int i = 0; i < 6; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static void bad_code(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, const char *email)
{
    int retry = 0;
    if (ctl_ratelimit_fail(ctx, "otp-verify", email, OTP_FAILS_BEFORE_BAN, OTP_BAN_S, OTP_BAN_S,
                           &retry) == CTL_RL_LIMITED) {
        ctl_ratelimit_problem(resp, req, retry);
        return;
    }
    ctl_response_problem(resp, 400, "invalid-code", "Invalid Code",
                         "the code is wrong or has expired; ask for a new one", req);
}

static void verify(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    static const ctl_json_field fields[] = {
        {"email", CTL_JSON_EMAIL, CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_LOWER, 3, 254, NULL},
        {"code", CTL_JSON_STRING, CTL_JSON_REQUIRED | CTL_JSON_TRIM, 6, 6, NULL},
    };
    json_t *body = NULL;
    PGresult *r = NULL;
    PGconn *c = NULL;
    if (ctl_json_body(req, fields, CTL_JSON_NFIELDS(fields), &body, resp) != 0)
        return;
    const char *email = ctl_json_str(body, "email"), *code = ctl_json_str(body, "code");
    if (!six_digits(code)) {
        ctl_json_field_problem(resp, req, "code", "must be 6 digits");
        goto out;
    }
    if (auth__limit(ctx, req, resp, "verify-ip", req->remote_addr, ctx->cfg->auth_ip_rate_per_minute) ||
        auth__limit(ctx, req, resp, "otp-verify", email, OTP_PER_MINUTE))
        goto out;
    if (!(c = auth__db(ctx, req, resp)))
        goto out;
    if (auth__begin(c) != 0)
        goto fail;
    const char *p[] = {email};
    r = auth__exec(c,
                   "SELECT id, role FROM users WHERE email = $1 AND status = 'pending' "
                   "AND NOT disabled FOR UPDATE",
                   1, p, PGRES_TUPLES_OK);
    if (!r)
        goto fail;
    int rc = PQntuples(r) == 1 ? auth__otp_check(c, atoll(PQgetvalue(r, 0, 0)), code) : 2;
    if (rc < 0)
        goto fail;
    if (rc > 0) {
        if (auth__commit(c) != 0) /* keep the counted attempt */
            goto fail;
        bad_code(ctx, req, resp, email);
        goto out;
    }
    long long id = atoll(PQgetvalue(r, 0, 0));
    char role[16];
    snprintf(role, sizeof role, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    r = auth__exec(c, "UPDATE users SET status = 'active', updated_at = now() WHERE email = $1",
                   1, p, PGRES_COMMAND_OK);
    if (!r)
        goto fail;
    auth_session s;
    if (auth__audit(c, req, id, role, "user.verified", id, NULL) != 0 ||
        auth__session_begin(ctx, c, req, id, email, role, sizeof role, "email_code", &s) != 0)
        goto fail;
    json_t *user = auth__load_user_json(c, id);
    if (auth__commit(c) != 0) {
        json_decref(user);
        goto fail;
    }
    ctl_ratelimit_reset(ctx, "otp-verify", email, 0);
    auth__session_respond(ctx, req, resp, 200, &s, role, user);
    goto out;
fail:
    auth__rollback(c);
    auth__internal_error(resp, req);
out:
    PQclear(r);
    json_decref(body);
}

const ctl_route ctl_auth_signup_routes[] = {
    {"POST", "/api/v1/auth/register", register_account, CTL_PERM_PUBLIC,
     "Create a pending account and email a verification code"},
    {"POST", "/api/v1/auth/verify", verify, CTL_PERM_PUBLIC,
     "Activate a pending account with its emailed code and sign in"},
    {"POST", "/api/v1/auth/resend", resend, CTL_PERM_PUBLIC,
     "Email a new verification code to a pending account"},
};
const size_t ctl_auth_signup_routes_count =
    sizeof ctl_auth_signup_routes / sizeof ctl_auth_signup_routes[0];
