/*
 * Refresh tokens (RFC 9700 section 4.14): opaque 256-bit random strings,
 * stored only as SHA-256, grouped in families (one per sign-in). Every use
 * rotates: the presented token is marked spent and a new one joins the
 * family. Presenting a spent token means two parties hold the family (a
 * thief and the owner, in some order), so the whole family is revoked and
 * neither can continue. Two concurrent uses of one token are serialised by
 * the row lock (SELECT ... FOR UPDATE): the first rotates, the second then
 * sees a spent token; exactly one succeeds, and, by the rule above, the
 * family ends. Clients must refresh single-flight.
 *
 * Each family carries the SHA-256 of its CSRF token, which cookie-
 * authenticated calls (refresh, logout) must present in X-CSRF-Token. The
 * CSRF check comes before anything changes, so a forged request can neither
 * rotate nor revoke.
 */
#include "control/auth_internal.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int insert_token(PGconn *c, const ml_config *cfg, const char *family, char *token_out)
{
    char hash[65], ttl[16];
    if (auth__random_token(32, token_out, AUTH_TOKEN_TEXT) != 0)
        return -1;
    auth__sha256_hex(token_out, hash);
    snprintf(ttl, sizeof ttl, "%d", cfg->refresh_token_ttl_s);
    const char *p[] = {hash, family, ttl};
    PGresult *r = auth__exec(c,
                             "INSERT INTO refresh_tokens (token_hash, family_id, expires_at) "
                             "VALUES (decode($1, 'hex'), $2::bigint, "
                             "        now() + make_interval(secs => $3::int))",
                             3, p, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

int auth__family_create(PGconn *c, const ml_config *cfg, long long user_id, auth_session *s)
{
    char uid[24], csrf_hash[65];
    memset(s, 0, sizeof *s);
    if (auth__random_token(32, s->csrf, sizeof s->csrf) != 0)
        return -1;
    auth__sha256_hex(s->csrf, csrf_hash);
    snprintf(uid, sizeof uid, "%lld", user_id);
    const char *p[] = {uid, csrf_hash};
    PGresult *r = auth__exec(c,
                             "INSERT INTO refresh_families (user_id, csrf_hash) "
                             "VALUES ($1::bigint, decode($2, 'hex')) RETURNING id",
                             2, p, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    s->user_id = user_id;
    s->family_id = atoll(PQgetvalue(r, 0, 0));
    int rc = insert_token(c, cfg, PQgetvalue(r, 0, 0), s->refresh);
    PQclear(r);
    return rc;
}

static int csrf_matches(const char *csrf, const char *stored_hex)
{
    char h[65];
    if (!csrf || !csrf[0] || strlen(stored_hex) != 64)
        return 0;
    auth__sha256_hex(csrf, h);
    return CRYPTO_memcmp(h, stored_hex, 64) == 0;
}

static int revoke_family(PGconn *c, const ctl_request *req, const char *family, long long user_id,
                         const char *reason)
{
    const char *p[] = {family, reason};
    PGresult *r = auth__exec(c,
                             "UPDATE refresh_families SET revoked_at = now(), revoke_reason = $2 "
                             "WHERE id = $1::bigint AND revoked_at IS NULL",
                             2, p, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    int changed = atoi(PQcmdTuples(r));
    PQclear(r);
    if (!changed)
        return 0;
    return auth__audit(c, req, user_id, NULL, "auth.family_revoked", user_id,
                       json_pack("{s:s, s:I}", "reason", reason, "family",
                                 (json_int_t)atoll(family)));
}

/* Lock the token and its family. Columns: family, user, spent, expired,
 * family revoked, user unusable, csrf hash. NULL on error. */
static PGresult *lock_token(PGconn *c, const char *token)
{
    char hash[65];
    auth__sha256_hex(token, hash);
    const char *p[] = {hash};
    return auth__exec(c,
                      "SELECT t.family_id, f.user_id, t.used_at IS NOT NULL, t.expires_at < now(), "
                      "       f.revoked_at IS NOT NULL, u.disabled OR u.status <> 'active', "
                      "       encode(f.csrf_hash, 'hex') "
                      "FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id "
                      "JOIN users u ON u.id = f.user_id "
                      "WHERE t.token_hash = decode($1, 'hex') FOR UPDATE OF t, f",
                      1, p, PGRES_TUPLES_OK);
}

static int is_true(PGresult *r, int col)
{
    return PQgetvalue(r, 0, col)[0] == 't';
}

int auth__refresh_rotate(PGconn *c, const ml_config *cfg, const ctl_request *req,
                         const char *token, const char *csrf, auth_session *s)
{
    PGresult *r = NULL;
    int rc = AUTH_REFRESH_INVALID;
    memset(s, 0, sizeof *s);
    if (auth__begin(c) != 0)
        return -1;
    if (!(r = lock_token(c, token)))
        goto fail;
    if (PQntuples(r) != 1)
        goto done;
    char family[24];
    snprintf(family, sizeof family, "%s", PQgetvalue(r, 0, 0));
    s->family_id = atoll(family);
    s->user_id = atoll(PQgetvalue(r, 0, 1));
    if (!csrf_matches(csrf, PQgetvalue(r, 0, 6))) {
        rc = AUTH_REFRESH_CSRF;
        goto done;
    }
    if (is_true(r, 4) || is_true(r, 3))
        goto done; /* family already revoked, or token expired */
    if (is_true(r, 2)) {
        if (revoke_family(c, req, family, s->user_id, "reuse") != 0)
            goto fail;
        rc = AUTH_REFRESH_REUSED;
        goto done;
    }
    if (is_true(r, 5)) {
        if (revoke_family(c, req, family, s->user_id, "account_unusable") != 0)
            goto fail;
        goto done;
    }
    char hash[65];
    auth__sha256_hex(token, hash);
    const char *p[] = {hash};
    PGresult *u = auth__exec(c,
                             "UPDATE refresh_tokens SET used_at = now() "
                             "WHERE token_hash = decode($1, 'hex') AND used_at IS NULL",
                             1, p, PGRES_COMMAND_OK);
    if (!u)
        goto fail;
    int spent = atoi(PQcmdTuples(u));
    PQclear(u);
    if (spent != 1 || insert_token(c, cfg, family, s->refresh) != 0)
        goto fail;
    rc = AUTH_REFRESH_OK;
done:
    PQclear(r);
    if (auth__commit(c) != 0) {
        auth__rollback(c);
        return -1;
    }
    if (rc != AUTH_REFRESH_OK)
        memset(s->refresh, 0, sizeof s->refresh);
    return rc;
fail:
    PQclear(r);
    auth__rollback(c);
    return -1;
}

int auth__refresh_logout(PGconn *c, const ctl_request *req, const char *token, const char *csrf,
                         long long *user_id)
{
    PGresult *r = NULL;
    int rc = AUTH_REFRESH_INVALID;
    *user_id = 0;
    if (auth__begin(c) != 0)
        return -1;
    if (!(r = lock_token(c, token)))
        goto fail;
    if (PQntuples(r) != 1)
        goto done;
    *user_id = atoll(PQgetvalue(r, 0, 1));
    if (!csrf_matches(csrf, PQgetvalue(r, 0, 6))) {
        rc = AUTH_REFRESH_CSRF;
        goto done;
    }
    if (revoke_family(c, req, PQgetvalue(r, 0, 0), *user_id, "logout") != 0)
        goto fail;
    rc = AUTH_REFRESH_OK;
done:
    PQclear(r);
    if (auth__commit(c) != 0) {
        auth__rollback(c);
        return -1;
    }
    return rc;
fail:
    PQclear(r);
    auth__rollback(c);
    return -1;
}

int auth__refresh_revoke_user(PGconn *c, const ctl_request *req, long long user_id,
                              const char *reason)
{
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", user_id);
    const char *p[] = {uid, reason};
    PGresult *r = auth__exec(c,
                             "UPDATE refresh_families SET revoked_at = now(), revoke_reason = $2 "
                             "WHERE user_id = $1::bigint AND revoked_at IS NULL",
                             2, p, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    r = auth__exec(c,
                   "UPDATE users SET sessions_valid_after = extract(epoch FROM now())::bigint "
                   "WHERE id = $1::bigint",
                   1, p, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    PQclear(r);
    if (n > 0 && auth__audit(c, req, user_id, NULL, "auth.families_revoked", user_id,
                             json_pack("{s:s, s:i}", "reason", reason, "count", n)) != 0)
        return -1;
    return n;
}
