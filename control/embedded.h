/*
 * Embedded servers: with no DATABASE_URL / REDIS_URL, the daemon runs a
 * private PostgreSQL cluster and a private Redis from the Debian binaries,
 * inside data_dir, on unix sockets only (no TCP port). A supervisor thread
 * starts them, restarts them with back-off if they die, and stops them on
 * exit. Children get PR_SET_PDEATHSIG, so a daemon killed with SIGKILL does
 * not leave them running, and their own process group, so a terminal's
 * Ctrl-C reaches only the daemon.
 *
 * PostgreSQL refuses to run as root: when the daemon is root, the cluster
 * runs as the `postgres` system user (created by Debian's package) and its
 * folders are owned by it.
 *
 * Layout under data_dir: postgresql/ (PGDATA), redis/, run/ (sockets),
 * log/ (server logs).
 */
#ifndef ML_CONTROL_EMBEDDED_H
#define ML_CONTROL_EMBEDDED_H

#include <stddef.h>

#include "common/config.h"

typedef struct ctl_embedded ctl_embedded;

/* Initialise (first run) and start what is wanted; blocks until both answer
 * or fails with one clear line in err. */
ctl_embedded *ctl_embedded_start(const ml_config *cfg, int want_pg, int want_redis, char *err,
                                 size_t errlen);
/* libpq connection string of the embedded cluster ("" if not started). */
const char *ctl_embedded_database_url(const ctl_embedded *e);
/* Redis URL of the embedded Redis ("" if not started). */
const char *ctl_embedded_redis_url(const ctl_embedded *e);
/* Process ids (0 when not running), for tests and /metrics. */
int ctl_embedded_pids(ctl_embedded *e, int *pg_pid, int *redis_pid);
/* How many times each server was restarted after dying. */
void ctl_embedded_restarts(ctl_embedded *e, int *pg, int *redis);
/* Stop the servers (fast shutdown, then SIGKILL after a timeout) and free. */
void ctl_embedded_stop(ctl_embedded *e);

#endif
