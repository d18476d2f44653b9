/*
 * Per-thread queue of outgoing datagrams written with sendmmsg(2) (see
 * udp_batch.h).
 *
 * The queue is flushed from the prepare step of a GSource attached to the
 * thread's GMainContext at the highest priority: GLib calls every prepare
 * function, highest priority first, at the start of each iteration, so
 * whatever the previous iteration's callbacks queued is written before the
 * thread polls again. A fan-out of one received burst to many viewers thus
 * costs one sendmmsg per viewer socket instead of one sendmsg per packet,
 * and no libnice locking at all.
 *
 * The queue flushes itself at 64 datagrams (SFU_UDP_BATCH=n, 1..1024,
 * changes that, for comparisons). A longer queue would let a burst of k
 * packets fanned out to N viewers go out as N sendmmsg calls of k
 * datagrams instead of k x N calls of one (libnice reads every datagram
 * waiting on the publisher's socket in one dispatch), but measured at
 * 200-320 mentees it saved ~5 % of the CPU at best and doubled the
 * one-way delay p50 (docs/benchmarks.md): the first viewers wait for the
 * whole burst. Datagrams are chained per destination as they are queued
 * (first and last slot in the destination, valid for the queue's current
 * generation) and written in first-queued order of the destinations, in
 * queued order per destination.
 *
 * Consecutive datagrams to one destination with the same length (a frame
 * cut into equal packets, protected alike), optionally closed by one
 * shorter, go out as one message with UDP_SEGMENT (UDP GSO, Linux 4.18):
 * the kernel takes the run through its stack once and cuts it back into
 * the same datagrams at the end (in the NIC, or in software). Measured on
 * this machine, 200 sockets, runs of five 1 200-byte datagrams: 1.3 µs of
 * kernel time per datagram instead of 2.2 with one sendmmsg of five
 * messages. It applies when the queue holds several datagrams for one
 * viewer: small rooms (up to 64 / k viewers for bursts of k packets), or
 * a longer queue (SFU_UDP_BATCH). A destination whose route refuses it
 * (a segment over the route's MTU, an IPsec route) gets one datagram per
 * message from then on, as does every destination on a kernel without
 * UDP_SEGMENT (probed when the destination is made); SFU_UDP_GSO=0 turns
 * it off.
 *
 * A destination holds a reference to libnice's GSocket, so a socket that
 * libnice closed in the meantime is seen (g_socket_is_closed) and its
 * datagrams are dropped rather than written to a reused descriptor.
 */

#include "sfu/udp_batch.h"

#include "common/log.h"

#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH_MAX 1024 /* sendmmsg's own limit (UIO_MAXIOV) */
#define BATCH_DEFAULT 64
#define SLOT_SIZE 2048
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h, Linux 4.18 */
#endif
#define GSO_MAX_SEGS 64     /* the kernel's UDP_MAX_SEGMENTS */
#define GSO_MAX_BYTES 60000 /* under the 64 KiB of one IP datagram */
#define CTL_SIZE CMSG_SPACE(sizeof(uint16_t))

struct sfu_udp_batch {
    GMainContext *ctx;
    GSource *src;
    int n, limit;
    uint32_t gen; /* of the current queue contents; never 0 */
    int n_order;
    sfu_udp_dest *order[BATCH_MAX]; /* destinations in first-queued order */
    int next[BATCH_MAX];            /* the same destination's next slot, -1 */
    sfu_udp_dest *dest[BATCH_MAX];
    uint32_t len[BATCH_MAX];
    struct mmsghdr msg[BATCH_MAX];
    int segs[BATCH_MAX];   /* datagrams in msg[i] (more than one: UDP GSO) */
    int mstart[BATCH_MAX]; /* the slot of msg[i]'s first datagram */
    struct iovec iov[BATCH_MAX];
    uint8_t ctl[BATCH_MAX][CTL_SIZE] __attribute__((aligned(8)));
    bool no_gso; /* SFU_UDP_GSO=0: one datagram per message (comparisons) */
    void (*deferred)(void); /* sfu_udp_batch_defer() */
    sfu_udp_batch_stats st;
    uint8_t data[BATCH_MAX][SLOT_SIZE] __attribute__((aligned(16)));
};

static __thread sfu_udp_batch *tl_batch;
static __thread sfu_udp_batch_stats tl_stats_after_exit;

/* ---- destinations -------------------------------------------------------- */

sfu_udp_dest *sfu_udp_dest_new(GSocket *gsock, const struct sockaddr *addr, socklen_t addr_len)
{
    if (!gsock || !addr || addr_len == 0 || addr_len > sizeof(struct sockaddr_storage))
        return NULL;
    int fd = g_socket_get_fd(gsock);
    if (fd < 0)
        return NULL;
    sfu_udp_dest *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    /* IPv4: send with Don't Fragment set (IP_PMTUDISC_PROBE: DF without
     * path-MTU bookkeeping). The kernel then writes IP id 0 instead of
     * drawing an id from its shared generator for every datagram
     * (__ip_select_ident: 3 % of the server's CPU at 200 mentees, perf).
     * Media datagrams are kept under the path MTU anyway (RTP packetizers
     * aim at ~1200 bytes), so nothing that would have been fragmented is
     * lost in practice. Best effort: a failure changes nothing. */
    if (addr->sa_family == AF_INET) {
        int pmtu = IP_PMTUDISC_PROBE;
        (void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    }
    /* A kernel without UDP GSO (before 4.18) would ignore the option and
     * send a run as one datagram: ask it first. */
    int gso = 0;
    socklen_t gl = sizeof gso;
    if (getsockopt(fd, SOL_UDP, UDP_SEGMENT, &gso, &gl) != 0)
        d->no_gso = 1;
    d->refs = 1;
    d->gsock = g_object_ref(gsock);
    d->fd = fd;
    memcpy(&d->addr, addr, addr_len);
    d->addr_len = addr_len;
    return d;
}

static void dest_unref(sfu_udp_dest *d)
{
    if (--d->refs > 0)
        return;
    g_object_unref(d->gsock);
    free(d);
}

void sfu_udp_dest_release(sfu_udp_dest *d)
{
    if (!d)
        return;
    d->dead = 1;
    dest_unref(d);
}

/* ---- flushing -------------------------------------------------------------- */

/* Write msg[0..cnt) on fd; a message the kernel refuses is dropped (all
 * its datagrams). */
static int write_group(sfu_udp_batch *b, int fd, int cnt)
{
    int off = 0;
    while (off < cnt) {
        int r = sendmmsg(fd, b->msg + off, (unsigned)(cnt - off), MSG_DONTWAIT);
        b->st.syscalls++;
        if (r > 0) {
            for (int i = off; i < off + r; i++) {
                b->st.sent += (uint64_t)b->segs[i];
                b->st.gso_sends += b->segs[i] > 1;
            }
            off += r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EIO || errno == EINVAL || errno == EMSGSIZE) && b->segs[off] > 1)
            return off; /* no segmentation on this path: the caller goes on without */
        b->st.dropped += (uint64_t)b->segs[off]; /* the message at off failed: skip it */
        off++;
    }
    return cnt;
}

/* One message for datagrams j.. of d's chain, up to the next size that
 * cannot join them: a run of equal lengths, optionally closed by one
 * shorter datagram, goes out as one UDP GSO send (the kernel cuts it
 * back into the same datagrams, once through the stack instead of once
 * each). Returns the chain position after the run. */
static int build_msg(sfu_udp_batch *b, sfu_udp_dest *d, int j, int m, int *iov_n)
{
    int first = *iov_n, segs = 0;
    uint32_t seg = b->len[j], total = 0;
    while (j >= 0) {
        uint32_t l = b->len[j];
        if (segs > 0 && (b->no_gso || d->no_gso || l > seg || l == 0 || segs == GSO_MAX_SEGS ||
                         total + l > GSO_MAX_BYTES))
            break;
        b->iov[*iov_n].iov_base = b->data[j];
        b->iov[*iov_n].iov_len = l;
        (*iov_n)++;
        segs++;
        total += l;
        j = b->next[j];
        if (l < seg || seg == 0)
            break; /* a shorter one ends the run (an empty one is alone) */
    }
    struct msghdr *h = &b->msg[m].msg_hdr;
    memset(&b->msg[m], 0, sizeof b->msg[m]);
    h->msg_name = &d->addr;
    h->msg_namelen = d->addr_len;
    h->msg_iov = &b->iov[first];
    h->msg_iovlen = (size_t)segs;
    if (segs > 1) {
        h->msg_control = b->ctl[m];
        h->msg_controllen = CTL_SIZE;
        struct cmsghdr *cm = CMSG_FIRSTHDR(h);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t gso = (uint16_t)seg;
        memcpy(CMSG_DATA(cm), &gso, sizeof gso);
    }
    b->segs[m] = segs;
    return j;
}

void sfu_udp_batch_flush(sfu_udp_batch *b)
{
    if (!b || b->n == 0)
        return;
    int n = b->n;
    for (int k = 0; k < b->n_order; k++) {
        sfu_udp_dest *d = b->order[k];
        if (d->dead || g_socket_is_closed(d->gsock)) {
            for (int j = d->qhead; j >= 0; j = b->next[j])
                b->st.dropped++;
            continue;
        }
        int j = d->qhead;
        while (j >= 0) {
            int cnt = 0, iov_n = 0;
            for (int x = j; x >= 0; cnt++) {
                b->mstart[cnt] = x;
                x = build_msg(b, d, x, cnt, &iov_n);
            }
            int done = write_group(b, d->fd, cnt);
            if (done == cnt)
                break;
            /* Refused as a segmented send (EMSGSIZE, EINVAL on older
             * kernels: a segment over the route's MTU; EIO: an IPsec
             * route): one datagram per message to this destination from
             * now on, and its datagrams again from the refused message. */
            d->no_gso = 1;
            ML_DEBUG("udp", "segmented send refused (%s): datagrams one by one to this peer",
                     g_strerror(errno));
            j = b->mstart[done];
        }
    }
    for (int i = 0; i < n; i++)
        dest_unref(b->dest[i]);
    b->n = 0;
    b->n_order = 0;
    if (++b->gen == 0)
        b->gen = 1;
    b->st.flushes++;
}

/* ---- the flush hook ------------------------------------------------------- */

typedef struct flush_source {
    GSource base;
    sfu_udp_batch *batch; /* NULL once the thread has exited */
} flush_source;

static gboolean flush_prepare(GSource *src, gint *timeout)
{
    flush_source *fs = (flush_source *)src;
    if (fs->batch) {
        sfu_udp_batch_run_deferred();
        sfu_udp_batch_flush(fs->batch);
    }
    *timeout = -1;
    return FALSE;
}

static gboolean flush_check(GSource *src)
{
    (void)src;
    return FALSE;
}

static gboolean flush_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    (void)src;
    (void)cb;
    (void)data;
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = {
    .prepare = flush_prepare,
    .check = flush_check,
    .dispatch = flush_dispatch,
};

/* Thread exit: discard what is still queued (the sockets are being closed
 * with their agents) and detach the hook. */
static void batch_free(gpointer data)
{
    sfu_udp_batch *b = data;
    if (!b)
        return;
    for (int i = 0; i < b->n; i++) {
        b->st.dropped++;
        dest_unref(b->dest[i]);
    }
    b->n = 0;
    ((flush_source *)b->src)->batch = NULL;
    g_source_destroy(b->src);
    g_source_unref(b->src);
    g_main_context_unref(b->ctx);
    if (tl_batch == b) {
        tl_stats_after_exit = b->st;
        tl_batch = NULL;
    }
    free(b);
}

static GPrivate batch_key = G_PRIVATE_INIT(batch_free);

sfu_udp_batch *sfu_udp_batch_for(GMainContext *ctx)
{
    sfu_udp_batch *b = tl_batch;
    if (b)
        return b->ctx == ctx ? b : NULL;
    if (!ctx || !g_main_context_is_owner(ctx))
        return NULL;
    b = aligned_alloc(16, (sizeof *b + 15) & ~(size_t)15);
    if (!b)
        return NULL;
    memset(b, 0, offsetof(sfu_udp_batch, data));
    b->gen = 1;
    const char *lim = getenv("SFU_UDP_BATCH");
    b->limit = lim && atoi(lim) >= 1 && atoi(lim) <= BATCH_MAX ? atoi(lim) : BATCH_DEFAULT;
    const char *gso = getenv("SFU_UDP_GSO");
    b->no_gso = gso && !strcmp(gso, "0");
    b->ctx = g_main_context_ref(ctx);
    b->src = g_source_new(&flush_funcs, sizeof(flush_source));
    ((flush_source *)b->src)->batch = b;
    g_source_set_priority(b->src, G_MININT / 2);
    g_source_set_name(b->src, "sfu-udp-batch");
    g_source_attach(b->src, ctx);
    tl_batch = b;
    g_private_set(&batch_key, b);
    return b;
}

int sfu_udp_batch_send(sfu_udp_batch *b, sfu_udp_dest *d, const uint8_t *buf, size_t len)
{
    if (len > SLOT_SIZE)
        return -1;
    if (b->n == b->limit)
        sfu_udp_batch_flush(b);
    int i = b->n++;
    memcpy(b->data[i], buf, len);
    b->len[i] = (uint32_t)len;
    b->dest[i] = d;
    b->next[i] = -1;
    if (d->qgen != b->gen) {
        d->qgen = b->gen;
        d->qhead = i;
        b->order[b->n_order++] = d;
    } else {
        b->next[d->qtail] = i;
    }
    d->qtail = i;
    d->refs++;
    b->st.queued++;
    return 0;
}

int sfu_udp_batch_defer(void (*fn)(void))
{
    sfu_udp_batch *b = tl_batch;
    if (!b || !fn)
        return -1;
    if (b->deferred && b->deferred != fn)
        sfu_udp_batch_run_deferred();
    b->deferred = fn;
    return 0;
}

void sfu_udp_batch_run_deferred(void)
{
    sfu_udp_batch *b = tl_batch;
    if (!b || !b->deferred)
        return;
    void (*fn)(void) = b->deferred;
    b->deferred = NULL; /* fn may defer again */
    fn();
}

void sfu_udp_batch_get_stats(sfu_udp_batch_stats *out)
{
    *out = tl_batch ? tl_batch->st : tl_stats_after_exit;
}
