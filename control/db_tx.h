/*
 * Request transactions that survive contention. A booking or payment
 * request runs its whole transaction through ctl_db_tx_run(): a deadlock
 * (40P01) or a serialization failure (40001) runs it again, a bounded number
 * of times (db_tx_attempts) with a short jittered back-off; a lock or
 * statement timeout (55P03, 57014: db_lock_timeout_ms and
 * db_statement_timeout_ms on every daemon connection) answers 503 with
 * Retry-After and a problem naming what happened and its SQLSTATE, which is
 * also logged. Only transactions that touch nothing but the database may be
 * run this way: a retry must be able to redo everything an attempt did.
 */
#ifndef ML_CONTROL_DB_TX_H
#define ML_CONTROL_DB_TX_H

#include <stddef.h>

#include "control/api.h"

/* One attempt of a transaction on ctx->db.conn (connected). Returns 0 when
 * the attempt is over and resp holds the answer or is left for the caller
 * (committed, or rolled back with a 4xx business problem in resp); -1 when
 * a statement failed for a database reason, with a one-line reason in err
 * (the SQLSTATE is recorded on the connection, see db.h). The attempt may
 * leave the transaction open on -1; the runner rolls it back. */
typedef int (*ctl_db_tx_fn)(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp,
                            void *arg, char *err, size_t errlen);

/* Connect if needed and run fn up to cfg->db_tx_attempts times as described
 * above. 0 when an attempt returned 0; -1 with a 503 problem in resp
 * (ctl_db_problem) otherwise. Headers already in resp when it is called
 * (rate-limit headers) are kept; what a failed attempt added is dropped. */
int ctl_db_tx_run(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp, const char *what,
                  ctl_db_tx_fn fn, void *arg);

/* The same loop for work outside a request (job handlers): fn runs one
 * whole transaction on c and returns 0, or -1 + err. Run up to
 * max_attempts times while it fails with 40001/40P01. 0, or -1 with err
 * naming the SQLSTATE. */
typedef int (*ctl_db_work_fn)(PGconn *c, void *arg, char *err, size_t errlen);
int ctl_db_tx_retry(ctl_db *db, int max_attempts, const char *what, ctl_db_work_fn fn, void *arg,
                    char *err, size_t errlen);

/* Answer a database failure whose SQLSTATE is `state` ("" when the
 * connection itself failed): 55P03/57014 -> 503 "database-busy", 40001/40P01
 * (after the last attempt) -> 503 "database-conflict", both with
 * Retry-After and a "sqlstate" member; anything else -> 503
 * "database-unavailable". Logs what, the SQLSTATE and msg at WARN. */
void ctl_db_problem(ctl_response *resp, const ctl_request *req, const char *what,
                    const char *state, const char *msg);

#endif
