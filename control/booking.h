/*
 * Booking: the public entry points other parts of the control plane use.
 * Routes are in mentor_routes.c, availability_routes.c, booking_routes.c
 * and session_routes.c; the rules that keep seats safe are in
 * schema/0005_booking.sql; see docs/booking.md.
 */
#ifndef ML_CONTROL_BOOKING_H
#define ML_CONTROL_BOOKING_H

#include <libpq-fe.h>
#include <stddef.h>

#include "control/jobs.h"

/* Confirm on payment: turn a held booking into a confirmed one, inside the
 * caller's transaction (payments call it when a charge succeeded, in the
 * same transaction as their ledger entry), and queue the confirmation
 * email (.ics) and reminders. Already confirmed: 0, nothing done again.
 * Returns 0, -1 + err (database error), or 1 + err when the hold expired
 * or the booking does not exist (refund the charge). */
int ctl_booking_confirm_on_payment(PGconn *c, long long booking_id, char *err, size_t errlen);

/* Job kinds (control/job_kinds.c). */
/* booking.reminder {booking_id, kind: "24h"|"30m"}: email + in-app notice. */
int ctl_booking_reminder_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen);
/* booking.expire_holds {}: release holds whose checkout time passed. */
int ctl_booking_expire_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen);
/* search.refresh_free {}: recompute every mentor's free days for the search
 * (daily; queues its next run). control/search_refresh.c */
int ctl_search_refresh_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen);

#endif
