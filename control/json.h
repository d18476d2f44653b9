/*
 * Declarative validation of JSON request bodies, in the manner of Janus'
 * parameter tables: a handler describes the fields it accepts in a table
 * and ctl_json_body() either hands back a parsed, checked object or fills
 * the response with a problem document:
 *
 *   415  the Content-Type is not JSON (application/json or a +json type)
 *   400  empty body, malformed JSON, invalid UTF-8, NUL bytes (raw or
 *        \u0000), duplicate keys, or a top level that is not an object
 *   422  field errors, all of them at once, as
 *        "errors": [{"field": "email", "message": "must be an email address"}]
 *        for missing required fields, wrong types, values out of range and
 *        unknown fields (refused by name, so that a typo is not ignored)
 *
 *   static const ctl_json_field fields[] = {
 *       {"email", CTL_JSON_EMAIL, CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_LOWER, 3, 254},
 *       {"name", CTL_JSON_STRING, CTL_JSON_TRIM, 1, 100},
 *       {"age", CTL_JSON_INT, 0, 13, 130},
 *   };
 *   json_t *body;
 *   if (ctl_json_body(req, fields, CTL_JSON_NFIELDS(fields), &body, resp) != 0)
 *       return;                              // resp holds the problem
 *   const char *email = ctl_json_str(body, "email");
 *   ...
 *   json_decref(body);
 *
 * Bounds (min, max): string length in characters (Unicode code points, after
 * trimming), integer and number values, array element counts, object member
 * counts. max == 0 with min == 0 means "no bound", except that strings are
 * always capped at CTL_JSON_MAX_STRING characters. Strings are NUL-free
 * UTF-8 (jansson guarantees it; we reject \u0000) and never contain other
 * control characters unless CTL_JSON_MULTILINE allows \n, \r and \t.
 */
#ifndef ML_CONTROL_JSON_H
#define ML_CONTROL_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "control/api.h"

typedef enum ctl_json_type {
    CTL_JSON_STRING = 0,
    CTL_JSON_INT,       /* a JSON integer (no fraction, no exponent) */
    CTL_JSON_BOOL,
    CTL_JSON_NUMBER,    /* integer or real */
    CTL_JSON_OBJECT,    /* any object (validate nested ones with ctl_json_validate) */
    CTL_JSON_ARRAY,     /* any array */
    CTL_JSON_EMAIL,     /* string: local@domain, no spaces, at most 254 characters */
    CTL_JSON_UUID,      /* string: 8-4-4-4-12 hex digits (canonical form, any case) */
    CTL_JSON_TIMESTAMP, /* string: RFC 3339 date-time with a zone (Z or +hh:mm) */
    CTL_JSON_ENUM,      /* string: one of the '|'-separated words in .choices */
} ctl_json_type;

/* Field flags. */
#define CTL_JSON_REQUIRED 0x01u  /* must be present (and not null) */
#define CTL_JSON_TRIM 0x02u      /* strip leading/trailing white space first */
#define CTL_JSON_LOWER 0x04u     /* ASCII-lowercase the string first */
#define CTL_JSON_NULLABLE 0x08u  /* null is accepted (and read as absent) */
#define CTL_JSON_MULTILINE 0x10u /* strings may contain \n, \r and \t */

/* Longest string accepted when a field sets no max (characters). */
#define CTL_JSON_MAX_STRING 10000

typedef struct ctl_json_field {
    const char *name;
    ctl_json_type type;
    unsigned flags;
    long long min, max;  /* see the file comment; both 0 = unbounded */
    const char *choices; /* CTL_JSON_ENUM: "mentor|mentee" */
} ctl_json_field;

#define CTL_JSON_NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* Parse and validate the request body against `fields`. 0 and *out (a new
 * reference the caller releases with json_decref), or -1 with a 415/400/422
 * problem in resp. String fields are rewritten in *out after TRIM/LOWER. */
int ctl_json_body(const ctl_request *req, const ctl_json_field *fields, size_t n, json_t **out,
                  ctl_response *resp);

/* Validate an object already parsed (a nested object, or a body parsed
 * elsewhere). Appends {field, message} objects to `errors` (a JSON array),
 * prefixing field names with `prefix` ("address." -> "address.city") when
 * given. Returns the number of errors added (0 = valid), -1 on allocation
 * failure. Applies TRIM/LOWER in place. */
int ctl_json_validate(json_t *obj, const ctl_json_field *fields, size_t n, const char *prefix,
                      json_t *errors);

/* Fill resp with a 422 problem carrying `errors` (a JSON array of
 * {field, message}); steals the reference to errors. */
void ctl_json_errors_problem(ctl_response *resp, const ctl_request *req, json_t *errors);
/* Fill resp with a 422 problem for one field (e.g. "email": "is already
 * registered" found after validation). */
void ctl_json_field_problem(ctl_response *resp, const ctl_request *req, const char *field,
                            const char *message);

/* Serialize `o` as the response body with `status`; steals the reference.
 * On allocation failure answers 500. */
void ctl_json_respond(ctl_response *resp, int status, json_t *o);

/* Readers for validated objects. Absent or null fields give the default. */
const char *ctl_json_str(const json_t *o, const char *name); /* NULL when absent */
long long ctl_json_int(const json_t *o, const char *name, long long def);
double ctl_json_num(const json_t *o, const char *name, double def);
int ctl_json_bool(const json_t *o, const char *name, int def);
/* 1 when the field is present and not null. */
int ctl_json_has(const json_t *o, const char *name);

/* Value checks used by the validator, for query parameters and the like. */
int ctl_json_is_email(const char *s);
int ctl_json_is_uuid(const char *s);
int ctl_json_is_timestamp(const char *s); /* RFC 3339 date-time with zone */
/* Length of a valid UTF-8 string in code points, or -1 if not valid UTF-8. */
long long ctl_utf8_length(const char *s, size_t len);

#endif
