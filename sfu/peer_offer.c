/*
 * The offer/answer step of a peer connection (see peer.h): the offer task
 * posted by the signaling thread, parsing the offer, negotiating with the
 * sdp + negotiate modules, applying the result to the peer's tracks, ICE
 * credentials and candidates (ICE restart keeps DTLS), and the answer.
 * Split from peer.c, which keeps the lifecycle, timers and teardown.
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

#define ANSWER_MAX (64 * 1024)
/* ---- offer / answer ---------------------------------------------------------- */

typedef struct offer_args {
    sfu_peer *p;
    uint64_t req;
    size_t len;
    char *bindings; /* room mode, may be NULL */
    char sdp[];
} offer_args;

static void collect_candidate(void *arg, const char *line)
{
    sfu_neg_local *l = arg;
    if (l->candidate_count >= SFU_NEG_MAX_LOCAL_CANDIDATES)
        return;
    if (sfu_sdp_candidate_parse(line, &l->candidates[l->candidate_count]) == 0)
        l->candidate_count++;
}

/* Our SSRCs for m-line i: stable across renegotiations of the same mid. */
static void track_ssrcs(sfu_peer *p, const sfu_sdp_media *m, int i, sfu_neg_track *t)
{
    sfu_peer_track *tr = &p->tracks[i];
    if (strcmp(tr->mid, m->mid) != 0 || tr->local_ssrc == 0) {
        sfu__peer_room_track_free(tr);
        memset(tr, 0, sizeof *tr);
        snprintf(tr->mid, sizeof tr->mid, "%s", m->mid);
        tr->local_ssrc = g_random_int() | 1u;
        tr->local_rtx_ssrc = m->kind == SFU_SDP_KIND_VIDEO ? (g_random_int() | 1u) : 0;
    }
    t->ssrc = tr->local_ssrc;
    t->rtx_ssrc = tr->local_rtx_ssrc;
    snprintf(t->stream_id, sizeof t->stream_id, "mentorlink-echo");
    snprintf(t->track_id, sizeof t->track_id, "echo-%s", m->mid);
}

static sfu_sdp_setup offer_setup(const sfu_sdp *o)
{
    for (int i = 0; i < o->media_count; i++)
        if (o->media[i].port != 0 && o->media[i].setup != SFU_SDP_SETUP_NONE)
            return o->media[i].setup;
    return o->setup;
}

int sfu__peer_tracks_reserve(sfu_peer *p, int n)
{
    if (n <= p->tracks_cap)
        return 0;
    sfu_peer_track *t = realloc(p->tracks, (size_t)n * sizeof *t);
    if (!t)
        return -1;
    memset(t + p->tracks_cap, 0, (size_t)(n - p->tracks_cap) * sizeof *t);
    p->tracks = t;
    p->tracks_cap = n;
    sfu__router_changed(p->router); /* forwarding lists point into tracks */
    return 0;
}

/* Our side for an offer. dry: change nothing of the peer (no SSRCs, roles
 * or bindings; the same accept/reject actions), to see whether the offer
 * can be answered at all. */
static int build_local(sfu_peer *p, const sfu_sdp *offer, const char *bindings, sfu_neg_local *l,
                       bool dry)
{
    sfu_neg_local_init(l);
    if (sfu_ice_local_credentials(p->ice, l->ice_ufrag, sizeof l->ice_ufrag, l->ice_pwd,
                                  sizeof l->ice_pwd) != 0)
        return -1;
    snprintf(l->fingerprint, sizeof l->fingerprint, "%s", sfu_dtls_cert_fingerprint(p->env->cert));
    l->setup =
        offer_setup(offer) == SFU_SDP_SETUP_PASSIVE ? SFU_SDP_SETUP_ACTIVE : SFU_SDP_SETUP_PASSIVE;
    snprintf(l->cname, sizeof l->cname, "mentorlink-%llu", (unsigned long long)p->id);
    l->session_id = p->session_id;
    l->session_version = dry ? p->session_version + 1 : ++p->session_version;
    l->max_message_size = (uint32_t)p->env->cfg.sctp_max_message_size;
    sfu_ice_local_candidates(p->ice, collect_candidate, l);
    l->end_of_candidates = (uint8_t)sfu_ice_gathering_done(p->ice);
    if (!dry)
        sfu__router_changed(p->router); /* SSRCs and bindings change below */
    for (int i = 0; i < offer->media_count && i < SFU_SDP_MAX_MEDIA; i++) {
        const sfu_sdp_media *m = &offer->media[i];
        if (m->kind == SFU_SDP_KIND_AUDIO || m->kind == SFU_SDP_KIND_VIDEO) {
            l->action[i] = SFU_NEG_SENDRECV;
            if (dry) { /* the same actions as below, nothing else */
                if (p->router)
                    l->action[i] = sfu__peer_room_action(p, m);
                continue;
            }
            track_ssrcs(p, m, i, &l->track[i]);
            if (p->router)
                sfu__peer_room_local(p, m, i, bindings, l);
        }
    }
    return 0;
}

/* Remember what was agreed: echo routes per m-line, data channel, bundle. */
static void apply_result(sfu_peer *p, const sfu_neg_result *r)
{
    p->bundle_mline = r->bundle_index >= 0 ? r->bundle_index : 0;
    snprintf(p->bundle_mid, sizeof p->bundle_mid, "%s",
             r->media_count ? r->media[p->bundle_mline].mid : "0");
    p->dc_mline = -1;
    p->has_media = 0;
    p->n_tracks = r->media_count;
    sfu__router_changed(p->router); /* tracks and their SSRCs change below */
    for (int i = 0; i < r->media_count; i++) {
        const sfu_neg_media *m = &r->media[i];
        sfu_peer_track *t = &p->tracks[i];
        if (m->kind == SFU_SDP_KIND_APPLICATION) {
            if (m->accepted && p->dc_mline < 0) {
                p->dc_mline = i;
                p->remote_sctp_port = m->remote_sctp_port;
                p->remote_max_message_size = m->remote_max_message_size;
            }
            t->echo = 0;
            continue;
        }
        t->kind = m->kind;
        t->echo = m->accepted && m->remote_sends && m->remote_receives &&
                  (m->kind == SFU_SDP_KIND_AUDIO || m->kind == SFU_SDP_KIND_VIDEO);
        if (m->local_ssrc)
            t->local_ssrc = m->local_ssrc;
        if (m->local_rtx_ssrc)
            t->local_rtx_ssrc = m->local_rtx_ssrc;
        t->pt = m->codec.pt;
        t->rtx_pt = m->rtx_pt;
        t->ext_mid = m->ext_mid;
        t->ext_rid = m->ext_rid;
        t->ext_rrid = m->ext_rrid;
        t->ext_twcc = m->ext_twcc;
        /* Simulcast: echo only the first rid of the offer's list. */
        snprintf(t->echo_rid, sizeof t->echo_rid, "%s", m->rid_count > 1 ? m->rids[0] : "");
        if (m->accepted)
            p->has_media = 1;
        /* Browser SSRCs announced in the offer. */
        if (m->remote_ssrc_count > 0) {
            t->remote_ssrc = m->remote_ssrcs[0];
            t->remote_rtx_ssrc = m->remote_rtx_ssrcs[0];
        }
    }
    /* Learned SSRC routes stay valid across renegotiation unless their
     * m-line stopped echoing (room mode: stopped publishing). They must:
     * a browser stops sending the mid/rid extensions once our receiver
     * reports acknowledge the SSRC, so a forgotten route cannot be
     * learned again. */
    int n = 0;
    for (int i = 0; i < p->n_ssrcs; i++) {
        int k = p->ssrcs[i].track;
        if (k >= p->n_tracks)
            continue;
        int publishing = p->router && p->tracks[k].role == SFU_TRACK_PRODUCE &&
                         r->media[k].accepted && r->media[k].remote_sends;
        if (p->tracks[k].echo || publishing)
            p->ssrcs[n++] = p->ssrcs[i];
    }
    p->n_ssrcs = n;
    if (p->router)
        sfu__peer_room_apply(p, r);
}

static void add_offer_candidates(sfu_peer *p, const sfu_sdp *offer)
{
    for (int i = 0; i < offer->candidate_count; i++) {
        const sfu_sdp_candidate *c = &offer->candidates[i];
        if (c->mline != p->bundle_mline)
            continue;
        char line[SFU_ICE_CAND_LEN];
        if (sfu_sdp_candidate_write(c, line, sizeof line) > 0)
            sfu_ice_add_remote_candidate(p->ice, line);
    }
    if (offer->media_count > p->bundle_mline && offer->media[p->bundle_mline].end_of_candidates)
        sfu_ice_remote_gathering_done(p->ice);
}

/* Build our side (dry: without touching the peer) and answer the offer;
 * a bad_sdp error to the client when it cannot be answered. */
static int answer_offer(sfu_peer *p, const sfu_sdp *offer, const char *bindings, bool dry,
                        sfu_neg_local *local, sfu_sdp *answer, sfu_neg_result *res, uint64_t req)
{
    char err[256] = "";
    if (build_local(p, offer, bindings, local, dry) == 0 &&
        sfu_negotiate_answer(offer, local, answer, res, err, sizeof err) == 0)
        return 0;
    sfu__peer_emit_error(p, req, "bad_sdp", err[0] ? err : "cannot answer the offer");
    return -1;
}

static int handle_offer(sfu_peer *p, const char *text, size_t len, const char *bindings,
                        uint64_t req)
{
    char err[256] = "";
    char *answer_text = NULL;
    sfu_sdp *offer = calloc(1, sizeof *offer);
    sfu_sdp *answer = calloc(1, sizeof *answer);
    sfu_neg_local *local = calloc(1, sizeof *local);
    sfu_neg_result *res = calloc(1, sizeof *res);
    int rc = -1;
    if (!offer || !answer || !local || !res) {
        sfu__peer_emit_error(p, req, "internal", "out of memory");
        goto fail;
    }
    if (sfu_sdp_parse(text, len, offer, err, sizeof err) != 0) {
        sfu__peer_emit_error(p, req, "bad_sdp", err[0] ? err : "offer does not parse");
        goto fail;
    }
    if (sfu__peer_tracks_reserve(p, offer->media_count) != 0) {
        sfu__peer_emit_error(p, req, "internal", "out of memory");
        goto fail;
    }
    if (!p->gathered) {
        if (sfu_ice_gather(p->ice) != 0) {
            sfu__peer_emit_error(p, req, "internal", "ICE gathering failed");
            goto fail;
        }
        p->gathered = 1;
    }
    /* Refuse what cannot be answered before anything of the session
     * changes: building our side re-binds and re-roles m-lines (and frees
     * what a slot no longer needs), which a refused offer must not do. */
    if (answer_offer(p, offer, bindings, true, local, answer, res, req) != 0)
        goto fail;
    if (p->dtls && strcmp(p->remote_fp.value, res->remote_fingerprint.value) != 0) {
        sfu__peer_emit_error(p, req, "bad_sdp",
                             "the DTLS fingerprint cannot change during a session");
        goto fail;
    }
    /* the same actions as the dry run: this answer cannot fail on the offer */
    if (answer_offer(p, offer, bindings, false, local, answer, res, req) != 0)
        goto fail;
    int restart = 0;
    if (p->remote_ufrag[0] && (strcmp(p->remote_ufrag, res->remote_ice_ufrag) != 0 ||
                               strcmp(p->remote_pwd, res->remote_ice_pwd) != 0)) {
        /* ICE restart: new local credentials, then answer again with them. */
        if (sfu_ice_restart(p->ice) != 0) {
            sfu__peer_emit_error(p, req, "internal", "ICE restart failed");
            goto fail;
        }
        restart = 1;
        p->session_version--;
        if (answer_offer(p, offer, bindings, false, local, answer, res, req) != 0)
            goto fail;
    }
    if (!p->dtls) {
        int server = local->setup != SFU_SDP_SETUP_ACTIVE;
        if (sfu__peer_dtls_create(p, server, err, sizeof err) != 0) {
            sfu__peer_emit_error(p, req, "internal", err);
            goto fail;
        }
        if (sfu_dtls_set_remote_fingerprint(p->dtls, res->remote_fingerprint.hash,
                                            res->remote_fingerprint.value) != 0) {
            sfu__peer_media_free(p);
            sfu__peer_emit_error(p, req, "bad_sdp",
                                 "a=fingerprint is malformed or uses an unknown hash");
            goto fail;
        }
        p->remote_fp = res->remote_fingerprint; /* a change is refused above */
    }
    answer_text = malloc(ANSWER_MAX);
    int n = answer_text ? sfu_sdp_write(answer, answer_text, ANSWER_MAX) : -1;
    if (n < 0) {
        sfu__peer_emit_error(p, req, "internal", "cannot write the answer");
        goto fail;
    }
    apply_result(p, res);
    snprintf(p->remote_ufrag, sizeof p->remote_ufrag, "%s", res->remote_ice_ufrag);
    snprintf(p->remote_pwd, sizeof p->remote_pwd, "%s", res->remote_ice_pwd);
    sfu_ice_set_remote_credentials(p->ice, p->remote_ufrag, p->remote_pwd);
    add_offer_candidates(p, offer);
    int first = !p->answered;
    p->answered = 1;
    sfu_peer_event ev = {.type = SFU_PEER_EV_ANSWER, .req = req, .text = answer_text};
    sfu__peer_emit(p, &ev);
    if (first && sfu_dtls_get_state(p->dtls) == SFU_DTLS_STATE_NEW) {
        sfu_dtls_start(p->dtls);
        sfu__peer_dtls_timer(p);
    }
    ML_DEBUG("peer", "peer %llu answered (%s, %d m-lines)", (unsigned long long)p->id,
             restart ? "ICE restart"
             : first ? "initial"
                     : "renegotiation",
             res->media_count);
    rc = 0;
fail:
    free(answer_text);
    free(offer);
    free(answer);
    free(local);
    free(res);
    return rc;
}

static void offer_task(void *arg)
{
    offer_args *a = arg;
    if (a->p->torn_down || !a->p->ice) {
        sfu__peer_emit_error(a->p, a->req, "closed", "the peer connection is closed");
        return;
    }
    handle_offer(a->p, a->sdp, a->len, a->bindings, a->req);
}

static void offer_args_free(void *arg)
{
    offer_args *a = arg;
    free(a->bindings);
    free(a);
}

int sfu_peer_offer_bind(sfu_peer *p, const char *sdp, size_t len, const char *bindings,
                        uint64_t req)
{
    offer_args *a = malloc(sizeof *a + len + 1);
    if (!a)
        return -1;
    a->p = p;
    a->req = req;
    a->len = len;
    a->bindings = bindings ? strdup(bindings) : NULL;
    memcpy(a->sdp, sdp, len);
    a->sdp[len] = '\0';
    if (sfu_worker_post(p->worker, offer_task, a, offer_args_free) != 0) {
        offer_args_free(a);
        return -1;
    }
    return 0;
}

int sfu_peer_offer(sfu_peer *p, const char *sdp, size_t len, uint64_t req)
{
    return sfu_peer_offer_bind(p, sdp, len, NULL, req);
}
