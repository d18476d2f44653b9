/*
 * Peer connection lifecycle (see peer.h): the shared environment, creation
 * on a worker, the tasks posted by the signaling thread (candidate, stats,
 * close; the offer/answer step is in peer_offer.c), the ICE callbacks, the
 * connect timeout and the consent/inactivity watchdog, and teardown.
 *
 * Teardown is never done inside a libnice, DTLS or SCTP callback: failures
 * call sfu__peer_fail(), which schedules an idle source that frees the
 * transport and emits CLOSED.
 */
#include "sfu/peer_internal.h"

#include "common/log.h"
#include "sfu/clock.h"
#include "sfu/peer_room.h"
#include "sfu/router_internal.h"
#include "sfu/turn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- environment -------------------------------------------------------- */

int sfu_peer_env_init(sfu_peer_env *env, const ml_config *cfg, char *err, size_t errlen)
{
    memset(env, 0, sizeof *env);
    env->cfg = *cfg;
    if (sfu_srtp_global_init() != 0) {
        snprintf(err, errlen, "libsrtp initialisation failed");
        return -1;
    }
    if (sfu_ice_options_from_config(cfg, &env->ice, err, errlen) != 0)
        return -1;
    if (cfg->dtls_cert_file[0] || cfg->dtls_key_file[0]) {
        env->cert = sfu_dtls_cert_load(cfg->dtls_cert_file, cfg->dtls_key_file, err, errlen);
    } else {
        env->cert = sfu_dtls_cert_generate(err, errlen);
    }
    if (!env->cert)
        return -1;
    env->workers = sfu_workers_start(cfg->media_workers);
    if (!env->workers) {
        snprintf(err, errlen, "cannot start media workers");
        sfu_dtls_cert_free(env->cert);
        env->cert = NULL;
        return -1;
    }
    sfu_workers_set_poll_coalesce(env->workers, cfg->media_poll_coalesce_us);
    return 0;
}

void sfu_peer_env_free(sfu_peer_env *env)
{
    if (!env)
        return;
    sfu_workers_stop(env->workers);
    env->workers = NULL;
    sfu_dtls_cert_free(env->cert);
    env->cert = NULL;
}

/* ---- events ------------------------------------------------------------- */

void sfu__peer_emit(sfu_peer *p, sfu_peer_event *ev)
{
    if (!p->fn)
        return;
    ev->peer_id = p->id;
    p->fn(p->user, ev);
}

void sfu__peer_notify(sfu_peer *p, const char *json, int broadcast)
{
    sfu_peer_event ev = {.type = SFU_PEER_EV_NOTIFY, .text = json, .mline = broadcast ? 1 : 0};
    sfu__peer_emit(p, &ev);
}

void sfu__peer_emit_error(sfu_peer *p, uint64_t req, const char *code, const char *msg)
{
    sfu_peer_event ev = {.type = SFU_PEER_EV_ERROR, .req = req, .code = code, .text = msg};
    sfu__peer_emit(p, &ev);
}

void sfu__peer_report_state(sfu_peer *p)
{
    const char *ice = sfu_ice_state_name(p->ice_state);
    const char *dtls = sfu_dtls_state_name(p->dtls_state);
    if (!strcmp(ice, p->reported_ice) && !strcmp(dtls, p->reported_dtls))
        return;
    snprintf(p->reported_ice, sizeof p->reported_ice, "%s", ice);
    snprintf(p->reported_dtls, sizeof p->reported_dtls, "%s", dtls);
    sfu_peer_event ev = {.type = SFU_PEER_EV_STATE, .ice_state = ice, .dtls_state = dtls};
    sfu__peer_emit(p, &ev);
}

#define EARLY_OUT_MAX 16

int sfu__peer_send(sfu_peer *p, const uint8_t *buf, size_t len)
{
    if (!p->ice || sfu_ice_send(p->ice, buf, len) != 0) {
        /* The browser's ClientHello can arrive over a pair that succeeded
         * before libnice (controlled) selected one: keep our reply for when
         * ICE connects instead of waiting for a DTLS retransmission. */
        if (p->ice && p->ice_state != SFU_ICE_CONNECTED &&
            g_queue_get_length(&p->early_out) < EARLY_OUT_MAX) {
            g_queue_push_tail(&p->early_out, g_bytes_new(buf, len));
            return 0;
        }
        p->st.send_errors++;
        ML_DEBUG("peer", "peer %llu: send of %zu bytes (first byte %u) failed in ICE state %s",
                 (unsigned long long)p->id, len, len ? buf[0] : 0,
                 sfu_ice_state_name(p->ice_state));
        return -1;
    }
    p->st.packets_out++;
    p->st.bytes_out += len;
    return 0;
}

static void flush_early_out(sfu_peer *p)
{
    GBytes *b;
    while ((b = g_queue_pop_head(&p->early_out))) {
        gsize n;
        const uint8_t *d = g_bytes_get_data(b, &n);
        sfu__peer_send(p, d, n);
        g_bytes_unref(b);
    }
}

/* ---- teardown ------------------------------------------------------------ */

static void drop_source(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

static void stop_timer(sfu_peer *p, sfu_timer *t)
{
    sfu_worker_timer_cancel(p->worker, t);
}

static void transport_free(sfu_peer *p)
{
    stop_timer(p, &p->connect_timer);
    stop_timer(p, &p->watchdog_timer);
    stop_timer(p, &p->ice_grace_timer);
    sfu__peer_sctp_free(p);
    sfu__peer_twcc_free(p);
    sfu__peer_media_free(p);
    sfu_ice_destroy(p->ice);
    p->ice = NULL;
    g_queue_clear_full(&p->early_out, (GDestroyNotify)g_bytes_unref);
}

static void log_counters(const sfu_peer *p, const char *why)
{
    const sfu_peer_stats *s = &p->st;
    ML_INFO("peer",
            "peer %llu closed (%s): in %llu pkts/%llu B, out %llu pkts/%llu B, rtp %llu/%llu, "
            "rtcp %llu/%llu, dropped %llu (garbage %llu, early %llu, unknown ssrc %llu, "
            "srtp auth %llu, replay %llu), dc msgs %llu/%llu, srtp %s",
            (unsigned long long)p->id, why, (unsigned long long)s->packets_in,
            (unsigned long long)s->bytes_in, (unsigned long long)s->packets_out,
            (unsigned long long)s->bytes_out, (unsigned long long)s->rtp_in,
            (unsigned long long)s->rtp_out, (unsigned long long)s->rtcp_in,
            (unsigned long long)s->rtcp_out, (unsigned long long)s->dropped,
            (unsigned long long)s->drop_garbage, (unsigned long long)s->drop_early,
            (unsigned long long)s->drop_unknown_ssrc, (unsigned long long)s->drop_srtp_auth,
            (unsigned long long)s->drop_srtp_replay, (unsigned long long)s->dc_messages_in,
            (unsigned long long)s->dc_messages_out, s->srtp_profile[0] ? s->srtp_profile : "none");
    if (p->router)
        ML_INFO("peer",
                "peer %llu room counters: pli_in %llu fir_in %llu pli_refused %llu nack_in %llu "
                "rtx_out %llu rtx_refused %llu rtx_gone %llu rtx_too_soon %llu rtx_over_budget "
                "%llu rtx_failed %llu drop_undeclared %llu ssrc_collisions %llu "
                "drop_muted %llu drop_temporal %llu drop_stalled %llu sr_out %llu rr_out %llu "
                "rtt_us %llu",
                (unsigned long long)p->id, (unsigned long long)s->pli_in,
                (unsigned long long)s->fir_in, (unsigned long long)s->pli_refused,
                (unsigned long long)s->nack_in, (unsigned long long)s->rtx_out,
                (unsigned long long)s->rtx_refused, (unsigned long long)s->rtx_gone,
                (unsigned long long)s->rtx_too_soon, (unsigned long long)s->rtx_over_budget,
                (unsigned long long)s->rtx_failed, (unsigned long long)s->drop_undeclared,
                (unsigned long long)s->ssrc_collisions, (unsigned long long)s->drop_muted,
                (unsigned long long)s->drop_temporal, (unsigned long long)s->drop_stalled,
                (unsigned long long)s->sr_out, (unsigned long long)s->rr_out,
                (unsigned long long)s->rtt_us);
}

static gboolean teardown_cb(gpointer data)
{
    sfu_peer *p = data;
    drop_source(&p->teardown_src);
    if (p->torn_down)
        return G_SOURCE_REMOVE;
    p->torn_down = 1;
    log_counters(p, p->fail_reason);
    transport_free(p);
    p->ice_state = SFU_ICE_CLOSED;
    sfu__peer_report_state(p);
    sfu_peer_event ev = {.type = SFU_PEER_EV_CLOSED, .text = p->fail_reason};
    sfu__peer_emit(p, &ev);
    return G_SOURCE_REMOVE;
}

void sfu__peer_fail(sfu_peer *p, const char *reason)
{
    if (p->torn_down || p->teardown_src)
        return;
    snprintf(p->fail_reason, sizeof p->fail_reason, "%s", reason);
    ML_INFO("peer", "peer %llu: %s", (unsigned long long)p->id, reason);
    p->teardown_src = g_idle_source_new();
    g_source_set_priority(p->teardown_src, G_PRIORITY_HIGH);
    g_source_set_callback(p->teardown_src, teardown_cb, p, NULL);
    g_source_attach(p->teardown_src, p->ctx);
}

/* ---- timers -------------------------------------------------------------- */

static void connect_timeout_cb(void *data)
{
    sfu_peer *p = data;
    if (!p->ever_connected)
        sfu__peer_fail(p, "connect_timeout");
}

/* Consent and inactivity: libnice reports consent loss as FAILED (no answer
 * to its checks for 50 s, sfu/ice.h); in addition a peer with media m-lines
 * that sent nothing at all
 * (RTCP flows at least every few seconds) for ice_consent_timeout_ms is
 * considered gone. Data-only peers rely on libnice alone, since their
 * heartbeats can be as rare as the timeout. */
static void watchdog_cb(void *data)
{
    sfu_peer *p = data;
    if (p->torn_down)
        return;
    sfu_worker_timer_arm(p->worker, &p->watchdog_timer, 1000);
    if (!p->ever_connected)
        return;
    uint64_t idle_us = sfu_now_us() - p->last_rx_us;
    if (p->has_media && idle_us > (uint64_t)p->env->cfg.ice_consent_timeout_ms * 1000u)
        sfu__peer_fail(p, "consent_timeout");
}

/* ---- ICE callbacks -------------------------------------------------------- */

static void ice_on_candidate(void *user, const char *cand)
{
    sfu_peer *p = user;
    if (!p->answered)
        return; /* listed in the answer */
    sfu_peer_event ev = {.type = SFU_PEER_EV_CANDIDATE,
                         .text = cand,
                         .mid = p->bundle_mid,
                         .mline = p->bundle_mline};
    sfu__peer_emit(p, &ev);
}

static void ice_on_gathering_done(void *user)
{
    sfu_peer *p = user;
    if (!p->answered)
        return; /* the answer carries a=end-of-candidates */
    sfu_peer_event ev = {.type = SFU_PEER_EV_END_OF_CANDIDATES};
    sfu__peer_emit(p, &ev);
}

/* Room mode: ICE failed after it had connected and no ICE restart brought
 * it back within ice_consent_timeout_ms. */
static void ice_grace_cb(void *data)
{
    sfu_peer *p = data;
    if (p->ice_state != SFU_ICE_CONNECTED)
        sfu__peer_fail(p, "consent_lost");
}

static void ice_on_state(void *user, sfu_ice_state s)
{
    sfu_peer *p = user;
    sfu_ice_state old = p->ice_state;
    p->ice_state = s;
    if (s == SFU_ICE_CONNECTED) {
        flush_early_out(p);
        stop_timer(p, &p->ice_grace_timer);
        if (p->router && p->ever_connected && old != SFU_ICE_CONNECTED)
            sfu__router_reconnected(p->router, p);
    }
    sfu__peer_report_state(p);
    if (s == SFU_ICE_FAILED && old == SFU_ICE_CONNECTED && p->ever_connected) {
        /* A room participant keeps its place (and subscriptions) while the
         * browser restarts ICE; an echo peer is closed at once. */
        if (!p->router)
            sfu__peer_fail(p, "consent_lost");
        else if (!sfu_timer_armed(&p->ice_grace_timer))
            sfu_worker_timer_arm(p->worker, &p->ice_grace_timer,
                                 (uint64_t)p->env->cfg.ice_consent_timeout_ms);
    }
}

static void ice_on_packet(void *user, uint8_t *buf, size_t len)
{
    sfu__peer_on_packet(user, buf, len);
}

static void ice_on_selected_pair(void *user, const char *local, const char *remote)
{
    sfu_peer *p = user;
    /* A different pair than before (an ICE restart, a network change): the
     * bandwidth estimator's history is about the old path. */
    if (p->bwe && p->st.selected_local[0] &&
        (strcmp(p->st.selected_local, local) != 0 || strcmp(p->st.selected_remote, remote) != 0))
        sfu_bwe_on_route_change(p->bwe);
    snprintf(p->st.selected_local, sizeof p->st.selected_local, "%s", local);
    snprintf(p->st.selected_remote, sizeof p->st.selected_remote, "%s", remote);
    ML_DEBUG("peer", "peer %llu selected pair %s <-> %s", (unsigned long long)p->id, local, remote);
}

/* ---- creation -------------------------------------------------------------- */

static void create_task(void *arg)
{
    sfu_peer *p = arg;
    p->ctx = sfu_worker_context(p->worker);
    char user[64], pass[SFU_TURN_PASSWORD_MAX];
    const char *tu = NULL, *tp = NULL;
    const ml_config *cfg = &p->env->cfg;
    if (p->env->ice.turn_ip[0] &&
        sfu_turn_credentials(cfg->turn_secret, "sfu", cfg->turn_credential_ttl_s, time(NULL), user,
                             sizeof user, pass, sizeof pass) == 0) {
        tu = user;
        tp = pass;
    }
    sfu_ice_callbacks cb = {
        .on_candidate = ice_on_candidate,
        .on_gathering_done = ice_on_gathering_done,
        .on_state = ice_on_state,
        .on_packet = ice_on_packet,
        .on_selected_pair = ice_on_selected_pair,
    };
    p->ice = sfu_ice_create(p->ctx, &p->env->ice, tu, tp, &cb, p);
    snprintf(p->st.srtp_profile, sizeof p->st.srtp_profile, "none");
    /* Allocates only when the worker has more timers armed than ever. */
    if (sfu_worker_timer_arm(p->worker, &p->connect_timer, (uint64_t)cfg->ice_connect_timeout_ms) !=
            0 ||
        sfu_worker_timer_arm(p->worker, &p->watchdog_timer, 1000) != 0)
        sfu__peer_fail(p, "internal: out of memory for timers");
    if (!p->ice)
        sfu__peer_fail(p, "internal: cannot create ICE agent");
    if (p->router)
        sfu__router_add(p->router, p);
}

static sfu_peer *create_on(const sfu_peer_env *env, sfu_worker *w, sfu_router *room,
                           int may_publish, uint64_t id, sfu_peer_event_fn fn, void *user);

sfu_peer *sfu_peer_create(const sfu_peer_env *env, uint64_t id, sfu_peer_event_fn fn, void *user)
{
    sfu_worker *w = sfu_workers_pick(env->workers);
    if (!w)
        return NULL;
    return create_on(env, w, NULL, 0, id, fn, user);
}

sfu_peer *sfu_peer_create_in(const sfu_peer_env *env, sfu_router *room, int may_publish,
                             uint64_t id, sfu_peer_event_fn fn, void *user)
{
    return create_on(env, sfu_router_worker(room), room, may_publish, id, fn, user);
}

static sfu_peer *create_on(const sfu_peer_env *env, sfu_worker *w, sfu_router *room,
                           int may_publish, uint64_t id, sfu_peer_event_fn fn, void *user)
{
    sfu_peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->id = id;
    p->env = env;
    p->worker = w;
    p->router = room;
    p->may_publish = may_publish;
    p->fn = fn;
    p->user = user;
    p->dc_mline = -1;
    p->bundle_mline = 0;
    g_queue_init(&p->early_out);
    p->session_id = ((uint64_t)g_random_int() << 31) ^ g_random_int();
    p->ice_state = SFU_ICE_NEW;
    p->dtls_state = SFU_DTLS_STATE_NEW;
    sfu_timer_init(&p->connect_timer, connect_timeout_cb, p);
    sfu_timer_init(&p->watchdog_timer, watchdog_cb, p);
    sfu_timer_init(&p->ice_grace_timer, ice_grace_cb, p);
    sfu__peer_dtls_timer_init(p);
    sfu__peer_twcc_init(p);
    sfu_worker_load_add(w, 1);
    if (sfu_worker_post(w, create_task, p, NULL) != 0) {
        sfu_worker_load_add(w, -1);
        free(p);
        return NULL;
    }
    return p;
}

/* ---- candidates, stats, close -------------------------------------------------- */

typedef struct cand_args {
    sfu_peer *p;
    uint64_t req;
    int end; /* end-of-candidates */
    char line[];
} cand_args;

static void candidate_task(void *arg)
{
    cand_args *a = arg;
    sfu_peer *p = a->p;
    if (p->torn_down || !p->ice)
        return;
    if (!p->answered) {
        sfu__peer_emit_error(p, a->req, "bad_request", "candidate before offer");
        return;
    }
    if (a->end) {
        sfu_ice_remote_gathering_done(p->ice);
        return;
    }
    if (sfu_ice_add_remote_candidate(p->ice, a->line) < 0)
        sfu__peer_emit_error(p, a->req, "bad_request", "malformed candidate");
}

static int post_candidate(sfu_peer *p, const char *line, int end, uint64_t req)
{
    size_t n = line ? strlen(line) : 0;
    cand_args *a = malloc(sizeof *a + n + 1);
    if (!a)
        return -1;
    a->p = p;
    a->req = req;
    a->end = end;
    memcpy(a->line, line ? line : "", n + 1);
    if (sfu_worker_post(p->worker, candidate_task, a, free) != 0) {
        free(a);
        return -1;
    }
    return 0;
}

int sfu_peer_add_candidate(sfu_peer *p, const char *candidate, uint64_t req)
{
    return post_candidate(p, candidate, 0, req);
}

int sfu_peer_end_of_candidates(sfu_peer *p)
{
    return post_candidate(p, NULL, 1, 0);
}

typedef struct stats_args {
    sfu_peer *p;
    uint64_t req;
} stats_args;

static void stats_task(void *arg)
{
    stats_args *a = arg;
    sfu_peer *p = a->p;
    if (p->ice)
        p->st.n_ports = sfu_ice_local_ports(p->ice, p->st.ports, 4);
    sfu_peer_event ev = {.type = SFU_PEER_EV_STATS, .req = a->req, .stats = &p->st};
    ev.ice_state = sfu_ice_state_name(p->ice_state);
    ev.dtls_state = sfu_dtls_state_name(p->dtls_state);
    sfu__peer_emit(p, &ev);
}

int sfu_peer_request_stats(sfu_peer *p, uint64_t req)
{
    stats_args *a = malloc(sizeof *a);
    if (!a)
        return -1;
    a->p = p;
    a->req = req;
    if (sfu_worker_post(p->worker, stats_task, a, free) != 0) {
        free(a);
        return -1;
    }
    return 0;
}

static void close_task(void *arg)
{
    sfu_peer *p = arg;
    p->fn = NULL;
    if (p->router)
        sfu__router_remove(p->router, p);
    drop_source(&p->teardown_src);
    if (!p->torn_down) {
        log_counters(p, "closed by signaling");
        transport_free(p);
    }
    sfu__peer_room_free(p);
    /* No timer of a freed peer may stay in the worker's heap. */
    sfu_timer *timers[] = {&p->connect_timer, &p->watchdog_timer, &p->ice_grace_timer,
                           &p->dtls_timer, &p->twcc_timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        stop_timer(p, timers[i]);
    sfu_worker_load_add(p->worker, -1);
    free(p->tracks);
    free(p);
}

void sfu_peer_close(sfu_peer *p)
{
    if (!p)
        return;
    if (sfu_worker_post(p->worker, close_task, p, NULL) != 0)
        ML_WARN("peer", "peer %llu: workers stopping, not freed", (unsigned long long)p->id);
}
