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
    int lock_timeout_ms;      /* SET on each new connection; 0 = server default */
    int statement_timeout_ms; /* likewise */
} ctl_db;

/* Remember the connection string; connects lazily. */
void ctl_db_init(ctl_db *db, const char *conninfo, int connect_timeout_s);
/* lock_timeout and statement_timeout (ms, 0 = leave the server's) for the
 * connections ctl_db_ensure makes from now on: the daemon's request and job
 * connections, so that no call waits on a lock or a statement forever. */
void ctl_db_set_timeouts(ctl_db *db, int lock_timeout_ms, int statement_timeout_ms);
/* Connect now if not connected (or the connection is bad). 0 or -1 + err. */
int ctl_db_ensure(ctl_db *db, char *err, size_t errlen);
/* Run a statement without results. Returns 0 or -1 + err. */
int ctl_db_exec(ctl_db *db, const char *sql, char *err, size_t errlen);
/* Cheap liveness check (SELECT 1), reconnecting first if needed. */
int ctl_db_ping(ctl_db *db, char *err, size_t errlen);
void ctl_db_close(ctl_db *db);
/* Roll back whatever transaction c is in (open or failed), so that its
 * next user starts clean. 1 when it did, 0 when c was idle or not connected. */
int ctl_db_end_open_tx(PGconn *c);

/* One-shot connection with a timeout; NULL + err on failure. No lock or
 * statement timeout (migrations may run long). */
PGconn *ctl_db_connect(const char *conninfo, int connect_timeout_s, char *err, size_t errlen);

/*
 * SQLSTATEs of a transaction. Every connection made here records the
 * SQLSTATE of the latest statement that failed since the last
 * ctl_db_clear_sqlstate() (25P02 "in failed transaction" errors are not
 * recorded: they follow the cause), so that a caller running several
 * statements learns why its transaction failed without checking each
 * result — also when it recovered from an earlier error through a
 * savepoint and then failed for another reason.
 */
/* The recorded SQLSTATE ("" when nothing failed or c is not ours). */
const char *ctl_db_sqlstate(const PGconn *c);
void ctl_db_clear_sqlstate(PGconn *c);

/* What a SQLSTATE means for the caller. */
typedef enum ctl_db_fault {
    CTL_DB_FAULT_NONE = 0, /* no SQLSTATE: the connection failed, or nothing did */
    CTL_DB_FAULT_RETRY,    /* 40001 serialization_failure, 40P01 deadlock_detected:
                              the whole transaction may be run again */
    CTL_DB_FAULT_TIMEOUT,  /* 55P03 lock_not_available (lock_timeout), 57014
                              query_canceled (statement_timeout): busy, try later */
    CTL_DB_FAULT_OTHER,    /* anything else */
} ctl_db_fault;
ctl_db_fault ctl_db_fault_of(const char *sqlstate);

/* Pure retry policy of a whole transaction: after attempt `attempt` (1 =
 * the first) failed with `sqlstate`, whether to run it again (attempts <
 * max_attempts and a CTL_DB_FAULT_RETRY state). */
int ctl_db_should_retry(const char *sqlstate, int attempt, int max_attempts);
/* Back-off before the next attempt: 10 ms * 2^(attempt-1), capped at 200
 * ms, jittered to [half, full] by `rnd` (any 32-bit random number). */
int ctl_db_retry_delay_ms(int attempt, unsigned rnd);

#endif
