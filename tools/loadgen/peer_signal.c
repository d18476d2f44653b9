/*
 * mlload signaling adapters. MentorLink (docs/signaling.md): echo mode
 * (join, offer/answer, candidates) and room mode (mentor publishes VP8
 * simulcast + Opus, mentees subscribe through the offer's "subscribe" map).
 * Janus (WebSocket API, subprotocol janus-protocol): create a session,
 * attach janus.plugin.echotest or janus.plugin.videoroom; the VideoRoom
 * mentor creates the room and publishes, subscribers answer the server's
 * offer; trickle "completed" and keepalives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/negotiate.h"
#include "tools/loadgen/peer_internal.h"

/* ---- signaling ---- */

static void collect_cand(void *arg, const char *line)
{
    sfu_neg_local *l = arg;
    if (l->candidate_count >= SFU_NEG_MAX_LOCAL_CANDIDATES)
        return;
    if (sfu_sdp_candidate_parse(line, &l->candidates[l->candidate_count]) == 0)
        l->candidate_count++;
}

void lg__maybe_offer(lg_peer *p)
{
    if (!p->joined || !p->gathered || p->state >= 3)
        return;
    if (p->offered && p->role != LG_ROLE_MEETING)
        return;
    /* meeting: offer again (same ICE and DTLS) once the answer to the last
     * offer is in and more tracks of the others are known */
    if (p->offered && (p->offer_inflight || p->n_sub == p->n_sub_offered))
        return;
    if (p->role == LG_ROLE_MENTEE &&
        ((p->t->run->video && !p->vtrack[0]) || (p->t->run->audio && !p->atrack[0])))
        return; /* wait for the mentor's tracks (track-added) */
    lg_run *run = p->t->run;
    sfu_neg_local *l = calloc(1, sizeof *l);
    sfu_sdp *offer = calloc(1, sizeof *offer);
    sfu_neg_result *res = calloc(1, sizeof *res);
    char *text = malloc(65536);
    char err[256];
    sfu_neg_local_init(l);
    sfu_ice_local_credentials(p->ice, l->ice_ufrag, sizeof l->ice_ufrag, l->ice_pwd,
                              sizeof l->ice_pwd);
    snprintf(l->fingerprint, sizeof l->fingerprint, "%s", sfu_dtls_cert_fingerprint(run->cert));
    snprintf(l->cname, sizeof l->cname, "mlload%d", p->index);
    l->session_id = g_random_int();
    sfu_ice_local_candidates(p->ice, collect_cand, l);
    for (int i = 0; i < l->candidate_count; i++)
        l->candidates[i].mline = 0;
    l->end_of_candidates = 1;
    sfu_neg_offer_media om[SFU_SDP_MAX_MEDIA];
    memset(om, 0, sizeof om);
    int n = 0;
    sfu_neg_action act = p->role == LG_ROLE_ECHO ? SFU_NEG_SENDRECV
                         : p->role == LG_ROLE_MENTOR || p->role == LG_ROLE_MEETING ? SFU_NEG_SEND
                                                                                   : SFU_NEG_RECV;
    json_t *subscribe = json_object();
    int video_idx = -1;
    if (run->video) { /* video first: mid "0" */
        om[n].kind = SFU_SDP_KIND_VIDEO;
        snprintf(om[n].mid, sizeof om[n].mid, "%d", n);
        om[n].action = act;
        om[n].track.ssrc =
            p->role == LG_ROLE_ECHO || p->role == LG_ROLE_MEETING ? p->vs[0].ssrc : 0;
        snprintf(om[n].track.stream_id, sizeof om[n].track.stream_id, "mlload%d", p->index);
        snprintf(om[n].track.track_id, sizeof om[n].track.track_id, "v%d", p->index);
        snprintf(om[n].codec, sizeof om[n].codec, "VP8");
        if (p->role == LG_ROLE_MENTEE)
            json_object_set_new(subscribe, om[n].mid, json_string(p->vtrack));
        video_idx = n;
        n++;
    }
    if (run->audio) {
        om[n].kind = SFU_SDP_KIND_AUDIO;
        snprintf(om[n].mid, sizeof om[n].mid, "%d", n);
        om[n].action = act;
        om[n].track.ssrc = p->role == LG_ROLE_MENTEE ? 0 : p->ssrc_audio;
        snprintf(om[n].track.stream_id, sizeof om[n].track.stream_id, "mlload%d", p->index);
        snprintf(om[n].track.track_id, sizeof om[n].track.track_id, "a%d", p->index);
        snprintf(om[n].codec, sizeof om[n].codec, "opus");
        if (p->role == LG_ROLE_MENTEE)
            json_object_set_new(subscribe, om[n].mid, json_string(p->atrack));
        n++;
    }
    int n_sub = 0;
    for (int i = 0; p->role == LG_ROLE_MEETING && i < p->n_sub && n < SFU_SDP_MAX_MEDIA; i++) {
        om[n].kind = p->sub_video[i] ? SFU_SDP_KIND_VIDEO : SFU_SDP_KIND_AUDIO;
        snprintf(om[n].mid, sizeof om[n].mid, "%d", n);
        om[n].action = SFU_NEG_RECV;
        snprintf(om[n].codec, sizeof om[n].codec, "%s", p->sub_video[i] ? "VP8" : "opus");
        json_object_set_new(subscribe, om[n].mid, json_string(p->sub_track[i]));
        n++;
        n_sub++;
    }
    int rc = sfu_negotiate_offer(l, om, n, offer, res, err, sizeof err);
    if (rc == 0 && p->role == LG_ROLE_MENTOR && video_idx >= 0) {
        /* simulcast send, rids lowest first; routed by the mid + rid extensions */
        sfu_sdp_media *m = &offer->media[video_idx];
        /* MentorLink wants the rids lowest first; Janus takes the first as the
         * highest (as janus.js sends them) */
        static const char *lmh[LG_LAYERS] = {"l", "m", "h"}, *hml[LG_LAYERS] = {"h", "m", "l"};
        const char **rids = run->janus ? hml : lmh;
        for (int i = 0; i < LG_LAYERS; i++) {
            snprintf(m->rids[i].id, sizeof m->rids[i].id, "%s", rids[i]);
            m->rids[i].dir = SFU_SDP_RID_SEND;
            m->simulcast.send.streams[i].alt_count = 1;
            snprintf(m->simulcast.send.streams[i].alts[0].rid,
                     sizeof m->simulcast.send.streams[i].alts[0].rid, "%s", rids[i]);
        }
        m->rid_count = LG_LAYERS;
        m->simulcast.send.count = LG_LAYERS;
        m->simulcast.present = 1;
        if (sfu_sdp_extmap_id(m, SFU_EXT_RID) <= 0)
            sfu_sdp_media_add_extmap(m, SFU_NEG_EXTID_RID, SFU_EXT_RID);
    }
    if (rc != 0 || sfu_sdp_write(offer, text, 65536) < 0) {
        json_decref(subscribe);
        lg__peer_fail(p, 0, "cannot build offer: %s", err);
    } else {
        p->offered = 1;
        p->offer_inflight = 1;
        p->n_sub_offered = n_sub;
        if (run->janus) {
            json_t *body = p->role == LG_ROLE_MENTOR || p->role == LG_ROLE_MEETING
                               ? json_pack("{s:s, s:b, s:b}", "request", "publish", "audio",
                                           run->audio, "video", run->video)
                               : json_pack("{s:b, s:b}", "audio", run->audio, "video", run->video);
            lg__send_json(p, json_pack("{s:s, s:I, s:I, s:s, s:o, s:{s:s, s:s}}", "janus",
                                       "message", "session_id", p->janus_session, "handle_id",
                                       p->janus_handle, "transaction", "offer", "body", body,
                                       "jsep", "type", "offer", "sdp", text));
            lg__send_json(p, json_pack("{s:s, s:I, s:I, s:s, s:{s:b}}", "janus", "trickle",
                                       "session_id", p->janus_session, "handle_id", p->janus_handle,
                                       "transaction", "eoc", "candidate", "completed", 1));
            json_decref(subscribe);
        } else if (p->role == LG_ROLE_ECHO) {
            json_decref(subscribe);
            lg__send_json(p, json_pack("{s:s, s:i, s:s}", "type", "offer", "id", 2, "sdp", text));
        } else {
            lg__send_json(p, json_pack("{s:s, s:i, s:s, s:o}", "type", "offer", "id", 2, "sdp",
                                       text, "subscribe", subscribe));
        }
    }
    free(l);
    free(offer);
    free(res);
    free(text);
}

static void on_answer(lg_peer *p, const char *sdp)
{
    sfu_sdp *ans = calloc(1, sizeof *ans);
    char err[256];
    if (sfu_sdp_parse(sdp, strlen(sdp), ans, err, sizeof err) != 0) {
        lg__peer_fail(p, 0, "answer does not parse: %s", err);
        free(ans);
        return;
    }
    int renegotiation = p->dtls != NULL; /* meeting: transport already set up */
    p->answered = 1;
    p->offer_inflight = 0;
    p->ext_abs = p->ext_twcc = p->ext_mid = p->ext_rid = 0; /* what the answer negotiated */
    p->n_rtx_map = p->n_remote_ssrc = 0;
    const sfu_sdp_media *first = NULL;
    for (int i = 0; i < ans->media_count; i++) {
        const sfu_sdp_media *m = &ans->media[i];
        if (m->port == 0 && !m->bundle_only)
            continue;
        lg__rx_note_ssrcs(p, m);
        if (!first)
            first = m;
        int abs = sfu_sdp_extmap_id(m, SFU_EXT_ABS_SEND_TIME);
        int tw = sfu_sdp_extmap_id(m, SFU_EXT_TWCC);
        if (abs > 0)
            p->ext_abs = (uint8_t)abs;
        if (tw > 0)
            p->ext_twcc = (uint8_t)tw;
        int mid = sfu_sdp_extmap_id(m, SFU_EXT_MID), rid = sfu_sdp_extmap_id(m, SFU_EXT_RID);
        if (mid > 0 && mid < 15)
            p->ext_mid = (uint8_t)mid;
        if (rid > 0 && rid < 15 && m->kind == SFU_SDP_KIND_VIDEO)
            p->ext_rid = (uint8_t)rid;
        if (m->kind == SFU_SDP_KIND_AUDIO && m->pt_count > 0)
            p->pt_audio = m->pts[0];
        if (m->kind == SFU_SDP_KIND_VIDEO && m->pt_count > 0) {
            p->pt_video = m->pts[0];
            p->pt_rtx = sfu_sdp_rtx_pt(m, m->pts[0]);
        }
    }
    if (!first) {
        lg__peer_fail(p, 0, "answer accepts no m-line");
        free(ans);
        return;
    }
    /* We offer actpass; MentorLink answers passive (we are the DTLS client),
     * Janus answers active (we are the server). */
    if (!renegotiation)
        lg__apply_remote(p, ans, first,
                         first->setup == SFU_SDP_SETUP_ACTIVE ? SFU_DTLS_ROLE_SERVER
                                                              : SFU_DTLS_ROLE_CLIENT);
    if (p->role == LG_ROLE_MENTEE && p->t->run->pin[0] && p->vtrack[0])
        lg__send_json(p, json_pack("{s:s, s:i, s:s, s:s}", "type", "layer", "id", 3, "track",
                                   p->vtrack, "pin", p->t->run->pin));
    free(ans);
    lg__maybe_offer(p); /* meeting: tracks that appeared meanwhile */
}

/* Janus VideoRoom subscriber: the server offers, we answer (recvonly). */
static void on_remote_offer(lg_peer *p, const char *sdp)
{
    lg_run *run = p->t->run;
    sfu_sdp *offer = calloc(1, sizeof *offer);
    sfu_sdp *answer = calloc(1, sizeof *answer);
    sfu_neg_local *l = calloc(1, sizeof *l);
    sfu_neg_result *res = calloc(1, sizeof *res);
    char *text = malloc(65536);
    char err[256];
    if (sfu_sdp_parse(sdp, strlen(sdp), offer, err, sizeof err) != 0) {
        lg__peer_fail(p, 0, "server offer does not parse: %s", err);
        goto out;
    }
    sfu_neg_local_init(l);
    sfu_ice_local_credentials(p->ice, l->ice_ufrag, sizeof l->ice_ufrag, l->ice_pwd,
                              sizeof l->ice_pwd);
    snprintf(l->fingerprint, sizeof l->fingerprint, "%s", sfu_dtls_cert_fingerprint(run->cert));
    snprintf(l->cname, sizeof l->cname, "mlload%d", p->index);
    l->session_id = g_random_int();
    sfu_ice_local_candidates(p->ice, collect_cand, l);
    l->end_of_candidates = 1;
    for (int i = 0; i < SFU_SDP_MAX_MEDIA; i++)
        l->action[i] = SFU_NEG_RECV;
    if (sfu_negotiate_answer(offer, l, answer, res, err, sizeof err) != 0 ||
        sfu_sdp_write(answer, text, 65536) < 0) {
        lg__peer_fail(p, 0, "cannot answer the server's offer: %s", err);
        goto out;
    }
    const sfu_sdp_media *first = NULL;
    p->ext_abs = p->ext_twcc = p->ext_mid = p->ext_rid = 0;
    p->n_rtx_map = p->n_remote_ssrc = 0;
    for (int i = 0; i < res->media_count; i++) {
        const sfu_neg_media *m = &res->media[i];
        if (!m->accepted)
            continue;
        lg__rx_note_ssrcs(p, &offer->media[i]);
        if (!first)
            first = &offer->media[i];
        if (m->kind == SFU_SDP_KIND_AUDIO)
            p->pt_audio = m->codec.pt;
        else if (m->kind == SFU_SDP_KIND_VIDEO) {
            p->pt_video = m->codec.pt;
            p->pt_rtx = m->rtx_pt;
        }
        if (m->ext_twcc)
            p->ext_twcc = m->ext_twcc;
    }
    if (!first) {
        lg__peer_fail(p, 0, "the server's offer has nothing we can receive");
        goto out;
    }
    p->answered = 1;
    lg__send_json(p,
                  json_pack("{s:s, s:I, s:I, s:s, s:{s:s, s:I}, s:{s:s, s:s}}", "janus", "message",
                            "session_id", p->janus_session, "handle_id", p->janus_handle,
                            "transaction", "start", "body", "request", "start", "room",
                            (json_int_t)run->janus_room, "jsep", "type", "answer", "sdp", text));
    lg__send_json(p, json_pack("{s:s, s:I, s:I, s:s, s:{s:b}}", "janus", "trickle", "session_id",
                               p->janus_session, "handle_id", p->janus_handle, "transaction", "eoc",
                               "candidate", "completed", 1));
    lg__apply_remote(p, offer, first,
                     res->local_setup == SFU_SDP_SETUP_ACTIVE ? SFU_DTLS_ROLE_CLIENT
                                                              : SFU_DTLS_ROLE_SERVER);
out:
    free(offer);
    free(answer);
    free(l);
    free(res);
    free(text);
}

/* Janus WebSocket API (subprotocol janus-protocol): create a session,
 * attach the plugin, then offer through a plugin message; the answer comes
 * back in an "event" with a jsep. */
static void janus_on_message(lg_peer *p, json_t *o)
{
    const char *janus = json_string_value(json_object_get(o, "janus"));
    const char *tr = json_string_value(json_object_get(o, "transaction"));
    if (!janus)
        return;
    if (!strcmp(janus, "success") && tr && !strcmp(tr, "create")) {
        p->janus_session = json_integer_value(json_object_get(json_object_get(o, "data"), "id"));
        lg__send_json(p, json_pack("{s:s, s:s, s:I, s:s}", "janus", "attach", "plugin",
                                   p->t->run->janus_plugin, "session_id", p->janus_session,
                                   "transaction", "attach"));
    } else if (!strcmp(janus, "success") && tr && !strcmp(tr, "attach")) {
        p->janus_handle = json_integer_value(json_object_get(json_object_get(o, "data"), "id"));
        if (p->role == LG_ROLE_MENTOR || p->role == LG_ROLE_MEETING) {
            /* VideoRoom: create the room (or find it exists), then join it */
            lg__send_json(p, json_pack("{s:s, s:I, s:I, s:s, s:{s:s, s:I, s:i, s:s, s:s, s:b}}",
                                       "janus", "message", "session_id", p->janus_session,
                                       "handle_id", p->janus_handle, "transaction", "create-room",
                                       "body", "request", "create", "room",
                                       (json_int_t)p->t->run->janus_room, "publishers", 16,
                                       "videocodec", "vp8", "audiocodec", "opus", "is_private", 0));
        } else if (p->role == LG_ROLE_ECHO) {
            p->joined = 1;
            lg__maybe_offer(p);
        } /* a mentee joins from the tick once the mentor's feed id is known */
    } else if (!strcmp(janus, "success") && tr && !strcmp(tr, "create-room")) {
        json_t *pd = json_object_get(json_object_get(o, "plugindata"), "data");
        json_int_t code = json_integer_value(json_object_get(pd, "error_code"));
        if (json_object_get(pd, "error") && code != 427 /* already exists */) {
            lg__peer_fail(p, 0, "janus videoroom create: %s",
                          json_string_value(json_object_get(pd, "error")));
            return;
        }
        json_t *join =
            json_pack("{s:s, s:s, s:I, s:s}", "request", "join", "ptype", "publisher", "room",
                      (json_int_t)p->t->run->janus_room, "display", "mlload-mentor");
        if (p->t->run->janus_feed_id) /* fixed: other processes and peers subscribe to it */
            json_object_set_new(join, "id",
                                json_integer(p->t->run->janus_feed_id +
                                             (p->role == LG_ROLE_MEETING ? p->index : 0)));
        lg__send_json(p, json_pack("{s:s, s:I, s:I, s:s, s:o}", "janus", "message", "session_id",
                                   p->janus_session, "handle_id", p->janus_handle, "transaction",
                                   "join", "body", join));
    } else if (!strcmp(janus, "event")) {
        json_t *jsep = json_object_get(o, "jsep");
        const char *sdp = json_string_value(json_object_get(jsep, "sdp"));
        const char *jtype = json_string_value(json_object_get(jsep, "type"));
        json_t *pd = json_object_get(json_object_get(o, "plugindata"), "data");
        json_t *perr = json_object_get(pd, "error");
        const char *vr = json_string_value(json_object_get(pd, "videoroom"));
        if (perr) {
            lg__peer_fail(p, 0, "janus plugin error: %s", json_string_value(perr));
        } else if (vr && !strcmp(vr, "joined") &&
                   (p->role == LG_ROLE_MENTOR || p->role == LG_ROLE_MEETING) && !p->joined) {
            /* Shared with the mentees once DTLS is up (peer.c): earlier
             * they get "No such feed" when Janus runs slowly. */
            p->janus_pub_id = json_integer_value(json_object_get(pd, "id"));
            p->joined = 1;
            lg__maybe_offer(p);
        } else if (sdp && jtype && !strcmp(jtype, "offer") && !p->answered) {
            on_remote_offer(p, sdp);
        } else if (sdp && !p->answered) {
            on_answer(p, sdp);
        }
    } else if (!strcmp(janus, "error")) {
        json_t *e = json_object_get(o, "error");
        lg__peer_fail(p, 0, "janus error %lld: %s",
                      (long long)json_integer_value(json_object_get(e, "code")),
                      json_string_value(json_object_get(e, "reason")));
    } else if (!strcmp(janus, "hangup")) {
        if (!p->t->run->stop_sending)
            lg__peer_fail(p, 0, "janus hangup: %s",
                          json_string_value(json_object_get(o, "reason")));
    } else if (!strcmp(janus, "timeout")) {
        lg__peer_fail(p, 0, "janus session timeout");
    }
}

/* Room mode: remember the mentor's video and audio track (the first of each). */
static void room_track(lg_peer *p, json_t *t)
{
    const char *id = json_string_value(json_object_get(t, "track"));
    const char *kind = json_string_value(json_object_get(t, "kind"));
    if (!id || !kind)
        return;
    if (p->role == LG_ROLE_MEETING) { /* every track of the others */
        json_int_t from = json_integer_value(json_object_get(t, "participant"));
        if (from == p->my_peer_id || p->n_sub >= LG_MAX_SUB)
            return;
        for (int i = 0; i < p->n_sub; i++)
            if (!strcmp(p->sub_track[i], id))
                return;
        snprintf(p->sub_track[p->n_sub], sizeof p->sub_track[0], "%s", id);
        p->sub_video[p->n_sub++] = !strcmp(kind, "video");
        return;
    }
    if (p->role != LG_ROLE_MENTEE)
        return;
    if (!strcmp(kind, "video") && !p->vtrack[0])
        snprintf(p->vtrack, sizeof p->vtrack, "%s", id);
    else if (!strcmp(kind, "audio") && !p->atrack[0])
        snprintf(p->atrack, sizeof p->atrack, "%s", id);
}

void lg__ws_on_text(void *user, const char *text, size_t len)
{
    lg_peer *p = user;
    if (p->t->run->debug)
        fprintf(stderr, "peer %d <- %.*s\n", p->index, (int)len, text);
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (o && p->t->run->janus) {
        janus_on_message(p, o);
        json_decref(o);
        return;
    }
    const char *type = o ? json_string_value(json_object_get(o, "type")) : NULL;
    if (!type) {
        json_decref(o);
        return;
    }
    if (!strcmp(type, "joined")) {
        p->joined = 1;
        p->my_peer_id = json_integer_value(json_object_get(o, "peer_id"));
        json_t *tracks = json_object_get(o, "tracks");
        for (size_t i = 0; i < json_array_size(tracks); i++)
            room_track(p, json_array_get(tracks, i));
        lg__maybe_offer(p);
    } else if (!strcmp(type, "track-added")) {
        room_track(p, o);
        lg__maybe_offer(p);
    } else if (!strcmp(type, "track-removed")) {
        const char *tr = json_string_value(json_object_get(o, "track"));
        if (tr && p->role == LG_ROLE_MENTEE && !p->t->run->stop_sending &&
            (!strcmp(tr, p->vtrack) || !strcmp(tr, p->atrack)))
            lg__peer_fail(p, 0, "the mentor's track %s was removed", tr);
        for (int i = 0;
             tr && p->role == LG_ROLE_MEETING && !p->t->run->stop_sending && i < p->n_sub_offered;
             i++)
            if (!strcmp(tr, p->sub_track[i]))
                lg__peer_fail(p, 0, "participant track %s was removed", tr);
    } else if (!strcmp(type, "layers")) {
        json_t *act = json_object_get(o, "active");
        static const char *rids[LG_LAYERS] = {"l", "m", "h"};
        for (int i = 0; i < LG_LAYERS; i++) {
            json_t *v = json_object_get(act, rids[i]);
            if (v)
                p->layer_active[i] = json_is_true(v);
        }
    } else if (!strcmp(type, "answer")) {
        const char *sdp = json_string_value(json_object_get(o, "sdp"));
        if (sdp && (!p->answered || p->offer_inflight))
            on_answer(p, sdp);
    } else if (!strcmp(type, "candidate")) {
        const char *c = json_string_value(json_object_get(o, "candidate"));
        if (c && p->ice)
            sfu_ice_add_remote_candidate(p->ice, c);
    } else if (!strcmp(type, "end-of-candidates")) {
        if (p->ice)
            sfu_ice_remote_gathering_done(p->ice);
    } else if (!strcmp(type, "error")) {
        const char *code = json_string_value(json_object_get(o, "code"));
        const char *msg = json_string_value(json_object_get(o, "message"));
        lg__peer_fail(p, code && !strcmp(code, "going_away"), "server error %s: %s",
                      code ? code : "?", msg ? msg : "");
    } else if (!strcmp(type, "closed")) {
        const char *r = json_string_value(json_object_get(o, "reason"));
        if (!p->t->run->stop_sending)
            lg__peer_fail(p, 0, "server closed the peer connection: %s", r ? r : "?");
    } else if (!strcmp(type, "going-away")) {
        if (!p->t->run->stop_sending)
            lg__peer_fail(p, 1, "server is shutting down (going-away)");
    }
    json_decref(o);
}

void lg__ws_on_closed(void *user, const char *why)
{
    lg_peer *p = user;
    p->dead_ws = 1;
    if (!p->t->run->stop_sending)
        lg__peer_fail(p, 1, "signaling connection lost: %s", why);
}
