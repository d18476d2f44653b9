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
 *   floor [--packets N] [--json FILE] [--fanout-peers N]
 *         [--sender-cpu C] [--reader-cpu C]
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
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
    atomic_int stop;
    atomic_ullong got;
} drain;

static void *drain_main(void *arg)
{
    drain *d = arg;
    pin_to(d->cpu);
    struct epoll_event ev[64];
    char buf[1600];
    while (!atomic_load(&d->stop)) {
        int n = epoll_wait(d->epfd, ev, 64, 50);
        for (int i = 0; i < n; i++)
            while (recv(ev[i].data.fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
                atomic_fetch_add(&d->got, 1);
    }
    return NULL;
}

typedef struct fanout_result {
    double cpu_ns;        /* sending thread's CPU time per packet */
    double wall_ns;       /* wall time per packet */
    double delivered_pct; /* packets the reader got */
} fanout_result;

static int run_fanout(sfu_srtp *s, int peers, size_t len, int n, int reader_cpu,
                      fanout_result *out)
{
    int *tx = calloc((size_t)peers, sizeof *tx), *rx = calloc((size_t)peers, sizeof *rx);
    struct sockaddr_in *to = calloc((size_t)peers, sizeof *to);
    drain d = {.epfd = epoll_create1(0), .cpu = reader_cpu};
    int rc = -1;
    if (!tx || !rx || !to || d.epfd < 0)
        goto out;
    for (int i = 0; i < peers; i++)
        tx[i] = rx[i] = -1;
    for (int i = 0; i < peers; i++) {
        tx[i] = socket(AF_INET, SOCK_DGRAM, 0);
        rx[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        to[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof to[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = rx[i]};
        if (tx[i] < 0 || rx[i] < 0 || bind(rx[i], (struct sockaddr *)&to[i], sizeof to[i]) != 0 ||
            getsockname(rx[i], (struct sockaddr *)&to[i], &sl) != 0 ||
            epoll_ctl(d.epfd, EPOLL_CTL_ADD, rx[i], &ev) != 0) {
            perror("floor: fan-out sockets");
            goto out;
        }
    }
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
        int p = i % peers;
        if (sendto(tx[p], buf, l, 0, (struct sockaddr *)&to[p], sizeof to[p]) < 0 &&
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
    for (int i = 0; tx && rx && i < peers; i++) {
        if (tx[i] >= 0)
            close(tx[i]);
        if (rx[i] >= 0)
            close(rx[i]);
    }
    if (d.epfd >= 0)
        close(d.epfd);
    free(tx);
    free(rx);
    free(to);
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
    if (json_path)
        json_dump_file(json_pack("{s:i, s:o, s:o}", "packets", n, "rows", rows, "fanout", fan),
                       json_path, JSON_INDENT(2));
    else {
        json_decref(rows);
        json_decref(fan);
    }
    close(rx);
    close(tx);
    return 0;
}
