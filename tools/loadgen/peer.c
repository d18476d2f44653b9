/*
 * mlload peer engine: each lg_thread runs a GMainContext with many peers.
 * A peer is one WebSocket signaling session (peer_signal.c) and one
 * transport built from sfu/: ICE (libnice; controlling, or controlled when
 * the server offers), DTLS (client or server, from the answer's a=setup),
 * SRTP. This file owns the transport glue, the per-thread tick (pacing,
 * DTLS timers, NACK/PLI, feedback timers, churn) and the threads. Sending:
 * peer_tx.c; measurement: peer_rx.c.
 */
#include "tools/loadgen/lg.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/clock.h"
#include "sfu/demux.h"
#include "sfu/ice_loop.h"
#include "sfu/negotiate.h"
#include "sfu/sdp.h"
#include "sfu/srtp.h"

/* ---- delay histogram ---- */

void lg_hist_add(lg_hist *h, uint64_t us)
{
    size_t i;
    if (us < 20000)
        i = (size_t)(us / 10);
    else if (us < 20000 + (uint64_t)LG_HIST_COARSE * 1000)
        i = LG_HIST_FINE + (size_t)((us - 20000) / 1000);
    else
        i = LG_HIST_N - 1;
    h->b[i]++;
    h->n++;
    if (us > h->max_us)
        h->max_us = us;
}

void lg_hist_merge(lg_hist *into, const lg_hist *from)
{
    for (size_t i = 0; i < LG_HIST_N; i++)
        into->b[i] += from->b[i];
    into->n += from->n;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

uint64_t lg_hist_quantile(const lg_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)(h->n - 1)) + 1, acc = 0;
    for (size_t i = 0; i < LG_HIST_N; i++) {
        acc += h->b[i];
        if (acc >= want) {
            uint64_t v = i < LG_HIST_FINE ? i * 10 + 5 : 20000 + (i - LG_HIST_FINE) * 1000 + 500;
            return v > h->max_us ? h->max_us : v;
        }
    }
    return h->max_us;
}

#include "tools/loadgen/peer_internal.h"

void lg__peer_fail(lg_peer *p, int fatal, const char *fmt, ...)
{
    if (p->state >= 3)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg_error(p->t->run, fatal, "peer %d: %s", p->index, msg);
    p->state = 3;
    p->t->tot.peers_failed++;
}

void lg__send_json(lg_peer *p, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return;
    if (p->t->run->debug)
        fprintf(stderr, "peer %d -> %s\n", p->index, s);
    if (p->ws && lg_ws_send_text(p->ws, s, strlen(s)) != 0)
        lg__peer_fail(p, 1, "WebSocket send failed (server gone?)");
    free(s);
}

/* ---- transport callbacks ---- */

void lg__transport_send(lg_peer *p, const uint8_t *buf, size_t len)
{
    if (p->ice)
        sfu_ice_send(p->ice, buf, len);
}

static void dtls_send_cb(void *user, const uint8_t *data, size_t len)
{
    lg__transport_send(user, data, len);
}

static void dtls_connected_cb(void *user, const sfu_srtp_keys *keys)
{
    lg_peer *p = user;
    char err[256];
    p->srtp = sfu_srtp_create(keys, err, sizeof err);
    if (!p->srtp) {
        lg__peer_fail(p, 0, "SRTP setup failed: %s", err);
        return;
    }
    if (p->t->run->mark && sfu_ice_set_mark(p->ice, p->t->run->mark) != 0) {
        lg__peer_fail(p, 0, "cannot put --mark on its socket (needs root, a direct pair)");
        return;
    }
    if (p->t->run->gro && sfu_ice_set_gro(p->ice) != 0) {
        lg__peer_fail(p, 0, "cannot turn UDP_GRO on for its socket (--gro; Linux 5.0, a direct pair)");
        return;
    }
    uint64_t now = sfu_now_us();
    p->t_connected_us = now;
    p->state = 2;
    p->t->tot.peers_connected++;
    /* Janus: the mentor's feed is subscribable once its media is up. */
    if (p->role == LG_ROLE_MENTOR && p->janus_pub_id)
        g_atomic_pointer_set(&p->t->run->janus_feed, (gpointer)(intptr_t)p->janus_pub_id);
    if (p->role == LG_ROLE_MENTOR)
        g_atomic_int_compare_and_exchange(&p->t->run->mentor_up, 0, 1);
    if (p->role == LG_ROLE_MEETING && p->t->run->janus)
        g_atomic_int_inc(&p->t->run->meet_pubs_up);
    lg_hist_add(&p->t->tot.setup, now - p->t_join_us);
    p->next_video_us = now;
    p->next_audio_us = now;
    p->next_twcc_us = now + 100000;
    p->next_rr_us = now + 1000000;
    p->rx[1].last_complete_us = now;
    if (p->t->run->churn) { /* stay 0.5 to 1.5 x --lifetime */
        double f = 0.5 + g_random_double();
        p->t_leave_us = now + (uint64_t)(f * p->t->run->lifetime_s * 1e6);
    }
}

static void dtls_failed_cb(void *user, const char *reason)
{
    lg__peer_fail(user, 0, "DTLS failed: %s", reason);
}

static void dtls_closed_cb(void *user)
{
    lg_peer *p = user;
    if (!p->t->run->stop_sending)
        lg__peer_fail(p, 0, "DTLS closed by the server");
}

static void ice_on_candidate(void *user, const char *cand)
{
    lg_peer *p = user;
    if (!p->offered)
        return; /* it is in the offer */
    if (p->t->run->janus) {
        lg__send_json(p, json_pack("{s:s, s:I, s:I, s:s, s:{s:s, s:s, s:i}}", "janus", "trickle",
                                   "session_id", p->janus_session, "handle_id", p->janus_handle,
                                   "transaction", "cand", "candidate", "candidate", cand, "sdpMid",
                                   "0", "sdpMLineIndex", 0));
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "type", "candidate", "candidate", cand, "sdpMid",
                          "0", "sdpMLineIndex", 0);
    lg__send_json(p, o);
}

static void ice_on_gathering_done(void *user)
{
    lg_peer *p = user;
    p->gathered = 1;
    lg__maybe_offer(p);
}

static void ice_on_state(void *user, sfu_ice_state s)
{
    lg_peer *p = user;
    if (s == SFU_ICE_CONNECTED && p->dtls && sfu_dtls_get_state(p->dtls) == SFU_DTLS_STATE_NEW)
        sfu_dtls_start(p->dtls);
    else if (s == SFU_ICE_FAILED)
        lg__peer_fail(p, 0, "ICE failed");
}

static void on_datagram(lg_peer *p, uint8_t *buf, size_t len)
{
    switch (sfu_demux(buf, len)) {
    case SFU_PKT_DTLS:
        if (p->dtls)
            sfu_dtls_input(p->dtls, buf, len);
        break;
    case SFU_PKT_RTP:
        if (p->state == 2)
            lg__on_rtp(p, buf, len);
        break;
    case SFU_PKT_RTCP:
        if (p->state == 2)
            lg__on_rtcp(p, buf, len);
        break;
    default:
        break;
    }
}

static void ice_on_packet(void *user, uint8_t *buf, size_t len)
{
    lg_peer *p = user;
    if (!p->t->run->gro || p->state != 2) {
        on_datagram(p, buf, len);
        return;
    }
    /* --gro: one datagram may be a whole segmented send */
    int failed;
    size_t seg = lg__segment_len(p, buf, len, &failed);
    if (seg < len)
        p->t->tot.rx_coalesced++;
    if (failed)
        p->t->tot.rx_split_failed++;
    while (len > 0) {
        size_t l = seg < len ? seg : len;
        on_datagram(p, buf, l);
        buf += l;
        len -= l;
    }
}

/* Remote transport parameters of a parsed answer (or of an offer we
 * answered): ICE credentials and candidates, DTLS fingerprint and role. */
void lg__apply_remote(lg_peer *p, const sfu_sdp *ans, const sfu_sdp_media *first,
                      sfu_dtls_role role)
{
    sfu_ice_set_remote_credentials(p->ice, first->ice_ufrag, first->ice_pwd);
    for (int i = 0; i < ans->candidate_count; i++) {
        char line[SFU_ICE_CAND_LEN];
        if (sfu_sdp_candidate_write(&ans->candidates[i], line, sizeof line) > 0)
            sfu_ice_add_remote_candidate(p->ice, line);
    }
    if (first->end_of_candidates)
        sfu_ice_remote_gathering_done(p->ice);
    sfu_dtls_callbacks cbs = {
        .send = dtls_send_cb,
        .connected = dtls_connected_cb,
        .failed = dtls_failed_cb,
        .closed = dtls_closed_cb,
    };
    p->dtls = sfu_dtls_create(p->t->run->cert, role, NULL, &cbs, p);
    if (!p->dtls || sfu_dtls_set_remote_fingerprint(p->dtls, first->fingerprint.hash,
                                                    first->fingerprint.value) != 0) {
        lg__peer_fail(p, 0, "DTLS setup failed (fingerprint '%s %s')", first->fingerprint.hash,
                      first->fingerprint.value);
    } else if (sfu_ice_get_state(p->ice) == SFU_ICE_CONNECTED) {
        sfu_dtls_start(p->dtls);
    }
}

/* pre_ws: a WebSocket already connected by the ramp thread (or NULL: connect
 * here, as churn replacements do); pre_err: why that connect failed. */
static void peer_start(lg_peer *p, lg_ws *pre_ws, const char *pre_err)
{
    lg_run *run = p->t->run;
    char err[256];
    p->t_join_us = sfu_now_us();
    p->t->tot.peers_started++;
    p->ssrc_audio = g_random_int() | 1;
    p->ssrc_video = g_random_int() | 2;
    for (int i = 0; i < LG_LAYERS; i++) {
        p->vs[i].ssrc = i == 0 ? p->ssrc_video : g_random_int() | 4;
        p->vs[i].seq = (uint16_t)g_random_int();
        p->vs[i].pic_id = (uint16_t)g_random_int_range(0, 0x7fff);
        p->layer_active[i] = 1;
    }
    p->n_rx = LG_SUBSCRIBES_ALL(p) ? 0 : 2;
    p->rx[0].video = 0;
    p->rx[1].video = 1;
    p->pt_audio = SFU_NEG_PT_OPUS;
    p->pt_video = SFU_NEG_PT_VP8;
    p->pt_rtx = -1;
    p->ext_abs = SFU_NEG_EXTID_ABS_SEND_TIME;
    p->ext_twcc = SFU_NEG_EXTID_TWCC;
    p->seq_a = (uint16_t)g_random_int();
    p->ts_a = g_random_int();
    p->ts_v = g_random_int();
    lg_ws_callbacks wcb = {.on_text = lg__ws_on_text, .on_closed = lg__ws_on_closed};
    if (pre_ws) /* connected by the ramp (main) thread: the upgrade did not block this loop */
        lg_ws_attach(pre_ws, p->t->ctx, &wcb, p);
    else if (pre_err)
        snprintf(err, sizeof err, "%s", pre_err);
    p->ws = pre_ws || pre_err ? pre_ws
                              : lg_ws_connect(p->t->ctx, run->host, run->port, run->path,
                                              run->janus ? "janus-protocol" : NULL, 5000, &wcb, p,
                                              err, sizeof err);
    if (!p->ws) {
        lg__peer_fail(p, 1, "%s", err);
        return;
    }
    sfu_ice_callbacks icb = {
        .on_candidate = ice_on_candidate,
        .on_gathering_done = ice_on_gathering_done,
        .on_state = ice_on_state,
        .on_packet = ice_on_packet,
    };
    /* A Janus subscriber receives the offer: it is the controlled agent. */
    p->ice = sfu_ice_create(p->t->ctx,
                            run->janus && LG_IS_SUBSCRIBER(p) ? &run->ice_controlled : &run->ice,
                            NULL, NULL, &icb, p);
    if (!p->ice || sfu_ice_gather(p->ice) != 0) {
        lg__peer_fail(p, 0, "cannot create the ICE agent");
        return;
    }
    /* Host candidates only (no STUN/TURN): gathering is complete when
     * sfu_ice_gather() returns (libnice may signal it synchronously, inside
     * the call, where sfu/ice.c does not report it). */
    p->gathered = 1;
    if (run->janus) {
        p->next_keepalive_us = p->t_join_us + 20000000;
        lg__send_json(p, json_pack("{s:s, s:s}", "janus", "create", "transaction", "create"));
        return;
    }
    if (p->role == LG_ROLE_ECHO) {
        lg__send_json(p, json_pack("{s:s, s:i, s:s, s:s}", "type", "join", "id", 1, "room",
                                   run->room, "mode", "echo"));
    } else { /* a meeting participant publishes: MentorLink lets mentors publish */
        char name[32];
        snprintf(name, sizeof name, "mlload-%d", run->index_base + p->index);
        lg__send_json(p, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}", "type", "join", "id", 1,
                                   "room", run->room, "mode", "room", "role",
                                   p->role == LG_ROLE_MENTEE ? "mentee" : "mentor", "name", name));
    }
}

static void peer_close(lg_peer *p, lg_totals *tot);
static void thread_new_peer(lg_thread *t, int index, lg_ws *ws, const char *err);

static void peer_tick(lg_peer *p, uint64_t now)
{
    if (p->t->run->churn && p->state == 2 && p->t_leave_us && now >= p->t_leave_us &&
        !p->t->run->stop_sending) {
        /* churn: leave, and a new peer takes this one's place */
        lg_thread *t = p->t;
        peer_close(p, &t->tot);
        t->tot.peers_left++;
        int next = g_atomic_int_add(&t->run->next_index, 1);
        if (next < t->run->max_peers && now + 2000000 < t->run->t_end_us)
            thread_new_peer(t, next, NULL, NULL); /* not in the last 2 s: it could not connect */
        return;
    }
    if (p->dtls && p->state == 1 && sfu_dtls_timeout_ms(p->dtls) == 0)
        sfu_dtls_handle_timeout(p->dtls);
    if (p->state < 2 && now > p->t_join_us &&
        now - p->t_join_us > (uint64_t)p->t->run->connect_timeout_ms * 1000) {
        lg__peer_fail(p, 0,
                      "not connected after %d ms (joined=%d offered=%d answered=%d ice=%s dtls=%s)",
                      p->t->run->connect_timeout_ms, p->joined, p->offered, p->answered,
                      p->ice ? sfu_ice_state_name(sfu_ice_get_state(p->ice)) : "-",
                      p->dtls ? sfu_dtls_state_name(sfu_dtls_get_state(p->dtls)) : "-");
        return;
    }
    if (p->state == 0 && p->answered)
        p->state = 1;
    if (p->t->run->janus && p->role == LG_ROLE_MEET_SUB && p->janus_handle && !p->janus_sub_sent &&
        g_atomic_int_get(&p->t->run->meet_pubs_up) >= p->t->run->meeting_size) {
        /* every publisher's media is up: subscribe to all but our own */
        p->janus_sub_sent = 1;
        p->joined = 1;
        int m = p->t->run->meeting_size, own = p->index - m;
        json_t *streams = json_array();
        for (int k = 0; k < m; k++)
            if (k != own)
                json_array_append_new(
                    streams,
                    json_pack("{s:I}", "feed", (json_int_t)(p->t->run->janus_feed_id + k)));
        lg__send_json(p, json_pack("{s:s, s:I, s:I, s:s, s:{s:s, s:s, s:I, s:o}}", "janus",
                                   "message", "session_id", p->janus_session, "handle_id",
                                   p->janus_handle, "transaction", "sub", "body", "request", "join",
                                   "ptype", "subscriber", "room", (json_int_t)p->t->run->janus_room,
                                   "streams", streams));
    }
    if (p->t->run->janus && p->role == LG_ROLE_MENTEE && p->janus_handle && !p->janus_sub_sent &&
        g_atomic_pointer_get(&p->t->run->janus_feed)) {
        p->janus_sub_sent = 1;
        p->joined = 1;
        json_int_t feed = (json_int_t)(intptr_t)g_atomic_pointer_get(&p->t->run->janus_feed);
        lg__send_json(p, json_pack("{s:s, s:I, s:I, s:s, s:{s:s, s:s, s:I, s:[{s:I}]}}", "janus",
                                   "message", "session_id", p->janus_session, "handle_id",
                                   p->janus_handle, "transaction", "sub", "body", "request", "join",
                                   "ptype", "subscriber", "room", (json_int_t)p->t->run->janus_room,
                                   "streams", "feed", feed));
    }
    if (p->t->run->janus && p->janus_session && now >= p->next_keepalive_us) {
        lg__send_json(p, json_pack("{s:s, s:I, s:s}", "janus", "keepalive", "session_id",
                                   p->janus_session, "transaction", "ka"));
        p->next_keepalive_us = now + 20000000;
    }
    if (p->state != 2)
        return;
    lg_run *run = p->t->run;
    if (!run->stop_sending && !LG_IS_SUBSCRIBER(p)) {
        int guard = 0;
        while (run->video && p->next_video_us <= now && guard++ < 4) {
            lg__send_video_frame(p);
            p->next_video_us += 33333;
        }
        guard = 0;
        while (run->audio && p->next_audio_us <= now && guard++ < 4) {
            lg__send_audio_frame(p);
            p->next_audio_us += 20000;
        }
        if (now > p->next_video_us + 200000) /* fell behind (CPU): skip ahead */
            p->next_video_us = now;
        if (now > p->next_audio_us + 200000)
            p->next_audio_us = now;
    }
    lg__rx_feedback(p, now);
    if (now >= p->next_twcc_us) {
        lg__send_twcc(p);
        p->next_twcc_us = now + 100000;
    }
    if (now >= p->next_rr_us) {
        lg__send_reports(p, now);
        p->next_rr_us = now + 1000000;
    }
}

static void thread_live_update(lg_thread *t)
{
    uint64_t conn = 0, lost = 0, exp = 0;
    for (guint i = 0; i < t->peers->len; i++) {
        lg_peer *p = g_ptr_array_index(t->peers, i);
        if (p->state == 2)
            conn++;
        for (int k = 0; k < p->n_rx; k++) {
            uint64_t e = lg__stream_expected(&p->rx[k]);
            exp += e;
            lost += e > p->rx[k].received ? e - p->rx[k].received : 0;
        }
    }
    t->live_connected = conn;
    t->live_lost = lost;
    t->live_expected = exp;
}

static gboolean thread_tick(gpointer data)
{
    lg_thread *t = data;
    uint64_t now = sfu_now_us();
    /* how late this tick ran: when the load side cannot keep up (CPU), it
     * is late, and so are its sends and receives */
    uint64_t steady = t->run->t_steady_us;
    if (steady && now >= steady && t->last_tick_us >= steady && !t->run->stop_sending)
        lg_hist_add(&t->tot.tick_late, now > t->last_tick_us + TICK_MS * 1000
                                           ? now - t->last_tick_us - TICK_MS * 1000
                                           : 0);
    t->last_tick_us = now;
    for (guint i = 0; i < t->peers->len; i++) {
        lg_peer *p = g_ptr_array_index(t->peers, i);
        if (p->dead_ws && p->ws) {
            lg_ws_free(p->ws);
            p->ws = NULL;
        }
        if (p->state < 3)
            peer_tick(p, now);
    }
    static __thread uint64_t last_live;
    if (now - last_live > 250000) {
        thread_live_update(t);
        last_live = now;
    }
    return G_SOURCE_CONTINUE;
}

static gpointer thread_main(gpointer data)
{
    lg_thread *t = data;
    g_main_context_push_thread_default(t->ctx);
    /* The agents' own contexts behind one epoll descriptor, as on the
     * server's media workers (sfu/ice_loop.h). */
    sfu_ice_loop *il = sfu_ice_loop_install(t->ctx);
    g_main_loop_run(t->loop);
    /* let libnice finish closing the agents (their contexts are this
     * thread's) */
    for (int i = 0; i < 50 && g_main_context_iteration(t->ctx, FALSE); i++)
        ;
    sfu_ice_loop_free(il);
    g_main_context_pop_thread_default(t->ctx);
    return NULL;
}

lg_thread *lg_thread_start(lg_run *run, int index)
{
    lg_thread *t = calloc(1, sizeof *t);
    t->run = run;
    t->index = index;
    t->ctx = g_main_context_new();
    t->loop = g_main_loop_new(t->ctx, FALSE);
    t->peers = g_ptr_array_new();
    t->rng = g_rand_new();
    t->tick = g_timeout_source_new(TICK_MS);
    g_source_set_callback(t->tick, thread_tick, t, NULL);
    g_source_attach(t->tick, t->ctx);
    char name[16];
    snprintf(name, sizeof name, "lg-%d", index);
    t->thread = g_thread_new(name, thread_main, t);
    return t;
}

typedef struct add_arg {
    lg_thread *t;
    int index;
    lg_ws *ws;     /* connected by the caller, or NULL */
    char err[256]; /* why the caller's connect failed ("" = it did not try) */
} add_arg;

/* Create and start a peer on t (on t's thread). */
static void thread_new_peer(lg_thread *t, int index, lg_ws *ws, const char *err)
{
    lg_peer *p = calloc(1, sizeof *p);
    p->t = t;
    p->index = index;
    p->role =
        t->run->meeting
            ? (t->run->janus && index >= t->run->meeting_size ? LG_ROLE_MEET_SUB : LG_ROLE_MEETING)
        : t->run->fanout ? (index == 0 && !t->run->mentees_only ? LG_ROLE_MENTOR : LG_ROLE_MENTEE)
                         : LG_ROLE_ECHO;
    g_ptr_array_add(t->peers, p);
    peer_start(p, ws, err);
}

static gboolean add_peer_cb(gpointer data)
{
    add_arg *a = data;
    thread_new_peer(a->t, a->index, a->ws, a->ws || !a->err[0] ? NULL : a->err);
    return G_SOURCE_REMOVE;
}

void lg_thread_add_peer(lg_thread *t, int peer_index)
{
    add_arg *a = g_new0(add_arg, 1);
    a->t = t;
    a->index = peer_index;
    /* The WebSocket connect and upgrade block until the server answers:
     * done here, on the caller's (ramp) thread, so that a slow front door
     * paces the ramp instead of stalling the media of the peers already
     * running on t (a browser's connect does not block its media either). */
    lg_run *run = t->run;
    a->ws =
        lg_ws_connect(NULL, run->host, run->port, run->path, run->janus ? "janus-protocol" : NULL,
                      5000, NULL, NULL, a->err, sizeof a->err);
    g_main_context_invoke_full(t->ctx, G_PRIORITY_DEFAULT, add_peer_cb, a, g_free);
}

static void peer_close(lg_peer *p, lg_totals *tot)
{
    if (p->state == 4)
        return; /* already closed (churn) */
    uint64_t now = sfu_now_us();
    int heard[LG_MAX_MEETING] = {0}, seen[LG_MAX_MEETING] = {0};
    for (int k = 0; k < p->n_rx; k++) {
        rx_stream *s = &p->rx[k];
        if (!s->started)
            continue;
        int own = p->role == LG_ROLE_MEET_SUB ? p->index - p->t->run->meeting_size : p->index;
        if (s->from >= 0 && s->from < LG_MAX_MEETING && s->from != own) {
            if (!s->video && s->received > 0)
                heard[s->from] = 1;
            if (s->video && s->frames > 0)
                seen[s->from] = 1;
        }
        uint64_t e = lg__stream_expected(s);
        tot->rx_expected += e;
        tot->rx_lost += e > s->received ? e - s->received : 0;
        tot->jitter_ms_sum += s->jitter * 1000.0 / (double)s->clock;
        tot->jitter_streams++;
        if (s->video) {
            tot->frames += s->frames;
            tot->keyframes += s->keyframes;
            uint64_t gap = now - s->last_complete_us;
            if (p->state == 2 && s->frames > 0 && gap > 500000 + 500000) {
                /* still frozen at the end (the last 0.5 s is the drain) */
                s->freezes++;
                s->freeze_ms += gap / 1000;
            }
            tot->freezes += s->freezes;
            tot->freeze_ms += s->freeze_ms;
        }
        free(s->ring);
        s->ring = NULL;
    }
    if (LG_SUBSCRIBES_ALL(p)) {
        int na = 0, nv = 0;
        for (int k = 0; k < LG_MAX_MEETING; k++) {
            na += heard[k];
            nv += seen[k];
        }
        tot->meet_pairs_audio += (uint64_t)na;
        tot->meet_pairs_video += (uint64_t)nv;
        int others = p->t->run->meeting_size - 1;
        if ((!p->t->run->audio || na == others) && (!p->t->run->video || nv == others))
            tot->meet_full++;
    }
    if (p->state < 2) {
        lg__peer_fail(p, 0, "never connected (joined=%d offered=%d answered=%d ice=%s dtls=%s)",
                      p->joined, p->offered, p->answered,
                      p->ice ? sfu_ice_state_name(sfu_ice_get_state(p->ice)) : "-",
                      p->dtls ? sfu_dtls_state_name(sfu_dtls_get_state(p->dtls)) : "-");
    }
    if (p->state == 2)
        tot->peers_closed++;
    if (p->ws && p->t->run->janus && p->janus_session) {
        lg__send_json(p, json_pack("{s:s, s:I, s:s}", "janus", "destroy", "session_id",
                                   p->janus_session, "transaction", "destroy"));
    } else if (p->ws) {
        lg__send_json(p, json_pack("{s:s, s:i}", "type", "leave", "id", 9));
    }
    if (p->ws) {
        lg_ws_free(p->ws);
        p->ws = NULL;
    }
    if (p->dtls) {
        sfu_dtls_destroy(p->dtls);
        p->dtls = NULL;
    }
    sfu_srtp_destroy(p->srtp);
    p->srtp = NULL;
    sfu_ice_destroy(p->ice);
    p->ice = NULL;
    p->state = 4;
}

static gboolean finish_cb(gpointer data)
{
    lg_thread *t = data;
    for (guint i = 0; i < t->peers->len; i++)
        peer_close(g_ptr_array_index(t->peers, i), &t->tot);
    g_source_destroy(t->tick);
    g_source_unref(t->tick);
    t->tick = NULL;
    g_main_loop_quit(t->loop);
    return G_SOURCE_REMOVE;
}

void lg_thread_finish(lg_thread *t)
{
    g_main_context_invoke(t->ctx, finish_cb, t);
    g_thread_join(t->thread);
    t->thread = NULL;
    /* let libnice finish closing the agents */
    for (int i = 0; i < 50 && g_main_context_iteration(t->ctx, FALSE); i++)
        ;
}

const lg_totals *lg_thread_totals(const lg_thread *t)
{
    return &t->tot;
}

void lg_thread_live(const lg_thread *t, uint64_t *connected, uint64_t *lost, uint64_t *expected)
{
    *connected = t->live_connected;
    *lost = t->live_lost;
    *expected = t->live_expected;
}

void lg_thread_free(lg_thread *t)
{
    if (!t)
        return;
    for (guint i = 0; i < t->peers->len; i++) {
        lg_peer *p = g_ptr_array_index(t->peers, i);
        for (int k = 0; k < LG_MAX_RX; k++)
            free(p->rx[k].ring); /* NULL once closed */
        free(p);
    }
    g_ptr_array_free(t->peers, TRUE);
    g_rand_free(t->rng);
    g_main_loop_unref(t->loop);
    g_main_context_unref(t->ctx);
    free(t);
}
