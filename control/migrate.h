/*
 * Schema migrations: plain SQL files schema/NNNN_name.sql, embedded in the
 * binary at build time, applied in order, each inside its own transaction,
 * under a PostgreSQL advisory lock so that several nodes starting at once
 * are safe. Applied versions and SHA-256 checksums are recorded in
 * schema_migrations. The server refuses a database that is newer than the
 * binary or whose applied migration text changed.
 *
 * A migration must not contain transaction control (BEGIN/COMMIT) or
 * statements that cannot run in a transaction.
 */
#ifndef ML_CONTROL_MIGRATE_H
#define ML_CONTROL_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct ctl_migration {
    int version;
    const char *name; /* "0001_init" */
    const char *sql;
} ctl_migration;

/* The embedded migrations, sorted by version (generated). */
extern const ctl_migration ctl_migrations[];
extern const size_t ctl_migrations_count;

/* Hex SHA-256 of a migration's text (65 bytes with NUL). */
void ctl_migration_checksum(const char *sql, char out[65]);

typedef struct ctl_migrate_result {
    int applied;        /* migrations applied by this call */
    int current;        /* highest version in the database afterwards */
    int pending;        /* migrations not applied (check mode) */
} ctl_migrate_result;

/*
 * Verify the database against `list` and, when `apply` is set, apply what is
 * pending. Fails (-1 + err) when the database has a version this binary
 * does not know, or an applied migration's checksum differs.
 */
int ctl_migrate_run(PGconn *conn, const ctl_migration *list, size_t n, int apply,
                    ctl_migrate_result *res, char *err, size_t errlen);

#endif
