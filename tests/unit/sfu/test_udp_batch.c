/* Unit tests for the batched UDP sender (sfu/udp_batch.c): datagrams queued
 * for several destinations are written one sendmmsg per destination, in
 * their order per destination; a released destination's datagrams and a
 * closed socket's are dropped and counted; a full queue flushes itself. */
#include "sfu/udp_batch.h"
#include "tests/unit/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

typedef struct endpoint {
    GSocket *tx;              /* the sending socket (GSocket owns the fd) */
    int rx;                   /* where its datagrams arrive */
    struct sockaddr_in to;    /* rx's address */
} endpoint;

static int bound_udp(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0)
        return -1;
    if (addr)
        *addr = a;
    return fd;
}

static int endpoint_open(endpoint *e)
{
    int tx = bound_udp(NULL);
    e->rx = bound_udp(&e->to);
    if (tx < 0 || e->rx < 0)
        return -1;
    e->tx = g_socket_new_from_fd(tx, NULL);
    return e->tx ? 0 : -1;
}

static void endpoint_close(endpoint *e)
{
    if (e->tx)
        g_object_unref(e->tx);
    close(e->rx);
}

/* Lengths of every datagram waiting on fd, and their first bytes. */
static int drain_lens(int fd, int *lens, uint8_t *first, int max)
{
    int n = 0;
    uint8_t buf[2048];
    while (n < max) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r <= 0)
            break;
        lens[n] = (int)r;
        first[n++] = buf[0];
    }
    return n;
}

/* Runs of equal lengths to one destination go out as one segmented send
 * (UDP GSO) and arrive as the same datagrams; a route that refuses it
 * (here: a socket without UDP checksums) gets them one by one, all. */
/* Every datagram waiting on fd, as the first byte of each, into out. */
static int drain(int fd, uint8_t *out, int max)
{
    static int lens[2048];
    return drain_lens(fd, lens, out, max < 2048 ? max : 2048);
}

TEST(udp_batch_one_sendmmsg_per_destination_in_order)
{
    GMainContext *ctx = g_main_context_new();
    REQUIRE(g_main_context_acquire(ctx));
    endpoint a, b;
    REQUIRE(endpoint_open(&a) == 0);
    REQUIRE(endpoint_open(&b) == 0);
    sfu_udp_dest *da = sfu_udp_dest_new(a.tx, (struct sockaddr *)&a.to, sizeof a.to);
    sfu_udp_dest *db = sfu_udp_dest_new(b.tx, (struct sockaddr *)&b.to, sizeof b.to);
    REQUIRE(da && db);
    sfu_udp_batch *q = sfu_udp_batch_for(ctx);
    REQUIRE(q != NULL);
    sfu_udp_batch_stats s0, s1;
    sfu_udp_batch_get_stats(&s0);
    /* Interleaved as a fan-out of three packets to two viewers queues them. */
    for (uint8_t k = 1; k <= 3; k++) {
        uint8_t pa[100] = {k}, pb[1200] = {(uint8_t)(10 + k)};
        CHECK_INT_EQ(sfu_udp_batch_send(q, da, pa, sizeof pa), 0);
        CHECK_INT_EQ(sfu_udp_batch_send(q, db, pb, sizeof pb), 0);
    }
    uint8_t got[16];
    CHECK_INT_EQ(drain(a.rx, got, 16), 0); /* nothing before the flush */
    sfu_udp_batch_flush(q);
    sfu_udp_batch_get_stats(&s1);
    CHECK_INT_EQ((int)(s1.syscalls - s0.syscalls), 2);
    CHECK_INT_EQ((int)(s1.sent - s0.sent), 6);
    CHECK_INT_EQ(drain(a.rx, got, 16), 3);
    CHECK(got[0] == 1 && got[1] == 2 && got[2] == 3);
    CHECK_INT_EQ(drain(b.rx, got, 16), 3);
    CHECK(got[0] == 11 && got[1] == 12 && got[2] == 13);

    /* Released (the pair changed) and closed (libnice closed its socket)
     * destinations: their queued datagrams are dropped, the others sent. */
    uint8_t p[64] = {7};
    CHECK_INT_EQ(sfu_udp_batch_send(q, da, p, sizeof p), 0);
    CHECK_INT_EQ(sfu_udp_batch_send(q, db, p, sizeof p), 0);
    CHECK_INT_EQ(sfu_udp_batch_send(q, da, p, sizeof p), 0);
    sfu_udp_dest_release(da);
    sfu_udp_batch_flush(q);
    sfu_udp_batch_get_stats(&s0);
    CHECK_INT_EQ((int)(s0.dropped - s1.dropped), 2);
    CHECK_INT_EQ(drain(a.rx, got, 16), 0);
    CHECK_INT_EQ(drain(b.rx, got, 16), 1);
    CHECK_INT_EQ(sfu_udp_batch_send(q, db, p, sizeof p), 0);
    g_socket_close(b.tx, NULL);
    sfu_udp_batch_flush(q);
    sfu_udp_batch_get_stats(&s1);
    CHECK_INT_EQ((int)(s1.dropped - s0.dropped), 1);
    CHECK_INT_EQ(drain(b.rx, got, 16), 0);
    sfu_udp_dest_release(db);

    /* Too large to queue: refused, the caller sends it another way. */
    static uint8_t big[4096];
    endpoint c;
    REQUIRE(endpoint_open(&c) == 0);
    sfu_udp_dest *dc = sfu_udp_dest_new(c.tx, (struct sockaddr *)&c.to, sizeof c.to);
    CHECK_INT_EQ(sfu_udp_batch_send(q, dc, big, sizeof big), -1);

    /* A full queue flushes itself: more datagrams than it holds all arrive,
     * in order (the socket buffer takes them: 1 200 x 40-byte datagrams). */
    int on = 4 << 20;
    setsockopt(c.rx, SOL_SOCKET, SO_RCVBUF, &on, sizeof on);
    sfu_udp_batch_get_stats(&s0);
    for (int k = 0; k < 1200; k++) {
        uint8_t d[40] = {(uint8_t)k};
        CHECK_INT_EQ(sfu_udp_batch_send(q, dc, d, sizeof d), 0);
    }
    sfu_udp_batch_flush(q);
    sfu_udp_batch_get_stats(&s1);
    CHECK((int)(s1.sent - s0.sent) == 1200);
    CHECK((int)(s1.syscalls - s0.syscalls) >= 2); /* at least one flush when full */
    static uint8_t all[2000];
    int n = drain(c.rx, all, 2000);
    CHECK_INT_EQ(n, 1200);
    int ordered = 1;
    for (int k = 0; k < n; k++)
        ordered &= all[k] == (uint8_t)k;
    CHECK(ordered);
    sfu_udp_dest_release(dc);
    endpoint_close(&c);
    endpoint_close(&a);
    endpoint_close(&b);
    g_main_context_release(ctx);
    g_main_context_unref(ctx);
}

/* REQUIRE on another thread: fail and leave the thread (no longjmp). */
#define TREQ(c)                                                                                    \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            th_fail(__FILE__, __LINE__, "REQUIRE(%s)", #c);                                        \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

static gpointer segmented_body(gpointer unused)
{
    (void)unused;
    GMainContext *ctx = g_main_context_new();
    TREQ(g_main_context_acquire(ctx));
    endpoint a, b;
    TREQ(endpoint_open(&a) == 0);
    TREQ(endpoint_open(&b) == 0);
    sfu_udp_dest *da = sfu_udp_dest_new(a.tx, (struct sockaddr *)&a.to, sizeof a.to);
    TREQ(da);
    sfu_udp_batch *q = sfu_udp_batch_for(ctx);
    TREQ(q != NULL);
    /* 5 x 1216, 700 (ends the run), 1216, 1300 (longer: a new run), 1300. */
    static const int lens[] = {1216, 1216, 1216, 1216, 1216, 700, 1216, 1300, 1300};
    const int n = (int)(sizeof lens / sizeof lens[0]);
    sfu_udp_batch_stats s0, s1;
    sfu_udp_batch_get_stats(&s0);
    for (int k = 0; k < n; k++) {
        uint8_t d[1400];
        memset(d, 0xee, sizeof d);
        d[0] = (uint8_t)(k + 1);
        CHECK_INT_EQ(sfu_udp_batch_send(q, da, d, (size_t)lens[k]), 0);
    }
    sfu_udp_batch_flush(q);
    sfu_udp_batch_get_stats(&s1);
    CHECK_INT_EQ((int)(s1.sent - s0.sent), n);
    /* three messages: [5 x 1216, 700] [1216] [1300 x 2], two segmented */
    CHECK_INT_EQ((int)(s1.gso_sends - s0.gso_sends), 2);
    CHECK_INT_EQ((int)(s1.syscalls - s0.syscalls), 1);
    int got[16];
    uint8_t first[16];
    CHECK_INT_EQ(drain_lens(a.rx, got, first, 16), n);
    for (int k = 0; k < n; k++) {
        CHECK_INT_EQ(got[k], lens[k]);
        CHECK_INT_EQ(first[k], k + 1);
    }

    /* No UDP checksum on the sending socket: the kernel refuses GSO. */
    int one = 1;
    TREQ(setsockopt(g_socket_get_fd(b.tx), SOL_SOCKET, SO_NO_CHECK, &one, sizeof one) == 0);
    sfu_udp_dest *db = sfu_udp_dest_new(b.tx, (struct sockaddr *)&b.to, sizeof b.to);
    TREQ(db);
    sfu_udp_batch_get_stats(&s0);
    for (int k = 0; k < 4; k++) {
        uint8_t d[500] = {(uint8_t)(k + 1)};
        CHECK_INT_EQ(sfu_udp_batch_send(q, db, d, sizeof d), 0);
    }
    sfu_udp_batch_flush(q);
    sfu_udp_batch_get_stats(&s1);
    CHECK_INT_EQ((int)(s1.sent - s0.sent), 4);
    CHECK_INT_EQ((int)(s1.dropped - s0.dropped), 0);
    CHECK_INT_EQ(db->no_gso, 1);
    CHECK_INT_EQ(drain_lens(b.rx, got, first, 16), 4);
    CHECK(first[0] == 1 && first[1] == 2 && first[2] == 3 && first[3] == 4);

    sfu_udp_dest_release(da);
    sfu_udp_dest_release(db);
    endpoint_close(&a);
    endpoint_close(&b);
    g_main_context_release(ctx);
    g_main_context_unref(ctx);
    return NULL;
}

/* (On a thread of its own: a thread's queue stays with its first context.) */
TEST(udp_batch_equal_lengths_go_out_segmented)
{
    g_thread_join(g_thread_new("gso", segmented_body, NULL));
}
