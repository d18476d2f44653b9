/*
 * Embedded PostgreSQL and Redis supervisor; see embedded.h.
 *
 * Design: the calling thread prepares folders and runs initdb (short-lived,
 * waited for). A supervisor thread then does every fork/exec of the
 * long-lived servers — PR_SET_PDEATHSIG fires when the *thread* that forked
 * exits, so forking from the long-lived supervisor keeps it meaningful —
 * waits until they answer, reports readiness, and polls waitpid() to
 * restart a server that died (back-off 0.5 s doubling to 10 s). Between fork
 * and exec the child only makes async-signal-safe calls and closes every
 * inherited descriptor (the HTTP listening socket among them).
 */
#include "control/embedded.h"
#include "common/log.h"
#include "control/redis.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 40
#define READY_TIMEOUT_MS 60000

typedef struct child {
    const char *name;
    char *argv[MAX_ARGS];
    char argbuf[8192];
    char logpath[PATH_MAX];
    int pdeath_sig; /* sent by the kernel if we die */
    int drop;       /* run as the unprivileged user */
    int stop_sig;   /* our orderly stop */
    pid_t pid;
    int restarts;
    long long next_start_ms;
    int backoff_ms;
} child;

struct ctl_embedded {
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state; /* 0 starting, 1 ready, -1 failed */
    int stopping;
    char err[512];
    int want_pg, want_redis;
    int drop_priv;
    uid_t uid;
    gid_t gid;
    char data_dir[PATH_MAX];
    char run_dir[PATH_MAX];
    char pg_bin[PATH_MAX];
    char pg_data[PATH_MAX];
    char redis_bin[PATH_MAX];
    char db_url[PATH_MAX + 128];
    char redis_url[PATH_MAX + 16];
    child pg, redis;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* mkdir -p for one level with mode; ok if it exists as a folder. */
static int ensure_dir(const char *path, mode_t mode, char *err, size_t errlen)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a folder", path);
        return -1;
    }
    return 0;
}

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
                return -1;
            }
            *p = '/';
        }
    }
    return ensure_dir(tmp, 0755, err, errlen);
}

static int is_exec(const char *path)
{
    return access(path, X_OK) == 0;
}

/* Find the newest /usr/lib/postgresql/<ver>/bin holding postgres + initdb. */
static int find_pg_bin(const char *configured, char *out, size_t outlen)
{
    char probe[PATH_MAX + 16];
    if (configured[0]) {
        snprintf(probe, sizeof probe, "%s/postgres", configured);
        if (!is_exec(probe))
            return -1;
        snprintf(out, outlen, "%s", configured);
        return 0;
    }
    DIR *d = opendir("/usr/lib/postgresql");
    if (!d)
        return -1;
    int best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        int v = atoi(e->d_name);
        if (v <= 0)
            continue;
        snprintf(probe, sizeof probe, "/usr/lib/postgresql/%d/bin/postgres", v);
        if (is_exec(probe) && v > best)
            best = v;
    }
    closedir(d);
    if (best < 0)
        return -1;
    snprintf(out, outlen, "/usr/lib/postgresql/%d/bin", best);
    return 0;
}

static int find_in_path(const char *name, char *out, size_t outlen)
{
    if (strchr(name, '/')) {
        if (!is_exec(name))
            return -1;
        snprintf(out, outlen, "%s", name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char cand[PATH_MAX];
        snprintf(cand, sizeof cand, "%s/%s", dir, name);
        if (is_exec(cand)) {
            snprintf(out, outlen, "%s", cand);
            return 0;
        }
    }
    return -1;
}

/* Fill c->argv from a NULL-terminated list, copying into c->argbuf. */
static void set_args(child *c, const char *const *args)
{
    size_t off = 0;
    int i = 0;
    for (; args[i] && i < MAX_ARGS - 1; i++) {
        size_t n = strlen(args[i]) + 1;
        if (off + n > sizeof c->argbuf)
            break;
        memcpy(c->argbuf + off, args[i], n);
        c->argv[i] = c->argbuf + off;
        off += n;
    }
    c->argv[i] = NULL;
}

/* fork + exec; in the child only async-signal-safe calls. */
static pid_t spawn(const ctl_embedded *e, char *const argv[], const char *logpath, int pdeath_sig,
                   int drop)
{
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0)
        return -1;
    if (drop && fchown(logfd, e->uid, e->gid) != 0) {
        /* not fatal: the parent holds the descriptor */
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        close_range(3, ~0U, 0);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        if (drop) {
            if (setgroups(0, NULL) != 0 || setgid(e->gid) != 0 || setuid(e->uid) != 0)
                _exit(126);
        }
        /* After setuid: a change of credentials clears the death signal. */
        if (pdeath_sig)
            prctl(PR_SET_PDEATHSIG, pdeath_sig);
        if (getppid() != parent)
            _exit(1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(logfd);
    return pid;
}

/* Run a short command to completion; returns its exit status or -1. */
static int run_wait(const ctl_embedded *e, char *const argv[], const char *logpath)
{
    pid_t pid = spawn(e, argv, logpath, SIGKILL, e->drop_priv);
    if (pid < 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int pg_ready(const ctl_embedded *e)
{
    char ci[PATH_MAX + 96];
    snprintf(ci, sizeof ci, "host=%s dbname=postgres user=mentorlink connect_timeout=2",
             e->run_dir);
    return PQping(ci) == PQPING_OK;
}

static int pg_ensure_database(const ctl_embedded *e, char *err, size_t errlen)
{
    char ci[PATH_MAX + 96];
    snprintf(ci, sizeof ci, "host=%s dbname=postgres user=mentorlink connect_timeout=5",
             e->run_dir);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "embedded PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = 'mentorlink'");
    int exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    int rc = 0;
    if (!exists) {
        r = PQexec(c, "CREATE DATABASE mentorlink");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            snprintf(err, errlen, "embedded PostgreSQL: cannot create database: %s",
                     PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

static int redis_ready(const ctl_embedded *e)
{
    ctl_redis r;
    char err[256];
    if (ctl_redis_init(&r, e->redis_url, 1000, err, sizeof err) != 0)
        return 0;
    int ok = ctl_redis_ping(&r, err, sizeof err) == 0;
    ctl_redis_close(&r);
    return ok;
}

static int start_child(ctl_embedded *e, child *c)
{
    c->pid = spawn(e, c->argv, c->logpath, c->pdeath_sig, c->drop);
    if (c->pid < 0) {
        c->pid = 0;
        return -1;
    }
    return 0;
}

static void set_state(ctl_embedded *e, int state, const char *err)
{
    pthread_mutex_lock(&e->mu);
    e->state = state;
    if (err)
        snprintf(e->err, sizeof e->err, "%s", err);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static int is_stopping(ctl_embedded *e)
{
    pthread_mutex_lock(&e->mu);
    int s = e->stopping;
    pthread_mutex_unlock(&e->mu);
    return s;
}

/* Wait until `ready` answers or the child exits or time runs out. */
static int wait_ready(ctl_embedded *e, child *c, int (*ready)(const ctl_embedded *), char *err,
                      size_t errlen)
{
    long long deadline = now_ms() + READY_TIMEOUT_MS;
    while (now_ms() < deadline && !is_stopping(e)) {
        if (ready(e))
            return 0;
        int st;
        pid_t w = waitpid(c->pid, &st, WNOHANG);
        if (w == c->pid) {
            c->pid = 0;
            snprintf(err, errlen, "embedded %s exited during start-up (see %s)", c->name,
                     c->logpath);
            return -1;
        }
        sleep_ms(100);
    }
    snprintf(err, errlen, "embedded %s did not answer within %d s (see %s)", c->name,
             READY_TIMEOUT_MS / 1000, c->logpath);
    return -1;
}

static void reap_and_restart(ctl_embedded *e, child *c)
{
    if (c->pid > 0) {
        int st;
        pid_t w = waitpid(c->pid, &st, WNOHANG);
        if (w != c->pid)
            return;
        c->pid = 0;
        if (is_stopping(e))
            return;
        ML_WARN("embedded", "%s exited (%s %d); restarting in %d ms", c->name,
                WIFSIGNALED(st) ? "signal" : "status",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), c->backoff_ms);
        c->next_start_ms = now_ms() + c->backoff_ms;
        c->backoff_ms = c->backoff_ms * 2 > 10000 ? 10000 : c->backoff_ms * 2;
        return;
    }
    if (c->next_start_ms && now_ms() >= c->next_start_ms && !is_stopping(e)) {
        c->next_start_ms = 0;
        if (start_child(e, c) == 0) {
            c->restarts++;
            ML_INFO("embedded", "%s restarted (pid %d)", c->name, (int)c->pid);
        } else {
            c->next_start_ms = now_ms() + c->backoff_ms;
        }
    }
}

static void stop_child(child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, c->stop_sig);
    long long deadline = now_ms() + 15000;
    while (now_ms() < deadline) {
        int st;
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
            c->pid = 0;
            return;
        }
        sleep_ms(50);
    }
    ML_WARN("embedded", "%s did not stop in time; killing it", c->name);
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    c->pid = 0;
}

static void *supervisor(void *arg)
{
    ctl_embedded *e = arg;
    char err[512];
    if (e->want_pg) {
        if (start_child(e, &e->pg) != 0) {
            snprintf(err, sizeof err, "cannot start %s: %s", e->pg.argv[0], strerror(errno));
            set_state(e, -1, err);
            return NULL;
        }
        if (wait_ready(e, &e->pg, pg_ready, err, sizeof err) != 0 ||
            pg_ensure_database(e, err, sizeof err) != 0) {
            stop_child(&e->pg);
            set_state(e, -1, err);
            return NULL;
        }
        ML_INFO("embedded", "PostgreSQL ready (pid %d, socket in %s)", (int)e->pg.pid, e->run_dir);
    }
    if (e->want_redis) {
        if (start_child(e, &e->redis) != 0 ||
            wait_ready(e, &e->redis, redis_ready, err, sizeof err) != 0) {
            stop_child(&e->redis);
            stop_child(&e->pg);
            set_state(e, -1, err[0] ? err : "cannot start redis-server");
            return NULL;
        }
        ML_INFO("embedded", "Redis ready (pid %d)", (int)e->redis.pid);
    }
    set_state(e, 1, NULL);
    while (!is_stopping(e)) {
        reap_and_restart(e, &e->pg);
        reap_and_restart(e, &e->redis);
        sleep_ms(100);
    }
    stop_child(&e->redis);
    stop_child(&e->pg);
    return NULL;
}

/* Prepare folders, find binaries, run initdb on first use. */
static int prepare(ctl_embedded *e, const ml_config *cfg, char *err, size_t errlen)
{
    if (mkdir_p(cfg->data_dir, err, errlen) != 0)
        return -1;
    if (!realpath(cfg->data_dir, e->data_dir)) {
        snprintf(err, errlen, "cannot resolve data_dir %s: %s", cfg->data_dir, strerror(errno));
        return -1;
    }
    char logdir[PATH_MAX + 8];
    snprintf(e->run_dir, sizeof e->run_dir, "%s/run", e->data_dir);
    snprintf(logdir, sizeof logdir, "%s/log", e->data_dir);
    if (ensure_dir(e->run_dir, 0700, err, errlen) != 0 || ensure_dir(logdir, 0755, err, errlen) != 0)
        return -1;
    if (strlen(e->run_dir) + 20 > 107) {
        snprintf(err, errlen, "data_dir path is too long for unix sockets (%s); choose a shorter one",
                 e->data_dir);
        return -1;
    }
    if (geteuid() == 0 && e->want_pg) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw) {
            snprintf(err, errlen, "embedded PostgreSQL cannot run as root and there is no "
                                  "'postgres' user; install postgresql or set DATABASE_URL");
            return -1;
        }
        e->drop_priv = 1;
        e->uid = pw->pw_uid;
        e->gid = pw->pw_gid;
        if (chown(e->run_dir, e->uid, e->gid) != 0) {
            snprintf(err, errlen, "cannot chown %s: %s", e->run_dir, strerror(errno));
            return -1;
        }
    }
    if (e->want_pg) {
        if (find_pg_bin(cfg->postgres_bin_dir, e->pg_bin, sizeof e->pg_bin) != 0) {
            snprintf(err, errlen,
                     "PostgreSQL server binaries not found (%s); install the postgresql package "
                     "or set DATABASE_URL",
                     cfg->postgres_bin_dir[0] ? cfg->postgres_bin_dir : "/usr/lib/postgresql/*/bin");
            return -1;
        }
        snprintf(e->pg_data, sizeof e->pg_data, "%s/postgresql", e->data_dir);
        snprintf(e->pg.logpath, sizeof e->pg.logpath, "%s/postgresql.log", logdir);
        char version_file[PATH_MAX + 16];
        snprintf(version_file, sizeof version_file, "%s/PG_VERSION", e->pg_data);
        if (access(version_file, F_OK) != 0) {
            if (ensure_dir(e->pg_data, 0700, err, errlen) != 0)
                return -1;
            if (e->drop_priv && chown(e->pg_data, e->uid, e->gid) != 0) {
                snprintf(err, errlen, "cannot chown %s: %s", e->pg_data, strerror(errno));
                return -1;
            }
            char initdb[PATH_MAX + 16];
            snprintf(initdb, sizeof initdb, "%s/initdb", e->pg_bin);
            child tmp;
            memset(&tmp, 0, sizeof tmp);
            const char *args[] = {initdb, "-D", e->pg_data, "-U", "mentorlink", "-A", "trust",
                                  "-E", "UTF8", "--locale=C", NULL};
            set_args(&tmp, args);
            ML_INFO("embedded", "initialising a PostgreSQL cluster in %s", e->pg_data);
            int st = run_wait(e, tmp.argv, e->pg.logpath);
            if (st != 0) {
                snprintf(err, errlen,
                         "initdb failed (status %d); if the 'postgres' user cannot reach %s, "
                         "choose another data_dir; see %s",
                         st, e->data_dir, e->pg.logpath);
                return -1;
            }
        }
        char postgres[PATH_MAX + 16], sockdir[PATH_MAX + 40];
        snprintf(postgres, sizeof postgres, "%s/postgres", e->pg_bin);
        snprintf(sockdir, sizeof sockdir, "unix_socket_directories=%s", e->run_dir);
        const char *args[] = {postgres, "-D", e->pg_data, "-c", "listen_addresses=", "-c",
                              sockdir, "-c", "max_connections=200", NULL};
        e->pg.name = "PostgreSQL";
        set_args(&e->pg, args);
        e->pg.pdeath_sig = SIGINT; /* fast shutdown */
        e->pg.drop = e->drop_priv;
        e->pg.stop_sig = SIGINT;
        e->pg.backoff_ms = 500;
        snprintf(e->db_url, sizeof e->db_url, "host=%s dbname=mentorlink user=mentorlink",
                 e->run_dir);
    }
    if (e->want_redis) {
        if (find_in_path(cfg->redis_server_bin, e->redis_bin, sizeof e->redis_bin) != 0) {
            snprintf(err, errlen, "%s not found; install redis-server or set REDIS_URL",
                     cfg->redis_server_bin);
            return -1;
        }
        char redis_dir[PATH_MAX + 8], sock[PATH_MAX + 16];
        snprintf(redis_dir, sizeof redis_dir, "%s/redis", e->data_dir);
        if (ensure_dir(redis_dir, 0700, err, errlen) != 0)
            return -1;
        snprintf(sock, sizeof sock, "%s/redis.sock", e->run_dir);
        snprintf(e->redis.logpath, sizeof e->redis.logpath, "%s/redis.log", logdir);
        const char *args[] = {e->redis_bin, "--port", "0", "--unixsocket", sock,
                              "--unixsocketperm", "700", "--dir", redis_dir, "--save", "",
                              "--appendonly", "no", "--daemonize", "no", NULL};
        e->redis.name = "Redis";
        set_args(&e->redis, args);
        e->redis.pdeath_sig = SIGTERM;
        e->redis.stop_sig = SIGTERM;
        e->redis.backoff_ms = 500;
        snprintf(e->redis_url, sizeof e->redis_url, "unix://%s", sock);
    }
    return 0;
}

ctl_embedded *ctl_embedded_start(const ml_config *cfg, int want_pg, int want_redis, char *err,
                                 size_t errlen)
{
    ctl_embedded *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->want_pg = want_pg;
    e->want_redis = want_redis;
    if ((!want_pg && !want_redis) || prepare(e, cfg, err, errlen) != 0)
        goto fail;
    if (pthread_create(&e->thread, NULL, supervisor, e) != 0) {
        snprintf(err, errlen, "cannot start the supervisor thread");
        goto fail;
    }
    e->thread_started = 1;
    pthread_mutex_lock(&e->mu);
    while (e->state == 0)
        pthread_cond_wait(&e->cv, &e->mu);
    int state = e->state;
    if (state < 0)
        snprintf(err, errlen, "%s", e->err);
    pthread_mutex_unlock(&e->mu);
    if (state < 0) {
        pthread_join(e->thread, NULL);
        e->thread_started = 0;
        goto fail;
    }
    return e;
fail:
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
    return NULL;
}

const char *ctl_embedded_database_url(const ctl_embedded *e)
{
    return e ? e->db_url : "";
}

const char *ctl_embedded_redis_url(const ctl_embedded *e)
{
    return e ? e->redis_url : "";
}

int ctl_embedded_pids(ctl_embedded *e, int *pg_pid, int *redis_pid)
{
    /* Read without the supervisor's cooperation: pid_t stores are atomic on
     * the platforms we run on, and the values are advisory. */
    *pg_pid = (int)__atomic_load_n(&e->pg.pid, __ATOMIC_RELAXED);
    *redis_pid = (int)__atomic_load_n(&e->redis.pid, __ATOMIC_RELAXED);
    return 0;
}

void ctl_embedded_restarts(ctl_embedded *e, int *pg, int *redis)
{
    *pg = __atomic_load_n(&e->pg.restarts, __ATOMIC_RELAXED);
    *redis = __atomic_load_n(&e->redis.restarts, __ATOMIC_RELAXED);
}

void ctl_embedded_stop(ctl_embedded *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_mutex_unlock(&e->mu);
    if (e->thread_started)
        pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}
