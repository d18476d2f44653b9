/*
 * Migration runner; see migrate.h. All work happens on one connection:
 * take the advisory lock, make sure the bookkeeping table exists, compare
 * what is recorded with what is embedded, then apply the rest one
 * transaction each. The lock is session-level and released on every exit.
 */
#include "control/migrate.h"
#include "common/hex.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_LOCK_KEY "7596223410001" /* arbitrary constant shared by all nodes */

void ctl_migration_checksum(const char *sql, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(sql, strlen(sql), md, &mdlen, EVP_sha256(), NULL);
    ml_hex_encode(md, 32, out);
}

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errlen, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
    }
    PQclear(r);
    return ok ? 0 : -1;
}

static const ctl_migration *find(const ctl_migration *list, size_t n, int version)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].version == version)
            return &list[i];
    return NULL;
}

static int apply_one(PGconn *c, const ctl_migration *m, char *err, size_t errlen)
{
    char what[160];
    snprintf(what, sizeof what, "migration %s failed", m->name);
    if (exec_ok(c, "BEGIN", err, errlen, what) != 0)
        return -1;
    if (exec_ok(c, m->sql, err, errlen, what) != 0)
        goto fail;
    char sum[65], ver[16];
    ctl_migration_checksum(m->sql, sum);
    snprintf(ver, sizeof ver, "%d", m->version);
    const char *params[] = {ver, m->name, sum};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO schema_migrations (version, name, checksum) "
                               "VALUES ($1::int, $2, $3)",
                               3, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    if (!ok)
        goto fail;
    return exec_ok(c, "COMMIT", err, errlen, what);
fail:
    PQclear(PQexec(c, "ROLLBACK"));
    return -1;
}

int ctl_migrate_run(PGconn *c, const ctl_migration *list, size_t n, int apply,
                    ctl_migrate_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (exec_ok(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen,
                "cannot take the migration lock") != 0)
        return -1;
    int rc = -1;
    PGresult *r = NULL;
    if (exec_ok(c,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                err, errlen, "cannot create schema_migrations") != 0)
        goto out;
    r = PQexec(c, "SELECT version, name, checksum FROM schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "cannot read schema_migrations: %s", PQresultErrorMessage(r));
        goto out;
    }
    int known_max = n ? list[n - 1].version : 0;
    char *applied = calloc((size_t)known_max + 1, 1);
    if (!applied) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        int v = atoi(PQgetvalue(r, i, 0));
        const char *name = PQgetvalue(r, i, 1);
        const char *sum = PQgetvalue(r, i, 2);
        const ctl_migration *m = find(list, n, v);
        if (!m) {
            snprintf(err, errlen,
                     "the database has schema version %d (%s) but this build knows only up to "
                     "%d: refusing to run against a newer database; upgrade mentorlink",
                     v, name, known_max);
            free(applied);
            goto out;
        }
        char want[65];
        ctl_migration_checksum(m->sql, want);
        if (strcmp(want, sum) != 0) {
            snprintf(err, errlen,
                     "migration %s was changed after it was applied (checksum %.12s… in the "
                     "database, %.12s… in this build); add a new migration instead of editing "
                     "an applied one",
                     m->name, sum, want);
            free(applied);
            goto out;
        }
        applied[v] = 1;
        if (v > res->current)
            res->current = v;
    }
    for (size_t i = 0; i < n; i++) {
        if (applied[list[i].version])
            continue;
        if (!apply) {
            res->pending++;
            continue;
        }
        if (apply_one(c, &list[i], err, errlen) != 0) {
            free(applied);
            goto out;
        }
        res->applied++;
        res->current = list[i].version;
    }
    free(applied);
    rc = 0;
out:
    PQclear(r);
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    return rc;
}
