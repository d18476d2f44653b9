/*
 * Idempotency keys; see idempotency.h. The claim is one INSERT ... ON
 * CONFLICT DO NOTHING on (user, key): of two concurrent requests with the
 * same key exactly one inserts and runs, the other sees the row.
 */
#include "control/idempotency.h"
#include "common/hex.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

int ctl_idem_key_valid(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return 0;
    return 1;
}

static void request_hash(const ctl_request *req, char hex[65])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    EVP_DigestUpdate(m, req->method, strlen(req->method) + 1);
    EVP_DigestUpdate(m, req->path, strlen(req->path) + 1);
    if (req->body && req->body_len)
        EVP_DigestUpdate(m, req->body, req->body_len);
    EVP_DigestFinal_ex(m, d, &dl);
    EVP_MD_CTX_free(m);
    ml_hex_encode(d, sizeof d, hex);
}

static void unavailable(ctl_response *resp, const ctl_request *req)
{
    ctl_response_problem(resp, 503, "database-unavailable", "Service Unavailable",
                         "the database is unavailable", req);
}

int ctl_idem_begin(ctl_ctx *ctx, const ctl_request *req, ctl_idem *st, ctl_response *resp)
{
    memset(st, 0, sizeof *st);
    const char *key = ctl_req_header(req, "idempotency-key");
    if (!key) {
        ctl_response_problem(resp, 400, "idempotency-key-missing", "Bad Request",
                             "this request moves money: send an Idempotency-Key header", req);
        return -1;
    }
    if (!ctl_idem_key_valid(key)) {
        ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request",
                             "Idempotency-Key must be 1 to 255 printable ASCII characters", req);
        return -1;
    }
    char err[256];
    if (ctl_db_ensure(&ctx->db, err, sizeof err) != 0) {
        unavailable(resp, req);
        return -1;
    }
    char hash[65];
    request_hash(req, hash);
    snprintf(st->user, sizeof st->user, "%lld", req->who.user_id);
    snprintf(st->key, sizeof st->key, "%s", key);
    const char *p[3] = {st->user, st->key, hash};
    for (int attempt = 0; attempt < 2; attempt++) {
        /* An expired key of this caller is gone before the claim. */
        PGresult *r = PQexecParams(ctx->db.conn,
                                   "DELETE FROM idempotency_keys WHERE user_id = $1::bigint AND "
                                   "key = $2 AND created_at < now() - interval '24 hours'",
                                   2, NULL, p, NULL, NULL, 0);
        PQclear(r);
        r = PQexecParams(
            ctx->db.conn,
            "INSERT INTO idempotency_keys (user_id, key, request_hash, state) "
            "VALUES ($1::bigint, $2, $3, 'running') ON CONFLICT DO NOTHING RETURNING 1",
            3, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            ML_WARN("idempotency", "claim failed: %s", PQerrorMessage(ctx->db.conn));
            PQclear(r);
            unavailable(resp, req);
            return -1;
        }
        int claimed = PQntuples(r) == 1;
        PQclear(r);
        if (claimed) {
            st->active = 1;
            return 0;
        }
        r = PQexecParams(ctx->db.conn,
                         "SELECT request_hash, state, status, content_type, body, "
                         "created_at < now() - interval '24 hours' FROM idempotency_keys "
                         "WHERE user_id = $1::bigint AND key = $2",
                         2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            PQclear(r);
            unavailable(resp, req);
            return -1;
        }
        if (PQntuples(r) == 0 || PQgetvalue(r, 0, 5)[0] == 't') {
            PQclear(r); /* released or expired meanwhile: claim again */
            continue;
        }
        if (strcmp(PQgetvalue(r, 0, 0), hash) != 0) {
            ctl_response_problem(resp, 422, "idempotency-key-reused", "Unprocessable Content",
                                 "this Idempotency-Key was used for a different request", req);
        } else if (strcmp(PQgetvalue(r, 0, 1), "running") == 0) {
            ctl_response_problem(
                resp, 409, "idempotency-key-in-use", "Conflict",
                "a request with this Idempotency-Key is still running; retry later", req);
            ctl_response_add_header(resp, "Retry-After", "1");
        } else {
            resp->status = atoi(PQgetvalue(r, 0, 2));
            snprintf(resp->content_type, sizeof resp->content_type, "%s", PQgetvalue(r, 0, 3));
            free(resp->body);
            resp->body = strdup(PQgetvalue(r, 0, 4));
            resp->body_len = resp->body ? strlen(resp->body) : 0;
            ctl_response_add_header(resp, "Idempotent-Replayed", "true");
        }
        PQclear(r);
        return -1;
    }
    ctl_response_problem(resp, 409, "idempotency-key-in-use", "Conflict",
                         "this Idempotency-Key is busy; retry later", req);
    return -1;
}

void ctl_idem_finish(ctl_ctx *ctx, ctl_idem *st, const ctl_response *resp)
{
    if (!st->active)
        return;
    st->active = 0;
    char err[256];
    if (ctl_db_ensure(&ctx->db, err, sizeof err) != 0)
        return; /* the row stays 'running' until it expires: a retry gets 409 */
    char status[16];
    snprintf(status, sizeof status, "%d", resp->status);
    const char *p[5] = {st->user, st->key, status, resp->content_type,
                        resp->body ? resp->body : ""};
    PGresult *r;
    if (resp->status >= 500)
        r = PQexecParams(ctx->db.conn,
                         "DELETE FROM idempotency_keys WHERE user_id = $1::bigint AND key = $2", 2,
                         NULL, p, NULL, NULL, 0);
    else
        r = PQexecParams(ctx->db.conn,
                         "UPDATE idempotency_keys SET state = 'done', status = $3::int, "
                         "content_type = $4, body = $5 WHERE user_id = $1::bigint AND key = $2",
                         5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        ML_WARN("idempotency", "storing the answer failed: %s", PQerrorMessage(ctx->db.conn));
    PQclear(r);
}

long long ctl_idem_sweep(PGconn *c, char *err, size_t errlen)
{
    PGresult *r =
        PQexec(c, "DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    long long n = atoll(PQcmdTuples(r));
    PQclear(r);
    return n;
}
