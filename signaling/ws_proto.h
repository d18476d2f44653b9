/*
 * Signaling protocol v0 message schema (docs/signaling.md): parsing and
 * validation of client messages, and builders for server messages. Pure
 * code over jansson: no libwebsockets, no globals, no logging, so the
 * parser can be fuzzed alone (tests/fuzz/fuzz_signaling.c).
 *
 * Every client message is a JSON object with a "type" and an optional "id"
 * (a string of at most 64 characters or an integer) that the server echoes
 * in its reply. The fields of each type are described by a table (name,
 * JSON type, required or not, limits) and checked before any handler runs.
 */
#ifndef ML_SIGNALING_WS_PROTO_H
#define ML_SIGNALING_WS_PROTO_H

#include <jansson.h>
#include <stddef.h>

/* Error codes sent in {"type":"error","code":...}. */
#define SIG_ERR_BAD_JSON "bad_json"         /* not JSON, not an object, binary frame */
#define SIG_ERR_UNKNOWN_TYPE "unknown_type" /* "type" missing or not known */
#define SIG_ERR_BAD_REQUEST "bad_request"   /* a field is missing, of the wrong type, too long */
#define SIG_ERR_BAD_SDP "bad_sdp"           /* the offer does not parse or cannot be answered */
#define SIG_ERR_TOO_LARGE "too_large"       /* message above ws_max_message_bytes (then closed) */
#define SIG_ERR_NOT_JOINED "not_joined"     /* offer/candidate/... before join */
#define SIG_ERR_ALREADY_JOINED "already_joined"
#define SIG_ERR_INTERNAL "internal"       /* server-side failure */
#define SIG_ERR_GOING_AWAY "going_away"   /* server is draining; no new joins */
#define SIG_ERR_CLOSED "closed"           /* the peer connection is already closed */
#define SIG_ERR_ROOM_FULL "room_full"     /* room_max_participants reached */
#define SIG_ERR_FORBIDDEN "forbidden"     /* the role does not allow this */
#define SIG_ERR_NOT_IN_ROOM "not_in_room" /* a room message on an echo peer, or unknown target */
#define SIG_ERR_UNAUTHORIZED "unauthorized" /* room join without a valid room token */

#define SIG_ID_MAX 64
#define SIG_ROOM_MAX 64

typedef enum {
    SIG_MSG_JOIN = 0,
    SIG_MSG_OFFER,
    SIG_MSG_CANDIDATE,
    SIG_MSG_END_OF_CANDIDATES,
    SIG_MSG_LEAVE,
    SIG_MSG_PING,
    SIG_MSG_STATS,
    SIG_MSG_LAYER, /* room mode */
    SIG_MSG_FLOOR,
    SIG_MSG_MUTE,
    SIG_MSG_COUNT_
} sig_msg_type;

/* A validated client message. Strings point into root and live as long as
 * the message. */
typedef struct sig_msg {
    sig_msg_type type;
    json_t *root;          /* owned; freed by sig_msg_clear() */
    json_t *id;            /* borrowed from root; NULL when absent */
    const char *room;      /* join */
    const char *mode;      /* join: "echo" or "room" */
    const char *role;      /* join (room): "mentor" or "mentee" */
    const char *name;      /* join (room): display name, may be NULL */
    const char *token;     /* join (room): room token from POST /api/v1/sessions/{id}/join */
    const char *track;     /* layer, mute: "<peer id>:<mid>" */
    const char *pin;       /* layer: "h", "m", "l"; NULL when absent */
    int max_height;        /* layer: 0 when absent */
    long long participant; /* floor */
    int flag;              /* floor: grant; mute: muted */
    const char *sdp;       /* offer */
    size_t sdp_len;
    const char *candidate; /* candidate: "candidate:..." */
    const char *sdp_mid;   /* candidate; NULL when absent */
    int mline;             /* candidate sdpMLineIndex; -1 when absent */
} sig_msg;

typedef struct sig_proto_error {
    const char *code;  /* one of SIG_ERR_* */
    char message[256]; /* for humans, names the field */
} sig_proto_error;

/* Parse and validate one message of len bytes (need not be NUL-terminated).
 * Returns 0 with *out filled, or -1 with *err filled; in both cases call
 * sig_msg_clear(out) afterwards (on error out->id may still be set, so the
 * error reply can carry it). */
int sig_proto_parse(const char *buf, size_t len, sig_msg *out, sig_proto_error *err);

/* Release the message. Safe on a zeroed or already cleared message. */
void sig_msg_clear(sig_msg *m);

/* Wire name of a message type ("join", "end-of-candidates", ...). */
const char *sig_msg_type_name(sig_msg_type t);

/* Serialize {"type": type, "id": id (when non-NULL), ...fields}. fields is
 * a JSON object whose members are copied in, or NULL; it is NOT stolen.
 * Returns a malloc'd NUL-terminated string (free() it) or NULL. */
char *sig_proto_build(const char *type, const json_t *id, const json_t *fields);

/* {"type":"error","code":code,"message":message,"id":id}; id may be NULL. */
char *sig_proto_error_json(const char *code, const char *message, const json_t *id);

#endif
