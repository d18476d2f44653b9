/*
 * floor: what forwarding one packet costs at least on this machine: one
 * SRTP protect (sfu/srtp.c over libsrtp2) plus one sendmsg() of the result
 * to a UDP socket on loopback. Prints ns per packet for protect only,
 * sendmsg only and both, for both SRTP profiles and a few packet sizes.
 *
 *   floor [--packets N] [--json FILE]
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
    int n = 200000;
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--packets") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else {
            fprintf(stderr, "usage: floor [--packets N] [--json FILE]\n");
            return 2;
        }
    }
    if (n < 1000)
        n = 1000;
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
        sfu_srtp_keys k = {.profile = profiles[pi]};
        sfu_srtp_key_lengths(k.profile, &k.key_len, &k.salt_len);
        for (size_t i = 0; i < k.key_len; i++)
            k.local_key[i] = k.remote_key[i] = (uint8_t)(i + 1);
        for (size_t i = 0; i < k.salt_len; i++)
            k.local_salt[i] = k.remote_salt[i] = (uint8_t)(i + 7);
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
    if (json_path)
        json_dump_file(json_pack("{s:i, s:o}", "packets", n, "rows", rows), json_path,
                       JSON_INDENT(2));
    else
        json_decref(rows);
    close(rx);
    close(tx);
    return 0;
}
