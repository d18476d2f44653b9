/*
 * External programs for post-processing; see tool.h. fork + execvp with
 * pipes for stdout and stderr, a poll loop that reads both until the child
 * closes them, and a deadline after which the child is killed. The child
 * leads its own process group and the whole group is killed, so a wrapper
 * script and the ffmpeg it started go together. A process-wide cancel pipe
 * (rec_tool_cancel_all, at shutdown) is polled too: writing it kills every
 * running program at once and refuses new ones. A program also gets
 * SIGKILL when the daemon dies without a shutdown (PR_SET_PDEATHSIG). ffprobe's JSON is read
 * with jansson.
 */
#include "recorder/tool.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ERR_TAIL 600

/* The cancel pipe: readable (never drained) once rec_tool_cancel_all ran. */
static int cancel_fd[2] = {-1, -1};
static atomic_int cancelled;
static pthread_once_t cancel_once = PTHREAD_ONCE_INIT;

static void cancel_init(void)
{
    if (pipe2(cancel_fd, O_CLOEXEC) != 0)
        cancel_fd[0] = cancel_fd[1] = -1;
}

void rec_tool_cancel_all(void)
{
    pthread_once(&cancel_once, cancel_init);
    atomic_store(&cancelled, 1);
    if (cancel_fd[1] >= 0) {
        ssize_t w = write(cancel_fd[1], "x", 1);
        (void)w;
    }
}

bool rec_tool_cancelled(void)
{
    return atomic_load(&cancelled) != 0;
}

/* SIGKILL the child's process group (the child itself if it has none). */
static void kill_child(pid_t pid)
{
    if (kill(-pid, SIGKILL) != 0)
        kill(pid, SIGKILL);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rec_tool_sleep_ms(long ms)
{
    pthread_once(&cancel_once, cancel_init);
    long long end = now_ms() + ms, left;
    /* The cancel pipe turns readable at the shutdown (and stays so). */
    struct pollfd p = {cancel_fd[0], POLLIN, 0};
    while (!rec_tool_cancelled() && (left = end - now_ms()) > 0)
        (void)poll(&p, cancel_fd[0] >= 0 ? 1 : 0, (int)left); /* EINTR: look again */
    return !rec_tool_cancelled();
}

/* Keep the last ERR_TAIL bytes of stderr. */
static void tail_append(char *tail, size_t *tlen, const char *p, size_t n)
{
    if (n >= ERR_TAIL) {
        memcpy(tail, p + n - ERR_TAIL, ERR_TAIL);
        *tlen = ERR_TAIL;
        return;
    }
    if (*tlen + n > ERR_TAIL) {
        size_t drop = *tlen + n - ERR_TAIL;
        memmove(tail, tail + drop, *tlen - drop);
        *tlen -= drop;
    }
    memcpy(tail + *tlen, p, n);
    *tlen += n;
}

static int out_append(char **out, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *nb = realloc(*out, nc);
        if (!nb)
            return -1;
        *out = nb;
        *cap = nc;
    }
    memcpy(*out + *len, p, n);
    *len += n;
    (*out)[*len] = '\0';
    return 0;
}

/* The tail as one line: trailing newlines trimmed, inner ones become " | ". */
static void tail_line(const char *tail, size_t tlen, char *line, size_t cap)
{
    while (tlen && (tail[tlen - 1] == '\n' || tail[tlen - 1] == '\r'))
        tlen--;
    size_t j = 0;
    for (size_t i = 0; i < tlen && j + 4 < cap; i++) {
        if (tail[i] == '\n') {
            memcpy(line + j, " | ", 3);
            j += 3;
        } else if (tail[i] != '\r')
            line[j++] = tail[i];
    }
    line[j] = '\0';
}

int rec_tool_run(char *const argv[], int timeout_s, char **out, char *err, size_t errlen)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    char tail[ERR_TAIL];
    size_t tlen = 0, olen = 0, ocap = 0;
    char *obuf = NULL;
    pid_t pid = -1;
    if (out)
        *out = NULL;
    pthread_once(&cancel_once, cancel_init);
    if (rec_tool_cancelled()) {
        snprintf(err, errlen, "%s not started: cancelled (shutting down)", argv[0]);
        return -1;
    }
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "%s: pipe: %s", argv[0], strerror(errno));
        goto fail;
    }
    pid_t parent = getpid();
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "%s: fork: %s", argv[0], strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        /* Dies with the daemon, even a SIGKILLed one (the signal follows
         * the forking thread, which waits for the program below; it is
         * kept across exec). A wrapper's own children are not covered. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the daemon died before the line above */
        setpgid(0, 0);  /* its own group: a timeout or shutdown kills all it started */
        sigset_t none;  /* the daemon's threads block SIGTERM/SIGINT: not the program */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execvp(argv[0], argv);
        static const char msg[] = "cannot run the program (execvp failed)\n";
        ssize_t w = write(2, msg, sizeof msg - 1); /* nothing but syscalls after fork */
        (void)w;
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no window before the child's own call */
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    long long deadline = now_ms() + (long long)(timeout_s > 0 ? timeout_s : 3600) * 1000;
    bool timed_out = false, stopped = false;
    struct pollfd fds[3] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}, {cancel_fd[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = true;
            kill_child(pid);
            break;
        }
        int r = poll(fds, 3, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno != EINTR) {
            kill_child(pid); /* else waitpid below could wait for ever */
            break;
        }
        if (r > 0 && fds[2].fd >= 0 && (fds[2].revents & POLLIN)) {
            stopped = true;
            kill_child(pid);
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 1)
                tail_append(tail, &tlen, buf, (size_t)n);
            else if (out && out_append(&obuf, &olen, &ocap, buf, (size_t)n) != 0) {
                snprintf(err, errlen, "%s: out of memory", argv[0]);
                kill_child(pid);
                waitpid(pid, NULL, 0);
                pid = -1;
                goto fail;
            }
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    char line[ERR_TAIL + 64];
    tail_line(tail, tlen, line, sizeof line);
    if (stopped) {
        snprintf(err, errlen, "%s cancelled (shutting down; killed)", argv[0]);
        goto fail;
    }
    if (timed_out) {
        snprintf(err, errlen, "%s timed out after %d s (killed)%s%s", argv[0], timeout_s,
                 line[0] ? ": " : "", line);
        goto fail;
    }
    if (WIFSIGNALED(status)) {
        snprintf(err, errlen, "%s killed by signal %d%s%s", argv[0], WTERMSIG(status),
                 line[0] ? ": " : "", line);
        goto fail;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "%s exited with status %d%s%s", argv[0], WEXITSTATUS(status),
                 line[0] ? ": " : "", line[0] ? line : " (no error output)");
        goto fail;
    }
    close(po[0]);
    close(pe[0]);
    if (out)
        *out = obuf ? obuf : calloc(1, 1);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    free(obuf);
    return -1;
}

static double num_field(json_t *o, const char *k, double def)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return strtod(json_string_value(v), NULL);
    if (json_is_number(v))
        return json_number_value(v);
    return def;
}

int rec_probe_file(const char *ffprobe, const char *path, int timeout_s, rec_probe *p, char *err,
                   size_t errlen)
{
    memset(p, 0, sizeof *p);
    char *argv[] = {(char *)(ffprobe ? ffprobe : "ffprobe"),
                    "-v",
                    "error",
                    "-show_streams",
                    "-show_format",
                    "-of",
                    "json",
                    (char *)path,
                    NULL};
    char *out = NULL;
    json_t *root = NULL;
    if (rec_tool_run(argv, timeout_s, &out, err, errlen) != 0)
        goto fail;
    json_error_t je;
    root = json_loads(out, 0, &je);
    if (!root) {
        snprintf(err, errlen, "ffprobe output is not JSON: %s", je.text);
        goto fail;
    }
    p->duration_s = num_field(json_object_get(root, "format"), "duration", 0);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(root, "streams"), i, s)
    {
        const char *type = json_string_value(json_object_get(s, "codec_type"));
        const char *codec = json_string_value(json_object_get(s, "codec_name"));
        if (type && !strcmp(type, "video"))
            p->video_streams++;
        if (type && !strcmp(type, "audio") && !p->has_audio) {
            p->has_audio = true;
            p->audio_start_s = num_field(s, "start_time", 0);
            p->audio_duration_s = num_field(s, "duration", 0);
            p->audio_frames = (uint64_t)num_field(s, "nb_frames", 0);
            p->audio_rate = (int)num_field(s, "sample_rate", 0);
            snprintf(p->audio_codec, sizeof p->audio_codec, "%s", codec ? codec : "");
        } else if (type && !strcmp(type, "video") && !p->has_video) {
            p->has_video = true;
            p->video_start_s = num_field(s, "start_time", 0);
            p->video_duration_s = num_field(s, "duration", 0);
            p->width = (int)num_field(s, "width", 0);
            p->height = (int)num_field(s, "height", 0);
            snprintf(p->video_codec, sizeof p->video_codec, "%s", codec ? codec : "");
        }
    }
    json_decref(root);
    free(out);
    return 0;
fail:
    json_decref(root);
    free(out);
    return -1;
}
