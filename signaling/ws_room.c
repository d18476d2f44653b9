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
    /* Large room (more members than room_roster_limit): mentees hold the
     * partial roster and get participant-count instead of every join. */
    int large;
    int64_t count_sent_us;            /* last participant-count or roster switch (monotonic) */
    int count_timer;                  /* count_sul is scheduled */
    lws_sorted_usec_list_t count_sul; /* the trailing participant-count */
};

#define COUNT_INTERVAL_US 1000000 /* participant-count at most once a second */

static GHashTable *rooms; /* name -> sig_room */

/* Who gets a room event: everyone, or only the members holding the whole
 * roster, or only those holding the partial one. */
typedef enum { TO_ALL, TO_FULL_ROSTER, TO_PARTIAL_ROSTER } audience;

/* Encoded once, queued for every member of the audience but `except`: a
 * room of N members costs one encoding per event, not N. */
static void send_to(sig_room *r, sig_conn *except, audience to, const char *type, json_t *fields)
{
    char *text = sig_proto_build(type, NULL, fields);
    if (text) {
        size_t len = strlen(text);
        for (guint i = 0; i < r->members->len; i++) {
            sig_conn *m = g_ptr_array_index(r->members, i);
            if (m == except || (to == TO_FULL_ROSTER && !m->roster_full) ||
                (to == TO_PARTIAL_ROSTER && m->roster_full))
                continue;
            sig__ws_send_copy(m, text, len);
        }
        free(text);
    }
    if (fields)
        json_decref(fields);
}

static void broadcast(sig_room *r, sig_conn *except, const char *type, json_t *fields)
{
    send_to(r, except, TO_ALL, type, fields);
}

static int is_mentor(const sig_conn *c)
{
    return !strcmp(c->role, "mentor");
}

static json_t *participant_json(const sig_conn *c)
{
    return json_pack("{s:I,s:s,s:s,s:b}", "id", (json_int_t)c->peer_id, "name", c->name, "role",
                     c->role, "floor", is_mentor(c) || c->floor);
}

/* The members `viewer` is told about: all others, or (partial) those that
 * were announced to everyone (mentors, mentees given the floor). */
static json_t *roster_json(const sig_room *r, const sig_conn *viewer, int full)
{
    json_t *parts = json_array();
    for (guint i = 0; i < r->members->len; i++) {
        const sig_conn *m = g_ptr_array_index(r->members, i);
        if (m != viewer && (full || m->announced))
            json_array_append_new(parts, participant_json(m));
    }
    return parts;
}

/* ---- large rooms -------------------------------------------------------- */

/* Tell the partial-roster members whose count is out of date (each was
 * told one in its joined or roster too), one encoding for all. */
static void send_count(sig_room *r)
{
    int n = (int)r->members->len;
    char *text = NULL;
    size_t len = 0;
    for (guint i = 0; r->large && i < r->members->len; i++) {
        sig_conn *m = g_ptr_array_index(r->members, i);
        if (m->roster_full || m->count_told == n)
            continue;
        if (!text) {
            json_t *f = json_pack("{s:i}", "count", n);
            text = sig_proto_build("participant-count", NULL, f);
            json_decref(f);
            if (!text)
                return;
            len = strlen(text);
        }
        sig__ws_send_copy(m, text, len);
        m->count_told = n;
    }
    if (text) {
        free(text);
        r->count_sent_us = g_get_monotonic_time();
    }
}

static void count_due(lws_sorted_usec_list_t *sul)
{
    sig_room *r = lws_container_of(sul, sig_room, count_sul);
    r->count_timer = 0;
    send_count(r);
}

/* The member count changed: tell the partial-roster members at once, or
 * at the end of the current second (a class start of hundreds of joins
 * costs them one message a second, not one per join). */
static void count_changed(sig_room *r)
{
    if (!r->large || r->count_timer)
        return;
    int64_t wait = r->count_sent_us + COUNT_INTERVAL_US - g_get_monotonic_time();
    if (wait <= 0) {
        send_count(r);
        return;
    }
    struct lws_context *ctx = sig__ws_context();
    if (!ctx) {
        send_count(r);
        return;
    }
    r->count_timer = 1;
    lws_sul_schedule(ctx, 0, &r->count_sul, count_due, (lws_usec_t)wait);
}

/* Switch the room between the whole roster for everyone and the partial
 * one for mentees when its size (n members) crosses the limit: above
 * room_roster_limit it becomes large, at half the limit or less it is
 * small again (no back and forth around the limit). Members changing view
 * get a `roster` that replaces what they knew. */
static void roster_mode(sig_room *r, int n)
{
    int limit = sig__ws_roster_limit();
    int large = r->large ? limit > 0 && n > limit / 2 : limit > 0 && n > limit;
    if (large == r->large)
        return;
    r->large = large;
    ML_INFO("ws", "room '%s' has %d members: mentees get the %s roster", r->name, n,
            large ? "partial" : "whole");
    for (guint i = 0; i < r->members->len; i++) {
        sig_conn *m = g_ptr_array_index(r->members, i);
        if (is_mentor(m) || m->roster_full == !large)
            continue;
        m->roster_full = !large;
        m->count_told = n;
        sig__ws_send_fields(m, "roster", NULL,
                            json_pack("{s:o,s:i,s:s}", "participants",
                                      roster_json(r, m, m->roster_full), "count", n, "roster",
                                      m->roster_full ? "full" : "partial"));
    }
    if (large)
        r->count_sent_us = g_get_monotonic_time(); /* the roster messages carried the count */
    else if (r->count_timer) {
        lws_sul_cancel(&r->count_sul);
        r->count_timer = 0;
    }
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
    c->announced = mentor;
    int n = (int)r->members->len + 1;
    roster_mode(r, n); /* the others first: the joiner is not a member yet */
    c->roster_full = mentor || !r->large;
    c->count_told = n;
    json_t *parts = roster_json(r, c, c->roster_full);
    json_t *tracks = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(r->tracks, k, v) json_array_append(tracks, v);
    g_ptr_array_add(r->members, c);
    ML_INFO("ws", "peer %llu joined room '%s' as %s (%d members)", (unsigned long long)c->peer_id,
            r->name, c->role, n);
    sig__ws_send_fields(
        c, "joined", m->id,
        json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:i,s:s,s:o,s:o,s:b}", "peer_id",
                  (json_int_t)c->peer_id, "room", r->name, "mode", "room", "role", c->role, "name",
                  c->name, "ice_servers", sig__ws_ice_servers(c->peer_id), "participants", parts,
                  "count", n, "roster", c->roster_full ? "full" : "partial", "tracks", tracks,
                  "active_speaker",
                  r->active_speaker ? json_integer((json_int_t)r->active_speaker) : json_null(),
                  "recording", r->recording));
    send_to(r, c, c->announced ? TO_ALL : TO_FULL_ROSTER, "participant-joined",
            json_pack("{s:o}", "participant", participant_json(c)));
    count_changed(r);
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
    send_to(r, NULL, c->announced ? TO_ALL : TO_FULL_ROSTER, "participant-left",
            json_pack("{s:I}", "participant", (json_int_t)c->peer_id));
    roster_mode(r, (int)r->members->len);
    count_changed(r);
}

void sig__room_release(sig_room *r)
{
    if (!r || r->members->len > 0)
        return;
    if (r->count_timer)
        lws_sul_cancel(&r->count_sul);
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
    int mentor = is_mentor(c);
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
        if (!is_mentor(c)) {
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
        if (m->flag && !t->announced) {
            /* From now on everyone knows this mentee (its tracks, its
             * leave): members with the partial roster learn of it first. */
            t->announced = 1;
            send_to(r, t, TO_PARTIAL_ROSTER, "participant-joined",
                    json_pack("{s:o}", "participant", participant_json(t)));
        }
        json_t *fl =
            json_pack("{s:I,s:b}", "participant", (json_int_t)t->peer_id, "granted", m->flag);
        if (t->announced) {
            broadcast(r, NULL, "floor", fl);
        } else {
            /* Taking back a floor never given: not news to those who never
             * heard of this mentee. */
            if (!t->roster_full)
                sig__ws_send_fields(t, "floor", NULL, json_deep_copy(fl));
            send_to(r, NULL, TO_FULL_ROSTER, "floor", fl);
        }
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
        if (is_mentor(c) && colon)
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
