/*
 * Batched UDP sending for connected ICE pairs (see udp_batch.c).
 *
 * Once ICE has selected a pair whose local candidate is not relayed, media
 * does not need libnice's send path (agent lock, GSocket, NiceSocket
 * layers): sfu/ice.c queues each datagram here with the selected socket's
 * file descriptor and the remote address, and the queue is written with
 * sendmmsg(2) once per main-loop iteration of the thread's GMainContext
 * (or at once when it is full), one call per destination.
 *
 * A queue belongs to one thread and one GMainContext; it is freed when its
 * thread exits. Everything here is single-threaded.
 */
#ifndef ML_SFU_UDP_BATCH_H
#define ML_SFU_UDP_BATCH_H

#include <glib.h>
#include <gio/gio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Where one ICE pair sends: the selected local socket and the remote
 * address. Reference-counted by its owner and by queued datagrams. */
typedef struct sfu_udp_dest {
    int refs;
    int dead;       /* owner gone or pair changed: do not send queued data */
    int no_gso;     /* the kernel refused a segmented send to it (udp_batch.c) */
    GSocket *gsock; /* a reference: tells when libnice closed the socket */
    int fd;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    /* Its datagrams in the queue (udp_batch.c): first and last slot, valid
     * while qgen is the queue's current generation. */
    int qhead, qtail;
    uint32_t qgen;
} sfu_udp_dest;

typedef struct sfu_udp_batch sfu_udp_batch;

/* Counters of the calling thread's queue (all zero before first use). */
typedef struct sfu_udp_batch_stats {
    uint64_t queued;    /* datagrams queued */
    uint64_t sent;      /* datagrams the kernel accepted */
    uint64_t dropped;   /* send errors (EAGAIN, ENOBUFS, ...) and closed sockets */
    uint64_t syscalls;  /* sendmmsg calls */
    uint64_t flushes;   /* flushes that wrote something */
    uint64_t gso_sends; /* messages carrying several datagrams (UDP GSO) */
} sfu_udp_batch_stats;

/* A destination for fd/addr; gsock is referenced. NULL on bad input. */
sfu_udp_dest *sfu_udp_dest_new(GSocket *gsock, const struct sockaddr *addr, socklen_t addr_len);

/* The owner drops its reference: queued datagrams to it are discarded. */
void sfu_udp_dest_release(sfu_udp_dest *d);

/* The calling thread's queue for ctx, created (and its flush hook attached
 * to ctx) on first use; NULL when this thread does not own ctx or already
 * batches for another context. */
sfu_udp_batch *sfu_udp_batch_for(GMainContext *ctx);

/* Queue one datagram (copied); flushes first when the queue is full.
 * Returns 0, or -1 when it is too large to queue. */
int sfu_udp_batch_send(sfu_udp_batch *b, sfu_udp_dest *d, const uint8_t *buf, size_t len);

/* Write everything queued now. */
void sfu_udp_batch_flush(sfu_udp_batch *b);

/* Work that will queue datagrams, deferred to the end of the current
 * dispatch (the router fans a received burst out viewer by viewer):
 * fn runs once, before the thread's queue is next written by its flush
 * hook, or earlier at sfu_udp_batch_run_deferred(). One registration per
 * thread; registering another fn runs the pending one first. Returns -1
 * (nothing registered) when the calling thread has no queue yet. */
int sfu_udp_batch_defer(void (*fn)(void));

/* Run the calling thread's deferred work now, if any (after a dispatch
 * that may have registered some: ice_loop.c). */
void sfu_udp_batch_run_deferred(void);

/* The calling thread's counters. */
void sfu_udp_batch_get_stats(sfu_udp_batch_stats *out);

#endif
