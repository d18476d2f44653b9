/*
 * The job kinds every node knows: one line per kind, naming its handler.
 * Add a line here when a feature brings a new kind of background work
 * (reminders, transcodes, uploads, webhooks); handlers may also be
 * registered at start-up with ctl_jobs_register(). See jobs.h.
 */
#include "control/booking.h"
#include "control/jobs.h"
#include "control/mailer.h"
#include "control/payments.h"

const ctl_job_kind ctl_job_kinds[] = {
    {"email.send", ctl_mailer_job},
    {"booking.reminder", ctl_booking_reminder_job},
    {"booking.expire_holds", ctl_booking_expire_job},
    {"payments.reconcile", ctl_pay_reconcile_job},
    {"payments.refund", ctl_pay_refund_job},
    {"payments.cancel", ctl_pay_cancel_job},
    {"payments.sweep", ctl_pay_sweep_job},
    {"search.refresh_free", ctl_search_refresh_job},
};
const size_t ctl_job_kinds_count = sizeof ctl_job_kinds / sizeof ctl_job_kinds[0];
