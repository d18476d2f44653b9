/*
 * mlfakepay: a local Stripe-like payment provider for development and the
 * integration tests (docs/payments.md, "Local provider (mlfakepay)").
 *
 *   mlfakepay --listen 127.0.0.1:PORT --secret-key sk_test_...
 *             [--webhook-url URL]... [--webhook-secret whsec_...]...
 *             [--state-file PATH [--fsync]] [--public-url URL] [--die-with-parent]
 *
 * --die-with-parent: stop (as on SIGTERM) when the process that started it
 * dies, e.g. a test runner killed from outside.
 *
 * Prints "mlfakepay listening on 127.0.0.1:PORT" once it accepts
 * connections; SIGTERM/SIGINT stop it cleanly (the state is saved).
 */
#include "tools/fakepay/fakepay.h"
#include "tools/fakepay/server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <getopt.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fp_globals fp;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    stop_flag = 1;
    fp_server_wake();
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mlfakepay --listen 127.0.0.1:PORT --secret-key sk_test_...\n"
               "                 [--webhook-url http://127.0.0.1:P/path]...\n"
               "                 [--webhook-secret whsec_...]...\n"
               "                 [--state-file PATH [--fsync]] [--public-url http://127.0.0.1:PORT]\n"
               "                 [--die-with-parent]\n");
}

/* Split "host:port" / "[::1]:port"; the host must be a loopback address. */
static int parse_listen(const char *s, char *host, size_t hcap, int *port)
{
    const char *colon;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -1;
        snprintf(host, hcap, "%.*s", (int)(rb - s - 1), s + 1);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        snprintf(host, hcap, "%.*s", (int)(colon - s), s);
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127 ? 0 : -1;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) ? 0 : -1;
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"secret-key", required_argument, NULL, 'k'},
        {"webhook-url", required_argument, NULL, 'u'},
        {"webhook-secret", required_argument, NULL, 'w'},
        {"state-file", required_argument, NULL, 's'},
        {"public-url", required_argument, NULL, 'p'},
        {"fsync", no_argument, NULL, 'f'},
        {"die-with-parent", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char host[128] = "";
    int port = -1, rc = 1, die_with_parent = 0;
    pid_t parent = getppid();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (fp_state_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "mlfakepay: out of memory\n");
        return 1;
    }
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (parse_listen(optarg, host, sizeof host, &port) != 0) {
                fprintf(stderr, "mlfakepay: --listen must be a loopback IP:PORT, not %s\n", optarg);
                goto out;
            }
            break;
        case 'k':
            if (strlen(optarg) < 8 || strlen(optarg) >= sizeof fp.secret_key) {
                fprintf(stderr, "mlfakepay: --secret-key must be 8..255 characters\n");
                goto out;
            }
            snprintf(fp.secret_key, sizeof fp.secret_key, "%s", optarg);
            break;
        case 'u':
            if (!fp_url_is_loopback(optarg)) {
                fprintf(stderr, "mlfakepay: --webhook-url must be http(s) on loopback: %s\n",
                        optarg);
                goto out;
            }
            json_array_append_new(fp.webhook_urls, json_string(optarg));
            break;
        case 'w':
            if (!*optarg || strlen(optarg) > 1000) {
                fprintf(stderr, "mlfakepay: bad --webhook-secret\n");
                goto out;
            }
            json_array_append_new(fp.webhook_secrets, json_string(optarg));
            break;
        case 's':
            snprintf(fp.state_file, sizeof fp.state_file, "%s", optarg);
            break;
        case 'p':
            snprintf(fp.public_url, sizeof fp.public_url, "%s", optarg);
            break;
        case 'f':
            fp.state_fsync = 1;
            break;
        case 'd':
            die_with_parent = 1;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc || port < 0 || !fp.secret_key[0]) {
        usage(stderr);
        goto out;
    }
    char err[512];
    if (fp_state_load(err, sizeof err) != 0) {
        fprintf(stderr, "mlfakepay: %s\n", err);
        goto out;
    }
    fp.dirty = 1; /* write it once now: an unwritable path fails here, not on every change */
    if (fp_state_save() != 0) {
        fprintf(stderr, "mlfakepay: cannot write the state file %s\n", fp.state_file);
        goto out;
    }
    int bound = 0;
    if (fp_server_start(host, port, &bound) != 0 || bound <= 0) {
        fprintf(stderr, "mlfakepay: cannot listen on %s:%d\n", host, port);
        goto out;
    }
    if (!fp.public_url[0])
        snprintf(fp.public_url, sizeof fp.public_url,
                 strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, bound);
    size_t pl = strlen(fp.public_url);
    while (pl && fp.public_url[pl - 1] == '/')
        fp.public_url[--pl] = '\0';
    if (fp_webhooks_start() != 0) {
        fprintf(stderr, "mlfakepay: cannot start the webhook sender\n");
        fp_server_destroy();
        goto out;
    }
    fp_webhooks_requeue_pending();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* After the handler is in place; a parent gone before that is caught
     * by the getppid() check. */
    if (die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent))
        stop_flag = 1;
    printf(strchr(host, ':') ? "mlfakepay listening on [%s]:%d\n"
                             : "mlfakepay listening on %s:%d\n",
           host, bound);
    fp_server_run(&stop_flag);
    fp_webhooks_stop();
    fp.dirty = 1;
    fp_state_save();
    fp_server_destroy();
    rc = 0;
out:
    fp_state_free();
    curl_global_cleanup();
    return rc;
}
