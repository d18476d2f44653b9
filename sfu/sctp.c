/*
 * One SCTP association per peer connection (channels: sctp_channel.c).
 *
 * The association is a one-to-one, non-blocking usrsctp AF_CONN socket whose
 * "address" is the sfu_sctp pointer itself. usrsctp may call back from its
 * timer thread (see sctp_stack.c), so callbacks only queue outgoing packets
 * here under `lock` and raise `pending` + wake(); the owner thread then runs
 * sfu_sctp_poll(), which reads the socket (messages, notifications), runs
 * the user callbacks and hands queued packets to send_lower. All channel
 * state is touched by the owner thread only and needs no lock.
 *
 * Messages: SCTP_EXPLICIT_EOR is off, so each send is one whole message.
 * On receive usrsctp may hand a big message over in pieces (partial
 * delivery, or our buffer is smaller); pieces are appended to `rbuf` until
 * MSG_EOR. Without I-DATA only one message can be in partial delivery at a
 * time, so one buffer per association is enough. A message growing past
 * max_message_size is discarded to its end and counted.
 *
 * Socket options: SO_LINGER 0 (close aborts, so nothing outlives destroy),
 * SCTP_RECVRCVINFO (stream id and PPID per message), SCTP_NODELAY,
 * SCTP_ENABLE_STREAM_RESET (stream reset requests), SO_SNDBUF/SO_RCVBUF of
 * max(1 MiB, 2 x max message size), INITMSG max_streams in and out (default
 * 1024: enough for any real page, and the stream table stays 32 KiB), a fixed
 * path MTU of 1200 and the notifications listed in configure_socket().
 */
#include "sfu/sctp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "sfu/dcep.h"
#include "sfu/sctp_internal.h"

#define SCTP_BUF_MIN (16 * 1024)
#define SCTP_SOCKBUF_MIN (1024 * 1024)
#define SCTP_QUEUE_MAX_BYTES (8 * 1024 * 1024)
#define SCTP_POLL_READS 256
/* SCTP packet size: fits DTLS + UDP + IPv6 in a 1280-byte path. */
#define SCTP_PATH_MTU 1200

/* ---- cross-thread queue ------------------------------------------------ */

void sfu__sctp_signal(sfu_sctp *s)
{
    if (!atomic_exchange(&s->pending, 1))
        s->cbs.wake(s->user);
}

void sfu__sctp_queue_packet(sfu_sctp *s, sfu__sctp_pkt *o)
{
    pthread_mutex_lock(&s->lock);
    if (s->q_bytes + o->len > SCTP_QUEUE_MAX_BYTES) {
        s->st.packets_queue_dropped++;
        pthread_mutex_unlock(&s->lock);
        free(o);
        return;
    }
    o->next = NULL;
    if (s->q_tail)
        s->q_tail->next = o;
    else
        s->q_head = o;
    s->q_tail = o;
    s->q_bytes += o->len;
    pthread_mutex_unlock(&s->lock);
    sfu__sctp_signal(s);
}

static void flush_output(sfu_sctp *s)
{
    sfu__sctp_pkt *o, *next;
    pthread_mutex_lock(&s->lock);
    o = s->q_head;
    s->q_head = s->q_tail = NULL;
    s->q_bytes = 0;
    pthread_mutex_unlock(&s->lock);
    for (; o; o = next) {
        next = o->next;
        s->st.packets_out++;
        s->cbs.send_lower(s->user, o->data, o->len);
        free(o);
    }
}

static void free_queue(sfu_sctp *s)
{
    sfu__sctp_pkt *o, *next;
    for (o = s->q_head; o; o = next) {
        next = o->next;
        free(o);
    }
    s->q_head = s->q_tail = NULL;
}

static void association_down(sfu_sctp *s)
{
    s->up = 0;
    s->failed = 1;
    if (!s->down_reported) {
        s->down_reported = 1;
        if (s->cbs.on_association_down)
            s->cbs.on_association_down(s->user);
    }
}

static void handle_assoc_change(sfu_sctp *s, const struct sctp_assoc_change *ac)
{
    switch (ac->sac_state) {
    case SCTP_COMM_UP:
    case SCTP_RESTART:
        s->out_streams = ac->sac_outbound_streams;
        s->in_streams = ac->sac_inbound_streams;
        if (!s->up && !s->failed) {
            s->up = 1;
            if (s->cbs.on_association_up)
                s->cbs.on_association_up(s->user);
            sfu__sctp_send_pending_opens(s);
        }
        break;
    case SCTP_COMM_LOST:
    case SCTP_SHUTDOWN_COMP:
    case SCTP_CANT_STR_ASSOC:
        association_down(s);
        break;
    default:
        break;
    }
}

static void handle_notification(sfu_sctp *s, const uint8_t *buf, size_t len)
{
    union sctp_notification n;
    size_t copy = len < sizeof n ? len : sizeof n;

    if (len < sizeof(n.sn_header))
        return;
    memset(&n, 0, sizeof n);
    memcpy(&n, buf, copy);
    switch (n.sn_header.sn_type) {
    case SCTP_ASSOC_CHANGE:
        if (len >= sizeof(struct sctp_assoc_change))
            handle_assoc_change(s, &n.sn_assoc_change);
        break;
    case SCTP_STREAM_RESET_EVENT:
        sfu__sctp_stream_reset_event(s, buf, len);
        break;
    case SCTP_STREAM_CHANGE_EVENT:
        if (len >= sizeof(struct sctp_stream_change_event)) {
            s->in_streams = n.sn_strchange_event.strchange_instrms;
            s->out_streams = n.sn_strchange_event.strchange_outstrms;
        }
        break;
    case SCTP_SEND_FAILED_EVENT:
        s->st.send_failed++;
        break;
    case SCTP_PARTIAL_DELIVERY_EVENT:
        if (len >= sizeof(struct sctp_pdapi_event) &&
            n.sn_pdapi_event.pdapi_indication == SCTP_PARTIAL_DELIVERY_ABORTED) {
            s->rlen = 0;
            s->r_discard = 0;
        }
        break;
    default:
        break;
    }
}

/* Make room to read at least SCTP_BUF_MIN more bytes at rbuf + rlen. */
static int ensure_rbuf(sfu_sctp *s)
{
    size_t want, cap;
    uint8_t *nb;
    if (s->rbuf && s->rcap - s->rlen >= SCTP_BUF_MIN)
        return 0;
    want = s->rlen + SCTP_BUF_MIN;
    cap = s->rcap ? s->rcap : SCTP_BUF_MIN;
    while (cap < want)
        cap *= 2;
    nb = realloc(s->rbuf, cap);
    if (!nb)
        return -1;
    s->rbuf = nb;
    s->rcap = cap;
    return 0;
}

/* Give back a buffer grown by a big message once it has been delivered. */
static void shrink_rbuf(sfu_sctp *s)
{
    if (s->rlen == 0 && s->rcap > 4 * SCTP_BUF_MIN) {
        free(s->rbuf);
        s->rbuf = NULL;
        s->rcap = 0;
    }
}

static void handle_data_piece(sfu_sctp *s, const struct sctp_rcvinfo *ri, int has_info, size_t n,
                              int eor)
{
    if (s->r_discard) { /* rest of an oversize message, read at rbuf + 0 */
        if (eor)
            s->r_discard = 0;
        return;
    }
    if (s->rlen == 0) {
        s->r_sid = has_info ? ri->rcv_sid : 0xffff;
        s->r_ppid = has_info ? ntohl(ri->rcv_ppid) : 0;
    }
    s->rlen += n;
    if (s->rlen > s->max_msg) {
        s->st.oversize_in++;
        s->rlen = 0;
        s->r_discard = !eor;
        return;
    }
    if (eor) {
        size_t len = s->rlen;
        s->rlen = 0;
        sfu__sctp_deliver(s, s->r_sid, s->r_ppid, s->rbuf, len);
        shrink_rbuf(s);
    }
}

static void read_socket(sfu_sctp *s)
{
    int i;
    for (i = 0; i < SCTP_POLL_READS && s->sock; i++) {
        struct sctp_rcvinfo ri;
        struct sockaddr_conn from;
        socklen_t fromlen = sizeof from, infolen = sizeof ri;
        unsigned int infotype = 0;
        int flags = 0;
        ssize_t n;

        if (ensure_rbuf(s) != 0)
            break;
        memset(&ri, 0, sizeof ri);
        n = usrsctp_recvv(s->sock, s->rbuf + s->rlen, s->rcap - s->rlen, (struct sockaddr *)&from,
                          &fromlen, &ri, &infolen, &infotype, &flags);
        if (n < 0) {
            if (errno != EWOULDBLOCK && errno != EAGAIN && errno != EINPROGRESS &&
                errno != ENOTCONN)
                association_down(s);
            return;
        }
        if (n == 0) { /* end of the association */
            association_down(s);
            return;
        }
        if (flags & MSG_NOTIFICATION) {
            if (!s->r_notif_tail)
                handle_notification(s, s->rbuf + s->rlen, (size_t)n);
            s->r_notif_tail = !(flags & MSG_EOR);
            continue;
        }
        handle_data_piece(s, &ri, infotype == SCTP_RECVV_RCVINFO, (size_t)n,
                          (flags & MSG_EOR) != 0);
    }
    if (i == SCTP_POLL_READS)
        sfu__sctp_signal(s); /* more to read: come back */
}

/* ---- public API -------------------------------------------------------- */

static int set_opt(struct socket *so, int level, int name, const void *v, size_t len)
{
    return usrsctp_setsockopt(so, level, name, v, (socklen_t)len);
}

static int configure_socket(sfu_sctp *s)
{
    static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT,
                                      SCTP_STREAM_CHANGE_EVENT, SCTP_SEND_FAILED_EVENT,
                                      SCTP_PARTIAL_DELIVERY_EVENT};
    struct linger lg = {1, 0}; /* close() aborts: nothing outlives destroy */
    struct sctp_assoc_value av = {SCTP_FUTURE_ASSOC, SCTP_ENABLE_RESET_STREAM_REQ};
    struct sctp_initmsg im;
    int on = 1;
    int buf = (int)(s->max_msg * 2 > SCTP_SOCKBUF_MIN ? s->max_msg * 2 : SCTP_SOCKBUF_MIN);

    memset(&im, 0, sizeof im);
    im.sinit_num_ostreams = s->max_streams;
    im.sinit_max_instreams = s->max_streams;
    if (usrsctp_set_non_blocking(s->sock, 1) != 0 ||
        set_opt(s->sock, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0 ||
        set_opt(s->sock, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf) != 0 ||
        set_opt(s->sock, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf) != 0 ||
        set_opt(s->sock, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on) != 0 ||
        set_opt(s->sock, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on) != 0 ||
        set_opt(s->sock, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, sizeof av) != 0 ||
        set_opt(s->sock, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof im) != 0)
        return -1;
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        struct sctp_event ev;
        memset(&ev, 0, sizeof ev);
        ev.se_assoc_id = SCTP_FUTURE_ASSOC;
        ev.se_type = events[i];
        ev.se_on = 1;
        if (set_opt(s->sock, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev) != 0)
            return -1;
    }
    return usrsctp_set_upcall(s->sock, sfu__sctp_upcall, s);
}

sfu_sctp *sfu_sctp_create(const sfu_sctp_callbacks *cbs, void *user, const sfu_sctp_params *p)
{
    sfu_sctp *s = NULL;
    sfu_sctp_params def = {0};
    int registered = 0, addr_registered = 0;

    if (!cbs || !cbs->send_lower || !cbs->wake)
        return NULL;
    if (!p)
        p = &def;
    if (p->role != SFU_SCTP_DTLS_CLIENT && p->role != SFU_SCTP_DTLS_SERVER)
        return NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return NULL;
    }
    s->cbs = *cbs;
    s->user = user;
    s->role = p->role;
    s->local_port = p->local_port ? p->local_port : SFU_SCTP_DEFAULT_PORT;
    s->remote_port = p->remote_port ? p->remote_port : SFU_SCTP_DEFAULT_PORT;
    s->max_msg = p->max_message_size ? p->max_message_size : SFU_SCTP_DEFAULT_MAX_MESSAGE_SIZE;
    s->max_streams = p->max_streams ? p->max_streams : SFU_SCTP_DEFAULT_MAX_STREAMS;
    atomic_init(&s->pending, 0);
    if (s->max_msg > 64u * 1024 * 1024)
        goto fail;
    s->ch = calloc(s->max_streams, sizeof *s->ch);
    if (!s->ch)
        goto fail;
    if (sfu__sctp_registry_add(s) != 0)
        goto fail;
    registered = 1;
    usrsctp_register_address(s);
    addr_registered = 1;
    s->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (!s->sock || configure_socket(s) != 0)
        goto fail;
    return s;
fail:
    if (registered)
        sfu__sctp_registry_remove(s);
    if (s->sock)
        usrsctp_close(s->sock);
    if (addr_registered)
        usrsctp_deregister_address(s);
    free(s->ch);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

static void conn_addr(sfu_sctp *s, struct sockaddr_conn *a, uint16_t port)
{
    memset(a, 0, sizeof *a);
    a->sconn_family = AF_CONN;
    a->sconn_port = htons(port);
    a->sconn_addr = s;
}

int sfu_sctp_start(sfu_sctp *s)
{
    struct sockaddr_conn a;
    struct sctp_paddrparams pp;

    if (!s || !s->sock)
        return -EINVAL;
    if (s->started)
        return 0;
    conn_addr(s, &a, s->local_port);
    if (usrsctp_bind(s->sock, (struct sockaddr *)&a, sizeof a) != 0)
        return -EIO;
    conn_addr(s, &a, s->remote_port);
    if (usrsctp_connect(s->sock, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
        return -EIO;
    s->started = 1;
    /* Fixed path MTU: usrsctp cannot probe through DTLS. */
    memset(&pp, 0, sizeof pp);
    memcpy(&pp.spp_address, &a, sizeof a);
    pp.spp_flags = SPP_PMTUD_DISABLE;
    /* usrsctp adds the 12-byte common header on top for AF_CONN. */
    pp.spp_pathmtu = SCTP_PATH_MTU - 12;
    (void)set_opt(s->sock, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof pp);
    return 0;
}

void sfu_sctp_input(sfu_sctp *s, const uint8_t *data, size_t len)
{
    if (!s || !data || len == 0)
        return;
    if (!s->started && sfu_sctp_start(s) != 0)
        return;
    s->st.packets_in++;
    usrsctp_conninput(s, data, len, 0);
}

int sfu_sctp_poll(sfu_sctp *s)
{
    if (!s)
        return -EINVAL;
    atomic_store(&s->pending, 0);
    if (s->started)
        read_socket(s);
    if (s->up && s->n_pending_open)
        sfu__sctp_send_pending_opens(s);
    if (s->up && s->n_reset_pending)
        sfu__sctp_retry_resets(s);
    if (s->want_writable && s->up && (usrsctp_get_events(s->sock) & SCTP_EVENT_WRITE)) {
        s->want_writable = 0;
        if (s->cbs.on_writable)
            s->cbs.on_writable(s->user);
    }
    flush_output(s);
    return s->failed ? -ECONNRESET : 0;
}

int sfu_sctp_is_up(const sfu_sctp *s)
{
    return s && s->up;
}

void sfu_sctp_get_stats(const sfu_sctp *s, sfu_sctp_stats *out)
{
    if (!s || !out)
        return;
    pthread_mutex_lock((pthread_mutex_t *)&s->lock);
    *out = s->st;
    pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
}

void sfu_sctp_destroy(sfu_sctp *s)
{
    if (!s)
        return;
    /* First make every late usrsctp callback miss us, then abort. */
    sfu__sctp_registry_remove(s);
    if (s->sock)
        usrsctp_close(s->sock);
    usrsctp_deregister_address(s);
    free_queue(s);
    for (uint32_t i = 0; i < s->max_streams; i++)
        free(s->ch[i].open_msg);
    free(s->ch);
    free(s->rbuf);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
