/*
 * PostgreSQL connection helpers; see db.h. Notices are silenced (they would
 * go to stderr unformatted); errors are returned as one-line messages.
 */
#include "control/db.h"

#include <stdio.h>
#include <string.h>

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
    return c;
}

void ctl_db_init(ctl_db *db, const char *conninfo, int connect_timeout_s)
{
    memset(db, 0, sizeof *db);
    snprintf(db->conninfo, sizeof db->conninfo, "%s", conninfo);
    db->connect_timeout_s = connect_timeout_s;
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
