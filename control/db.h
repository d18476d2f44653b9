/*
 * Blocking PostgreSQL helpers for control-plane threads (the HTTP worker
 * pool and job runners; never the libwebsockets loop or a media worker).
 * A ctl_db is one connection that reconnects on its next use after a
 * failure, so a database that restarts comes back by itself.
 */
#ifndef ML_CONTROL_DB_H
#define ML_CONTROL_DB_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct ctl_db {
    PGconn *conn;
    char conninfo[1024];
    int connect_timeout_s;
} ctl_db;

/* Remember the connection string; connects lazily. */
void ctl_db_init(ctl_db *db, const char *conninfo, int connect_timeout_s);
/* Connect now if not connected (or the connection is bad). 0 or -1 + err. */
int ctl_db_ensure(ctl_db *db, char *err, size_t errlen);
/* Run a statement without results. Returns 0 or -1 + err. */
int ctl_db_exec(ctl_db *db, const char *sql, char *err, size_t errlen);
/* Cheap liveness check (SELECT 1), reconnecting first if needed. */
int ctl_db_ping(ctl_db *db, char *err, size_t errlen);
void ctl_db_close(ctl_db *db);

/* One-shot connection with a timeout; NULL + err on failure. */
PGconn *ctl_db_connect(const char *conninfo, int connect_timeout_s, char *err, size_t errlen);

#endif
