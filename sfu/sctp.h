/*
 * WebRTC data channels: one SCTP association (usrsctp, AF_CONN) per peer
 * connection, carried in DTLS application data, with DCEP (RFC 8832) to
 * open channels and stream resets (RFC 6525) to close them.
 *
 * Threads. usrsctp is process-global; it is initialised once per process
 * without its own network threads (no raw sockets are opened) and one
 * small timer thread of ours drives its retransmission timers. usrsctp may
 * therefore produce packets and socket events on that timer thread. Those
 * paths never call the transport: outgoing packets are queued inside the
 * association under a small lock and `wake(user)` is called (from any
 * thread) so that the owner schedules `sfu_sctp_poll()` on its own thread.
 * Everything else -- create, start, input, poll, open/send/close, destroy,
 * and every callback except `wake` -- happens on the owner thread only.
 *
 * Lifetime. The owner creates and destroys the association. After
 * sfu_sctp_destroy() returns no callback (not even `wake`) runs again for
 * it. Do not destroy an association from inside one of its callbacks.
 *
 * Choices (details at the top of sctp.c, sctp_channel.c, sctp_stack.c):
 *   - Both ends connect (SCTP simultaneous open), as WebRTC does; the role
 *     only decides stream-id parity (RFC 8832: DTLS client even, server odd).
 *     A packet arriving before sfu_sctp_start() starts the association.
 *   - Incoming messages larger than max_message_size are dropped whole and
 *     counted in `oversize_in`; the channel stays open. Outgoing ones are
 *     refused with -EMSGSIZE and counted in `oversize_out`.
 *   - Deprecated PPIDs 52/54 are dropped and counted in `dropped`.
 *   - Closing a channel (either side) resets our outgoing stream; when both
 *     directions are reset `on_channel_closed` runs on both sides and the
 *     stream id may be reused.
 */
#ifndef ML_SFU_SCTP_H
#define ML_SFU_SCTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sfu_sctp sfu_sctp;

/* Our DTLS role; decides the parity of the stream ids we pick. */
typedef enum {
    SFU_SCTP_DTLS_CLIENT = 0, /* even stream ids */
    SFU_SCTP_DTLS_SERVER = 1, /* odd stream ids */
} sfu_sctp_role;

#define SFU_SCTP_DEFAULT_PORT 5000
#define SFU_SCTP_DEFAULT_MAX_MESSAGE_SIZE (256 * 1024)
#define SFU_SCTP_DEFAULT_MAX_STREAMS 1024

typedef struct sfu_sctp_params {
    sfu_sctp_role role;
    uint16_t local_port;     /* a=sctp-port of our SDP; 0 = 5000 */
    uint16_t remote_port;    /* a=sctp-port of the peer's SDP; 0 = 5000 */
    size_t max_message_size; /* 0 = 256 KiB; applies to both directions */
    uint16_t max_streams;    /* inbound and outbound streams offered in INIT;
                                0 = 1024; at most 65535 */
} sfu_sctp_params;

typedef struct sfu_sctp_callbacks {
    /* Required. Owner thread, only from sfu_sctp_poll(): send one SCTP
     * packet as DTLS application data. */
    void (*send_lower)(void *user, const uint8_t *data, size_t len);
    /* Required. ANY thread (usrsctp's timer thread included, and the owner
     * thread from inside sfu_sctp_* calls): ask the owner to call
     * sfu_sctp_poll() soon. Runs under a process-wide lock of this module:
     * must not block and must not call into this module; e.g. write an
     * eventfd, g_source_set_ready_time() or g_main_context_wakeup().
     * Edge-triggered: at most once between two polls. */
    void (*wake)(void *user);
    /* The rest are optional (NULL to ignore); owner thread, from poll. */
    void (*on_association_up)(void *user);
    void (*on_association_down)(void *user);
    /* The peer opened a channel with DCEP OPEN; the ACK is sent
     * automatically. max_retransmits / max_lifetime_ms are -1 if unset. */
    void (*on_channel_open)(void *user, uint16_t sid, const char *label, const char *protocol,
                            int ordered, int max_retransmits, int max_lifetime_ms);
    /* The peer acknowledged a channel we opened (DCEP ACK). */
    void (*on_channel_acked)(void *user, uint16_t sid);
    /* A whole message; `data` is valid during the call only. Empty
     * messages arrive with len 0. */
    void (*on_message)(void *user, uint16_t sid, int binary, const uint8_t *data, size_t len);
    /* The channel is closed in both directions (or could not be opened). */
    void (*on_channel_closed)(void *user, uint16_t sid);
    /* After sfu_sctp_send() returned -EAGAIN: the send buffer has some
     * room again. A big message may still get -EAGAIN; on_writable then
     * runs again once the peer acknowledges more data. */
    void (*on_writable)(void *user);
} sfu_sctp_callbacks;

typedef struct sfu_sctp_stats {
    uint64_t packets_in, packets_out; /* SCTP packets through input/send_lower */
    uint64_t messages_in, messages_out;
    uint64_t bytes_in, bytes_out;   /* user message payload bytes */
    uint64_t dropped;               /* malformed DCEP, unknown stream/PPID, ... */
    uint64_t oversize_in;           /* incoming messages over max_message_size */
    uint64_t oversize_out;          /* sends refused for size */
    uint64_t send_failed;           /* SCTP_SEND_FAILED events (incl. abandoned PR) */
    uint64_t packets_queue_dropped; /* outgoing packets dropped, queue full */
    uint64_t channels_opened, channels_closed;
} sfu_sctp_stats;

/* Create an association (not yet started). `cbs` is copied; `p` may be NULL
 * for all defaults. Returns NULL on invalid parameters or failure. */
sfu_sctp *sfu_sctp_create(const sfu_sctp_callbacks *cbs, void *user, const sfu_sctp_params *p);

/* Start the association once DTLS is connected: bind the local port and
 * connect to the remote one (sends INIT). 0 or negative. */
int sfu_sctp_start(sfu_sctp *s);

/* Feed one SCTP packet received as DTLS application data. Any resulting
 * work (replies, events) is queued and signalled through `wake`. */
void sfu_sctp_input(sfu_sctp *s, const uint8_t *data, size_t len);

/* Owner thread: deliver queued events and messages through the callbacks
 * and queued packets through send_lower. Returns 0, or negative if the
 * association failed. Cheap when there is nothing to do. */
int sfu_sctp_poll(sfu_sctp *s);

/* Is the association established? 1 yes, 0 no. */
int sfu_sctp_is_up(const sfu_sctp *s);

/* Open a channel: pick a free stream id of our parity, send DCEP OPEN
 * (now, or when the association comes up). max_retransmits and
 * max_lifetime_ms are -1 when not set; at most one may be set.
 * Returns 0 and *sid_out, -EINVAL on bad arguments, -ENOSPC when no stream
 * id is free, -EIO on failure. Messages may be sent at once; until the ACK
 * arrives they are sent ordered (RFC 8832 section 6). */
int sfu_sctp_open_channel(sfu_sctp *s, const char *label, const char *protocol, int ordered,
                          int max_retransmits, int max_lifetime_ms, uint16_t *sid_out);

/* Send one message on an open channel with the channel's ordering and
 * partial reliability. len 0 sends an empty message (PPID 56/57).
 * Returns 0, -EMSGSIZE (over max_message_size), -EINVAL (no such channel),
 * -ENOTCONN (association not up), -EAGAIN (send buffer full: try again
 * when on_writable runs) or -EIO. */
int sfu_sctp_send(sfu_sctp *s, uint16_t sid, int binary, const uint8_t *data, size_t len);

/* Close a channel by resetting its outgoing stream (RFC 8831 section 6.7).
 * on_channel_closed follows (from poll) once the peer has reset its side
 * too. A channel whose OPEN was never sent (association not yet up) is
 * released at once, without on_channel_closed. 0 or -EINVAL. */
int sfu_sctp_close_channel(sfu_sctp *s, uint16_t sid);

/* Copy the counters. */
void sfu_sctp_get_stats(const sfu_sctp *s, sfu_sctp_stats *out);

/* Abort the association (no SHUTDOWN handshake, nothing more is sent) and
 * free everything. Safe against late usrsctp timer callbacks. NULL is ok. */
void sfu_sctp_destroy(sfu_sctp *s);

#endif
