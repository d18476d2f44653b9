/*
 * POST /api/v1/contact: the public "contact us" form. Anyone may write to
 * the platform's support address (support_email, else the smtp_from
 * address); the message is queued in the email outbox with the sender as
 * Reply-To, and an audit entry records it, both in one transaction.
 *
 * Because it is public and sends email, it is guarded in Redis, per client
 * address, fail-closed (Redis down -> 503): at most contact_limit messages
 * per contact_window_s, and contact_max_failures rejected submissions
 * (malformed or invalid bodies, typical of bots) within the window ban the
 * address for contact_ban_s.
 */
#include "control/api.h"
#include "control/audit.h"
#include "control/json.h"
#include "control/mailer.h"
#include "control/outbox.h"
#include "control/ratelimit.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ctl_json_field contact_fields[] = {
    {"name", CTL_JSON_STRING, CTL_JSON_REQUIRED | CTL_JSON_TRIM, 1, 100, NULL},
    {"email", CTL_JSON_EMAIL, CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_LOWER, 3, 254, NULL},
    {"subject", CTL_JSON_STRING, CTL_JSON_REQUIRED | CTL_JSON_TRIM, 1, 150, NULL},
    {"message", CTL_JSON_STRING, CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_MULTILINE, 1, 5000,
     NULL},
};

static void db_problem(ctl_response *resp, const ctl_request *req)
{
    ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                         "your message could not be stored; try again shortly", req);
}

/* Queue the email and the audit entry in one transaction. 0 or -1. */
static int store(ctl_ctx *ctx, const ctl_request *req, const json_t *body, char *err,
                 size_t errlen)
{
    const char *name = ctl_json_str(body, "name"), *email = ctl_json_str(body, "email");
    const char *subject = ctl_json_str(body, "subject"), *message = ctl_json_str(body, "message");
    char from_name[ML_CFG_STR], from_addr[ML_CFG_STR], subj[200];
    const char *to = ctx->cfg->support_email;
    if (!to[0]) {
        if (ctl_mail_parse_from(ctx->cfg->smtp_from, from_name, sizeof from_name, from_addr,
                                sizeof from_addr) != 0) {
            snprintf(err, errlen, "no support address: smtp_from is invalid");
            return -1;
        }
        to = from_addr;
    }
    size_t tl = strlen(message) + strlen(name) + strlen(email) + 256;
    char *text = malloc(tl);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(text, tl, "Contact form message\nFrom: %s <%s>\nClient address: %s\n\n%s\n", name,
             email, req->remote_addr, message);
    snprintf(subj, sizeof subj, "[Contact] %s", subject);
    ctl_email m = {.to = to, .reply_to = email, .subject = subj, .text = text, .tag = "contact"};
    long long email_id = 0;
    PGconn *c = ctx->db.conn;
    PGresult *r = PQexec(c, "BEGIN");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(r);
    if (rc != 0) {
        snprintf(err, errlen, "cannot begin a transaction");
        free(text);
        return -1;
    }
    rc = ctl_outbox_email_id(c, &m, &email_id, err, errlen);
    if (rc == 0) {
        json_t *details = json_pack("{s:I, s:s}", "email_id", (json_int_t)email_id, "reply_to",
                                    email);
        ctl_audit_entry e = {.action = "contact.message", .target_type = "email",
                             .details = details};
        char tid[32];
        snprintf(tid, sizeof tid, "%lld", email_id);
        e.target_id = tid;
        ctl_audit_from_request(&e, req);
        rc = ctl_audit_write(c, &e, err, errlen);
        json_decref(details);
    }
    r = PQexec(c, rc == 0 ? "COMMIT" : "ROLLBACK");
    if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "commit failed: %s", PQresultErrorMessage(r));
        rc = -1;
    }
    PQclear(r);
    free(text);
    return rc;
}

static void post_contact(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    const ml_config *cfg = ctx->cfg;
    const char *ip = req->remote_addr[0] ? req->remote_addr : "unknown";
    ctl_rate_policy ban_only = {"contact", 0, cfg->contact_window_s, 1};
    if (ctl_ratelimit_check(ctx, &ban_only, ip, req, resp) != 0)
        return;
    json_t *body = NULL;
    if (ctl_json_body(req, contact_fields, CTL_JSON_NFIELDS(contact_fields), &body, resp) != 0) {
        int ra; /* count the rejected submission; a ban starts with the next request */
        ctl_ratelimit_fail(ctx, "contact", ip, cfg->contact_max_failures, cfg->contact_window_s,
                           cfg->contact_ban_s, &ra);
        return;
    }
    ctl_rate_policy limit = {"contact", cfg->contact_limit, cfg->contact_window_s, 1};
    char err[512];
    if (ctl_ratelimit_check(ctx, &limit, ip, req, resp) != 0)
        goto done;
    if (ctl_db_ensure(&ctx->db, err, sizeof err) != 0 || store(ctx, req, body, err, sizeof err) != 0) {
        ML_WARN("contact", "message not stored: %s", err);
        db_problem(resp, req);
        goto done;
    }
    ctl_response_json(resp, 202, "{\"status\":\"queued\"}");
done:
    json_decref(body);
}

const ctl_route ctl_contact_routes[] = {
    {"POST", "/api/v1/contact", post_contact, CTL_PERM_PUBLIC,
     "Send a message to the platform's support address"},
};
const size_t ctl_contact_routes_count = sizeof ctl_contact_routes / sizeof ctl_contact_routes[0];
