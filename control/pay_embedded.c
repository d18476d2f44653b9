/*
 * The embedded payment provider (see payments.h): with no
 * payments_provider_url the daemon runs the local Stripe-compatible
 * mlfakepay on 127.0.0.1, like the embedded PostgreSQL (embedded.c):
 *
 *   - binary: payments_fakepay_bin, else ../tools/fakepay/mlfakepay
 *     relative to the folder of /proc/self/exe's folder (the build tree),
 *     else `mlfakepay` on PATH;
 *   - keys: a secret key and a webhook secret generated once into
 *     data_dir/fakepay/keys (0600), state in data_dir/fakepay/state.json,
 *     log in data_dir/fakepay/fakepay.log;
 *   - --listen 127.0.0.1:0 on the first start; the port it prints is kept
 *     for restarts, so URLs stay valid;
 *   - webhooks to http://127.0.0.1:<listen_port>/api/v1/payments/webhook,
 *     verified with the generated secret and any payments_webhook_secrets.
 *
 * A supervisor thread forks (PR_SET_PDEATHSIG is tied to the forking
 * thread, so it must be long-lived), reads the "listening on" line,
 * publishes the provider settings, and restarts the child with back-off if
 * it dies (settings not ready meanwhile: payment routes answer 503).
 */
#include "control/pay_provider.h"
#include "common/hex.h"
#include "control/payments.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define READY_MS 20000

struct ctl_pay_embedded {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state; /* 0 starting, 1 ready, -1 failed */
    volatile int stopping;
    char err[512];
    char bin[PATH_MAX];
    char dir[PATH_MAX];
    char secret[80];
    char whsec[80];
    char webhook_url[256];
    char extra_secrets[1024]; /* payments_webhook_secrets, also accepted */
    int port;                 /* 0 until the first start printed it */
    pid_t pid;
    int out_fd; /* child's stdout */
    int restarts;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_exec(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

static int find_bin(const ml_config *cfg, char *out, size_t cap)
{
    if (cfg->payments_fakepay_bin[0]) {
        snprintf(out, cap, "%s", cfg->payments_fakepay_bin);
        return is_exec(out) ? 0 : -1;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *s = strrchr(self, '/');
        if (s) {
            *s = '\0'; /* build/signaling */
            snprintf(out, cap, "%s/../tools/fakepay/mlfakepay", self);
            if (is_exec(out))
                return 0;
        }
    }
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/mlfakepay", d);
        if (is_exec(out))
            return 0;
    }
    return -1;
}

/* Read or create data_dir/fakepay/keys: "sk_test_<hex>\nwhsec_<hex>\n". */
static int load_keys(struct ctl_pay_embedded *e, char *err, size_t errlen)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/keys", e->dir);
    FILE *f = fopen(path, "r");
    if (f) {
        int ok = fscanf(f, "%79s %79s", e->secret, e->whsec) == 2;
        fclose(f);
        if (ok && !strncmp(e->secret, "sk_test_", 8) && !strncmp(e->whsec, "whsec_", 6))
            return 0;
    }
    unsigned char r[48];
    if (RAND_bytes(r, sizeof r) != 1) {
        snprintf(err, errlen, "no randomness for the fakepay keys");
        return -1;
    }
    char h1[49], h2[49];
    ml_hex_encode(r, 24, h1);
    ml_hex_encode(r + 24, 24, h2);
    snprintf(e->secret, sizeof e->secret, "sk_test_%s", h1);
    snprintf(e->whsec, sizeof e->whsec, "whsec_%s", h2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    char text[200];
    int n = snprintf(text, sizeof text, "%s\n%s\n", e->secret, e->whsec);
    int ok = write(fd, text, (size_t)n) == n;
    close(fd);
    return ok ? 0 : -1;
}

static pid_t spawn(struct ctl_pay_embedded *e)
{
    char listen[64], state[PATH_MAX + 16], logp[PATH_MAX + 16];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", e->port);
    snprintf(state, sizeof state, "%s/state.json", e->dir);
    snprintf(logp, sizeof logp, "%s/fakepay.log", e->dir);
    char *argv[] = {e->bin,    "--listen",      listen,         "--secret-key",
                    e->secret, "--webhook-url", e->webhook_url, "--webhook-secret",
                    e->whsec,  "--state-file",  state,          NULL};
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    int logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        if (logfd >= 0)
            close(logfd);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pfd[1], 1);
        dup2(logfd >= 0 ? logfd : devnull, 2);
        close_range(3, ~0U, 0);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    if (logfd >= 0)
        close(logfd);
    e->out_fd = pfd[0];
    return pid;
}

/* Forward the child's stdout to the log; parse the port from the
 * "listening on" line. Returns -1 at EOF. */
static int drain(struct ctl_pay_embedded *e, int timeout_ms, int *port)
{
    struct pollfd p = {e->out_fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    char buf[1024];
    ssize_t n = read(e->out_fd, buf, sizeof buf - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *m = strstr(buf, "listening on 127.0.0.1:");
    if (m && port)
        *port = atoi(m + strlen("listening on 127.0.0.1:"));
    return 0;
}

static void publish(struct ctl_pay_embedded *e, int ready)
{
    ctl_pay_settings s;
    memset(&s, 0, sizeof s);
    s.ready = ready;
    snprintf(s.url, sizeof s.url, "http://127.0.0.1:%d", e->port);
    snprintf(s.public_url, sizeof s.public_url, "%s", s.url);
    snprintf(s.secret_key, sizeof s.secret_key, "%s", e->secret);
    snprintf(s.webhook_secrets, sizeof s.webhook_secrets, "%s%s%s", e->whsec,
             e->extra_secrets[0] ? "," : "", e->extra_secrets);
    ctl_pay_settings_set(&s);
}

static void reap(struct ctl_pay_embedded *e)
{
    if (e->out_fd >= 0)
        close(e->out_fd);
    e->out_fd = -1;
    e->pid = 0;
}

/* Start once and wait for the port line. 0 or -1. */
static int start_once(struct ctl_pay_embedded *e)
{
    e->pid = spawn(e);
    if (e->pid < 0) {
        e->pid = 0;
        return -1;
    }
    long long deadline = now_ms() + READY_MS;
    int port = 0;
    while (!e->stopping && now_ms() < deadline) {
        if (drain(e, 100, &port) != 0 || waitpid(e->pid, NULL, WNOHANG) == e->pid) {
            waitpid(e->pid, NULL, WNOHANG);
            reap(e);
            return -1;
        }
        if (port > 0) {
            e->port = port;
            publish(e, 1);
            return 0;
        }
    }
    kill(e->pid, SIGKILL);
    waitpid(e->pid, NULL, 0);
    reap(e);
    return -1;
}

static void *supervise(void *arg)
{
    struct ctl_pay_embedded *e = arg;
    int rc = start_once(e);
    pthread_mutex_lock(&e->mu);
    e->state = rc == 0 ? 1 : -1;
    if (rc != 0)
        snprintf(e->err, sizeof e->err, "mlfakepay (%s) did not start; see %s/fakepay.log", e->bin,
                 e->dir);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (rc != 0)
        return NULL;
    int backoff = 500;
    long long next = 0;
    while (!e->stopping) {
        if (e->pid > 0) {
            if (drain(e, 200, NULL) != 0) {
                /* stdout closed: the child is exiting */
                close(e->out_fd);
                e->out_fd = -1;
            }
            if (e->out_fd < 0)
                usleep(100 * 1000);
            int st;
            if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
                ML_WARN("payments", "mlfakepay exited (status %d); restarting", st);
                publish(e, 0);
                reap(e);
                next = now_ms() + backoff;
            }
        } else if (now_ms() >= next) {
            if (start_once(e) == 0) {
                e->restarts++;
                backoff = 500;
                ML_INFO("payments", "mlfakepay restarted on port %d", e->port);
            } else {
                backoff = backoff < 8000 ? backoff * 2 : 10000;
                next = now_ms() + backoff;
            }
        } else {
            usleep(100 * 1000);
        }
    }
    if (e->pid > 0) {
        kill(e->pid, SIGTERM);
        long long until = now_ms() + 3000;
        while (waitpid(e->pid, NULL, WNOHANG) != e->pid) {
            if (now_ms() > until) {
                kill(e->pid, SIGKILL);
                waitpid(e->pid, NULL, 0);
                break;
            }
            usleep(50 * 1000);
        }
        reap(e);
    }
    publish(e, 0);
    return NULL;
}

ctl_pay_embedded *ctl_pay_embedded_start(const ml_config *cfg, char *err, size_t errlen)
{
    struct ctl_pay_embedded *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->out_fd = -1;
    if (find_bin(cfg, e->bin, sizeof e->bin) != 0) {
        snprintf(err, errlen,
                 "mlfakepay not found (set payments_fakepay_bin or "
                 "payments_provider_url); payments are disabled");
        free(e);
        return NULL;
    }
    snprintf(e->dir, sizeof e->dir, "%s/fakepay", cfg->data_dir);
    if (mkdir(cfg->data_dir, 0755) != 0 && errno != EEXIST) {
        /* reported by the next mkdir */
    }
    if (mkdir(e->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", e->dir, strerror(errno));
        free(e);
        return NULL;
    }
    if (load_keys(e, err, errlen) != 0) {
        free(e);
        return NULL;
    }
    snprintf(e->extra_secrets, sizeof e->extra_secrets, "%s", cfg->payments_webhook_secrets);
    snprintf(e->webhook_url, sizeof e->webhook_url, "http://127.0.0.1:%d/api/v1/payments/webhook",
             cfg->listen_port);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->thread, NULL, supervise, e) != 0) {
        snprintf(err, errlen, "cannot start the fakepay supervisor");
        free(e);
        return NULL;
    }
    pthread_mutex_lock(&e->mu);
    while (e->state == 0)
        pthread_cond_wait(&e->cv, &e->mu);
    int ok = e->state == 1;
    pthread_mutex_unlock(&e->mu);
    if (!ok) {
        snprintf(err, errlen, "%s", e->err);
        pthread_join(e->thread, NULL);
        free(e);
        return NULL;
    }
    ML_INFO("payments", "embedded mlfakepay on http://127.0.0.1:%d (pid %d)", e->port, (int)e->pid);
    return e;
}

void ctl_pay_embedded_stop(ctl_pay_embedded *e)
{
    if (!e)
        return;
    e->stopping = 1;
    pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}
