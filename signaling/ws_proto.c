/*
 * Signaling message schema (see ws_proto.h). Each message type has a table
 * of fields in the manner of Janus' parameter tables: name, JSON type,
 * whether it is required, and limits. sig_proto_parse() checks the
 * envelope (object, "type", "id") and then the table of the type, and only
 * then fills the typed view. Unknown extra fields are ignored so newer
 * clients keep working with older servers.
 */
#include "signaling/ws_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { F_STRING, F_INT, F_BOOL } field_kind;

enum {
    F_REQUIRED = 1 << 0,
    F_NONEMPTY = 1 << 1,
};

typedef struct field_spec {
    const char *name;
    field_kind kind;
    unsigned flags;
    size_t max_len;           /* strings; 0 = no limit beyond the message size */
    long long min, max;       /* ints */
    const char *const *oneof; /* strings: allowed values, NULL-terminated */
} field_spec;

#define MAX_FIELDS 6

typedef struct msg_spec {
    const char *name;
    sig_msg_type type;
    field_spec fields[MAX_FIELDS];
} msg_spec;

static const char *const modes[] = {"echo", "room", NULL};
static const char *const roles[] = {"mentor", "mentee", NULL};
static const char *const pins[] = {"h", "m", "l", NULL};

static const msg_spec specs[] = {
    {"join",
     SIG_MSG_JOIN,
     {{"room", F_STRING, F_REQUIRED | F_NONEMPTY, SIG_ROOM_MAX, 0, 0, NULL},
      {"mode", F_STRING, F_REQUIRED, 16, 0, 0, modes},
      {"role", F_STRING, 0, 16, 0, 0, roles},
      {"name", F_STRING, 0, 64, 0, 0, NULL},
      {"token", F_STRING, 0, 2048, 0, 0, NULL}}},
    {"offer", SIG_MSG_OFFER, {{"sdp", F_STRING, F_REQUIRED | F_NONEMPTY, 0, 0, 0, NULL}}},
    {"candidate",
     SIG_MSG_CANDIDATE,
     {{"candidate", F_STRING, F_REQUIRED | F_NONEMPTY, 1024, 0, 0, NULL},
      {"sdpMid", F_STRING, 0, 32, 0, 0, NULL},
      {"sdpMLineIndex", F_INT, 0, 0, 0, 255, NULL}}},
    {"end-of-candidates", SIG_MSG_END_OF_CANDIDATES, {{NULL}}},
    {"leave", SIG_MSG_LEAVE, {{NULL}}},
    {"ping", SIG_MSG_PING, {{NULL}}},
    {"stats", SIG_MSG_STATS, {{NULL}}},
    {"layer",
     SIG_MSG_LAYER,
     {{"track", F_STRING, F_REQUIRED | F_NONEMPTY, 96, 0, 0, NULL},
      {"pin", F_STRING, 0, 1, 0, 0, pins},
      {"max_height", F_INT, 0, 0, 1, 8640, NULL}}},
    {"floor",
     SIG_MSG_FLOOR,
     {{"participant", F_INT, F_REQUIRED, 0, 1, (long long)1 << 52, NULL},
      {"grant", F_BOOL, F_REQUIRED, 0, 0, 0, NULL}}},
    {"mute",
     SIG_MSG_MUTE,
     {{"track", F_STRING, F_REQUIRED | F_NONEMPTY, 96, 0, 0, NULL},
      {"muted", F_BOOL, F_REQUIRED, 0, 0, 0, NULL}}},
};

#define N_SPECS (sizeof specs / sizeof specs[0])

static int fail(sig_proto_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(sig_proto_error *err, const char *code, const char *fmt, ...)
{
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

const char *sig_msg_type_name(sig_msg_type t)
{
    for (size_t i = 0; i < N_SPECS; i++)
        if (specs[i].type == t)
            return specs[i].name;
    return "?";
}

static int check_field(const msg_spec *ms, const field_spec *f, json_t *v, sig_proto_error *err)
{
    if (!v || json_is_null(v)) {
        if (f->flags & F_REQUIRED)
            return fail(err, SIG_ERR_BAD_REQUEST, "%s: field '%s' is required (%s)", ms->name,
                        f->name,
                        f->kind == F_STRING ? "string"
                        : f->kind == F_INT  ? "integer"
                                            : "boolean");
        return 0;
    }
    if (f->kind == F_BOOL) {
        if (!json_is_boolean(v))
            return fail(err, SIG_ERR_BAD_REQUEST, "%s: field '%s' must be true or false", ms->name,
                        f->name);
        return 0;
    }
    if (f->kind == F_STRING) {
        if (!json_is_string(v))
            return fail(err, SIG_ERR_BAD_REQUEST, "%s: field '%s' must be a string", ms->name,
                        f->name);
        size_t n = json_string_length(v);
        if ((f->flags & F_NONEMPTY) && n == 0)
            return fail(err, SIG_ERR_BAD_REQUEST, "%s: field '%s' must not be empty", ms->name,
                        f->name);
        if (f->max_len && n > f->max_len)
            return fail(err, SIG_ERR_BAD_REQUEST, "%s: field '%s' is longer than %zu characters",
                        ms->name, f->name, f->max_len);
        if (f->oneof) {
            const char *s = json_string_value(v);
            for (const char *const *o = f->oneof; *o; o++)
                if (strcmp(*o, s) == 0)
                    return 0;
            return fail(err, SIG_ERR_BAD_REQUEST, "%s: field '%s' has an unsupported value",
                        ms->name, f->name);
        }
        return 0;
    }
    if (!json_is_integer(v))
        return fail(err, SIG_ERR_BAD_REQUEST, "%s: field '%s' must be an integer", ms->name,
                    f->name);
    json_int_t i = json_integer_value(v);
    if (i < f->min || i > f->max)
        return fail(err, SIG_ERR_BAD_REQUEST, "%s: field '%s' must be within %lld..%lld", ms->name,
                    f->name, f->min, f->max);
    return 0;
}

static const char *str_field(json_t *root, const char *name)
{
    json_t *v = json_object_get(root, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int sig_proto_parse(const char *buf, size_t len, sig_msg *out, sig_proto_error *err)
{
    memset(out, 0, sizeof *out);
    out->mline = -1;
    err->code = NULL;
    err->message[0] = '\0';
    json_error_t jerr;
    out->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!out->root)
        return fail(err, SIG_ERR_BAD_JSON, "invalid JSON at line %d column %d: %s", jerr.line,
                    jerr.column, jerr.text);
    if (!json_is_object(out->root))
        return fail(err, SIG_ERR_BAD_JSON, "a message must be a JSON object");
    json_t *id = json_object_get(out->root, "id");
    if (id && !json_is_null(id)) {
        if (json_is_string(id) && json_string_length(id) <= SIG_ID_MAX)
            out->id = id;
        else if (json_is_integer(id))
            out->id = id;
        else
            return fail(err, SIG_ERR_BAD_REQUEST,
                        "field 'id' must be a string of at most %d characters or an integer",
                        SIG_ID_MAX);
    }
    json_t *type = json_object_get(out->root, "type");
    if (!json_is_string(type))
        return fail(err, SIG_ERR_UNKNOWN_TYPE, "field 'type' (string) is required");
    const msg_spec *ms = NULL;
    for (size_t i = 0; i < N_SPECS; i++)
        if (strcmp(specs[i].name, json_string_value(type)) == 0)
            ms = &specs[i];
    if (!ms) {
        char shown[40];
        snprintf(shown, sizeof shown, "%s", json_string_value(type));
        return fail(err, SIG_ERR_UNKNOWN_TYPE, "unknown message type '%s'", shown);
    }
    for (int i = 0; i < MAX_FIELDS && ms->fields[i].name; i++)
        if (check_field(ms, &ms->fields[i], json_object_get(out->root, ms->fields[i].name), err))
            return -1;
    out->type = ms->type;
    out->room = str_field(out->root, "room");
    out->mode = str_field(out->root, "mode");
    out->role = str_field(out->root, "role");
    out->name = str_field(out->root, "name");
    out->token = str_field(out->root, "token");
    out->track = str_field(out->root, "track");
    out->pin = str_field(out->root, "pin");
    json_t *mh = json_object_get(out->root, "max_height");
    if (json_is_integer(mh))
        out->max_height = (int)json_integer_value(mh);
    json_t *pa = json_object_get(out->root, "participant");
    if (json_is_integer(pa))
        out->participant = (long long)json_integer_value(pa);
    json_t *fl = json_object_get(out->root, ms->type == SIG_MSG_FLOOR ? "grant" : "muted");
    out->flag = json_is_true(fl);
    out->sdp = str_field(out->root, "sdp");
    if (out->sdp)
        out->sdp_len = json_string_length(json_object_get(out->root, "sdp"));
    out->candidate = str_field(out->root, "candidate");
    out->sdp_mid = str_field(out->root, "sdpMid");
    json_t *ml = json_object_get(out->root, "sdpMLineIndex");
    if (json_is_integer(ml))
        out->mline = (int)json_integer_value(ml);
    return 0;
}

void sig_msg_clear(sig_msg *m)
{
    if (m->root)
        json_decref(m->root);
    memset(m, 0, sizeof *m);
    m->mline = -1;
}

char *sig_proto_build(const char *type, const json_t *id, const json_t *fields)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string(type));
    if (id)
        json_object_set_new(o, "id", json_deep_copy(id));
    if (fields) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)fields, k, v)
        {
            if (strcmp(k, "type") != 0 && strcmp(k, "id") != 0)
                json_object_set(o, k, v);
        }
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

char *sig_proto_error_json(const char *code, const char *message, const json_t *id)
{
    /* Messages may quote peer input: keep printable ASCII only. */
    char clean[512];
    size_t n = 0;
    for (const char *c = message ? message : ""; *c && n + 1 < sizeof clean; c++)
        clean[n++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
    clean[n] = '\0';
    json_t *f = json_pack("{s:s, s:s}", "code", code, "message", clean);
    if (!f)
        return NULL;
    char *s = sig_proto_build("error", id, f);
    json_decref(f);
    return s;
}
