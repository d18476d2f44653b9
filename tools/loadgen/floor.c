/*
 * floor: what forwarding one packet costs at least on this machine: one
 * SRTP protect (sfu/srtp.c) plus one sendmsg() of the result
 * to a UDP socket on loopback. Prints ns per packet for protect only,
 * sendmsg only and both, for both SRTP profiles and a few packet sizes.
 *
 * Second, the same in the shape of a fan-out: N peers, each with its own
 * sending socket (as the server has one per peer) and its own receiving
 * socket, read by a thread on another CPU (as the load tool does), packet
 * i going to peer i mod N. That counts what the first leaves out: the
 * receiver's wake-ups and socket accounting and N sockets' worth of cache.
 * Its figure is the sending thread's CPU time per packet (what /proc
 * tells of a server), with the share of packets the reader got.
 *
 * Third, a keyframe's fan-out as the server sends it: BURST_PKTS packets
 * of 1 200 bytes, protected, to each of the N peers in one segmented
 * sendmsg() per peer (UDP GSO), then a pause of a frame interval; the
 * figure is how long one such burst takes (the least delay its last
 * packet can have) and the CPU per packet. Twice: with receivers that
 * take a segmented datagram as it is (UDP_GRO, as the kernel hands a NIC
 * with UDP segmentation offload one) and with plain receivers, where the
 * loopback splits it in the sender's system call.
 *
 *   floor [--packets N] [--json FILE] [--fanout-peers N]
 *         [--sender-cpu C] [--reader-cpu C]
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <time.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fdlimit.h"
#include "sfu/clock.h"
#include "sfu/srtp.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#define BURST_PKTS 20 /* a ~22 KB keyframe at 1 200 bytes per packet */

static uint8_t pkt_template[1500];

static void make_rtp(uint8_t *buf, size_t len, uint16_t seq)
{
    memcpy(buf, pkt_template, len);
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[8] = 0x12; /* ssrc */
}

/* mode bit 1: protect, bit 2: send. Returns ns per packet. */
static double run(sfu_srtp *s, int fd, const struct sockaddr_in *to, size_t len, int n, int mode)
{
    uint8_t buf[1600];
    struct iovec iov = {.iov_base = buf};
    struct msghdr mh = {
        .msg_name = (void *)to, .msg_namelen = sizeof *to, .msg_iov = &iov, .msg_iovlen = 1};
    static uint16_t seq; /* keeps increasing across runs: SRTP rejects going back */
    uint64_t t0 = sfu_now_us();
    for (int i = 0; i < n; i++) {
        make_rtp(buf, len, seq++);
        size_t l = len;
        int rc = (mode & 1) ? sfu_srtp_protect_rtp(s, buf, &l, sizeof buf) : 0;
        if (rc != 0) {
            fprintf(stderr, "floor: protect failed (%d) at packet %d\n", rc, i);
            exit(1);
        }
        if (mode & 2) {
            iov.iov_len = l;
            if (sendmsg(fd, &mh, 0) < 0) {
                perror("floor: sendmsg");
                exit(1);
            }
        }
    }
    return (double)(sfu_now_us() - t0) * 1000.0 / n;
}

/* Fixed keys for a profile (both directions alike; bytes from the seeds). */
static sfu_srtp_keys test_keys(sfu_srtp_profile profile, int key_seed, int salt_seed)
{
    sfu_srtp_keys k = {.profile = profile};
    sfu_srtp_key_lengths(k.profile, &k.key_len, &k.salt_len);
    for (size_t i = 0; i < k.key_len; i++)
        k.local_key[i] = k.remote_key[i] = (uint8_t)(i + (size_t)key_seed);
    for (size_t i = 0; i < k.salt_len; i++)
        k.local_salt[i] = k.remote_salt[i] = (uint8_t)(i + (size_t)salt_seed);
    return k;
}

static void pin_to(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct drain {
    int epfd;
    int cpu;
    size_t seg; /* > 0: receivers take coalesced datagrams of seg-byte packets */
    atomic_int stop;
    atomic_ullong got;
} drain;

static void *drain_main(void *arg)
{
    drain *d = arg;
    pin_to(d->cpu);
    struct epoll_event ev[64];
    static _Thread_local char buf[65536];
    while (!atomic_load(&d->stop)) {
        int n = epoll_wait(d->epfd, ev, 64, 50);
        for (int i = 0; i < n; i++) {
            ssize_t r;
            while ((r = recv(ev[i].data.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
                atomic_fetch_add(&d->got, d->seg ? ((size_t)r + d->seg - 1) / d->seg : 1);
        }
    }
    return NULL;
}

typedef struct fanout_result {
    double cpu_ns;        /* sending thread's CPU time per packet */
    double wall_ns;       /* wall time per packet */
    double delivered_pct; /* packets the reader got */
} fanout_result;

/* N peers: a sending and a receiving socket each, the receivers in d's
 * epoll set (UDP_GRO on them when gro). 0, or -1 (sockets closed). */
typedef struct peer_set {
    int n;
    int *tx, *rx;
    struct sockaddr_in *to;
} peer_set;

static void peers_close(peer_set *ps)
{
    for (int i = 0; ps->tx && ps->rx && i < ps->n; i++) {
        if (ps->tx[i] >= 0)
            close(ps->tx[i]);
        if (ps->rx[i] >= 0)
            close(ps->rx[i]);
    }
    free(ps->tx);
    free(ps->rx);
    free(ps->to);
    memset(ps, 0, sizeof *ps);
}

/* 0, -1 on failure, 1 when the kernel has no UDP_GRO (sockets closed). */
static int peers_open(peer_set *ps, int n, drain *d, int gro)
{
    ps->n = n;
    ps->tx = calloc((size_t)n, sizeof *ps->tx);
    ps->rx = calloc((size_t)n, sizeof *ps->rx);
    ps->to = calloc((size_t)n, sizeof *ps->to);
    if (!ps->tx || !ps->rx || !ps->to) {
        peers_close(ps);
        return -1;
    }
    for (int i = 0; i < n; i++)
        ps->tx[i] = ps->rx[i] = -1;
    for (int i = 0; i < n; i++) {
        int one = 1;
        ps->tx[i] = socket(AF_INET, SOCK_DGRAM, 0);
        ps->rx[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        ps->to[i] =
            (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof ps->to[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = ps->rx[i]};
        if (gro && ps->rx[i] >= 0 &&
            setsockopt(ps->rx[i], IPPROTO_UDP, UDP_GRO, &one, sizeof one) != 0) {
            peers_close(ps);
            return 1;
        }
        if (ps->tx[i] < 0 || ps->rx[i] < 0 ||
            bind(ps->rx[i], (struct sockaddr *)&ps->to[i], sizeof ps->to[i]) != 0 ||
            getsockname(ps->rx[i], (struct sockaddr *)&ps->to[i], &sl) != 0 ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, ps->rx[i], &ev) != 0) {
            perror("floor: fan-out sockets");
            peers_close(ps);
            return -1;
        }
    }
    return 0;
}

static int run_fanout(sfu_srtp *s, int npeers, size_t len, int n, int reader_cpu,
                      fanout_result *out)
{
    peer_set ps = {0};
    drain d = {.epfd = epoll_create1(0), .cpu = reader_cpu};
    int rc = -1;
    if (d.epfd < 0 || peers_open(&ps, npeers, &d, 0) != 0)
        goto out;
    pthread_t th;
    if (pthread_create(&th, NULL, drain_main, &d) != 0)
        goto out;
    uint8_t buf[1600];
    static uint16_t seq = 20000;
    struct timespec pause = {0, 20000000};
    nanosleep(&pause, NULL); /* let the reader start waiting */
    uint64_t c0 = thread_cpu_ns(), t0 = sfu_now_us();
    for (int i = 0; i < n; i++) {
        make_rtp(buf, len, seq++);
        size_t l = len;
        if (sfu_srtp_protect_rtp(s, buf, &l, sizeof buf) != 0) {
            fprintf(stderr, "floor: protect failed\n");
            exit(1);
        }
        int p = i % npeers;
        if (sendto(ps.tx[p], buf, l, 0, (struct sockaddr *)&ps.to[p], sizeof ps.to[p]) < 0 &&
            errno != ENOBUFS && errno != EAGAIN) {
            perror("floor: sendto");
            exit(1);
        }
    }
    uint64_t c1 = thread_cpu_ns(), t1 = sfu_now_us();
    nanosleep(&pause, NULL);
    atomic_store(&d.stop, 1);
    pthread_join(th, NULL);
    out->cpu_ns = (double)(c1 - c0) / n;
    out->wall_ns = (double)(t1 - t0) * 1000.0 / n;
    out->delivered_pct = 100.0 * (double)atomic_load(&d.got) / n;
    rc = 0;
out:
    peers_close(&ps);
    if (d.epfd >= 0)
        close(d.epfd);
    return rc;
}

typedef struct burst_result {
    double cpu_ns;           /* sending thread's CPU time per packet */
    double p50_ms, max_ms;   /* one burst (BURST_PKTS to every peer), wall time */
    double delivered_pct;    /* packets the reader got */
} burst_result;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* rounds bursts to npeers peers (GCM, 1 200-byte packets). 0, -1, or 1
 * when the kernel refuses segmented sends. */
static int run_burst(sfu_srtp *s, int npeers, int rounds, int gro, int reader_cpu,
                     burst_result *out)
{
    enum { LEN = 1200 };
    peer_set ps = {0};
    drain d = {.epfd = epoll_create1(0), .cpu = reader_cpu};
    double *walls = calloc((size_t)rounds, sizeof *walls);
    static uint8_t buf[BURST_PKTS * (LEN + 64)];
    static uint16_t seq = 40000;
    int rc = -1, started = 0;
    pthread_t th;
    if (d.epfd < 0 || !walls)
        goto out;
    int po = peers_open(&ps, npeers, &d, gro);
    if (po != 0) {
        rc = po;
        goto out;
    }
    /* every packet below protects to the same length */
    uint8_t probe[LEN + 64];
    make_rtp(probe, LEN, seq++);
    size_t seg = LEN;
    if (sfu_srtp_protect_rtp(s, probe, &seg, sizeof probe) != 0)
        goto out;
    d.seg = gro ? seg : 0; /* before the reader starts */
    if (pthread_create(&th, NULL, drain_main, &d) != 0)
        goto out;
    started = 1;
    struct timespec frame = {0, 33000000};
    nanosleep(&frame, NULL);
    uint64_t cpu = 0;
    for (int r = 0; r < rounds; r++) {
        uint64_t c0 = thread_cpu_ns(), t0 = sfu_now_us();
        for (int p = 0; p < npeers; p++) {
            size_t off = 0;
            for (int k = 0; k < BURST_PKTS; k++) {
                make_rtp(buf + off, LEN, seq++);
                size_t l = LEN;
                if (sfu_srtp_protect_rtp(s, buf + off, &l, LEN + 64) != 0 || l != seg) {
                    fprintf(stderr, "floor: protect failed\n");
                    exit(1);
                }
                off += l;
            }
            union {
                char buf[CMSG_SPACE(sizeof(uint16_t))];
                struct cmsghdr align;
            } cb;
            memset(&cb, 0, sizeof cb);
            struct iovec iov = {.iov_base = buf, .iov_len = off};
            struct msghdr mh = {.msg_name = &ps.to[p], .msg_namelen = sizeof ps.to[p],
                                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
                                .msg_controllen = sizeof cb.buf};
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t segsz = (uint16_t)seg;
            memcpy(CMSG_DATA(cm), &segsz, sizeof segsz);
            if (sendmsg(ps.tx[p], &mh, 0) < 0 && errno != ENOBUFS && errno != EAGAIN) {
                if (errno == EINVAL || errno == EIO || errno == EMSGSIZE || errno == ENOPROTOOPT) {
                    rc = 1;
                    goto out;
                }
                perror("floor: sendmsg (segmented)");
                exit(1);
            }
        }
        cpu += thread_cpu_ns() - c0;
        walls[r] = (double)(sfu_now_us() - t0) / 1000.0;
        nanosleep(&frame, NULL); /* the next frame; the reader drains meanwhile */
    }
    nanosleep(&frame, NULL);
    atomic_store(&d.stop, 1);
    pthread_join(th, NULL);
    started = 0;
    double sent = (double)rounds * npeers * BURST_PKTS;
    qsort(walls, (size_t)rounds, sizeof *walls, cmp_double);
    out->cpu_ns = (double)cpu / sent;
    out->p50_ms = walls[rounds / 2];
    out->max_ms = walls[rounds - 1];
    out->delivered_pct = 100.0 * (double)atomic_load(&d.got) / sent;
    rc = 0;
out:
    if (started) {
        atomic_store(&d.stop, 1);
        pthread_join(th, NULL);
    }
    peers_close(&ps);
    if (d.epfd >= 0)
        close(d.epfd);
    free(walls);
    return rc;
}

int main(int argc, char **argv)
{
    int n = 200000, fan_peers = 200, sender_cpu = -1, reader_cpu = -1;
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--packets") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else if (!strcmp(argv[i], "--fanout-peers") && i + 1 < argc)
            fan_peers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sender-cpu") && i + 1 < argc)
            sender_cpu = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reader-cpu") && i + 1 < argc)
            reader_cpu = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: floor [--packets N] [--json FILE] [--fanout-peers N] "
                            "[--sender-cpu C] [--reader-cpu C]\n");
            return 2;
        }
    }
    if (fan_peers < 1 || fan_peers > 4096) {
        fprintf(stderr, "floor: --fanout-peers must be 1..4096\n");
        return 2;
    }
    if (n < 1000)
        n = 1000;
    pin_to(sender_cpu); /* both measurements run where the server would */
    char lim[160];
    if (ml_raise_fd_limit(1u << 16, lim, sizeof lim) < 0) /* two sockets per fan-out peer */
        fprintf(stderr, "floor: %s\n", lim);
    for (size_t i = 0; i < sizeof pkt_template; i++)
        pkt_template[i] = (uint8_t)(i * 31);
    /* a receiver that never reads: the kernel drops once its buffer is full */
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof to;
    if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&to, sizeof to) != 0 ||
        getsockname(rx, (struct sockaddr *)&to, &sl) != 0) {
        perror("floor: socket");
        return 1;
    }
    json_t *rows = json_array();
    static const sfu_srtp_profile profiles[] = {SFU_SRTP_AEAD_AES_128_GCM,
                                                SFU_SRTP_AES128_CM_SHA1_80};
    static const size_t sizes[] = {160, 1200};
    printf("%-26s %6s %12s %12s %12s\n", "profile", "bytes", "protect ns", "sendmsg ns", "both ns");
    for (size_t pi = 0; pi < 2; pi++) {
        sfu_srtp_keys k = test_keys(profiles[pi], 1, 7);
        char err[256];
        for (size_t si = 0; si < 2; si++) {
            sfu_srtp *s = sfu_srtp_create(&k, err, sizeof err);
            if (!s) {
                fprintf(stderr, "floor: %s\n", err);
                return 1;
            }
            run(s, tx, &to, sizes[si], n / 10, 3); /* warm up */
            double p = run(s, tx, &to, sizes[si], n, 1);
            double m = run(s, tx, &to, sizes[si], n, 2);
            double b = run(s, tx, &to, sizes[si], n, 3);
            printf("%-26s %6zu %12.0f %12.0f %12.0f\n", sfu_srtp_profile_name(k.profile), sizes[si],
                   p, m, b);
            json_array_append_new(rows, json_pack("{s:s, s:i, s:f, s:f, s:f}", "profile",
                                                  sfu_srtp_profile_name(k.profile), "bytes",
                                                  (int)sizes[si], "protect_ns", p, "sendmsg_ns", m,
                                                  "both_ns", b));
            sfu_srtp_destroy(s);
        }
    }
    /* The fan-out shape (GCM, as browsers negotiate with us). */
    json_t *fan = json_array();
    printf("\nfan-out shape: %d peers, one sending socket each, receivers read by another thread\n",
           fan_peers);
    printf("%-26s %6s %16s %12s %12s\n", "profile", "bytes", "sender CPU ns", "wall ns",
           "delivered %");
    for (size_t si = 0; si < 2; si++) {
        sfu_srtp_keys k = test_keys(SFU_SRTP_AEAD_AES_128_GCM, 3, 9);
        char err[256];
        sfu_srtp *s = sfu_srtp_create(&k, err, sizeof err);
        fanout_result r;
        if (!s || run_fanout(s, fan_peers, sizes[si], n, reader_cpu, &r) != 0) {
            fprintf(stderr, "floor: fan-out shape failed%s%s\n", s ? "" : ": ", s ? "" : err);
            return 1;
        }
        printf("%-26s %6zu %16.0f %12.0f %12.1f\n", sfu_srtp_profile_name(k.profile), sizes[si],
               r.cpu_ns, r.wall_ns, r.delivered_pct);
        json_array_append_new(fan, json_pack("{s:s, s:i, s:i, s:f, s:f, s:f}", "profile",
                                             sfu_srtp_profile_name(k.profile), "bytes",
                                             (int)sizes[si], "peers", fan_peers, "sender_cpu_ns",
                                             r.cpu_ns, "wall_ns", r.wall_ns, "delivered_percent",
                                             r.delivered_pct));
        sfu_srtp_destroy(s);
    }
    /* A keyframe's fan-out, as the server sends it (GSO, one call a peer). */
    json_t *bursts = json_array();
    int rounds = n / (fan_peers * BURST_PKTS);
    if (rounds < 50)
        rounds = 50;
    if (rounds > 300)
        rounds = 300;
    printf("\nkeyframe burst: %d packets of 1200 bytes to each of %d peers, one segmented send "
           "a peer, %d bursts\n",
           BURST_PKTS, fan_peers, rounds);
    printf("%-34s %16s %12s %12s %12s\n", "receivers", "sender CPU ns", "burst p50 ms",
           "burst max ms", "delivered %");
    for (int gro = 1; gro >= 0; gro--) {
        sfu_srtp_keys k = test_keys(SFU_SRTP_AEAD_AES_128_GCM, 5, 11);
        char err[256];
        sfu_srtp *s = sfu_srtp_create(&k, err, sizeof err);
        burst_result r = {0};
        int brc = s ? run_burst(s, fan_peers, rounds, gro, reader_cpu, &r) : -1;
        sfu_srtp_destroy(s);
        const char *name = gro ? "UDP_GRO (like a NIC with USO)" : "plain (split on loopback)";
        if (brc != 0) { /* the rows above still count: reported, not fatal */
            printf("%-34s %s: skipped\n", name,
                   brc == 1 ? "the kernel has no UDP GSO/GRO for it" : "failed");
            continue;
        }
        printf("%-34s %16.0f %12.2f %12.2f %12.1f\n", name, r.cpu_ns, r.p50_ms, r.max_ms,
               r.delivered_pct);
        json_array_append_new(bursts, json_pack("{s:b, s:i, s:i, s:i, s:f, s:f, s:f, s:f}", "gro",
                                                gro, "packets", BURST_PKTS, "peers", fan_peers,
                                                "bursts", rounds, "sender_cpu_ns", r.cpu_ns,
                                                "p50_ms", r.p50_ms, "max_ms", r.max_ms,
                                                "delivered_percent", r.delivered_pct));
    }
    if (json_path)
        json_dump_file(json_pack("{s:i, s:o, s:o, s:o}", "packets", n, "rows", rows, "fanout", fan,
                                 "keyframe_burst", bursts),
                       json_path, JSON_INDENT(2));
    else {
        json_decref(rows);
        json_decref(fan);
        json_decref(bursts);
    }
    close(rx);
    close(tx);
    return 0;
}
