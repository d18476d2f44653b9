/*
 * Writing audit entries; see audit.h. One parameterised INSERT on the
 * caller's connection, so it commits or rolls back with the caller's
 * change. The schema enforces the rest: the action pattern, details being
 * an object, and append-only triggers.
 */
#include "control/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_audit_action_valid(const char *action)
{
    size_t n = action ? strlen(action) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = action[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (i > 0 && (c == '_' || c == '.' || c == '-'));
        if (!ok)
            return 0;
    }
    return 1;
}

void ctl_audit_from_request(ctl_audit_entry *e, const ctl_request *req)
{
    if (req->who.authenticated) {
        e->actor_user_id = req->who.user_id;
        e->actor_role = req->who.role[0] ? req->who.role : NULL;
    } else {
        e->actor_user_id = 0;
        e->actor_role = "anonymous";
    }
    e->remote_addr = req->remote_addr[0] ? req->remote_addr : NULL;
    e->request_id = req->request_id[0] ? req->request_id : NULL;
}

int ctl_audit_write(PGconn *conn, const ctl_audit_entry *e, char *err, size_t errlen)
{
    char *details = NULL, actor[32];
    PGresult *r = NULL;
    int rc = -1;
    if (!ctl_audit_action_valid(e->action)) {
        snprintf(err, errlen, "audit: invalid action name");
        goto fail;
    }
    if (e->details && !json_is_object(e->details)) {
        snprintf(err, errlen, "audit: details must be a JSON object");
        goto fail;
    }
    details = e->details ? json_dumps(e->details, JSON_COMPACT) : strdup("{}");
    if (!details) {
        snprintf(err, errlen, "audit: out of memory");
        goto fail;
    }
    snprintf(actor, sizeof actor, "%lld", e->actor_user_id);
    const char *p[8] = {e->actor_user_id > 0 ? actor : NULL,
                        e->actor_role,
                        e->action,
                        e->target_type,
                        e->target_id,
                        e->remote_addr,
                        e->request_id,
                        details};
    r = PQexecParams(conn,
                     "INSERT INTO audit_log (actor_user_id, actor_role, action, target_type, "
                     "target_id, remote_addr, request_id, details) "
                     "VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8::jsonb)",
                     8, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "audit: %s", PQresultErrorMessage(r));
        for (char *q = err; *q; q++)
            if (*q == '\n')
                *q = ' ';
        goto fail;
    }
    rc = 0;
fail:
    PQclear(r);
    free(details);
    return rc;
}
