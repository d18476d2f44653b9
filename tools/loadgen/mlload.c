/*
 * mlload: load generator for MentorLink and Janus (--api janus).
 *
 *   mlload --server ws://127.0.0.1:8080/ws --scenario echo --peers 20 --duration 30 \
 *          --json report.json
 *
 * Peers are started at --rate per second, spread over --threads GLib
 * contexts, run for --duration seconds (counted from the start), then stop
 * sending, wait 0.5 s for packets in flight, and report. A progress line is
 * printed once per second on stderr; the summary on stdout; --json writes
 * the report as JSON. Exit status: 0 when every peer connected and nothing
 * failed, 1 when errors happened (the report still shows what was
 * measured), 2 for bad usage or when the server cannot be reached.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <sched.h>
#include <errno.h>
#include <stddef.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/fdlimit.h"
#include "sfu/clock.h"
#include "sfu/srtp.h"
#include "tools/loadgen/lg.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

void lg_error(lg_run *run, int fatal, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    g_mutex_lock(&run->err_lock);
    run->errors++;
    if (run->n_err_msgs < 8)
        snprintf(run->err_msgs[run->n_err_msgs++], sizeof run->err_msgs[0], "%s", msg);
    if (fatal)
        run->abort_run = 1;
    g_mutex_unlock(&run->err_lock);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlload --server ws://HOST:PORT/ws [options]\n"
            "  --scenario NAME    echo (default): every peer sends VP8 + Opus and gets it back\n"
            "                     fanout: peer 0 is a mentor publishing VP8 simulcast (l/m/h) +\n"
            "                     Opus, the others are mentees subscribing (room protocol)\n"
            "                     churn: echo peers that leave after 0.5-1.5 x --lifetime s,\n"
            "                     each replaced by a new one (at most --max-peers in all)\n"
            "                     meeting: --peers M (2..8) participants, each publishing one\n"
            "                     VP8 layer (--layer) + Opus and subscribing to all the others\n"
            "  --lifetime S       churn: mean peer lifetime in seconds (default 5)\n"
            "  --peers N          peers to start (default 10; fanout: mentees, plus the mentor)\n"
            "  --pin l|m|h        fanout: mentees pin this simulcast layer (default automatic)\n"
            "  --mentees-only     fanout: no mentor here (another mlload process publishes in\n"
            "                     the same --room; Janus: --janus-room and --janus-feed)\n"
            "  --index-base K     number this process's peers from K (names, several processes)\n"
            "  --ready-file PATH  fanout: create PATH once the mentor's media is up (for\n"
            "                     starting --mentees-only processes)\n"
            "  --mark N           put SO_MARK N on each peer's socket once it is connected\n"
            "                     (root), for a firewall rule that drops some of what those\n"
            "                     peers receive (tools/bench/sfu --loss)\n"
            "  --gro              take the server's segmented sends whole (UDP_GRO) and split\n"
            "                     them here: the sender's side of a NIC with segmentation\n"
            "                     offload, over the loopback\n"
            "  --janus-room ID    Janus VideoRoom room id (default random)\n"
            "  --janus-feed ID    Janus publisher id of the mentor (default chosen by Janus;\n"
            "                     meeting: participant k publishes as ID + k, default random)\n"
            "Exit status: 0 all peers connected and nothing failed; 1 something failed (the\n"
            "report shows what was measured; stops early if the server goes away or every\n"
            "peer failed); 2 bad usage or server unreachable. The summary's 'load side' line\n"
            "says whether mlload itself was the bottleneck.\n"
            "  --max-peers N      hard upper bound on peers (default 1000)\n"
            "  --rate R           peers started per second (default 20)\n"
            "  --duration S       seconds from start to stop (default 10, max 3600)\n"
            "  --threads T        GLib contexts/threads (default 2)\n"
            "  --layer L          video layer sent: 0=320x180 1=640x360 2=1280x720 (default 1)\n"
            "  --no-audio, --no-video\n"
            "  --decrypt-every N  decrypt 1 in N media packets besides frame starts (default 10)\n"
            "  --local-ip IP      address for our ICE host candidates (default 127.0.0.1)\n"
            "  --connect-timeout-ms MS  per peer, join to DTLS connected (default 10000)\n"
            "  --media-seconds S  length of the encoded loop (default 3)\n"
            "  --room NAME        room name (default mlload)\n"
            "  --api API          mentorlink (default) or janus (Janus WebSocket API,\n"
            "                     subprotocol janus-protocol; echo uses janus.plugin.echotest)\n"
            "  --json FILE        write the JSON report\n"
            "  --quiet            no progress line\n");
}

static int parse_url(const char *url, lg_run *run)
{
    const char *p = url;
    if (!strncmp(p, "ws://", 5))
        p += 5;
    else if (strstr(p, "://"))
        return -1;
    const char *slash = strchr(p, '/');
    const char *hostend = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(hostend - p));
    size_t hl = (size_t)((colon ? colon : hostend) - p);
    if (hl == 0 || hl >= sizeof run->host)
        return -1;
    memcpy(run->host, p, hl);
    run->host[hl] = 0;
    run->port = colon ? atoi(colon + 1) : 80;
    if (run->port <= 0 || run->port > 65535)
        return -1;
    snprintf(run->path, sizeof run->path, "%s", slash ? slash : "/ws");
    return 0;
}

/* Process CPU time (user + system) in seconds. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* CPUs this process may run on (taskset). */
static int cpus_allowed(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

/* Is the load side the bottleneck? Its CPU near the CPUs it may use, its
 * 5 ms tick running late in steady state (then its sends, receives and
 * delay stamps are late too), or its loops stalled (fewer than half the
 * ticks ran: blocked). expected_ticks: over the steady window, all threads.
 * Writes the reason. */
static int load_saturated(double cpu_cores, int cpus, const lg_hist *late, double expected_ticks,
                          char *why, size_t n)
{
    double p99 = (double)lg_hist_quantile(late, 0.99) / 1000;
    if (expected_ticks > 200 && (double)late->n < 0.5 * expected_ticks) {
        snprintf(why, n, "mlload's loops stalled: %" G_GUINT64_FORMAT " of %.0f ticks ran", late->n,
                 expected_ticks);
        return 1;
    }
    if (cpu_cores >= 0.9 * cpus) {
        snprintf(why, n, "mlload used %.2f of its %d CPU(s)", cpu_cores, cpus);
        return 1;
    }
    if (late->n > 100 && p99 > 20) {
        snprintf(why, n, "mlload's tick ran up to %.1f ms late (p99): it is short of CPU", p99);
        return 1;
    }
    snprintf(why, n, "no (%.2f of %d CPU(s), tick late p99 %.1f ms)", cpu_cores, cpus, p99);
    return 0;
}

/* A delay histogram for the report: p50/p99/max in ms, the sample count,
 * and its buckets ([value us, count] pairs, empty ones left out) and maximum
 * in us, which merge_runs.py sums over several processes. */
static json_t *delay_json(const lg_hist *h)
{
    json_t *hist = json_array();
    for (size_t k = 0; k < LG_HIST_N; k++) {
        if (!h->b[k])
            continue;
        uint64_t v = k < LG_HIST_FINE ? k * 10 + 5 : 20000 + (k - LG_HIST_FINE) * 1000 + 500;
        json_array_append_new(hist, json_pack("[I, I]", (json_int_t)v, (json_int_t)h->b[k]));
    }
    return json_pack("{s:f, s:f, s:f, s:I, s:o, s:I}", "p50",
                     (double)lg_hist_quantile(h, 0.5) / 1000, "p99",
                     (double)lg_hist_quantile(h, 0.99) / 1000, "max", (double)h->max_us / 1000,
                     "samples", (json_int_t)h->n, "hist_us", hist, "max_us",
                     (json_int_t)h->max_us);
}

/* The summary line of a delay histogram. */
static void print_delay(const char *label, const lg_hist *h, const char *note)
{
    printf("  %-10s p50 %.2f ms, p99 %.2f ms, max %.2f ms (%" G_GUINT64_FORMAT " samples%s)\n",
           label, (double)lg_hist_quantile(h, 0.5) / 1000, (double)lg_hist_quantile(h, 0.99) / 1000,
           (double)h->max_us / 1000, h->n, note);
}

static void sum_totals(lg_run *run, lg_totals *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < run->n_threads; i++) {
        const lg_totals *t = lg_thread_totals(run->threads[i]);
        const uint64_t *a = (const uint64_t *)t;
        uint64_t *b = (uint64_t *)sum;
        size_t nfields = offsetof(lg_totals, jitter_ms_sum) / sizeof(uint64_t);
        for (size_t k = 0; k < nfields; k++)
            b[k] += a[k];
        sum->jitter_ms_sum += t->jitter_ms_sum;
        sum->jitter_streams += t->jitter_streams;
        for (int k = 0; k < 4; k++)
            sum->res_counts[k] += t->res_counts[k];
        lg_hist_merge(&sum->delay, &t->delay);
        lg_hist_merge(&sum->delay_arrival, &t->delay_arrival);
        lg_hist_merge(&sum->setup, &t->setup);
        lg_hist_merge(&sum->first_frame, &t->first_frame);
        lg_hist_merge(&sum->tick_late, &t->tick_late);
    }
}

int main(int argc, char **argv)
{
    static lg_run run;
    const char *server = NULL, *json_path = NULL, *local_ip = "127.0.0.1", *ready_path = NULL;
    int peers = 10, max_peers = 1000, threads = 2, quiet = 0, media_seconds = 3;
    double rate = 20, duration = 10;
    long long janus_room = 0;
    snprintf(run.scenario, sizeof run.scenario, "echo");
    snprintf(run.room, sizeof run.room, "mlload");
    run.layer = 1;
    run.audio = run.video = 1;
    run.decrypt_every = 10;
    run.connect_timeout_ms = 10000;
    g_mutex_init(&run.err_lock);
    run.debug = getenv("MLLOAD_DEBUG") != NULL;
    {
        /* Hundreds of peers, three descriptors each (socket, the agent's
         * context, libnice's own wake-up), plus a WebSocket per peer. */
        char msg[160];
        if (ml_raise_fd_limit(1u << 20, msg, sizeof msg) < 0)
            fprintf(stderr, "mlload: %s\n", msg);
    }
    enum {
        O_NOAUDIO = 256,
        O_NOVIDEO,
        O_DECRYPT,
        O_LOCALIP,
        O_CTO,
        O_MEDIA,
        O_ROOM,
        O_MAXP,
        O_API,
        O_PIN,
        O_LIFE,
        O_MONLY,
        O_IBASE,
        O_JROOM,
        O_JFEED,
        O_READY,
        O_MARK,
        O_GRO
    };
    static const struct option opts[] = {
        {"server", required_argument, 0, 's'},
        {"scenario", required_argument, 0, 'S'},
        {"peers", required_argument, 0, 'n'},
        {"max-peers", required_argument, 0, O_MAXP},
        {"rate", required_argument, 0, 'r'},
        {"duration", required_argument, 0, 'd'},
        {"threads", required_argument, 0, 't'},
        {"layer", required_argument, 0, 'l'},
        {"no-audio", no_argument, 0, O_NOAUDIO},
        {"no-video", no_argument, 0, O_NOVIDEO},
        {"decrypt-every", required_argument, 0, O_DECRYPT},
        {"local-ip", required_argument, 0, O_LOCALIP},
        {"connect-timeout-ms", required_argument, 0, O_CTO},
        {"media-seconds", required_argument, 0, O_MEDIA},
        {"room", required_argument, 0, O_ROOM},
        {"api", required_argument, 0, O_API},
        {"pin", required_argument, 0, O_PIN},
        {"lifetime", required_argument, 0, O_LIFE},
        {"mentees-only", no_argument, 0, O_MONLY},
        {"index-base", required_argument, 0, O_IBASE},
        {"janus-room", required_argument, 0, O_JROOM},
        {"janus-feed", required_argument, 0, O_JFEED},
        {"ready-file", required_argument, 0, O_READY},
        {"mark", required_argument, 0, O_MARK},
        {"gro", no_argument, 0, O_GRO},
        {"json", required_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "s:S:n:r:d:t:l:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'S':
            snprintf(run.scenario, sizeof run.scenario, "%s", optarg);
            break;
        case 'n':
            peers = atoi(optarg);
            break;
        case O_MAXP:
            max_peers = atoi(optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'd':
            duration = atof(optarg);
            break;
        case 't':
            threads = atoi(optarg);
            break;
        case 'l':
            run.layer = atoi(optarg);
            break;
        case O_NOAUDIO:
            run.audio = 0;
            break;
        case O_NOVIDEO:
            run.video = 0;
            break;
        case O_DECRYPT:
            run.decrypt_every = atoi(optarg);
            break;
        case O_LOCALIP:
            local_ip = optarg;
            break;
        case O_CTO:
            run.connect_timeout_ms = atoi(optarg);
            break;
        case O_MEDIA:
            media_seconds = atoi(optarg);
            break;
        case O_ROOM:
            snprintf(run.room, sizeof run.room, "%s", optarg);
            break;
        case O_LIFE:
            run.lifetime_s = atof(optarg);
            break;
        case O_MONLY:
            run.mentees_only = 1;
            break;
        case O_READY:
            ready_path = optarg;
            break;
        case O_MARK: {
            char *end = NULL;
            unsigned long v = strtoul(optarg, &end, 0);
            if (!end || *end || v == 0 || v > 0xffffffffUL) {
                fprintf(stderr, "mlload: --mark takes a number from 1 to 0xffffffff\n");
                return 2;
            }
            run.mark = (uint32_t)v;
            break;
        }
        case O_GRO:
            run.gro = 1;
            break;
        case O_IBASE:
            run.index_base = atoi(optarg);
            break;
        case O_JROOM:
            janus_room = strtoll(optarg, NULL, 10);
            break;
        case O_JFEED:
            run.janus_feed_id = strtoll(optarg, NULL, 10);
            break;
        case O_PIN:
            if (strcmp(optarg, "l") && strcmp(optarg, "m") && strcmp(optarg, "h")) {
                fprintf(stderr, "mlload: --pin must be l, m or h\n");
                return 2;
            }
            snprintf(run.pin, sizeof run.pin, "%s", optarg);
            break;
        case O_API:
            if (!strcmp(optarg, "janus")) {
                run.janus = 1;
            } else if (strcmp(optarg, "mentorlink") != 0) {
                fprintf(stderr, "mlload: --api must be mentorlink or janus\n");
                return 2;
            }
            break;
        case 'j':
            json_path = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!server || parse_url(server, &run) != 0) {
        fprintf(stderr, "mlload: --server ws://HOST:PORT/PATH is required (got '%s')\n",
                server ? server : "");
        return 2;
    }
    if (!strcmp(run.scenario, "fanout")) {
        run.fanout = 1;
        /* Janus: janus.plugin.videoroom, a fresh room per run */
    } else if (!strcmp(run.scenario, "churn")) {
        run.churn = 1;
    } else if (!strcmp(run.scenario, "meeting")) {
        run.meeting = 1;
        if (peers < 2 || peers > LG_MAX_MEETING) {
            fprintf(stderr, "mlload: meeting: --peers must be 2..%d\n", LG_MAX_MEETING);
            return 2;
        }
        run.meeting_size = peers;
    } else if (strcmp(run.scenario, "echo") != 0) {
        fprintf(stderr, "mlload: unknown scenario '%s' (echo, fanout, meeting, churn)\n",
                run.scenario);
        return 2;
    }
    if (run.mentees_only && !run.fanout) {
        fprintf(stderr, "mlload: --mentees-only is for --scenario fanout\n");
        return 2;
    }
    if (run.janus && run.mentees_only && (!janus_room || !run.janus_feed_id)) {
        fprintf(stderr,
                "mlload: --mentees-only with --api janus needs --janus-room and --janus-feed\n");
        return 2;
    }
    if (peers < 1 || max_peers < 1 || rate <= 0 || duration <= 0 || duration > 3600 ||
        threads < 1 || threads > 64 || run.layer < 0 || run.layer > 2 ||
        (!run.audio && !run.video) || media_seconds < 1 || media_seconds > 30) {
        fprintf(stderr, "mlload: an option is out of range (see --help)\n");
        return 2;
    }
    snprintf(run.janus_plugin, sizeof run.janus_plugin, "%s",
             run.fanout || run.meeting ? "janus.plugin.videoroom" : "janus.plugin.echotest");
    run.janus_room = janus_room ? janus_room : g_random_int_range(100000, 999999999);
    if (run.mentees_only) /* subscribe to the given feed from the start */
        g_atomic_pointer_set(&run.janus_feed, (gpointer)(intptr_t)run.janus_feed_id);
    if (run.lifetime_s <= 0)
        run.lifetime_s = 5;
    if (run.fanout && !run.mentees_only)
        peers += 1; /* the mentor */
    if (run.meeting && run.janus) { /* a publisher and a subscriber per participant */
        peers *= 2;
        if (!run.janus_feed_id)
            run.janus_feed_id = g_random_int_range(1000000, 999000000);
    }
    if (peers > max_peers)
        peers = max_peers;
    run.max_peers = max_peers;
    run.next_index = peers;

    /* Fail fast and clearly when the server is not there. */
    {
        char err[256];
        GMainContext *ctx = g_main_context_new();
        lg_ws_callbacks cb = {0};
        lg_ws *ws =
            lg_ws_connect(ctx, run.host, run.port, run.path, run.janus ? "janus-protocol" : NULL,
                          3000, &cb, NULL, err, sizeof err);
        if (!ws) {
            fprintf(stderr, "mlload: %s\n", err);
            g_main_context_unref(ctx);
            return 2;
        }
        lg_ws_free(ws);
        g_main_context_unref(ctx);
    }

    char err[256];
    if (sfu_srtp_global_init() != 0) {
        fprintf(stderr, "mlload: libsrtp init failed\n");
        return 2;
    }
    run.cert = sfu_dtls_cert_generate(err, sizeof err);
    if (!run.cert) {
        fprintf(stderr, "mlload: certificate: %s\n", err);
        return 2;
    }
    snprintf(run.ice.addrs[0], sizeof run.ice.addrs[0], "%s", local_ip);
    run.ice.n_addrs = 1;
    run.ice.controlling = 1;
    run.ice_controlled = run.ice;
    run.ice_controlled.controlling = 0;
    uint64_t te = sfu_now_us();
    /* a mentees-only process publishes nothing: no media to encode */
    if (!run.mentees_only && lg_media_encode(&run.media, media_seconds, 90, err, sizeof err) != 0) {
        fprintf(stderr, "mlload: media: %s\n", err);
        return 2;
    }
    if (!quiet && !run.mentees_only)
        fprintf(stderr, "mlload: encoded %d s of media in %.1f s (VP8 %.0f/%.0f/%.0f kbit/s)\n",
                media_seconds, (double)(sfu_now_us() - te) / 1e6,
                run.media.video_bytes[0] * 8.0 / media_seconds / 1000,
                run.media.video_bytes[1] * 8.0 / media_seconds / 1000,
                run.media.video_bytes[2] * 8.0 / media_seconds / 1000);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    run.n_threads = threads;
    run.threads = calloc((size_t)threads, sizeof *run.threads);
    run.t0_us = sfu_now_us();
    double cpu0 = cpu_seconds();
    for (int i = 0; i < threads; i++)
        run.threads[i] = lg_thread_start(&run, i);

    uint64_t t_end = run.t0_us + (uint64_t)(duration * 1e6);
    run.t_end_us = t_end;
    uint64_t next_progress = run.t0_us + 1000000;
    int started = 0;
    const char *stop_reason = "duration reached";
    lg_totals sum;
    uint64_t last_rx = 0, last_rxb = 0;
    /* Once a second: wall-clock time, packets received so far, peers
     * connected: the "timeline" of the JSON report, from which the bench
     * takes the server's CPU per packet in steady state. */
    json_t *timeline = json_array();
    while (1) {
        uint64_t now = sfu_now_us();
        if (now >= t_end)
            break;
        if (interrupted) {
            stop_reason = "interrupted";
            break;
        }
        if (run.abort_run) {
            stop_reason = "fatal error";
            break;
        }
        if (!run.churn && started == peers) {
            uint64_t failed = 0;
            for (int i = 0; i < threads; i++)
                failed += lg_thread_totals(run.threads[i])->peers_failed;
            if (failed >= (uint64_t)peers) { /* e.g. every join refused */
                stop_reason = "every peer failed";
                break;
            }
        }
        int want = (int)((double)(now - run.t0_us) / 1e6 * rate) + 1;
        if (run.fanout && !run.mentees_only) /* the mentor at once, mentees from 1 s on */
            want = now - run.t0_us < 1000000
                       ? 1
                       : 1 + (int)((double)(now - run.t0_us - 1000000) / 1e6 * rate) + 1;
        if (want > peers)
            want = peers;
        while (started < want) {
            lg_thread_add_peer(run.threads[started % threads], started);
            started++;
        }
        if (started == peers && !run.t_steady_us)
            run.t_steady_us = sfu_now_us() + 2000000;
        if (now >= next_progress) {
            sum_totals(&run, &sum);
            uint64_t conn = 0, lost = 0, exp = 0;
            for (int i = 0; i < threads; i++) {
                uint64_t a, b, e;
                lg_thread_live(run.threads[i], &a, &b, &e);
                conn += a;
                lost += b;
                exp += e;
            }
            if (!quiet)
                fprintf(stderr,
                        "[%5.1fs] peers %d started %" G_GUINT64_FORMAT
                        " connected %" G_GUINT64_FORMAT " failed | tx %" G_GUINT64_FORMAT
                        " pkt | rx %" G_GUINT64_FORMAT
                        " pkt/s %.1f Mbit/s | loss %.2f%% | delay p50 %.2f ms p99 %.2f ms | errors "
                        "%" G_GUINT64_FORMAT "\n",
                        (double)(now - run.t0_us) / 1e6, started, conn, sum.peers_failed,
                        sum.tx_packets, sum.rx_packets - last_rx,
                        (double)(sum.rx_bytes - last_rxb) * 8 / 1e6,
                        exp ? 100.0 * (double)lost / (double)exp : 0.0,
                        (double)lg_hist_quantile(&sum.delay, 0.5) / 1000,
                        (double)lg_hist_quantile(&sum.delay, 0.99) / 1000, run.errors);
            last_rx = sum.rx_packets;
            last_rxb = sum.rx_bytes;
            json_array_append_new(timeline, json_pack("[f, I, I]", (double)g_get_real_time() / 1e6,
                                                      (json_int_t)sum.rx_packets,
                                                      (json_int_t)conn));
            next_progress += 1000000;
        }
        if (ready_path && g_atomic_int_get(&run.mentor_up) == 1) {
            g_atomic_int_set(&run.mentor_up, 2); /* once */
            FILE *rf = fopen(ready_path, "w");
            if (!rf || fclose(rf) != 0)
                fprintf(stderr, "mlload: cannot create %s: %s\n", ready_path, strerror(errno));
        }
        g_usleep(20000);
    }
    run.stop_sending = 1;
    uint64_t t_stop = sfu_now_us();
    double run_cpu = cpu_seconds() - cpu0;
    g_usleep(500000);
    for (int i = 0; i < threads; i++)
        lg_thread_finish(run.threads[i]);
    sum_totals(&run, &sum);
    double secs = (double)(t_stop - run.t0_us) / 1e6;
    double loss = sum.rx_expected ? 100.0 * (double)sum.rx_lost / (double)sum.rx_expected : 0.0;
    double jitter = sum.jitter_streams ? sum.jitter_ms_sum / (double)sum.jitter_streams : 0.0;
    double rx_mbps = secs > 0 ? (double)sum.rx_bytes * 8 / secs / 1e6 : 0;
    double tx_mbps = secs > 0 ? (double)sum.tx_bytes * 8 / secs / 1e6 : 0;
    int ok = run.errors == 0 && started == peers && sum.peers_failed == 0 &&
             sum.peers_connected == sum.peers_started;
    if (run.meeting && sum.meet_full != (uint64_t)run.meeting_size)
        ok = 0; /* someone did not get media from every other participant */
    int cpus = cpus_allowed();
    double load_cores = secs > 0 ? run_cpu / secs : 0;
    char sat_why[160];
    double steady_s =
        run.t_steady_us && t_stop > run.t_steady_us ? (double)(t_stop - run.t_steady_us) / 1e6 : 0;
    int saturated =
        load_saturated(load_cores, cpus, &sum.tick_late, steady_s * 1000.0 / LG_TICK_MS * threads,
                       sat_why, sizeof sat_why);

    printf("mlload %s: %s after %.1f s (%s)\n", run.scenario, ok ? "OK" : "FAILED", secs,
           stop_reason);
    printf("  peers      %d requested, %d started, %" G_GUINT64_FORMAT
           " connected, %" G_GUINT64_FORMAT " failed; setup p50 %.0f ms p99 %.0f ms\n",
           peers, started, sum.peers_connected, sum.peers_failed,
           (double)lg_hist_quantile(&sum.setup, 0.5) / 1000,
           (double)lg_hist_quantile(&sum.setup, 0.99) / 1000);
    if (run.churn)
        printf(
            "  churn      %" G_GUINT64_FORMAT
            " peers left (each replaced by a new one until 2 s before the end; %" G_GUINT64_FORMAT
            " started in all)\n",
            sum.peers_left, sum.peers_started);
    printf("  sent       %" G_GUINT64_FORMAT " packets (%" G_GUINT64_FORMAT
           " video, %" G_GUINT64_FORMAT " audio), %.2f Mbit/s\n",
           sum.tx_packets, sum.tx_video, sum.tx_audio, tx_mbps);
    printf("  received   %" G_GUINT64_FORMAT " packets (%" G_GUINT64_FORMAT
           " video, %" G_GUINT64_FORMAT " audio), %.2f Mbit/s\n",
           sum.rx_packets, sum.rx_video, sum.rx_audio, rx_mbps);
    if (run.gro)
        printf("  --gro      %" G_GUINT64_FORMAT " datagrams carried several packets (segmented "
               "sends taken whole), %" G_GUINT64_FORMAT " could not be split\n",
               sum.rx_coalesced, sum.rx_split_failed);
    printf("  loss       %.3f %% (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
           "), reordered %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " NACKed ones repaired; %"
           G_GUINT64_FORMAT " resends on RTX), duplicates %" G_GUINT64_FORMAT ", jitter %.2f ms\n",
           loss, sum.rx_lost, sum.rx_expected, sum.rx_reordered, sum.rx_repaired, sum.rx_rtx,
           sum.rx_duplicates, jitter);
    print_delay("delay", &sum.delay, "");
    print_delay("at socket", &sum.delay_arrival,
                "; kernel receive stamps, without the load side's queueing");
    printf("  video      %" G_GUINT64_FORMAT " complete frames, %" G_GUINT64_FORMAT
           " keyframes (180p %" G_GUINT64_FORMAT ", 360p %" G_GUINT64_FORMAT
           ", 720p %" G_GUINT64_FORMAT "), freezes %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
           " ms)\n",
           sum.frames, sum.keyframes, sum.res_counts[0], sum.res_counts[1], sum.res_counts[2],
           sum.freezes, sum.freeze_ms);
    printf("  first frame p50 %.0f ms, p99 %.0f ms after connecting (%" G_GUINT64_FORMAT
           " streams)\n",
           (double)lg_hist_quantile(&sum.first_frame, 0.5) / 1000,
           (double)lg_hist_quantile(&sum.first_frame, 0.99) / 1000, sum.first_frame.n);
    printf("  rtcp       out %" G_GUINT64_FORMAT " (SR/RR %" G_GUINT64_FORMAT
           ", TWCC %" G_GUINT64_FORMAT ", NACK %" G_GUINT64_FORMAT ", PLI %" G_GUINT64_FORMAT
           "), in %" G_GUINT64_FORMAT " (PLI %" G_GUINT64_FORMAT ", NACK %" G_GUINT64_FORMAT ")\n",
           sum.rtcp_out, sum.rr_out, sum.twcc_out, sum.nack_out, sum.pli_out, sum.rtcp_in,
           sum.pli_in, sum.nack_in);
    printf("  srtp       %" G_GUINT64_FORMAT " packets decrypted (sampled), %" G_GUINT64_FORMAT
           " failed\n",
           sum.rx_decrypted, sum.rx_decrypt_failed);
    if (run.meeting)
        printf("  meeting    %d participants: %" G_GUINT64_FORMAT " got media from all %d others;"
               " heard %" G_GUINT64_FORMAT ", saw %" G_GUINT64_FORMAT " of %d sender pairs\n",
               run.meeting_size, sum.meet_full, run.meeting_size - 1, sum.meet_pairs_audio,
               sum.meet_pairs_video, run.meeting_size * (run.meeting_size - 1));
    printf("  load side  %s%s\n", saturated ? "SATURATED: " : "saturated: ", sat_why);
    if (saturated)
        printf("             (the figures above may describe mlload, not the server)\n");
    printf("  errors     %" G_GUINT64_FORMAT "\n", run.errors);
    for (int i = 0; i < run.n_err_msgs; i++)
        printf("    %s\n", run.err_msgs[i]);

    int rc = 0;
    if (json_path) {
        json_t *errs = json_array();
        for (int i = 0; i < run.n_err_msgs; i++)
            json_array_append_new(errs, json_string(run.err_msgs[i]));
        json_t *rep = json_pack(
            "{s:s, s:s, s:s, s:b, s:s, s:f, s:{s:i, s:i, s:I, s:I, s:f, s:f},"
            " s:{s:I, s:I, s:I, s:I, s:f},"
            " s:{s:I, s:I, s:I, s:I, s:f},"
            " s:{s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:f},"
            " s:o,"
            " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:s},"
            " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I},"
            " s:{s:I, s:I}, s:I, s:o}",
            "tool", "mlload", "api", run.janus ? "janus" : "mentorlink", "scenario", run.scenario,
            "ok", ok, "stop_reason", stop_reason, "duration_s", secs, "peers", "requested", peers,
            "started", started, "connected", (json_int_t)sum.peers_connected, "failed",
            (json_int_t)sum.peers_failed, "setup_ms_p50",
            (double)lg_hist_quantile(&sum.setup, 0.5) / 1000, "setup_ms_p99",
            (double)lg_hist_quantile(&sum.setup, 0.99) / 1000, "sent", "packets",
            (json_int_t)sum.tx_packets, "video_packets", (json_int_t)sum.tx_video, "audio_packets",
            (json_int_t)sum.tx_audio, "bytes", (json_int_t)sum.tx_bytes, "mbps", tx_mbps,
            "received", "packets", (json_int_t)sum.rx_packets, "video_packets",
            (json_int_t)sum.rx_video, "audio_packets", (json_int_t)sum.rx_audio, "bytes",
            (json_int_t)sum.rx_bytes, "mbps", rx_mbps, "loss", "expected",
            (json_int_t)sum.rx_expected, "lost", (json_int_t)sum.rx_lost, "percent", loss,
            "reordered", (json_int_t)sum.rx_reordered, "repaired", (json_int_t)sum.rx_repaired,
            "rtx", (json_int_t)sum.rx_rtx,
            "duplicates", (json_int_t)sum.rx_duplicates, "jitter_ms", jitter, "delay_ms",
            delay_json(&sum.delay), "video", "frames",
            (json_int_t)sum.frames, "keyframes", (json_int_t)sum.keyframes, "keyframes_180p",
            (json_int_t)sum.res_counts[0], "keyframes_360p", (json_int_t)sum.res_counts[1],
            "keyframes_720p", (json_int_t)sum.res_counts[2], "freezes", (json_int_t)sum.freezes,
            "layer_sent",
            run.layer == 0   ? "320x180"
            : run.layer == 1 ? "640x360"
                             : "1280x720",
            "rtcp", "out", (json_int_t)sum.rtcp_out, "sr_rr", (json_int_t)sum.rr_out, "twcc",
            (json_int_t)sum.twcc_out, "nack", (json_int_t)sum.nack_out, "pli",
            (json_int_t)sum.pli_out, "in", (json_int_t)sum.rtcp_in, "pli_in",
            (json_int_t)sum.pli_in, "nack_in", (json_int_t)sum.nack_in, "srtp", "decrypted",
            (json_int_t)sum.rx_decrypted, "decrypt_failed", (json_int_t)sum.rx_decrypt_failed,
            "errors", (json_int_t)run.errors, "error_messages", errs);
        if (rep) {
            json_object_set_new(json_object_get(rep, "peers"), "left",
                                json_integer((json_int_t)sum.peers_left));
            json_object_set_new(json_object_get(rep, "received"), "coalesced",
                                json_integer((json_int_t)sum.rx_coalesced));
            json_object_set_new(json_object_get(rep, "received"), "split_failed",
                                json_integer((json_int_t)sum.rx_split_failed));
            json_object_set_new(rep, "gro", json_boolean(run.gro));
            json_object_set_new(json_object_get(rep, "peers"), "started_total",
                                json_integer((json_int_t)sum.peers_started));
            json_t *vid = json_object_get(rep, "video");
            json_object_set_new(vid, "freeze_ms", json_integer((json_int_t)sum.freeze_ms));
            json_object_set_new(vid, "first_frame_ms_p50",
                                json_real((double)lg_hist_quantile(&sum.first_frame, 0.5) / 1000));
            json_object_set_new(vid, "first_frame_ms_p99",
                                json_real((double)lg_hist_quantile(&sum.first_frame, 0.99) / 1000));
            json_object_set_new(
                rep, "load",
                json_pack("{s:f, s:i, s:f, s:f, s:b, s:s}", "cpu_cores", load_cores, "cpus", cpus,
                          "tick_late_ms_p50", (double)lg_hist_quantile(&sum.tick_late, 0.5) / 1000,
                          "tick_late_ms_p99", (double)lg_hist_quantile(&sum.tick_late, 0.99) / 1000,
                          "saturated", saturated, "why", sat_why));
            json_object_set_new(rep, "arrival_delay_ms", delay_json(&sum.delay_arrival));
            if (run.meeting)
                json_object_set_new(rep, "meeting",
                                    json_pack("{s:i, s:I, s:I, s:I, s:i}", "participants",
                                              run.meeting_size, "full", (json_int_t)sum.meet_full,
                                              "pairs_audio", (json_int_t)sum.meet_pairs_audio,
                                              "pairs_video", (json_int_t)sum.meet_pairs_video,
                                              "pairs_expected",
                                              run.meeting_size * (run.meeting_size - 1)));
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            json_object_set_new(rep, "client_cpu_s",
                                json_real((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                                          (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6));
            json_object_set(rep, "timeline", timeline);
            if (json_dump_file(rep, json_path, JSON_INDENT(2)) != 0) {
                fprintf(stderr, "mlload: cannot write %s\n", json_path);
                rc = 2;
            }
            json_decref(rep);
        } else {
            fprintf(stderr, "mlload: internal error building the JSON report\n");
            rc = 2;
        }
    }
    json_decref(timeline);
    for (int i = 0; i < threads; i++)
        lg_thread_free(run.threads[i]);
    free(run.threads);
    lg_media_free(&run.media);
    sfu_dtls_cert_free(run.cert);
    if (rc == 0 && !ok)
        rc = 1;
    return rc;
}
