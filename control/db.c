/*
 * PostgreSQL connection helpers; see db.h. Notices are silenced (they would
 * go to stderr unformatted); errors are returned as one-line messages.
 *
 * The SQLSTATE of a failed transaction is recorded with a libpq event
 * procedure (PGEVT_RESULTCREATE fires for every result the connection
 * makes, error results included), so multi-statement transactions learn
 * whether they died of a deadlock or a lock timeout without each step
 * passing its PGresult up.
 */
#include "control/db.h"

#include <libpq-events.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-connection instance data of the event procedure. */
typedef struct conn_state {
    char sqlstate[8];
} conn_state;

static int track_events(PGEventId id, void *info, void *pass)
{
    (void)pass;
    switch (id) {
    case PGEVT_REGISTER: {
        PGEventRegister *e = info;
        conn_state *st = calloc(1, sizeof *st);
        return st && PQsetInstanceData(e->conn, track_events, st) ? 1 : (free(st), 0);
    }
    case PGEVT_CONNDESTROY: {
        PGEventConnDestroy *e = info;
        free(PQinstanceData(e->conn, track_events));
        return 1;
    }
    case PGEVT_RESULTCREATE: {
        PGEventResultCreate *e = info;
        conn_state *st = PQinstanceData(e->conn, track_events);
        /* The latest error, not the first: a transaction may recover from
         * one (ROLLBACK TO SAVEPOINT) and then fail for another reason,
         * e.g. a deadlock, which is the one that decides a retry. */
        if (!st || PQresultStatus(e->result) != PGRES_FATAL_ERROR)
            return 1;
        const char *s = PQresultErrorField(e->result, PG_DIAG_SQLSTATE);
        if (s && strcmp(s, "25P02") != 0) /* in_failed_sql_transaction: not the cause */
            snprintf(st->sqlstate, sizeof st->sqlstate, "%s", s);
        return 1;
    }
    default:
        return 1;
    }
}

const char *ctl_db_sqlstate(const PGconn *c)
{
    const conn_state *st = c ? PQinstanceData(c, track_events) : NULL;
    return st ? st->sqlstate : "";
}

void ctl_db_clear_sqlstate(PGconn *c)
{
    conn_state *st = c ? PQinstanceData(c, track_events) : NULL;
    if (st)
        st->sqlstate[0] = '\0';
}

ctl_db_fault ctl_db_fault_of(const char *sqlstate)
{
    static const struct {
        const char *state;
        ctl_db_fault fault;
    } table[] = {
        {"40001", CTL_DB_FAULT_RETRY},   {"40P01", CTL_DB_FAULT_RETRY},
        {"55P03", CTL_DB_FAULT_TIMEOUT}, {"57014", CTL_DB_FAULT_TIMEOUT},
    };
    if (!sqlstate || !sqlstate[0])
        return CTL_DB_FAULT_NONE;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(sqlstate, table[i].state) == 0)
            return table[i].fault;
    return CTL_DB_FAULT_OTHER;
}

int ctl_db_should_retry(const char *sqlstate, int attempt, int max_attempts)
{
    return attempt < max_attempts && ctl_db_fault_of(sqlstate) == CTL_DB_FAULT_RETRY;
}

int ctl_db_retry_delay_ms(int attempt, unsigned rnd)
{
    int full = 10;
    for (int i = 1; i < attempt && full < 200; i++)
        full *= 2;
    if (full > 200)
        full = 200;
    int half = full / 2;
    return half + (int)(rnd % (unsigned)(full - half + 1));
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Copy a libpq error message into err without its trailing newline. */
static void copy_error(char *err, size_t errlen, const char *prefix, const char *msg)
{
    snprintf(err, errlen, "%s%s", prefix, msg ? msg : "unknown error");
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
    for (char *p = err; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

PGconn *ctl_db_connect(const char *conninfo, int connect_timeout_s, char *err, size_t errlen)
{
    char tmo[16];
    snprintf(tmo, sizeof tmo, "%d", connect_timeout_s > 0 ? connect_timeout_s : 5);
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {conninfo, tmo, "mentorlink", NULL};
    /* expand_dbname=1: the first "dbname" may be a full conninfo or URL. */
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        snprintf(err, errlen, "out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        copy_error(err, errlen, "cannot connect to PostgreSQL: ", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    if (!PQregisterEventProc(c, track_events, "mentorlink-sqlstate", NULL)) {
        snprintf(err, errlen, "out of memory preparing a PostgreSQL connection");
        PQfinish(c);
        return NULL;
    }
    return c;
}

void ctl_db_init(ctl_db *db, const char *conninfo, int connect_timeout_s)
{
    memset(db, 0, sizeof *db);
    snprintf(db->conninfo, sizeof db->conninfo, "%s", conninfo);
    db->connect_timeout_s = connect_timeout_s;
}

void ctl_db_set_timeouts(ctl_db *db, int lock_timeout_ms, int statement_timeout_ms)
{
    db->lock_timeout_ms = lock_timeout_ms > 0 ? lock_timeout_ms : 0;
    db->statement_timeout_ms = statement_timeout_ms > 0 ? statement_timeout_ms : 0;
}

/* The session settings of a new connection of db. */
static int apply_timeouts(ctl_db *db, char *err, size_t errlen)
{
    if (!db->lock_timeout_ms && !db->statement_timeout_ms)
        return 0;
    char sql[160];
    int n = 0;
    if (db->lock_timeout_ms)
        n += snprintf(sql + n, sizeof sql - (size_t)n, "SET lock_timeout = %d;",
                      db->lock_timeout_ms);
    if (db->statement_timeout_ms)
        snprintf(sql + n, sizeof sql - (size_t)n, "SET statement_timeout = %d",
                 db->statement_timeout_ms);
    PGresult *r = PQexec(db->conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        copy_error(err, errlen, "cannot set the database timeouts: ", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

int ctl_db_ensure(ctl_db *db, char *err, size_t errlen)
{
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
        return 0;
    if (db->conn) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
    db->conn = ctl_db_connect(db->conninfo, db->connect_timeout_s, err, errlen);
    if (db->conn && apply_timeouts(db, err, errlen) != 0) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
    return db->conn ? 0 : -1;
}

int ctl_db_exec(ctl_db *db, const char *sql, char *err, size_t errlen)
{
    if (ctl_db_ensure(db, err, errlen) != 0)
        return -1;
    PGresult *r = PQexec(db->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        copy_error(err, errlen, "", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

int ctl_db_end_open_tx(PGconn *c)
{
    if (!c || PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) == PQTRANS_IDLE)
        return 0;
    PQclear(PQexec(c, "ROLLBACK"));
    return 1;
}

int ctl_db_ping(ctl_db *db, char *err, size_t errlen)
{
    if (ctl_db_exec(db, "SELECT 1", err, errlen) == 0)
        return 0;
    /* The connection may have died since the last use: try once afresh. */
    if (db->conn && PQstatus(db->conn) != CONNECTION_OK) {
        PQfinish(db->conn);
        db->conn = NULL;
        return ctl_db_exec(db, "SELECT 1", err, errlen);
    }
    return -1;
}

void ctl_db_close(ctl_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
}
