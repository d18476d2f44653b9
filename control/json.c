/*
 * Declarative JSON body validation; see json.h for the contract. The body
 * is parsed once with jansson (which refuses invalid UTF-8, \u0000 without
 * JSON_ALLOW_NUL, and, with JSON_REJECT_DUPLICATES, repeated keys); the
 * field table is then checked in one pass that collects every error, so a
 * client learns about all of its mistakes at once. Error messages never
 * echo values, only field names (cut to a bounded length on a character
 * boundary), so problem bodies stay small and valid UTF-8.
 */
#include "control/json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ERRORS 32
#define MAX_FIELD_NAME 64 /* bytes of an unknown field's name echoed back */

long long ctl_utf8_length(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    long long n = 0;
    while (p < end) {
        unsigned c = *p;
        size_t extra;
        unsigned cp;
        if (c < 0x80) {
            p++;
            n++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if ((size_t)(end - p) <= extra)
            return -1;
        for (size_t i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        p += extra + 1;
        n++;
    }
    return n;
}

static int is_atext(int c)
{
    return isalnum(c) || strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

int ctl_json_is_email(const char *s)
{
    size_t len = strlen(s);
    const char *at = strrchr(s, '@');
    if (len < 3 || len > 254 || !at || at == s || (size_t)(at - s) > 64)
        return 0;
    /* Local part: dot-atom (no quoted strings, no leading/trailing/double dots). */
    for (const char *p = s; p < at; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.') {
            if (p == s || p + 1 == at || p[1] == '.')
                return 0;
        } else if (c >= 0x80 || !is_atext(c)) {
            return 0;
        }
    }
    /* Domain: at least two labels of [A-Za-z0-9-], 1..63 each, no edge hyphens. */
    const char *d = at + 1;
    int labels = 0;
    while (*d) {
        const char *dot = strchr(d, '.');
        size_t n = dot ? (size_t)(dot - d) : strlen(d);
        if (n == 0 || n > 63 || d[0] == '-' || d[n - 1] == '-')
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)d[i]) && d[i] != '-')
                return 0;
        labels++;
        if (!dot)
            break;
        d = dot + 1;
        if (!*d)
            return 0; /* trailing dot */
    }
    return labels >= 2;
}

int ctl_json_is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Read exactly n digits at *p into *v. */
static int digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return 0;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return 1;
}

int ctl_json_is_timestamp(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return 0;
    if (*p != 'T' && *p != 't')
        return 0;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (isdigit((unsigned char)*p)) {
            p++;
            n++;
        }
        if (n < 1 || n > 9)
            return 0;
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if (*p != '+' && *p != '-')
        return 0;
    p++;
    int oh, om;
    if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
        return 0;
    return *p == '\0' && oh <= 23 && om <= 59;
}

/* Append {field, message} to errors (bounded). */
static int add_error(json_t *errors, const char *prefix, const char *field, const char *message)
{
    if (json_array_size(errors) >= MAX_ERRORS)
        return 0;
    char name[MAX_FIELD_NAME + 64];
    snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", field);
    /* Cut on a character boundary so the name stays valid UTF-8. */
    size_t n = strlen(name);
    if (n > MAX_FIELD_NAME) {
        n = MAX_FIELD_NAME;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
        name[n] = '\0';
    }
    json_t *e = json_pack("{s:s, s:s}", "field", name, "message", message);
    if (!e || json_array_append_new(errors, e) != 0)
        return -1;
    return 1;
}

static const ctl_json_field *find_field(const ctl_json_field *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

static int is_string_type(ctl_json_type t)
{
    return t == CTL_JSON_STRING || t == CTL_JSON_EMAIL || t == CTL_JSON_UUID ||
           t == CTL_JSON_TIMESTAMP || t == CTL_JSON_ENUM;
}

static int enum_has(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    const char *p = choices ? choices : "";
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vl && strncmp(p, v, n) == 0)
            return 1;
        p = bar ? bar + 1 : p + n;
    }
    return 0;
}

/* Check (and normalise) one string field; returns a message or NULL. */
static const char *check_string(json_t *v, const ctl_json_field *f, char *msg, size_t msglen)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (memchr(s, '\0', len))
        return "must not contain NUL characters";
    size_t start = 0, end = len;
    if (f->flags & CTL_JSON_TRIM) {
        while (start < end && isspace((unsigned char)s[start]))
            start++;
        while (end > start && isspace((unsigned char)s[end - 1]))
            end--;
    }
    if (start != 0 || end != len || (f->flags & CTL_JSON_LOWER)) {
        char *copy = malloc(end - start + 1);
        if (!copy)
            return "could not be processed";
        for (size_t i = start; i < end; i++)
            copy[i - start] = (f->flags & CTL_JSON_LOWER) ? (char)tolower((unsigned char)s[i]) : s[i];
        copy[end - start] = '\0';
        int rc = json_string_setn(v, copy, end - start);
        free(copy);
        if (rc != 0)
            return "could not be processed";
        s = json_string_value(v);
        len = json_string_length(v);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0x7F || (c < 0x20 && !((f->flags & CTL_JSON_MULTILINE) &&
                                        (c == '\n' || c == '\r' || c == '\t'))))
            return "must not contain control characters";
    }
    long long chars = ctl_utf8_length(s, len);
    if (chars < 0)
        return "must be valid UTF-8";
    long long max = f->max > 0 ? f->max : (f->type == CTL_JSON_EMAIL ? 254 : CTL_JSON_MAX_STRING);
    if (f->min > 0 && chars < f->min) {
        if (f->min == 1)
            return "must not be empty";
        snprintf(msg, msglen, "must be at least %lld characters long", f->min);
        return msg;
    }
    if (chars > max) {
        snprintf(msg, msglen, "must be at most %lld characters long", max);
        return msg;
    }
    switch (f->type) {
    case CTL_JSON_EMAIL:
        return ctl_json_is_email(s) ? NULL : "must be an email address";
    case CTL_JSON_UUID:
        return ctl_json_is_uuid(s) ? NULL : "must be a UUID";
    case CTL_JSON_TIMESTAMP:
        return ctl_json_is_timestamp(s) ? NULL
                                        : "must be an RFC 3339 date-time with a time zone";
    case CTL_JSON_ENUM:
        if (enum_has(f->choices, s))
            return NULL;
        snprintf(msg, msglen, "must be one of: ");
        for (const char *p = f->choices ? f->choices : ""; *p; p++) {
            size_t l = strlen(msg);
            if (l + 3 >= msglen)
                break;
            if (*p == '|') {
                msg[l] = ',';
                msg[l + 1] = ' ';
                msg[l + 2] = '\0';
            } else {
                msg[l] = *p;
                msg[l + 1] = '\0';
            }
        }
        return msg;
    default:
        return NULL;
    }
}

static const char *type_name(ctl_json_type t)
{
    switch (t) {
    case CTL_JSON_INT:
        return "must be an integer";
    case CTL_JSON_BOOL:
        return "must be true or false";
    case CTL_JSON_NUMBER:
        return "must be a number";
    case CTL_JSON_OBJECT:
        return "must be an object";
    case CTL_JSON_ARRAY:
        return "must be an array";
    default:
        return "must be a string";
    }
}

/* Check one present, non-null value; returns a message or NULL. */
static const char *check_value(json_t *v, const ctl_json_field *f, char *msg, size_t msglen)
{
    int bounded = f->min != 0 || f->max != 0;
    if (is_string_type(f->type))
        return json_is_string(v) ? check_string(v, f, msg, msglen) : type_name(f->type);
    switch (f->type) {
    case CTL_JSON_INT: {
        if (!json_is_integer(v))
            return type_name(f->type);
        long long x = json_integer_value(v);
        if (bounded && (x < f->min || x > f->max)) {
            snprintf(msg, msglen, "must be between %lld and %lld", f->min, f->max);
            return msg;
        }
        return NULL;
    }
    case CTL_JSON_NUMBER: {
        if (!json_is_number(v))
            return type_name(f->type);
        double x = json_number_value(v);
        if (bounded && (x < (double)f->min || x > (double)f->max)) {
            snprintf(msg, msglen, "must be between %lld and %lld", f->min, f->max);
            return msg;
        }
        return NULL;
    }
    case CTL_JSON_BOOL:
        return json_is_boolean(v) ? NULL : type_name(f->type);
    case CTL_JSON_OBJECT:
    case CTL_JSON_ARRAY: {
        int ok = f->type == CTL_JSON_OBJECT ? json_is_object(v) : json_is_array(v);
        if (!ok)
            return type_name(f->type);
        long long size = (long long)(json_is_object(v) ? json_object_size(v) : json_array_size(v));
        if (f->min > 0 && size < f->min) {
            snprintf(msg, msglen, "must have at least %lld elements", f->min);
            return msg;
        }
        if (f->max > 0 && size > f->max) {
            snprintf(msg, msglen, "must have at most %lld elements", f->max);
            return msg;
        }
        return NULL;
    }
    default:
        return type_name(f->type);
    }
}

int ctl_json_validate(json_t *obj, const ctl_json_field *fields, size_t n, const char *prefix,
                      json_t *errors)
{
    int count = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (find_field(fields, n, key))
            continue;
        int rc = add_error(errors, prefix, key, "is not a known field");
        if (rc < 0)
            return -1;
        count++;
    }
    for (size_t i = 0; i < n; i++) {
        const ctl_json_field *f = &fields[i];
        v = json_object_get(obj, f->name);
        const char *problem = NULL;
        char msg[160];
        if (!v || (json_is_null(v) && (f->flags & CTL_JSON_NULLABLE)))
            problem = (f->flags & CTL_JSON_REQUIRED) ? "is required" : NULL;
        else if (json_is_null(v))
            problem = (f->flags & CTL_JSON_REQUIRED) ? "is required" : "must not be null";
        else
            problem = check_value(v, f, msg, sizeof msg);
        if (!problem)
            continue;
        if (add_error(errors, prefix, f->name, problem) < 0)
            return -1;
        count++;
    }
    return count;
}

/* The problem body of ctl_response_problem with "errors" added. */
void ctl_json_errors_problem(ctl_response *resp, const ctl_request *req, json_t *errors)
{
    ctl_response_problem(resp, 422, "validation-failed", "Unprocessable Content",
                         "the request body has invalid fields; see errors", req);
    json_t *o = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    if (o && json_object_set_new(o, "errors", errors ? errors : json_array()) == 0) {
        char *text = json_dumps(o, JSON_COMPACT);
        if (text) {
            free(resp->body);
            resp->body = text;
            resp->body_len = strlen(text);
        }
    } else if (!o) {
        json_decref(errors);
    }
    json_decref(o);
}

void ctl_json_field_problem(ctl_response *resp, const ctl_request *req, const char *field,
                            const char *message)
{
    json_t *errors = json_array();
    if (errors)
        add_error(errors, NULL, field, message);
    ctl_json_errors_problem(resp, req, errors);
}

void ctl_json_respond(ctl_response *resp, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        ctl_response_problem(resp, 500, "internal", "Internal Server Error",
                             "the response could not be built", NULL);
        return;
    }
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    free(resp->body);
    resp->body = text;
    resp->body_len = strlen(text);
}

/* application/json or application/<x>+json, with at most a utf-8 charset. */
static int json_content_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    const char *semi = strchr(ct, ';');
    size_t n = semi ? (size_t)(semi - ct) : strlen(ct);
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    int ok = (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
             (n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
              strncasecmp(ct + n - 5, "+json", 5) == 0);
    if (!ok || !semi)
        return ok;
    /* Parameters: only charset=utf-8 is meaningful; other charsets are refused. */
    const char *p = semi + 1;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        if (strncasecmp(p, "charset=", 8) == 0) {
            const char *v = p + 8;
            if (*v == '"')
                v++;
            if (strncasecmp(v, "utf-8", 5) != 0 || (v[5] && v[5] != ';' && v[5] != '"' &&
                                                    v[5] != ' '))
                return 0;
        }
        const char *next = strchr(p, ';');
        if (!next)
            break;
        p = next;
    }
    return 1;
}

int ctl_json_body(const ctl_request *req, const ctl_json_field *fields, size_t n, json_t **out,
                  ctl_response *resp)
{
    json_t *root = NULL, *errors = NULL;
    *out = NULL;
    if (!json_content_type(ctl_req_header(req, "content-type"))) {
        ctl_response_problem(resp, 415, "unsupported-media-type", "Unsupported Media Type",
                             "send the body as application/json (UTF-8)", req);
        goto fail;
    }
    if (!req->body || req->body_len == 0) {
        ctl_response_problem(resp, 400, "malformed-body", "Bad Request",
                             "a JSON object body is required", req);
        goto fail;
    }
    if (memchr(req->body, '\0', req->body_len)) {
        ctl_response_problem(resp, 400, "malformed-body", "Bad Request",
                             "the body contains a NUL byte", req);
        goto fail;
    }
    json_error_t jerr;
    root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char detail[300];
        snprintf(detail, sizeof detail, "malformed JSON at line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        for (char *p = detail; *p; p++) /* jansson may quote raw input: keep ASCII */
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F)
                *p = '?';
        ctl_response_problem(resp, 400, "malformed-body", "Bad Request", detail, req);
        goto fail;
    }
    if (!json_is_object(root)) {
        ctl_response_problem(resp, 400, "malformed-body", "Bad Request",
                             "the body must be a JSON object", req);
        goto fail;
    }
    errors = json_array();
    int nerr = errors ? ctl_json_validate(root, fields, n, NULL, errors) : -1;
    if (nerr < 0) {
        ctl_response_problem(resp, 500, "internal", "Internal Server Error",
                             "out of memory validating the body", req);
        goto fail;
    }
    if (nerr > 0) {
        ctl_json_errors_problem(resp, req, errors);
        errors = NULL;
        goto fail;
    }
    json_decref(errors);
    *out = root;
    return 0;
fail:
    json_decref(errors);
    json_decref(root);
    return -1;
}

const char *ctl_json_str(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

long long ctl_json_int(const json_t *o, const char *name, long long def)
{
    json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

double ctl_json_num(const json_t *o, const char *name, double def)
{
    json_t *v = json_object_get(o, name);
    return json_is_number(v) ? json_number_value(v) : def;
}

int ctl_json_bool(const json_t *o, const char *name, int def)
{
    json_t *v = json_object_get(o, name);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

int ctl_json_has(const json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return v && !json_is_null(v);
}
