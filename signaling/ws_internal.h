/*
 * Internals shared by ws.c (connections, queues, echo mode) and ws_room.c
 * (rooms). Service thread only.
 */
#ifndef ML_SIGNALING_WS_INTERNAL_H
#define ML_SIGNALING_WS_INTERNAL_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdint.h>

#include "sfu/peer.h"
#include "signaling/ws_proto.h"

#define MAX_PENDING 32

typedef struct sig_room sig_room;

typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes, then the message */
} out_msg;

typedef struct pending_id {
    uint64_t req;
    json_t *id;
} pending_id;

typedef struct sig_conn {
    struct lws *wsi;
    struct sig_conn *prev, *next;
    uint64_t peer_id; /* 0 when not joined */
    sfu_peer *peer;
    char *rx;
    size_t rx_len, rx_cap;
    int in_msg, rx_skip, rx_binary, rx_too_large;
    size_t rx_skipped; /* bytes discarded of an oversized message */
    out_msg *head, *tail;
    size_t out_count, out_bytes;
    int close_after_flush;
    enum lws_close_status close_status;
    const char *close_reason;
    pending_id pending[MAX_PENDING];
    unsigned pending_next;
    /* Room mode. */
    sig_room *room;
    char role[8]; /* "mentor" / "mentee" */
    char name[72];
    int floor; /* a mentee that may publish */
    /* Roster (docs/signaling.md, "Large rooms"): this member is told every
     * join and leave (mentors always; mentees while the room is small). */
    int roster_full;
    /* Announced to members with the partial roster too (a mentor, a mentee
     * once given the floor): its leave goes to everyone. */
    int announced;
    int count_told; /* partial roster: the member count this member was last told */
} sig_conn;

/* ws.c */
void sig__ws_send_fields(sig_conn *c, const char *type, const json_t *id, json_t *fields);
/* Queue a copy of an already encoded message (one encoding for many
 * recipients). */
void sig__ws_send_copy(sig_conn *c, const char *text, size_t len);
void sig__ws_send_error(sig_conn *c, const char *code, const char *message, const json_t *id);
uint64_t sig__ws_remember_id(sig_conn *c, const json_t *id);
/* Create the peer of c (room: in that room) and index it. 0 or -1. */
int sig__ws_attach_peer(sig_conn *c, sfu_router *room, int may_publish);
/* ICE servers for a join reply. */
json_t *sig__ws_ice_servers(uint64_t peer_id);
sfu_peer_env *sig__ws_env(void);
int sig__ws_max_participants(void);
/* Config room_roster_limit (0: whole roster for everyone). */
int sig__ws_roster_limit(void);
struct lws_context *sig__ws_context(void);
/* Whether room joins need a room token (config room_join_tokens). */
int sig__ws_room_tokens_required(void);
sig_conn *sig__ws_conn_by_peer(uint64_t peer_id);

/* ws_room.c */
void sig__room_join(sig_conn *c, const sig_msg *m);
/* The member leaves (leave, closed socket, closed peer): broadcast and
 * release the room when empty. Call before the peer is closed. */
void sig__room_leave(sig_conn *c);
/* Free the room when its last member left (after closing the peer). */
void sig__room_release(sig_room *r);
void sig__room_offer(sig_conn *c, const sig_msg *m);
void sig__room_message(sig_conn *c, const sig_msg *m);
/* A NOTIFY event of c's peer. */
void sig__room_notify(sig_conn *c, const char *json, int broadcast);

#endif
