/*
 * Shared by the booking route families (mentor_routes.c,
 * availability_routes.c, booking_routes.c, session_routes.c) and the
 * booking jobs: calling the SQL entry points of schema/0005_booking.sql and
 * turning their errors into problem documents.
 */
#ifndef ML_CONTROL_BOOKING_INTERNAL_H
#define ML_CONTROL_BOOKING_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>

#include "control/api.h"

/* Answer a failed statement: SQLSTATE MBnnn -> status nnn with the
 * message as detail; exclusion/unique violations -> 409; check violations
 * and data exceptions (class 22) -> 422; anything else -> 503
 * (ctl_db_problem: lock and statement timeouts with Retry-After). */
void ctl_bk__sql_problem(const PGresult *r, const ctl_request *req, ctl_response *resp);
/* 1 when the failed statement r was refused for a business reason (the
 * 4xx cases of ctl_bk__sql_problem), 0 for a database fault (deadlock,
 * timeout, connection...) that a transaction runner handles (db_tx.h). */
int ctl_bk__refused(const PGresult *r);

/* Run a statement returning one text cell (a jsonb answer) and send it
 * with `status`. A NULL cell answers 404. Opens the connection first. */
void ctl_bk__respond(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, int status,
                     const char *sql, int n, const char *const *params);

/* BEGIN / COMMIT / ROLLBACK on the thread's connection. 0 or -1. */
int ctl_bk__tx(PGconn *c, const char *what);

/* The numeric path parameter `name` (> 0), or 0 with a 404 in resp. */
long long ctl_bk__id_param(const ctl_request *req, ctl_response *resp, const char *name);

/* Ensure the connection; 0, or -1 with a 503 in resp. */
int ctl_bk__db(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp);

/* Per-user rate limit of the booking routes (per client address when
 * signed out): CTL_BK_WRITE counts against booking_write_limit and fails
 * closed when Redis is down (changes hold seats), CTL_BK_READ against
 * booking_read_limit and fails open. 0: go on; -1: resp holds a 429 with
 * Retry-After (or 503). */
#define CTL_BK_READ 0
#define CTL_BK_WRITE 1
int ctl_bk__limit(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, int kind);

/* After a booking became confirmed (in the caller's transaction): email the
 * mentee with an .ics invitation, add an in-app notification, schedule the
 * 24 h and 30 min reminders. 0 or -1 + err. */
int ctl_bk__on_confirmed(PGconn *c, long long booking_id, char *err, size_t errlen);
/* After bookings were cancelled: drop their queued reminders. */
int ctl_bk__on_cancelled(PGconn *c, long long booking_id, char *err, size_t errlen);

/* Build an RFC 5545 VCALENDAR (METHOD:REQUEST) for one booking (jsonb of
 * booking_json). malloc'd string or NULL. */
char *ctl_bk__ics(const json_t *booking, const char *method);

#endif
