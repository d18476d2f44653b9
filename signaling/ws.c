/*
 * WebSocket signaling (protocol v0, docs/signaling.md): the libwebsockets
 * glue for /ws connections and the bridge to the media workers.
 *
 * Threads. Everything here runs on the lws service thread except
 * on_peer_event(), which media workers call: it copies the event into a
 * mutex-protected queue and calls lws_cancel_service(); http.c then calls
 * sig_ws_wake() on the service thread, which turns queued events into JSON
 * for the connection that owns the peer (looked up by peer id, so events of
 * a peer that is already gone are simply dropped).
 *
 * Per connection (the `*slot` of sig_ws_handle): the receive buffer that
 * reassembles fragmented messages up to ws_max_message_bytes, a bounded
 * outgoing queue (a client that does not read is disconnected), the request
 * ids awaiting an asynchronous reply, and the peer it joined with. Message
 * parsing and validation live in ws_proto.c.
 */
#include "signaling/ws.h"

#include "common/log.h"
#include "sfu/peer.h"
#include "sfu/turn.h"
#include "signaling/recording.h"
#include "signaling/ws_internal.h"
#include "signaling/ws_proto.h"

#include <glib.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A client that does not read is cut off by bytes first: every join in a
 * room is announced to every member (~100 bytes each), and the service
 * thread writes one message per connection per writable callback, so a
 * burst of several hundred joins can queue several hundred messages for a
 * client that reads fine. The message count only bounds the bookkeeping. */
#define OUT_MAX_MESSAGES 8192
#define OUT_MAX_BYTES (4u * 1024 * 1024)

/* One event from a media worker, copied. */
typedef struct peer_ev {
    struct peer_ev *next;
    sfu_peer_event_type type;
    uint64_t peer_id, req;
    char code[32];
    char *text;
    char mid[40];
    int mline;
    char ice[16], dtls[16];
    sfu_peer_stats *stats;
} peer_ev;

static struct {
    struct lws_context *ctx;
    ml_config cfg;
    sfu_peer_env env;
    int env_ok;
    pthread_mutex_t qlock;
    peer_ev *qhead, *qtail;
    GHashTable *by_peer; /* peer id -> sig_conn */
    sig_conn *conns;
    int nconn;
    uint64_t next_peer_id, next_req;
    int draining, shut;
} g = {.qlock = PTHREAD_MUTEX_INITIALIZER};

/* ---- outgoing ------------------------------------------------------------ */

static void close_after_flush(sig_conn *c, enum lws_close_status st, const char *reason)
{
    if (c->close_after_flush)
        return;
    c->close_after_flush = 1;
    c->close_status = st;
    c->close_reason = reason;
    lws_callback_on_writable(c->wsi);
}

static void free_out(sig_conn *c)
{
    while (c->head) {
        out_msg *m = c->head;
        c->head = m->next;
        free(m);
    }
    c->tail = NULL;
    c->out_count = c->out_bytes = 0;
}

/* Queue a copy of a JSON text of len bytes. */
void sig__ws_send_copy(sig_conn *c, const char *text, size_t len)
{
    if (c->out_count >= OUT_MAX_MESSAGES || c->out_bytes + len > OUT_MAX_BYTES) {
        ML_WARN("ws", "peer %llu: client does not read its messages, disconnecting",
                (unsigned long long)c->peer_id);
        free_out(c);
        close_after_flush(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "slow consumer");
        return;
    }
    out_msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return;
    m->next = NULL;
    m->len = len;
    memcpy(m->data + LWS_PRE, text, len);
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    c->out_count++;
    c->out_bytes += len;
    lws_callback_on_writable(c->wsi);
}

/* Queue a JSON text (taken: freed here). */
static void send_text(sig_conn *c, char *text)
{
    if (!text)
        return;
    sig__ws_send_copy(c, text, strlen(text));
    free(text);
}

void sig__ws_send_error(sig_conn *c, const char *code, const char *message, const json_t *id)
{
    send_text(c, sig_proto_error_json(code, message, id));
}

void sig__ws_send_fields(sig_conn *c, const char *type, const json_t *id, json_t *fields)
{
    send_text(c, sig_proto_build(type, id, fields));
    if (fields)
        json_decref(fields);
}

#define send_error sig__ws_send_error
#define send_fields sig__ws_send_fields
#define remember_id sig__ws_remember_id

static int on_writeable(sig_conn *c)
{
    if (c->head) {
        out_msg *m = c->head;
        int n = lws_write(c->wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
        if (n < (int)m->len)
            return -1;
        c->head = m->next;
        if (!c->head)
            c->tail = NULL;
        c->out_count--;
        c->out_bytes -= m->len;
        free(m);
    }
    if (c->head) {
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->close_after_flush) {
        const char *r = c->close_reason ? c->close_reason : "";
        lws_close_reason(c->wsi, c->close_status, (unsigned char *)r, strlen(r));
        return -1;
    }
    return 0;
}

/* ---- request ids awaiting an asynchronous reply ----------------------------- */

uint64_t sig__ws_remember_id(sig_conn *c, const json_t *id)
{
    uint64_t req = ++g.next_req;
    if (!id)
        return req;
    pending_id *p = &c->pending[c->pending_next++ % MAX_PENDING];
    if (p->id)
        json_decref(p->id);
    p->req = req;
    p->id = json_deep_copy(id);
    return req;
}

/* The id for req (a new reference, or NULL); the entry is released. */
static json_t *take_id(sig_conn *c, uint64_t req)
{
    for (int i = 0; i < MAX_PENDING; i++)
        if (c->pending[i].id && c->pending[i].req == req) {
            json_t *id = c->pending[i].id;
            c->pending[i].id = NULL;
            return id;
        }
    return NULL;
}

/* ---- media events ---------------------------------------------------------- */

/* Media worker thread: copy and queue, then wake the service thread. */
static void on_peer_event(void *user, const sfu_peer_event *ev)
{
    (void)user;
    peer_ev *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->type = ev->type;
    e->peer_id = ev->peer_id;
    e->req = ev->req;
    e->mline = ev->mline;
    snprintf(e->code, sizeof e->code, "%s", ev->code ? ev->code : SIG_ERR_INTERNAL);
    e->text = ev->text ? strdup(ev->text) : NULL;
    snprintf(e->mid, sizeof e->mid, "%s", ev->mid ? ev->mid : "");
    snprintf(e->ice, sizeof e->ice, "%s", ev->ice_state ? ev->ice_state : "");
    snprintf(e->dtls, sizeof e->dtls, "%s", ev->dtls_state ? ev->dtls_state : "");
    if (ev->stats) {
        e->stats = malloc(sizeof *e->stats);
        if (e->stats)
            *e->stats = *ev->stats;
    }
    pthread_mutex_lock(&g.qlock);
    if (g.qtail)
        g.qtail->next = e;
    else
        g.qhead = e;
    g.qtail = e;
    pthread_mutex_unlock(&g.qlock);
    if (g.ctx)
        lws_cancel_service(g.ctx);
}

static void free_ev(peer_ev *e)
{
    free(e->text);
    free(e->stats);
    free(e);
}

static void release_peer(sig_conn *c)
{
    if (!c->peer)
        return;
    sig_room *room = c->room;
    if (room)
        sig__room_leave(c);
    g_hash_table_remove(g.by_peer, &c->peer_id);
    sfu_peer_close(c->peer);
    c->peer = NULL;
    c->peer_id = 0;
    c->room = NULL;
    sig__room_release(room);
}

static json_t *stats_json(const peer_ev *e)
{
    const sfu_peer_stats *s = e->stats;
    json_t *ports = json_array();
    for (int i = 0; i < s->n_ports; i++)
        json_array_append_new(ports, json_integer(s->ports[i]));
    json_t *counters = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
        "s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "packets_in", (json_int_t)s->packets_in, "bytes_in", (json_int_t)s->bytes_in, "packets_out",
        (json_int_t)s->packets_out, "bytes_out", (json_int_t)s->bytes_out, "rtp_in",
        (json_int_t)s->rtp_in, "rtp_out", (json_int_t)s->rtp_out, "rtcp_in", (json_int_t)s->rtcp_in,
        "rtcp_out", (json_int_t)s->rtcp_out, "dtls_in", (json_int_t)s->dtls_in, "dropped",
        (json_int_t)s->dropped, "drop_garbage", (json_int_t)s->drop_garbage, "drop_early",
        (json_int_t)s->drop_early, "drop_malformed", (json_int_t)s->drop_malformed,
        "drop_unknown_ssrc", (json_int_t)s->drop_unknown_ssrc, "drop_layer",
        (json_int_t)s->drop_layer, "drop_srtp_auth", (json_int_t)s->drop_srtp_auth,
        "drop_srtp_replay", (json_int_t)s->drop_srtp_replay, "drop_srtp_other",
        (json_int_t)s->drop_srtp_other, "send_errors", (json_int_t)s->send_errors, "dtls_failures",
        (json_int_t)s->dtls_failures, "dtls_bad_records", (json_int_t)s->dtls_bad_records, "pli_in",
        (json_int_t)s->pli_in, "fir_in", (json_int_t)s->fir_in, "pli_out", (json_int_t)s->pli_out,
        "nack_in", (json_int_t)s->nack_in, "dc_messages_in", (json_int_t)s->dc_messages_in,
        "dc_messages_out", (json_int_t)s->dc_messages_out, "dc_bytes_in",
        (json_int_t)s->dc_bytes_in, "dc_dropped", (json_int_t)s->dc_dropped);
    json_object_set_new(counters, "dc_bytes_out", json_integer((json_int_t)s->dc_bytes_out));
    static const struct {
        const char *name;
        size_t off;
    } room_counters[] = {
        {"rtx_out", offsetof(sfu_peer_stats, rtx_out)},
        {"nack_out", offsetof(sfu_peer_stats, nack_out)},
        {"rtx_recovered", offsetof(sfu_peer_stats, rtx_recovered)},
        {"bwe_bps", offsetof(sfu_peer_stats, bwe_bps)},
        {"sr_out", offsetof(sfu_peer_stats, sr_out)},
        {"rr_out", offsetof(sfu_peer_stats, rr_out)},
        {"rtt_us", offsetof(sfu_peer_stats, rtt_us)},
        {"rtx_refused", offsetof(sfu_peer_stats, rtx_refused)},
        {"rtx_gone", offsetof(sfu_peer_stats, rtx_gone)},
        {"rtx_too_soon", offsetof(sfu_peer_stats, rtx_too_soon)},
        {"rtx_over_budget", offsetof(sfu_peer_stats, rtx_over_budget)},
        {"rtx_failed", offsetof(sfu_peer_stats, rtx_failed)},
        {"pli_refused", offsetof(sfu_peer_stats, pli_refused)},
        {"drop_muted", offsetof(sfu_peer_stats, drop_muted)},
        {"drop_undeclared", offsetof(sfu_peer_stats, drop_undeclared)},
        {"ssrc_collisions", offsetof(sfu_peer_stats, ssrc_collisions)},
        {"drop_temporal", offsetof(sfu_peer_stats, drop_temporal)},
        {"drop_stalled", offsetof(sfu_peer_stats, drop_stalled)},
    };
    for (size_t i = 0; i < sizeof room_counters / sizeof room_counters[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)s + room_counters[i].off, sizeof v);
        json_object_set_new(counters, room_counters[i].name, json_integer((json_int_t)v));
    }
    return json_pack("{s:I,s:s,s:s,s:s,s:{s:s,s:s},s:o,s:o}", "peer_id", (json_int_t)e->peer_id,
                     "ice", e->ice, "dtls", e->dtls, "srtp_profile", s->srtp_profile, "selected",
                     "local", s->selected_local, "remote", s->selected_remote, "ports", ports,
                     "counters", counters);
}

static void deliver(sig_conn *c, peer_ev *e)
{
    json_t *id = e->req ? take_id(c, e->req) : NULL;
    switch (e->type) {
    case SFU_PEER_EV_ANSWER:
        send_fields(c, "answer", id, json_pack("{s:s}", "sdp", e->text ? e->text : ""));
        break;
    case SFU_PEER_EV_ERROR:
        send_error(c, e->code, e->text, id);
        break;
    case SFU_PEER_EV_CANDIDATE:
        send_fields(c, "candidate", NULL,
                    json_pack("{s:s,s:s,s:i}", "candidate", e->text ? e->text : "", "sdpMid",
                              e->mid, "sdpMLineIndex", e->mline));
        break;
    case SFU_PEER_EV_END_OF_CANDIDATES:
        send_fields(c, "end-of-candidates", NULL, NULL);
        break;
    case SFU_PEER_EV_STATE:
        send_fields(c, "connection-state", NULL,
                    json_pack("{s:s,s:s}", "ice", e->ice, "dtls", e->dtls));
        break;
    case SFU_PEER_EV_STATS:
        if (e->stats)
            send_fields(c, "stats", id, stats_json(e));
        break;
    case SFU_PEER_EV_CLOSED:
        send_fields(c, "closed", NULL, json_pack("{s:s}", "reason", e->text ? e->text : ""));
        release_peer(c);
        break;
    case SFU_PEER_EV_NOTIFY:
        sig__room_notify(c, e->text ? e->text : "{}", e->mline);
        break;
    }
    if (id)
        json_decref(id);
}

void sig_ws_wake(void)
{
    pthread_mutex_lock(&g.qlock);
    peer_ev *list = g.qhead;
    g.qhead = g.qtail = NULL;
    pthread_mutex_unlock(&g.qlock);
    while (list) {
        peer_ev *e = list;
        list = e->next;
        sig_conn *c = g.by_peer ? g_hash_table_lookup(g.by_peer, &e->peer_id) : NULL;
        if (c && !g.shut)
            deliver(c, e);
        free_ev(e);
    }
}

/* ---- messages -------------------------------------------------------------- */

json_t *sig__ws_ice_servers(uint64_t peer_id)
{
    json_t *arr = json_array();
    const ml_config *cfg = &g.cfg;
    if (cfg->stun_server[0]) {
        char url[ML_CFG_STR + 8];
        snprintf(url, sizeof url, "%s%s", strncmp(cfg->stun_server, "stun:", 5) ? "stun:" : "",
                 cfg->stun_server);
        json_array_append_new(arr, json_pack("{s:s}", "urls", url));
    }
    if (cfg->turn_uri[0]) {
        char user[96], pass[SFU_TURN_PASSWORD_MAX], uid[32];
        snprintf(uid, sizeof uid, "peer%llu", (unsigned long long)peer_id);
        if (cfg->turn_secret[0] &&
            sfu_turn_credentials(cfg->turn_secret, uid, cfg->turn_credential_ttl_s, time(NULL),
                                 user, sizeof user, pass, sizeof pass) == 0)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "urls", cfg->turn_uri, "username",
                                                 user, "credential", pass));
        else
            json_array_append_new(arr, json_pack("{s:s}", "urls", cfg->turn_uri));
    }
    return arr;
}

static void handle_join(sig_conn *c, const sig_msg *m)
{
    if (g.draining) {
        send_error(c, SIG_ERR_GOING_AWAY, "the server is shutting down", m->id);
        return;
    }
    if (c->peer) {
        send_error(c, SIG_ERR_ALREADY_JOINED, "this connection already joined", m->id);
        return;
    }
    if (!strcmp(m->mode, "room")) {
        sig__room_join(c, m);
        return;
    }
    if (sig__ws_attach_peer(c, NULL, 0) != 0) {
        send_error(c, SIG_ERR_INTERNAL, "cannot create a peer connection", m->id);
        return;
    }
    uint64_t id = c->peer_id;
    ML_INFO("ws", "peer %llu joined room '%s' (%s)", (unsigned long long)id, m->room, m->mode);
    send_fields(c, "joined", m->id,
                json_pack("{s:I,s:s,s:s,s:o}", "peer_id", (json_int_t)id, "room", m->room, "mode",
                          m->mode, "ice_servers", sig__ws_ice_servers(id)));
}

int sig__ws_attach_peer(sig_conn *c, sfu_router *room, int may_publish)
{
    if (!g.env_ok)
        return -1;
    uint64_t id = ++g.next_peer_id;
    c->peer = room ? sfu_peer_create_in(&g.env, room, may_publish, id, on_peer_event, NULL)
                   : sfu_peer_create(&g.env, id, on_peer_event, NULL);
    if (!c->peer)
        return -1;
    c->peer_id = id;
    g_hash_table_insert(g.by_peer, &c->peer_id, c);
    return 0;
}

sfu_peer_env *sig__ws_env(void)
{
    return &g.env;
}

int sig__ws_max_participants(void)
{
    return g.cfg.room_max_participants;
}

int sig__ws_roster_limit(void)
{
    return g.cfg.room_roster_limit;
}

struct lws_context *sig__ws_context(void)
{
    return g.ctx;
}

int sig__ws_room_tokens_required(void)
{
    return g.cfg.room_join_tokens;
}

sig_conn *sig__ws_conn_by_peer(uint64_t peer_id)
{
    return g.by_peer ? g_hash_table_lookup(g.by_peer, &peer_id) : NULL;
}

static void handle_message(sig_conn *c, const char *buf, size_t len)
{
    sig_msg m;
    sig_proto_error err;
    if (sig_proto_parse(buf, len, &m, &err) != 0) {
        send_error(c, err.code, err.message, m.id);
        sig_msg_clear(&m);
        return;
    }
    int needs_peer = m.type == SIG_MSG_OFFER || m.type == SIG_MSG_CANDIDATE ||
                     m.type == SIG_MSG_END_OF_CANDIDATES || m.type == SIG_MSG_STATS ||
                     m.type == SIG_MSG_LAYER || m.type == SIG_MSG_FLOOR || m.type == SIG_MSG_MUTE;
    if (needs_peer && !c->peer) {
        char msg[96];
        snprintf(msg, sizeof msg, "'%s' needs a joined peer: send 'join' first",
                 sig_msg_type_name(m.type));
        send_error(c, SIG_ERR_NOT_JOINED, msg, m.id);
        sig_msg_clear(&m);
        return;
    }
    switch (m.type) {
    case SIG_MSG_JOIN:
        handle_join(c, &m);
        break;
    case SIG_MSG_OFFER:
        if (c->room) {
            sig__room_offer(c, &m);
            break;
        }
        if (sfu_peer_offer(c->peer, m.sdp, m.sdp_len, remember_id(c, m.id)) != 0)
            send_error(c, SIG_ERR_INTERNAL, "cannot hand the offer to the media worker", m.id);
        break;
    case SIG_MSG_CANDIDATE:
        if (sfu_peer_add_candidate(c->peer, m.candidate, remember_id(c, m.id)) != 0)
            send_error(c, SIG_ERR_INTERNAL, "cannot hand the candidate to the media worker", m.id);
        break;
    case SIG_MSG_END_OF_CANDIDATES:
        sfu_peer_end_of_candidates(c->peer);
        break;
    case SIG_MSG_LEAVE:
        release_peer(c);
        send_fields(c, "left", m.id, NULL);
        break;
    case SIG_MSG_PING:
        send_fields(c, "pong", m.id, NULL);
        break;
    case SIG_MSG_STATS:
        if (sfu_peer_request_stats(c->peer, remember_id(c, m.id)) != 0)
            send_error(c, SIG_ERR_INTERNAL, "cannot reach the media worker", m.id);
        break;
    case SIG_MSG_LAYER:
    case SIG_MSG_FLOOR:
    case SIG_MSG_MUTE:
        sig__room_message(c, &m);
        break;
    case SIG_MSG_COUNT_:
        break;
    }
    sig_msg_clear(&m);
}

/* Reassemble fragments; enforce ws_max_message_bytes. */
static void on_receive(sig_conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (!c->in_msg) {
        c->in_msg = 1;
        c->rx_len = 0;
        c->rx_skip = 0;
        c->rx_too_large = 0;
        c->rx_skipped = 0;
        c->rx_binary = lws_frame_is_binary(wsi);
    }
    size_t max = (size_t)g.cfg.ws_max_message_bytes;
    if (!c->rx_skip && !c->close_after_flush) {
        if (c->rx_len + len > max) {
            /* Read the rest of the message before answering, so that closing
             * does not reset a socket with unread data (the client would
             * lose the error). A sender that never ends it is cut off. */
            c->rx_skip = 1;
            c->rx_too_large = 1;
            free(c->rx);
            c->rx = NULL;
            c->rx_cap = c->rx_len = 0;
        } else {
            if (c->rx_len + len > c->rx_cap) {
                size_t cap = c->rx_cap ? c->rx_cap : 4096;
                while (cap < c->rx_len + len)
                    cap *= 2;
                char *nb = realloc(c->rx, cap);
                if (!nb) {
                    c->rx_skip = 1;
                    send_error(c, SIG_ERR_INTERNAL, "out of memory", NULL);
                } else {
                    c->rx = nb;
                    c->rx_cap = cap;
                }
            }
            if (!c->rx_skip) {
                memcpy(c->rx + c->rx_len, in, len);
                c->rx_len += len;
            }
        }
    }
    int final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    if (c->rx_too_large) {
        c->rx_skipped += len;
        if (final || c->rx_skipped > 16 * max) {
            char msg[96];
            snprintf(msg, sizeof msg, "message larger than %zu bytes", max);
            send_error(c, SIG_ERR_TOO_LARGE, msg, NULL);
            close_after_flush(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
            c->rx_too_large = 0;
        }
    }
    if (!final)
        return;
    c->in_msg = 0;
    if (c->rx_skip || c->close_after_flush)
        return;
    if (c->rx_binary)
        send_error(c, SIG_ERR_BAD_JSON, "binary frames are not supported; send JSON text", NULL);
    else
        handle_message(c, c->rx, c->rx_len);
    /* Do not keep a big buffer around for one big message. */
    if (c->rx_cap > 65536) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    c->rx_len = 0;
}

static void conn_free(sig_conn *c)
{
    release_peer(c);
    free_out(c);
    for (int i = 0; i < MAX_PENDING; i++)
        if (c->pending[i].id)
            json_decref(c->pending[i].id);
    free(c->rx);
    if (c->prev)
        c->prev->next = c->next;
    else if (g.conns == c)
        g.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

int sig_ws_handle(struct lws *wsi, enum lws_callback_reasons reason, void **slot, void *in,
                  size_t len)
{
    sig_conn *c = *slot;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        c = calloc(1, sizeof *c);
        if (!c)
            return -1;
        c->wsi = wsi;
        c->next = g.conns;
        if (g.conns)
            g.conns->prev = c;
        g.conns = c;
        *slot = c;
        g.nconn++;
        if (g.draining)
            close_after_flush(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (c)
            on_receive(c, wsi, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? on_writeable(c) : 0;
    case LWS_CALLBACK_CLOSED:
        if (c) {
            conn_free(c);
            *slot = NULL;
            g.nconn--;
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- lifecycle ------------------------------------------------------------------ */

int sig_ws_init(struct lws_context *ctx, const ml_config *cfg, char *err, size_t errlen)
{
    g.ctx = ctx;
    g.cfg = *cfg;
    g.by_peer = g_hash_table_new(g_int64_hash, g_int64_equal);
    if (sfu_peer_env_init(&g.env, cfg, err, errlen) != 0)
        return -1;
    g.env_ok = 1;
    return 0;
}

void sig_ws_begin_drain(void)
{
    if (g.draining)
        return;
    g.draining = 1;
    for (sig_conn *c = g.conns; c; c = c->next) {
        send_fields(c, "going-away", NULL,
                    json_pack("{s:s}", "reason", "the server is shutting down"));
        close_after_flush(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    }
}

int sig_ws_connections(void)
{
    return g.nconn;
}

void sig_ws_shutdown(void)
{
    if (g.shut)
        return;
    for (sig_conn *c = g.conns; c; c = c->next)
        release_peer(c);
    sig_rec_quiesce(); /* recordings of the closed rooms detach their taps */
    /* Workers run the close tasks, then stop. */
    if (g.env_ok)
        sfu_peer_env_free(&g.env);
    g.env_ok = 0;
    g.shut = 1;
    sig_ws_wake(); /* drop what the workers queued last */
    g.ctx = NULL;
    /* Connections still open are freed by their LWS_CALLBACK_CLOSED. */
}
