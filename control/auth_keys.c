/*
 * Access-token signing keys, shared by every node through PostgreSQL
 * (table auth_signing_keys). Each pool thread keeps a copy for a minute;
 * a token naming an unknown kid forces a reload (at most every few
 * seconds, so forged kids cannot hammer the database).
 *
 * Rotation happens on reload, under a transaction-scoped advisory lock so
 * that one node does it: when there is no key (first start) or the newest
 * is older than jwt_key_rotation_days, a new random 256-bit key is added
 * and becomes the signer. Older keys keep verifying until the newest has
 * signed for longer than an access token lives (plus the cache minute and
 * leeway): only then are they retired, and retired keys are deleted a day
 * later. Key material lives in fixed thread-local arrays, never the heap.
 */
#include "control/auth_internal.h"
#include "common/hex.h"

#include "common/log.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYS_LOCK "7596223410002"
#define KEYS_CACHE_S 60
#define KEYS_FORCE_MIN_S 5

static __thread ctl_jwt_keyset cached;
static __thread time_t loaded_at;
static __thread time_t forced_at;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Read the live keys, newest first, into ks. */
static int read_keys(PGconn *c, ctl_jwt_keyset *ks, long long *newest_age_s)
{
    PGresult *r = auth__exec(c,
                             "SELECT kid, encode(secret, 'hex'), "
                             "extract(epoch FROM now() - created_at)::bigint "
                             "FROM auth_signing_keys WHERE retired_at IS NULL "
                             "ORDER BY created_at DESC, kid LIMIT 8",
                             0, NULL, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    memset(ks, 0, sizeof *ks);
    *newest_age_s = -1;
    for (int i = 0; i < PQntuples(r) && i < CTL_JWT_MAX_KEYS; i++) {
        const char *hex = PQgetvalue(r, i, 1);
        if (strlen(hex) != 2 * CTL_JWT_SECRET_LEN)
            continue;
        ctl_jwt_key *k = &ks->keys[ks->n];
        snprintf(k->kid, sizeof k->kid, "%s", PQgetvalue(r, i, 0));
        for (int b = 0; b < CTL_JWT_SECRET_LEN; b++)
            k->secret[b] = (unsigned char)(hexval(hex[2 * b]) << 4 | hexval(hex[2 * b + 1]));
        if (ks->n == 0)
            *newest_age_s = atoll(PQgetvalue(r, i, 2));
        ks->n++;
    }
    PQclear(r);
    return 0;
}

static int add_key(PGconn *c)
{
    unsigned char secret[CTL_JWT_SECRET_LEN];
    char kid[AUTH_TOKEN_TEXT], hex[2 * CTL_JWT_SECRET_LEN + 1];
    if (auth__random_token(12, kid, sizeof kid) != 0 || RAND_bytes(secret, sizeof secret) != 1)
        return -1;
    ml_hex_encode(secret, sizeof secret, hex);
    const char *p[] = {kid, hex};
    PGresult *r = auth__exec(c,
                             "INSERT INTO auth_signing_keys (kid, secret) "
                             "VALUES ($1, decode($2, 'hex'))",
                             2, p, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    PQclear(r);
    ML_INFO("auth", "new access-token signing key %s", kid);
    return 0;
}

/* Retire keys the newest has outlived by a token lifetime; drop old ones. */
static int retire_keys(PGconn *c, const ml_config *cfg)
{
    char grace[24];
    snprintf(grace, sizeof grace, "%d", cfg->access_token_ttl_s + KEYS_CACHE_S + 2 * AUTH_LEEWAY_S);
    const char *p[] = {grace};
    PGresult *r = auth__exec(c,
                             "WITH newest AS (SELECT max(created_at) AS t FROM auth_signing_keys "
                             "  WHERE retired_at IS NULL) "
                             "UPDATE auth_signing_keys SET retired_at = now() FROM newest "
                             "WHERE retired_at IS NULL AND created_at < newest.t "
                             "  AND newest.t < now() - make_interval(secs => $1::int)",
                             1, p, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    PQclear(r);
    r = auth__exec(c,
                   "DELETE FROM auth_signing_keys WHERE retired_at < now() - interval '1 day'", 0,
                   NULL, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

static int reload(PGconn *c, const ml_config *cfg, ctl_jwt_keyset *ks)
{
    long long age;
    long long max_age = (long long)cfg->jwt_key_rotation_days * 86400;
    if (read_keys(c, ks, &age) != 0)
        return -1;
    if (ks->n > 0 && age < max_age && (ks->n == 1 || age < cfg->access_token_ttl_s + KEYS_CACHE_S + 2 * AUTH_LEEWAY_S))
        return 0; /* nothing due: the common case takes no lock */
    if (auth__begin(c) != 0)
        return -1;
    PGresult *r = auth__exec(c, "SELECT pg_advisory_xact_lock(" KEYS_LOCK ")", 0, NULL,
                             PGRES_TUPLES_OK);
    if (!r)
        goto fail;
    PQclear(r);
    if (read_keys(c, ks, &age) != 0)
        goto fail;
    if ((ks->n == 0 || age >= max_age) && add_key(c) != 0)
        goto fail;
    if (retire_keys(c, cfg) != 0 || read_keys(c, ks, &age) != 0 || auth__commit(c) != 0)
        goto fail;
    return ks->n > 0 ? 0 : -1;
fail:
    auth__rollback(c);
    return -1;
}

const ctl_jwt_keyset *auth__keys(ctl_ctx *ctx, int force)
{
    time_t now = time(NULL);
    if (cached.n > 0 && now - loaded_at < KEYS_CACHE_S && !(force && now - forced_at >= KEYS_FORCE_MIN_S))
        return &cached;
    if (force)
        forced_at = now;
    char err[256];
    if (ctl_db_ensure(&ctx->db, err, sizeof err) != 0) {
        ML_WARN("auth", "cannot load signing keys: %s", err);
        return cached.n > 0 ? &cached : NULL;
    }
    ctl_jwt_keyset fresh;
    if (reload(ctx->db.conn, ctx->cfg, &fresh) != 0)
        return cached.n > 0 ? &cached : NULL;
    cached = fresh;
    loaded_at = now;
    return &cached;
}
