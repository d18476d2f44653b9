/*
 * Payments: the public entry points other parts of the daemon use. Routes
 * are in pay_routes.c and pay_webhook.c, provider calls in pay_stripe.c
 * (interface pay_provider.h), the ledger and every money rule in
 * schema/0006_payments.sql; see docs/payments.md.
 */
#ifndef ML_CONTROL_PAYMENTS_H
#define ML_CONTROL_PAYMENTS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "control/api.h"
#include "control/jobs.h"

/* After bookings were cancelled (in the cancel's transaction): refund
 * each succeeded payment whose booking got refund = 'full' — credits at
 * once, cards through a payments.refund job — exactly once, with an audit
 * entry. ids: PostgreSQL array text "{1,2}". 0 or -1 + err. */
int ctl_pay_on_bookings_cancelled(PGconn *c, const ctl_request *req, const char *ids, char *err,
                                  size_t errlen);

/* Start-up: provider settings from the configuration (or the embedded
 * mlfakepay, started by ctl_pay_embedded_start), the periodic sweep job
 * queued. 0 or -1 + err. */
int ctl_pay_init(const ml_config *cfg, const char *database_url, char *err, size_t errlen);

/* Job kinds (control/job_kinds.c). */
/* payments.reconcile {payment_id}: ask the provider about a payment we
 * have no final word on (re-sends the create with the same key when the
 * first attempt got no answer). */
int ctl_pay_reconcile_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen);
/* payments.refund {refund_id}: create (or look up) the refund at the provider. */
int ctl_pay_refund_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen);
/* payments.cancel {payment_id}: cancel the open intent of a payment whose
 * booking was cancelled or expired (a success meanwhile is applied and
 * refunded instead). */
int ctl_pay_cancel_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen);
/* payments.sweep {}: expire idempotency keys, reconcile stale payments,
 * cancel intents of released holds; queues itself again in an hour. */
int ctl_pay_sweep_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen);

/* The embedded provider (pay_embedded.c): with no payments_provider_url,
 * run mlfakepay on 127.0.0.1 (own port, generated keys in
 * data_dir/fakepay, state file there, webhooks to our own listen port),
 * restart it if it dies, stop it on exit. NULL with a warning in err when
 * the binary is missing (payments then answer 503); the daemon runs on. */
typedef struct ctl_pay_embedded ctl_pay_embedded;
ctl_pay_embedded *ctl_pay_embedded_start(const ml_config *cfg, char *err, size_t errlen);
void ctl_pay_embedded_stop(ctl_pay_embedded *e);

#endif
