/*
 * Internals shared by the three files of the data-channel transport:
 *   sctp_stack.c   process-global usrsctp: one-time init, timer thread, and
 *                  the registry of live associations that guards usrsctp's
 *                  late callbacks;
 *   sctp.c         the association: socket, poll loop, receive path,
 *                  notifications, packet queue, lifetime;
 *   sctp_channel.c the channels: DCEP open/ack, send, stream-reset close.
 * Nothing here is for use outside sfu/sctp*.c.
 */
#ifndef ML_SFU_SCTP_INTERNAL_H
#define ML_SFU_SCTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sfu/sctp.h"

struct socket;

enum { SFU__CH_FREE = 0, SFU__CH_PENDING_OPEN, SFU__CH_OPENING, SFU__CH_OPEN, SFU__CH_CLOSING };

/* One stream id's channel state. Owner thread only. */
typedef struct sfu__sctp_channel {
    uint8_t state; /* SFU__CH_* */
    uint8_t ordered;
    uint8_t acked;         /* OPEN acknowledged (or opened by the peer) */
    uint8_t reset_pending; /* our outgoing reset still to be requested */
    uint8_t out_reset;     /* the peer confirmed our outgoing reset */
    uint8_t in_reset;      /* the peer reset its outgoing stream */
    uint16_t pr_policy;    /* SCTP_PR_SCTP_NONE / _RTX / _TTL */
    uint32_t pr_value;
    uint8_t *open_msg; /* DCEP OPEN not yet sent (SFU__CH_PENDING_OPEN) */
    size_t open_len;
} sfu__sctp_channel;

/* An SCTP packet waiting for send_lower. */
typedef struct sfu__sctp_pkt {
    struct sfu__sctp_pkt *next;
    size_t len;
    uint8_t data[];
} sfu__sctp_pkt;

struct sfu_sctp {
    sfu_sctp_callbacks cbs;
    void *user;
    sfu_sctp_role role;
    uint16_t local_port, remote_port;
    uint16_t max_streams;
    size_t max_msg;
    struct socket *sock;
    int started, up, down_reported, failed;
    int want_writable;                /* a send got -EAGAIN; tell on_writable */
    uint16_t out_streams, in_streams; /* negotiated */
    sfu__sctp_channel *ch;            /* [max_streams] */
    unsigned n_pending_open, n_reset_pending;
    /* Receive reassembly (owner thread). */
    uint8_t *rbuf;
    size_t rlen, rcap;
    int r_discard, r_notif_tail;
    uint16_t r_sid;
    uint32_t r_ppid;
    /* Shared with usrsctp callbacks. */
    pthread_mutex_t lock; /* q_*, st.packets_queue_dropped */
    sfu__sctp_pkt *q_head, *q_tail;
    size_t q_bytes;
    atomic_int pending;
    sfu_sctp_stats st;
};

/* ---- sctp_stack.c ---- */

/* Initialise usrsctp once per process (pthread_once). 0 or -1. */
int sfu__sctp_stack_init(void);
/* Add/remove an association to/from the live registry. After remove
 * returns, no usrsctp callback touches `s` any more. */
int sfu__sctp_registry_add(sfu_sctp *s);
void sfu__sctp_registry_remove(sfu_sctp *s);
/* The socket upcall to install with usrsctp_set_upcall(sock, ..., s). */
void sfu__sctp_upcall(struct socket *sock, void *arg, int flags);

/* ---- sctp.c ---- */

/* Called by sctp_stack.c with the registry lock held and `s` live; any
 * thread. queue_packet takes ownership of the malloc'd `pkt`. */
void sfu__sctp_queue_packet(sfu_sctp *s, sfu__sctp_pkt *pkt);
/* Raise `pending` and call wake() unless already pending. Any thread. */
void sfu__sctp_signal(sfu_sctp *s);

/* ---- sctp_channel.c (owner thread) ---- */

/* A whole incoming user message (DCEP or data) on stream `sid`. */
void sfu__sctp_deliver(sfu_sctp *s, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t len);
/* An SCTP_STREAM_RESET_EVENT notification, `len` bytes. */
void sfu__sctp_stream_reset_event(sfu_sctp *s, const uint8_t *buf, size_t len);
/* Send DCEP OPENs queued before the association was up. */
void sfu__sctp_send_pending_opens(sfu_sctp *s);
/* Retry stream resets usrsctp refused earlier. */
void sfu__sctp_retry_resets(sfu_sctp *s);

#endif
