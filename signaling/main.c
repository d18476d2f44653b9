/*
 * mentorlink: the daemon. Subcommands:
 *   serve         run the server (HTTP, signaling, media, control plane)
 *   migrate       apply pending schema migrations (--check: only verify)
 *   check-config  load and validate the configuration, print it
 *   routes        list the REST routes with their permissions
 *   version       print the version
 * Options: --config FILE (or MENTORLINK_CONFIG). Every failure before the
 * server runs prints one line naming the problem and exits non-zero.
 *
 * Signals: SIGTERM/SIGINT are blocked in every thread and taken by one
 * signal thread with sigwait(); the first asks for a drain, a second one
 * during the drain exits at once.
 */
#include "common/config.h"
#include "common/fdlimit.h"
#include "common/log.h"
#include "control/api.h"
#include "control/db.h"
#include "control/embedded.h"
#include "control/jobs.h"
#include "control/migrate.h"
#include "control/payments.h"
#include "control/redis.h"
#include "control/room_token.h"
#include "ml_build_config.h"
#include "control/recording.h"
#include "signaling/http.h"
#include "recorder/tool.h"
#include "signaling/recording.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t finished;

static void usage(FILE *f)
{
    fprintf(f, "usage: mentorlink <serve|migrate [--check]|check-config|routes|version> [--config FILE]\n"
               "Configuration keys are documented in docs/configuration.md.\n");
}

static int load_config(ml_config *cfg, const char *path, char *err, size_t errlen)
{
    ml_config_defaults(cfg);
    if (!path)
        path = getenv("MENTORLINK_CONFIG");
    if (path && *path && ml_config_load_file(cfg, path, err, errlen) != 0)
        return -1;
    if (ml_config_load_env(cfg, environ, err, errlen) != 0)
        return -1;
    if (ml_config_validate(cfg, err, errlen) != 0)
        return -1;
    ml_log_level lvl = ML_LOG_INFO;
    ml_log_level_parse(cfg->log_level, &lvl);
    ml_log_setup(lvl, strcmp(cfg->log_format, "json") == 0);
    return 0;
}

static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig;
    while (sigwait(set, &sig) != 0)
        ;
    ML_INFO("main", "received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_flag = 1;
    while (!finished) {
        sig_http_wake();
        struct timespec ts = {0, 100 * 1000000L};
        siginfo_t si;
        if (sigtimedwait(set, &si, &ts) > 0) {
            ML_WARN("main", "second signal: exiting without draining");
            _exit(130);
        }
    }
    return NULL;
}

/* Resolve the database and Redis to use, starting embedded ones if needed. */
static int storage_up(const ml_config *cfg, int want_redis, ctl_embedded **emb, char *db_url,
                      size_t dblen, char *redis_url, size_t rlen, char *err, size_t errlen)
{
    int need_pg = cfg->database_url[0] == '\0';
    int need_redis = want_redis && cfg->redis_url[0] == '\0';
    *emb = NULL;
    if (need_pg || need_redis) {
        *emb = ctl_embedded_start(cfg, need_pg, need_redis, err, errlen);
        if (!*emb)
            return -1;
    }
    snprintf(db_url, dblen, "%s", need_pg ? ctl_embedded_database_url(*emb) : cfg->database_url);
    snprintf(redis_url, rlen, "%s", need_redis ? ctl_embedded_redis_url(*emb) : cfg->redis_url);
    return 0;
}

static int run_migrations(const char *db_url, int apply, char *err, size_t errlen)
{
    PGconn *c = ctl_db_connect(db_url, 5, err, errlen);
    if (!c)
        return -1;
    ctl_migrate_result res;
    int rc = ctl_migrate_run(c, ctl_migrations, ctl_migrations_count, apply, &res, err, errlen);
    PQfinish(c);
    if (rc != 0)
        return -1;
    if (apply) {
        if (res.applied)
            ML_INFO("migrate", "applied %d migration(s); schema version %d", res.applied,
                    res.current);
        else
            ML_INFO("migrate", "schema is up to date (version %d)", res.current);
    } else if (res.pending) {
        snprintf(err, errlen,
                 "the database schema is behind this build (%d migration(s) pending); run "
                 "`mentorlink migrate` or set auto_migrate = true",
                 res.pending);
        return -1;
    }
    return 0;
}

/* Every peer holds a UDP socket and two eventfds (libnice's and its ICE
 * agent's context's); at most 65 536 because libwebsockets sizes a table
 * by the limit. */
static void raise_fd_limit(void)
{
    char msg[160];
    int rc = ml_raise_fd_limit(65536, msg, sizeof msg);
    if (rc > 0)
        ML_INFO("main", "%s", msg);
    else if (rc < 0)
        ML_WARN("main", "%s", msg);
}

static int cmd_serve(ml_config *cfg)
{
    char err[1024] = "", db_url[2048], redis_url[2048];
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    ctl_embedded *emb = NULL;
    ctl_pay_embedded *pay = NULL;
    if (storage_up(cfg, 1, &emb, db_url, sizeof db_url, redis_url, sizeof redis_url, err,
                   sizeof err) != 0)
        goto fail;
    if (run_migrations(db_url, cfg->auto_migrate, err, sizeof err) != 0)
        goto fail;
    /* Room-token key before anything can verify a join (lws thread). */
    if (ctl_room_token_init(cfg, err, sizeof err) != 0)
        goto fail;
    /* Payments: the embedded mlfakepay when no provider is configured
     * (missing binary: payments answer 503, the rest runs). */
    if (!cfg->payments_provider_url[0] && !(pay = ctl_pay_embedded_start(cfg, err, sizeof err)))
        ML_WARN("main", "payments: %s", err);
    if (ctl_pay_init(cfg, db_url, err, sizeof err) != 0)
        goto fail;
    {
        ctl_redis r;
        if (ctl_redis_init(&r, redis_url, 3000, err, sizeof err) != 0 ||
            ctl_redis_ping(&r, err, sizeof err) != 0) {
            ctl_redis_close(&r);
            goto fail;
        }
        ctl_redis_close(&r);
    }
    ctl_recording_set_presigner(sig_rec_presign);
    if (cfg->recording_enabled && sig_rec_start(cfg, db_url, err, sizeof err) != 0)
        goto fail;
    if (sig_http_start(cfg, db_url, redis_url, err, sizeof err) != 0) {
        sig_rec_stop();
        goto fail;
    }
    ctl_jobs *jobs = ctl_jobs_start(cfg, db_url, redis_url, err, sizeof err);
    if (!jobs) {
        sig_http_destroy();
        sig_rec_stop();
        goto fail;
    }
    pthread_t st;
    pthread_create(&st, NULL, signal_thread, &set);
    ML_INFO("main", "mentorlink %s ready on http://%s:%d", ML_VERSION, cfg->listen_host,
            cfg->listen_port);
    sig_http_run(&stop_flag);
    /* A recording.process job may be running ffmpeg for minutes: kill it
     * (and refuse new runs) so that the job workers stop promptly; the job
     * is queued again for the next start (recording_job.c). */
    ctl_jobs_stop_claiming(jobs);
    rec_tool_cancel_all();
    sig_http_destroy();
    sig_rec_stop(); /* after the workers: closes what is left, queues processing */
    ctl_jobs_stop(jobs); /* waits for running jobs; interrupted ones are reclaimed by lease */
    finished = 1;
    pthread_join(st, NULL);
    ctl_pay_embedded_stop(pay);
    ctl_embedded_stop(emb);
    ML_INFO("main", "stopped");
    return 0;
fail:
    fprintf(stderr, "mentorlink: %s\n", err);
    ctl_pay_embedded_stop(pay);
    ctl_embedded_stop(emb);
    return 1;
}

static int cmd_migrate(ml_config *cfg, int check_only)
{
    char err[1024] = "", db_url[2048], redis_url[2048];
    signal(SIGPIPE, SIG_IGN);
    ctl_embedded *emb = NULL;
    if (storage_up(cfg, 0, &emb, db_url, sizeof db_url, redis_url, sizeof redis_url, err,
                   sizeof err) != 0 ||
        run_migrations(db_url, !check_only, err, sizeof err) != 0) {
        fprintf(stderr, "mentorlink: %s\n", err);
        ctl_embedded_stop(emb);
        return 1;
    }
    ctl_embedded_stop(emb);
    return 0;
}

static void print_config(const ml_config *cfg)
{
    size_t n;
    const ml_config_key *keys = ml_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const char *field = (const char *)cfg + keys[i].offset;
        int secret = strstr(keys[i].name, "secret") || strstr(keys[i].name, "url") ||
                     strstr(keys[i].name, "password") || strstr(keys[i].name, "key");
        if (keys[i].type == ML_CFG_T_STRING)
            printf("%s = \"%s\"\n", keys[i].name, secret && *field ? "(set)" : field);
        else if (keys[i].type == ML_CFG_T_BOOL)
            printf("%s = %s\n", keys[i].name, *(const int *)field ? "true" : "false");
        else
            printf("%s = %d\n", keys[i].name, *(const int *)field);
    }
}

int main(int argc, char **argv)
{
    const char *cmd = NULL, *config_path = NULL;
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config_path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config_path = argv[i] + 9;
        } else if (!strcmp(argv[i], "--check")) {
            check_only = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ||
                   !strcmp(argv[i], "help")) {
            usage(stdout);
            return 0;
        } else if (!cmd && argv[i][0] != '-') {
            cmd = argv[i];
        } else {
            fprintf(stderr, "mentorlink: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!cmd) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(cmd, "version")) {
        printf("mentorlink %s\n", ML_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "routes")) {
        for (size_t i = 0; i < ctl_api_route_count(); i++) {
            const ctl_route *r = ctl_api_route_at(i);
            printf("%s %s %s %s\n", r->method, r->pattern, ctl_perm_name(r->perm), r->summary);
        }
        return 0;
    }
    ml_config cfg;
    char err[1024];
    if (load_config(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "mentorlink: %s\n", err);
        return 1;
    }
    if (!strcmp(cmd, "serve"))
        return cmd_serve(&cfg);
    if (!strcmp(cmd, "migrate"))
        return cmd_migrate(&cfg, check_only);
    if (!strcmp(cmd, "check-config")) {
        print_config(&cfg);
        return 0;
    }
    fprintf(stderr, "mentorlink: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
