/*
 * Shared by the payment files (pay_core.c, pay_routes.c, pay_webhook.c,
 * pay_jobs.c): applying what the provider says in our database, and the
 * follow-up jobs. Everything money-related is decided by the SQL functions
 * of schema/0006_payments.sql; these helpers call them and do what SQL
 * cannot (confirm the booking with its emails, enqueue jobs, audit).
 */
#ifndef ML_CONTROL_PAY_INTERNAL_H
#define ML_CONTROL_PAY_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>

#include "control/api.h"
#include "control/pay_provider.h"

/* Our payment status for what the provider reports: a declined intent
 * (requires_payment_method with a last_payment_error) is "failed". The
 * webhook passes the event's own verdict in `forced` (NULL = derive). */
const char *ctl_pay__status_of(const ctl_pay_intent *pi, const char *forced);

/* Apply an intent to payment `payment_id` (0: find it by the intent's id or
 * metadata) inside the caller's open transaction: state forward only,
 * ledger once, booking confirmed on success (or refunded automatically
 * when the hold is gone), hold released on failure. *out (may be NULL)
 * gets the SQL answer (a new reference; JSON null when the payment is
 * unknown). 0, or -1 + err (roll back). */
int ctl_pay__apply_intent(PGconn *c, long long payment_id, const ctl_pay_intent *pi,
                          const char *status, json_t **out, char *err, size_t errlen);

/* Apply a refund's provider state (in the caller's transaction). */
int ctl_pay__apply_refund(PGconn *c, long long refund_id, const ctl_pay_refund *re, char *err,
                          size_t errlen);

/* Enqueue job `kind` with payload {field: id} (12 attempts, deduplicated
 * on dedupe_key) in the caller's transaction. 0, or -1 + err. */
int ctl_pay__enqueue(PGconn *c, const char *kind, const char *field, long long id,
                     const char *dedupe_key, long long delay_ms, char *err, size_t errlen);

/* Enqueue follow-ups in the caller's transaction. */
int ctl_pay__enqueue_reconcile(PGconn *c, long long payment_id, long long delay_ms, char *err,
                               size_t errlen);
int ctl_pay__enqueue_refund(PGconn *c, long long refund_id, long long delay_ms, char *err,
                            size_t errlen);

/* Audit a refund request (actor from req, or the system when req is NULL). */
int ctl_pay__audit_refund(PGconn *c, const ctl_request *req, const json_t *refund, const char *why,
                          char *err, size_t errlen);

/* Run one statement returning one jsonb cell; *out a new reference (NULL
 * cell -> JSON null). 0, or -1 with r's error in err; *state gets the
 * SQLSTATE (may be NULL). */
int ctl_pay__json(PGconn *c, const char *sql, int n, const char *const *p, json_t **out,
                  char *state, size_t statelen, char *err, size_t errlen);

/* Provider idempotency keys derived from our own ids. */
void ctl_pay__create_key(long long payment_id, char *out, size_t cap);
void ctl_pay__refund_key(long long refund_id, char *out, size_t cap);

#endif
