/*
 * Idempotency keys for our own POST routes (money moves: paying a booking,
 * buying credits, refunds). The client sends `Idempotency-Key: <1..255
 * printable ASCII>`; the key is stored per caller in PostgreSQL
 * (idempotency_keys, schema/0006_payments.sql) with a hash of the request
 * (method, route, path and body):
 *
 *   new key                 -> the handler runs; its answer is stored
 *   same key, same request  -> the stored answer again (Idempotent-Replayed: true)
 *   same key, other request -> 422
 *   same key, still running -> 409
 *   no key                  -> 400
 *
 * An answer >= 500 is not stored (the key is released), so a retry after a
 * provider outage runs again — the handlers themselves are safe to rerun
 * (unique constraints, provider Idempotency-Keys). Keys expire after 24 h;
 * the payments.sweep job deletes them.
 *
 * Usage in a handler:
 *   ctl_idem idem;
 *   if (ctl_idem_begin(ctx, req, &idem, resp) != 0) return;   // resp is filled
 *   ... do the work, fill resp ...
 *   ctl_idem_finish(ctx, &idem, resp);
 */
#ifndef ML_CONTROL_IDEMPOTENCY_H
#define ML_CONTROL_IDEMPOTENCY_H

#include "control/api.h"

typedef struct ctl_idem {
    int active;
    char user[32];
    char key[256];
} ctl_idem;

/* Claim the request's key. 0: run the handler. -1: resp holds the answer
 * (replay, 400/409/422 problem, or 503 when the database is down). */
int ctl_idem_begin(ctl_ctx *ctx, const ctl_request *req, ctl_idem *st, ctl_response *resp);

/* Store the handler's answer (or release the key for a 5xx answer). */
void ctl_idem_finish(ctl_ctx *ctx, ctl_idem *st, const ctl_response *resp);

/* Is `key` acceptable (1..255 bytes of printable ASCII)? (pure) */
int ctl_idem_key_valid(const char *key);

/* Delete keys older than 24 h. Number deleted, or -1 + err. */
long long ctl_idem_sweep(PGconn *c, char *err, size_t errlen);

#endif
