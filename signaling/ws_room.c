/*
 * Rooms on the signaling side (docs/signaling.md, "Room mode"): the
 * registry of rooms by name, membership and roles, the participant and
 * track lists sent to joiners, broadcast of room events, and the room
 * messages (offer bindings, layer, floor, mute). Media state lives in the
 * room's sfu_router on its worker; this file only keeps what the
 * signaling thread needs to tell browsers (service thread only).
 */
#include "signaling/ws_internal.h"

#include "common/log.h"
#include "control/room_token.h"
#include "sfu/router.h"
#include "signaling/recording.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sig_room {
    char name[SIG_ROOM_MAX + 1];
    sfu_router *router;
    GPtrArray *members;      /* sig_conn * */
    json_t *tracks;          /* track id -> track-added fields */
    uint64_t active_speaker; /* last active-speaker, 0 none */
    int recording;           /* the room is being recorded (last "recording" notice) */
};

static GHashTable *rooms; /* name -> sig_room */

/* Encoded once, queued for every member but `except`: a room of N
 * members costs one encoding per event, not N. */
static void broadcast(sig_room *r, sig_conn *except, const char *type, json_t *fields)
{
    char *text = sig_proto_build(type, NULL, fields);
    if (text) {
        size_t len = strlen(text);
        for (guint i = 0; i < r->members->len; i++) {
            sig_conn *m = g_ptr_array_index(r->members, i);
            if (m != except)
                sig__ws_send_copy(m, text, len);
        }
        free(text);
    }
    if (fields)
        json_decref(fields);
}

static json_t *participant_json(const sig_conn *c)
{
    return json_pack("{s:I,s:s,s:s,s:b}", "id", (json_int_t)c->peer_id, "name", c->name, "role",
                     c->role, "floor", !strcmp(c->role, "mentor") || c->floor);
}

void sig__room_join(sig_conn *c, const sig_msg *m)
{
    /* Admission: with room tokens on (the default), the token decides the
     * room (its session id) and the role (publish -> mentor, subscribe ->
     * mentee); a role in the message must agree with it. */
    const char *role = m->role;
    if (sig__ws_room_tokens_required()) {
        char terr[128];
        char *end = NULL;
        long long sid = strtoll(m->room, &end, 10);
        if (!m->token) {
            sig__ws_send_error(c, SIG_ERR_UNAUTHORIZED,
                               "join: a room token is required (POST /api/v1/sessions/{id}/join)",
                               m->id);
            return;
        }
        if (!end || *end != '\0' || sid <= 0) {
            sig__ws_send_error(c, SIG_ERR_UNAUTHORIZED,
                               "join: the room must be the session id the token was issued for",
                               m->id);
            return;
        }
        ctl_room_claims claims;
        memset(&claims, 0, sizeof claims);
        claims.session_id = sid;
        if (ctl_room_token_verify(m->token, &claims, terr, sizeof terr) != 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "join: room token refused: %s", terr);
            sig__ws_send_error(c, SIG_ERR_UNAUTHORIZED, msg, m->id);
            return;
        }
        const char *granted = claims.role == CTL_ROOM_PUBLISH ? "mentor" : "mentee";
        if (role && strcmp(role, granted) != 0) {
            sig__ws_send_error(c, SIG_ERR_FORBIDDEN, "join: the room token grants another role",
                               m->id);
            return;
        }
        role = granted;
    }
    if (!role) {
        sig__ws_send_error(c, SIG_ERR_BAD_REQUEST, "join: field 'role' is required in room mode",
                           m->id);
        return;
    }
    if (!rooms)
        rooms = g_hash_table_new(g_str_hash, g_str_equal);
    sig_room *r = g_hash_table_lookup(rooms, m->room);
    int created = 0;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) {
            sig__ws_send_error(c, SIG_ERR_INTERNAL, "out of memory", m->id);
            return;
        }
        snprintf(r->name, sizeof r->name, "%s", m->room);
        r->router = sfu_router_create(sig__ws_env()->workers, m->room);
        if (!r->router) {
            free(r);
            sig__ws_send_error(c, SIG_ERR_INTERNAL, "cannot create the room", m->id);
            return;
        }
        r->members = g_ptr_array_new();
        r->tracks = json_object();
        g_hash_table_insert(rooms, r->name, r);
        created = 1;
    }
    if ((int)r->members->len >= sig__ws_max_participants()) {
        sig__ws_send_error(c, SIG_ERR_ROOM_FULL, "the room is full", m->id);
        return;
    }
    int mentor = !strcmp(role, "mentor");
    if (sig__ws_attach_peer(c, r->router, mentor) != 0) {
        sig__ws_send_error(c, SIG_ERR_INTERNAL, "cannot create a peer connection", m->id);
        if (created)
            sig__room_release(r); /* still empty */
        return;
    }
    c->room = r;
    snprintf(c->role, sizeof c->role, "%s", role);
    snprintf(c->name, sizeof c->name, "%s", m->name ? m->name : "");
    c->floor = 0;
    json_t *parts = json_array();
    for (guint i = 0; i < r->members->len; i++)
        json_array_append_new(parts, participant_json(g_ptr_array_index(r->members, i)));
    json_t *tracks = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(r->tracks, k, v) json_array_append(tracks, v);
    g_ptr_array_add(r->members, c);
    ML_INFO("ws", "peer %llu joined room '%s' as %s (%u members)", (unsigned long long)c->peer_id,
            r->name, c->role, r->members->len);
    sig__ws_send_fields(
        c, "joined", m->id,
        json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:b}", "peer_id", (json_int_t)c->peer_id,
                  "room", r->name, "mode", "room", "role", c->role, "name", c->name, "ice_servers",
                  sig__ws_ice_servers(c->peer_id), "participants", parts, "tracks", tracks,
                  "active_speaker",
                  r->active_speaker ? json_integer((json_int_t)r->active_speaker) : json_null(),
                  "recording", r->recording));
    broadcast(r, c, "participant-joined", json_pack("{s:o}", "participant", participant_json(c)));
}

void sig__room_leave(sig_conn *c)
{
    sig_room *r = c->room;
    if (!r)
        return;
    g_ptr_array_remove(r->members, c);
    char prefix[32];
    int pn = snprintf(prefix, sizeof prefix, "%llu:", (unsigned long long)c->peer_id);
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(r->tracks, tmp, k, v)
    {
        if (strncmp(k, prefix, (size_t)pn) != 0)
            continue;
        broadcast(r, NULL, "track-removed",
                  json_pack("{s:s,s:I}", "track", k, "participant", (json_int_t)c->peer_id));
        json_object_del(r->tracks, k);
    }
    if (r->active_speaker == c->peer_id)
        r->active_speaker = 0;
    broadcast(r, NULL, "participant-left",
              json_pack("{s:I}", "participant", (json_int_t)c->peer_id));
}

void sig__room_release(sig_room *r)
{
    if (!r || r->members->len > 0)
        return;
    g_hash_table_remove(rooms, r->name);
    sig_rec_room_closed(r->router); /* destroyed after its recording taps, if any */
    g_ptr_array_free(r->members, TRUE);
    json_decref(r->tracks);
    free(r);
}

static int token_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~')
            return 0;
    return 1;
}

void sig__room_offer(sig_conn *c, const sig_msg *m)
{
    json_t *sub = json_object_get(m->root, "subscribe");
    GString *b = g_string_new("");
    if (sub && !json_is_null(sub)) {
        if (!json_is_object(sub)) {
            sig__ws_send_error(c, SIG_ERR_BAD_REQUEST,
                               "offer: field 'subscribe' must be an object {mid: track}", m->id);
            g_string_free(b, TRUE);
            return;
        }
        const char *mid;
        json_t *t;
        json_object_foreach(sub, mid, t)
        {
            if (!json_is_string(t) || !token_ok(mid, 32) || !token_ok(json_string_value(t), 96)) {
                sig__ws_send_error(c, SIG_ERR_BAD_REQUEST,
                                   "offer: 'subscribe' maps a mid (<= 32 chars) to a track id "
                                   "\"<participant>:<mid>\"",
                                   m->id);
                g_string_free(b, TRUE);
                return;
            }
            g_string_append_printf(b, "%s %s\n", mid, json_string_value(t));
        }
    }
    if (sfu_peer_offer_bind(c->peer, m->sdp, m->sdp_len, b->str, sig__ws_remember_id(c, m->id)) !=
        0)
        sig__ws_send_error(c, SIG_ERR_INTERNAL, "cannot hand the offer to the media worker", m->id);
    g_string_free(b, TRUE);
}

static void ack(sig_conn *c, const sig_msg *m)
{
    sig__ws_send_fields(c, "ack", m->id, json_pack("{s:s}", "for", sig_msg_type_name(m->type)));
}

/* Server-side mute (docs/signaling.md): a publisher mutes or unmutes its
 * own tracks; the mentor mutes or unmutes anyone's. A track the mentor
 * muted stays muted until the mentor unmutes it. The SFU stops forwarding
 * a muted track; everyone (the owner included) gets track-muted. */
static void room_mute(sig_conn *c, sig_room *r, const sig_msg *m)
{
    json_t *info = json_object_get(r->tracks, m->track);
    const char *colon = strchr(m->track, ':');
    char *end = NULL;
    unsigned long long owner_id = strtoull(m->track, &end, 10);
    sig_conn *owner = info && colon && end == colon ? sig__ws_conn_by_peer(owner_id) : NULL;
    if (!owner || owner->room != r) {
        sig__ws_send_error(c, SIG_ERR_NOT_IN_ROOM, "mute: no such published track in this room",
                           m->id);
        return;
    }
    int mentor = !strcmp(c->role, "mentor");
    if (owner != c && !mentor) {
        sig__ws_send_error(c, SIG_ERR_FORBIDDEN, "mute: only the mentor mutes other participants",
                           m->id);
        return;
    }
    json_t *by = json_object_get(info, "muted_by");
    if (!m->flag && !mentor && json_is_integer(by) &&
        (uint64_t)json_integer_value(by) != c->peer_id) {
        sig__ws_send_error(c, SIG_ERR_FORBIDDEN, "mute: the mentor muted this track", m->id);
        return;
    }
    if (sfu_peer_set_muted(owner->peer, colon + 1, m->flag) != 0) {
        sig__ws_send_error(c, SIG_ERR_INTERNAL, "cannot reach the media worker", m->id);
        return;
    }
    json_object_set_new(info, "muted", json_boolean(m->flag));
    if (m->flag)
        json_object_set_new(info, "muted_by", json_integer((json_int_t)c->peer_id));
    else
        json_object_del(info, "muted_by");
    ack(c, m);
    broadcast(r, NULL, "track-muted",
              json_pack("{s:s,s:I,s:b,s:I}", "track", m->track, "participant",
                        (json_int_t)owner->peer_id, "muted", m->flag, "by",
                        (json_int_t)c->peer_id));
}

void sig__room_message(sig_conn *c, const sig_msg *m)
{
    sig_room *r = c->room;
    if (!r) {
        sig__ws_send_error(c, SIG_ERR_NOT_IN_ROOM, "this message needs a room join", m->id);
        return;
    }
    switch (m->type) {
    case SIG_MSG_LAYER: {
        int pin = !m->pin ? -1 : m->pin[0] == 'l' ? 0 : m->pin[0] == 'm' ? 1 : 2;
        if (sfu_peer_set_layer(c->peer, m->track, pin, m->max_height) != 0) {
            sig__ws_send_error(c, SIG_ERR_INTERNAL, "cannot reach the media worker", m->id);
            return;
        }
        ack(c, m);
        return;
    }
    case SIG_MSG_FLOOR: {
        if (strcmp(c->role, "mentor") != 0) {
            sig__ws_send_error(c, SIG_ERR_FORBIDDEN, "floor: only a mentor gives the floor", m->id);
            return;
        }
        sig_conn *t = sig__ws_conn_by_peer((uint64_t)m->participant);
        if (!t || t->room != r || !strcmp(t->role, "mentor")) {
            sig__ws_send_error(c, SIG_ERR_NOT_IN_ROOM,
                               "floor: 'participant' is not a mentee of this room", m->id);
            return;
        }
        t->floor = m->flag;
        sfu_peer_set_floor(t->peer, m->flag);
        ack(c, m);
        broadcast(
            r, NULL, "floor",
            json_pack("{s:I,s:b}", "participant", (json_int_t)t->peer_id, "granted", m->flag));
        return;
    }
    case SIG_MSG_MUTE:
        room_mute(c, r, m);
        return;
    default:
        return;
    }
}

void sig__room_notify(sig_conn *c, const char *text, int bcast)
{
    json_t *o = json_loads(text, 0, NULL);
    if (!json_is_object(o)) {
        if (o)
            json_decref(o);
        return;
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type) {
        json_decref(o);
        return;
    }
    char t[32];
    snprintf(t, sizeof t, "%s", type);
    json_object_del(o, "type");
    sig_room *r = c->room;
    if (!bcast || !r) {
        sig__ws_send_fields(c, t, NULL, o);
        return;
    }
    const char *track = json_string_value(json_object_get(o, "track"));
    if (track && !strcmp(t, "track-added")) {
        json_object_set(r->tracks, track, o);
        const char *colon = strchr(track, ':');
        if (!strcmp(c->role, "mentor") && colon)
            sig_rec_track_published(r->router, r->name, c->peer_id, colon + 1);
    }
    else if (track && !strcmp(t, "track-removed"))
        json_object_del(r->tracks, track);
    if (!strcmp(t, "active-speaker"))
        r->active_speaker = c->peer_id;
    int to_all = !strcmp(t, "active-speaker") || !strcmp(t, "recording");
    if (!strcmp(t, "recording"))
        r->recording = !strcmp(json_string_value(json_object_get(o, "state")) ?: "", "on");
    /* The speaker learns that it is the active speaker too; every member
     * hears that recording is on or off. */
    broadcast(r, to_all ? NULL : c, t, o);
}
