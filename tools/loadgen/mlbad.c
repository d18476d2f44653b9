/*
 * mlbad: one misbehaving room participant, for the SFU's bad-input tests
 * (tests/integration/room_badinput.test.js). It reuses the mlload peer
 * engine (real ICE/DTLS/SRTP, room signaling, VP8 simulcast + Opus test
 * media) and adds, on the peer's own thread, a timer that misbehaves:
 *
 *   --mode flood       a mentee that floods the SFU with feedback for the
 *                      stream it receives: every 5 ms a NACK for 64 packets
 *                      (recent and ancient ones), a PLI and a FIR, plus a
 *                      NACK for its audio stream
 *   --mode undeclared  a mentor that, besides its declared l/m/h layers,
 *                      sends packets with a rid its offer did not declare
 *                      (a fresh SSRC each time) and with a mid that names
 *                      no m-line
 *   --mode collide     a mentor that sends packets on the SSRC of its "l"
 *                      layer labelled as "h" (numbered just ahead of the
 *                      real ones, so that SRTP replay protection lets them
 *                      through), and a second SSRC claiming its "l" layer
 *   --mode noread      a mentee that stops reading (its thread sleeps for
 *                      --block seconds once video flows: no packets are
 *                      read, no feedback is sent), then carries on
 *
 *   mlbad --server ws://127.0.0.1:8080/ws --room R --mode flood --duration 8
 *
 * It prints one JSON line with what it sent and received; the SFU's side
 * (what it refused, dropped and counted) is in the daemon's log line
 * "peer N room counters: ..." when the peer closes. Exit status 0 when the
 * peer connected, 1 otherwise, 2 for bad usage.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/clock.h"
#include "sfu/rtcp.h"
#include "sfu/rtp.h"
#include "sfu/srtp.h"
#include "sfu/vp8.h"
#include "tools/loadgen/peer_internal.h"

#define BAD_TICK_MS 5

enum { MODE_FLOOD = 1, MODE_UNDECLARED, MODE_COLLIDE, MODE_NOREAD };

static struct {
    int mode;
    uint64_t nack_pkts, nack_seqs, pli, fir, bad_rtp;
    uint32_t collide_ssrc;
    uint8_t fir_seq;
    double block_s;
    int blocked;
    uint64_t rx_video_before, rx_video_blocked_at;
} bad;

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

/* ---- viewer feedback flood ------------------------------------------------ */

static void flood(lg_peer *p)
{
    rx_stream *v = &p->rx[1];
    if (!v->started)
        return;
    uint8_t buf[1200];
    size_t len = 0;
    uint16_t seqs[64];
    /* recent packets (resendable once per RTT), then ancient ones (gone) */
    for (int i = 0; i < 64; i++)
        seqs[i] = (uint16_t)(i < 32 ? v->max_seq - 31 + i : v->max_seq - 5000 + 7 * i);
    /* sfu_rtcp_build_nack wants ascending (wrap-aware) order: two packets */
    int n = sfu_rtcp_build_nack(buf, sizeof buf, p->ssrc_video, v->ssrc, seqs + 32, 32);
    if (n > 0)
        len += (size_t)n;
    n = sfu_rtcp_build_nack(buf + len, sizeof buf - len, p->ssrc_video, v->ssrc, seqs, 32);
    if (n > 0)
        len += (size_t)n;
    bad.nack_pkts += 2;
    bad.nack_seqs += 64;
    n = sfu_rtcp_build_pli(buf + len, sizeof buf - len, p->ssrc_video, v->ssrc);
    if (n > 0) {
        len += (size_t)n;
        bad.pli++;
    }
    n = sfu_rtcp_build_fir(buf + len, sizeof buf - len, p->ssrc_video, v->ssrc, bad.fir_seq++);
    if (n > 0) {
        len += (size_t)n;
        bad.fir++;
    }
    if (p->rx[0].started) {
        uint16_t a = p->rx[0].max_seq;
        n = sfu_rtcp_build_nack(buf + len, sizeof buf - len, p->ssrc_video, p->rx[0].ssrc, &a, 1);
        if (n > 0)
            len += (size_t)n;
    }
    lg__send_rtcp(p, buf, len);
}

/* ---- publisher packets it did not declare ------------------------------------ */

/* seq_base: 0 for a stream of our own numbering; else near the legit
 * stream's next number (a shared SSRC must pass SRTP replay protection). */
static void bad_rtp(lg_peer *p, uint32_t ssrc, const char *mid, const char *rid, int near,
                    uint16_t seq_base)
{
    static uint16_t own_seq, k;
    uint16_t seq = near ? (uint16_t)(seq_base + 40 + (k++ % 40)) : own_seq++;
    uint8_t payload[200], ext[32], buf[512];
    sfu_vp8_desc d = {.start = false,
                      .has_picture_id = true,
                      .picture_id_15 = true,
                      .picture_id = (uint16_t)(seq & 0x7fff)};
    int dl = sfu_vp8_write_desc(payload, sizeof payload, &d);
    if (dl < 0)
        return;
    for (size_t i = (size_t)dl; i < sizeof payload; i++)
        payload[i] = (uint8_t)g_random_int();
    sfu_rtp_ext el[2];
    size_t ne = lg__mid_rid_ext(p, el, mid, rid);
    uint16_t profile = 0;
    int en = ne ? sfu_rtp_ext_build(ext, sizeof ext, el, ne, &profile) : 0;
    sfu_rtp_packet rp = {
        .payload_type = p->pt_video,
        .seq = seq,
        .timestamp = g_random_int(),
        .ssrc = ssrc,
        .extension = en > 0,
        .ext_profile = profile,
        .ext = ext,
        .ext_len = en > 0 ? (size_t)en : 0,
        .payload = payload,
        .payload_len = sizeof payload,
    };
    int n = sfu_rtp_write(buf, 400, &rp);
    size_t len = n > 0 ? (size_t)n : 0;
    if (!len || sfu_srtp_protect_rtp(p->srtp, buf, &len, sizeof buf) != 0)
        return;
    sfu_ice_send(p->ice, buf, len);
    bad.bad_rtp++;
}

static gboolean bad_tick(gpointer data)
{
    lg_thread *t = data;
    for (guint i = 0; i < t->peers->len; i++) {
        lg_peer *p = g_ptr_array_index(t->peers, i);
        if (p->state != 2 || !p->srtp || !p->ice || t->run->stop_sending)
            continue;
        /* a publisher first behaves for 1.5 s, so that the SFU has learned
         * its real streams: then the bad packets collide with them */
        if (bad.mode != MODE_FLOOD && bad.mode != MODE_NOREAD &&
            sfu_now_us() - p->t_connected_us < 1500000)
            continue;
        if (bad.mode == MODE_FLOOD) {
            flood(p);
        } else if (bad.mode == MODE_UNDECLARED) {
            bad_rtp(p, g_random_int() | 8, "0", "x", 0, 0); /* rid not in a=simulcast */
            bad_rtp(p, g_random_int() | 8, "7", "l", 0, 0); /* mid of no m-line */
        } else if (bad.mode == MODE_NOREAD) {
            if (!bad.blocked && p->rx[1].frames > 60) {
                bad.blocked = 1;
                bad.rx_video_before = t->tot.rx_video;
                g_usleep((gulong)(bad.block_s * 1e6)); /* reads nothing, answers nothing */
            }
        } else if (bad.mode == MODE_COLLIDE) {
            bad_rtp(p, p->vs[0].ssrc, "0", "h", 1, p->vs[0].seq); /* l's SSRC labelled h */
            if (!bad.collide_ssrc)
                bad.collide_ssrc = g_random_int() | 16;
            /* a second SSRC for l (always sent: the cheapest layer stays on) */
            bad_rtp(p, bad.collide_ssrc, "0", "l", 0, 0);
        }
    }
    return G_SOURCE_CONTINUE;
}

static gboolean attach_tick(gpointer data)
{
    lg_thread *t = data;
    GSource *s = g_timeout_source_new(BAD_TICK_MS);
    g_source_set_callback(s, bad_tick, t, NULL);
    g_source_attach(s, t->ctx);
    g_source_unref(s);
    return G_SOURCE_REMOVE;
}

static int parse_url(const char *url, lg_run *run)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5, *colon = strchr(h, ':'), *slash = strchr(h, '/');
    if (!colon || (slash && slash < colon))
        return -1;
    snprintf(run->host, sizeof run->host, "%.*s", (int)(colon - h), h);
    run->port = atoi(colon + 1);
    snprintf(run->path, sizeof run->path, "%s", slash ? slash : "/ws");
    return run->port > 0 && run->port < 65536 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static lg_run run;
    const char *server = NULL, *local_ip = "127.0.0.1", *mode = NULL;
    double duration = 8;
    snprintf(run.scenario, sizeof run.scenario, "fanout");
    snprintf(run.room, sizeof run.room, "bad");
    run.layer = 1;
    run.audio = run.video = 1;
    run.decrypt_every = 1;
    run.connect_timeout_ms = 10000;
    run.fanout = 1;
    run.lifetime_s = 5;
    run.max_peers = 2;
    g_mutex_init(&run.err_lock);
    run.debug = getenv("MLLOAD_DEBUG") != NULL;
    static const struct option opts[] = {
        {"server", required_argument, 0, 's'},
        {"room", required_argument, 0, 'R'},
        {"mode", required_argument, 0, 'm'},
        {"duration", required_argument, 0, 'd'},
        {"local-ip", required_argument, 0, 'i'},
        {"block", required_argument, 0, 'b'},
        {0, 0, 0, 0},
    };
    int c;
    bad.block_s = 8;
    while ((c = getopt_long(argc, argv, "s:R:m:d:i:b:", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bad.block_s = atof(optarg);
            break;
        case 's':
            server = optarg;
            break;
        case 'R':
            snprintf(run.room, sizeof run.room, "%s", optarg);
            break;
        case 'm':
            mode = optarg;
            break;
        case 'd':
            duration = atof(optarg);
            break;
        case 'i':
            local_ip = optarg;
            break;
        default:
            fprintf(stderr, "usage: mlbad --server ws://H:P/ws --room R "
                            "--mode flood|undeclared|collide|noread [--duration S] [--block S]\n");
            return 2;
        }
    }
    bad.mode = !mode                         ? 0
               : !strcmp(mode, "flood")      ? MODE_FLOOD
               : !strcmp(mode, "undeclared") ? MODE_UNDECLARED
               : !strcmp(mode, "collide")    ? MODE_COLLIDE
               : !strcmp(mode, "noread")     ? MODE_NOREAD
                                             : 0;
    if (!server || parse_url(server, &run) != 0 || !bad.mode || duration <= 0 || duration > 600) {
        fprintf(stderr, "mlbad: --server ws://HOST:PORT/ws and --mode flood|undeclared|collide "
                        "are required\n");
        return 2;
    }
    char err[256];
    if (sfu_srtp_global_init() != 0 || !(run.cert = sfu_dtls_cert_generate(err, sizeof err))) {
        fprintf(stderr, "mlbad: crypto setup failed\n");
        return 2;
    }
    snprintf(run.ice.addrs[0], sizeof run.ice.addrs[0], "%s", local_ip);
    run.ice.n_addrs = 1;
    run.ice.controlling = 1;
    run.ice_controlled = run.ice;
    run.ice_controlled.controlling = 0;
    if (lg_media_encode(&run.media, 2, 60, err, sizeof err) != 0) {
        fprintf(stderr, "mlbad: media: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    run.n_threads = 1;
    run.threads = calloc(1, sizeof *run.threads);
    run.t0_us = sfu_now_us();
    run.t_end_us = run.t0_us + (uint64_t)(duration * 1e6);
    run.threads[0] = lg_thread_start(&run, 0);
    lg_thread *t = run.threads[0];
    /* flood: a mentee (index 1); otherwise the publishing mentor (index 0) */
    int index = bad.mode == MODE_FLOOD || bad.mode == MODE_NOREAD ? 1 : 0;
    run.next_index = index + 1;
    lg_thread_add_peer(t, index);
    g_main_context_invoke(t->ctx, attach_tick, t);
    while (sfu_now_us() < run.t_end_us && !run.abort_run)
        g_usleep(20000);
    run.stop_sending = 1;
    g_usleep(300000);
    lg_thread_finish(t);
    const lg_totals *tot = lg_thread_totals(t);
    json_t *o = json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "mode", mode, "connected",
        (json_int_t)tot->peers_connected, "rx_video", (json_int_t)tot->rx_video, "tx_packets",
        (json_int_t)tot->tx_packets, "nack_packets", (json_int_t)bad.nack_pkts, "nack_seqs",
        (json_int_t)bad.nack_seqs, "pli", (json_int_t)bad.pli, "fir", (json_int_t)bad.fir,
        "bad_rtp", (json_int_t)bad.bad_rtp, "errors", (json_int_t)run.errors, "pli_in",
        (json_int_t)tot->pli_in, "rx_video_before_block", (json_int_t)bad.rx_video_before);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    for (int i = 0; i < run.n_err_msgs; i++)
        fprintf(stderr, "mlbad: %s\n", run.err_msgs[i]);
    free(s);
    json_decref(o);
    int ok = tot->peers_connected > 0;
    lg_thread_free(t);
    free(run.threads);
    lg_media_free(&run.media);
    sfu_dtls_cert_free(run.cert);
    return ok ? 0 : 1;
}
