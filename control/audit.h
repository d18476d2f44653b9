/*
 * The audit log: who did what to which object, from where, as part of
 * which request. Entries are written with ctl_audit_write() in the caller's
 * transaction, so an entry exists if and only if the change it describes
 * committed. The table (audit_log, schema/0003_platform.sql) is
 * append-only: triggers refuse UPDATE, DELETE and TRUNCATE.
 *
 * Actions are dotted, lower-case verbs on a noun: "user.login",
 * "user.role_changed", "booking.cancelled", "contact.message". Details are a
 * small JSON object; never put secrets (passwords, tokens, OTPs) in it.
 *
 * Admins read it with GET /api/v1/admin/audit (audit_routes.c).
 */
#ifndef ML_CONTROL_AUDIT_H
#define ML_CONTROL_AUDIT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "control/api.h"

typedef struct ctl_audit_entry {
    long long actor_user_id; /* 0 = no account (anonymous caller or the system) */
    const char *actor_role;  /* "admin", "mentor", "mentee", "anonymous", "system"; NULL = none */
    const char *action;      /* required: [a-z0-9_.-], at most 64 characters */
    const char *target_type; /* "user", "booking", ...; NULL = none */
    const char *target_id;   /* NULL = none */
    const char *remote_addr; /* NULL = none */
    const char *request_id;  /* NULL = none */
    const json_t *details;   /* an object or NULL ({}) */
} ctl_audit_entry;

/* Fill actor, remote address and request id from a request (the principal
 * when authenticated; "anonymous" otherwise). Other fields are left alone.
 * Pointers refer into req. */
void ctl_audit_from_request(ctl_audit_entry *e, const ctl_request *req);

/* Append an entry in the caller's transaction. 0, or -1 + err (bad action
 * name or database error; the caller rolls back). */
int ctl_audit_write(PGconn *conn, const ctl_audit_entry *e, char *err, size_t errlen);

/* 1 when `action` is a well-formed action name. */
int ctl_audit_action_valid(const char *action);

#endif
