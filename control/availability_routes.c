/*
 * Availability, session types and slots.
 *
 *   GET  /api/v1/mentor/availability           the caller's rules (mentor)
 *   PUT  /api/v1/mentor/availability           replace rules, overrides,
 *                                              blackouts at once (mentor)
 *   POST /api/v1/mentor/session-types          new session type (mentor)
 *   GET  /api/v1/mentors/{id}/session-types    public
 *   GET  /api/v1/session-types/{id}/slots?from=&to=&tz=   public
 *
 * Bodies are validated here (shape, ranges, end after start); overlaps of
 * rules are refused by the exclusion constraints of schema/0005_booking.sql
 * (409) and the whole replacement runs in one statement, so a refused PUT
 * leaves the previous availability untouched. Slots are computed by
 * booking_slots_json() in PostgreSQL, in the mentor's zone, and shown in the
 * viewer's zone (tz, default UTC).
 */
#include "control/booking_internal.h"
#include "control/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "HH:MM" (00:00..23:59), or "24:00" when end is allowed. */
static int hhmm(const char *s, int allow_24)
{
    if (!s || strlen(s) != 5 || s[2] != ':')
        return 0;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h == 24 && m == 0)
        return allow_24;
    return h < 24 && m < 60;
}

static const ctl_json_field rule_fields[] = {
    {"weekday", CTL_JSON_INT, CTL_JSON_REQUIRED, 1, 7, NULL},
    {"start", CTL_JSON_STRING, CTL_JSON_REQUIRED, 5, 5, NULL},
    {"end", CTL_JSON_STRING, CTL_JSON_REQUIRED, 5, 5, NULL},
};
static const ctl_json_field override_fields[] = {
    {"date", CTL_JSON_STRING, CTL_JSON_REQUIRED, 10, 10, NULL},
    {"start", CTL_JSON_STRING, CTL_JSON_NULLABLE, 5, 5, NULL},
    {"end", CTL_JSON_STRING, CTL_JSON_NULLABLE, 5, 5, NULL},
};
static const ctl_json_field blackout_fields[] = {
    {"start", CTL_JSON_TIMESTAMP, CTL_JSON_REQUIRED, 0, 0, NULL},
    {"end", CTL_JSON_TIMESTAMP, CTL_JSON_REQUIRED, 0, 0, NULL},
};
static const ctl_json_field availability_fields[] = {
    {"rules", CTL_JSON_ARRAY, 0, 0, 100, NULL},
    {"overrides", CTL_JSON_ARRAY, 0, 0, 500, NULL},
    {"blackouts", CTL_JSON_ARRAY, 0, 0, 500, NULL},
};

static void add_error(json_t *errors, const char *field, size_t i, const char *msg)
{
    char f[64];
    snprintf(f, sizeof f, "%s[%zu]", field, i);
    json_array_append_new(errors, json_pack("{s:s, s:s}", "field", f, "message", msg));
}

/* Check every element of one array; errors appended. */
static void check_items(json_t *body, const char *name, const ctl_json_field *fields, size_t nf,
                        json_t *errors)
{
    json_t *arr = json_object_get(body, name), *x;
    size_t i;
    json_array_foreach(arr, i, x)
    {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s[%zu].", name, i);
        if (!json_is_object(x)) {
            add_error(errors, name, i, "must be an object");
            continue;
        }
        if (ctl_json_validate(x, fields, nf, prefix, errors) != 0)
            continue;
        const char *s = ctl_json_str(x, "start"), *e = ctl_json_str(x, "end");
        if (strcmp(name, "blackouts") == 0)
            continue; /* order checked by PostgreSQL: lower bound must not exceed upper */
        if (strcmp(name, "overrides") == 0) {
            const char *d = ctl_json_str(x, "date");
            if (!d || d[4] != '-' || d[7] != '-')
                add_error(errors, name, i, "date must be YYYY-MM-DD");
            if (!s && !e)
                continue; /* whole day off */
        }
        if (!hhmm(s, 0) || !hhmm(e, 1))
            add_error(errors, name, i, "start and end must be HH:MM (end may be 24:00)");
        else if (strcmp(e, s) <= 0)
            add_error(errors, name, i, "end must be after start");
    }
}

static void put_availability(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    json_t *body = NULL;
    if (ctl_json_body(req, availability_fields, CTL_JSON_NFIELDS(availability_fields), &body,
                      resp) != 0)
        return;
    json_t *errors = json_array();
    check_items(body, "rules", rule_fields, CTL_JSON_NFIELDS(rule_fields), errors);
    check_items(body, "overrides", override_fields, CTL_JSON_NFIELDS(override_fields), errors);
    check_items(body, "blackouts", blackout_fields, CTL_JSON_NFIELDS(blackout_fields), errors);
    if (json_array_size(errors) > 0) {
        ctl_json_errors_problem(resp, req, errors);
        json_decref(body);
        return;
    }
    json_decref(errors);
    char uid[32];
    char *b = json_dumps(body, JSON_COMPACT);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[2] = {uid, b};
    ctl_bk__respond(ctx, req, resp, 200,
                    "SELECT booking_put_availability($1::bigint, $2::jsonb)::text", 2, p);
    free(b);
    json_decref(body);
}

static void get_availability(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_READ) != 0)
        return;
    char uid[32];
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[1] = {uid};
    ctl_bk__respond(ctx, req, resp, 200, "SELECT booking_availability_json($1::bigint)::text", 1,
                    p);
}

static const ctl_json_field type_fields[] = {
    {"title", CTL_JSON_STRING, CTL_JSON_REQUIRED | CTL_JSON_TRIM, 1, 100, NULL},
    {"duration_min", CTL_JSON_INT, CTL_JSON_REQUIRED, 5, 480, NULL},
    {"buffer_before_min", CTL_JSON_INT, 0, 0, 240, NULL},
    {"buffer_after_min", CTL_JSON_INT, 0, 0, 240, NULL},
    {"min_notice_min", CTL_JSON_INT, 0, 0, 43200, NULL},
    {"horizon_days", CTL_JSON_INT, 0, 1, 365, NULL},
    {"capacity", CTL_JSON_INT, 0, 1, 1000, NULL},
    {"price_cents", CTL_JSON_INT, 0, 0, 100000000, NULL},
    {"recorded", CTL_JSON_BOOL, 0, 0, 0, NULL},
};

static void post_type(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    json_t *body = NULL;
    if (ctl_json_body(req, type_fields, CTL_JSON_NFIELDS(type_fields), &body, resp) != 0)
        return;
    char uid[32];
    char *b = json_dumps(body, JSON_COMPACT);
    snprintf(uid, sizeof uid, "%lld", req->who.user_id);
    const char *p[2] = {uid, b};
    ctl_bk__respond(ctx, req, resp, 201, "SELECT booking_create_type($1::bigint, $2::jsonb)::text",
                    2, p);
    free(b);
    json_decref(body);
}

static void list_types(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_READ) != 0)
        return;
    long long id = ctl_bk__id_param(req, resp, "id");
    if (id <= 0)
        return;
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[1] = {ids};
    ctl_bk__respond(ctx, req, resp, 200,
                    "SELECT jsonb_build_object('items', booking_list_types(user_id))::text "
                    "FROM mentor_profiles WHERE user_id = $1::bigint",
                    1, p);
}

static void slots(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_READ) != 0)
        return;
    long long id = ctl_bk__id_param(req, resp, "id");
    if (id <= 0)
        return;
    char from[64], to[64], tz[80] = "UTC", ids[32];
    int hf = ctl_req_query(req, "from", from, sizeof from);
    int ht = ctl_req_query(req, "to", to, sizeof to);
    int hz = ctl_req_query(req, "tz", tz, sizeof tz);
    if (hf != 1 || ht != 1 || !ctl_json_is_timestamp(from) || !ctl_json_is_timestamp(to)) {
        ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request",
                             "from and to are required RFC 3339 date-times with a time zone", req);
        return;
    }
    if (hz < 0 || (hz == 1 && !tz[0])) {
        ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request",
                             "tz must be an IANA time zone name", req);
        return;
    }
    if (hz == 0)
        snprintf(tz, sizeof tz, "UTC");
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[4] = {ids, from, to, tz};
    ctl_bk__respond(
        ctx, req, resp, 200,
        "SELECT booking_slots_json($1::bigint, $2::timestamptz, $3::timestamptz, $4)::text", 4, p);
}

const ctl_route ctl_availability_routes[] = {
    {"GET", "/api/v1/mentor/availability", get_availability, CTL_PERM_MENTOR,
     "The caller's weekly rules, date overrides and blackouts"},
    {"PUT", "/api/v1/mentor/availability", put_availability, CTL_PERM_MENTOR,
     "Replace the caller's weekly rules, date overrides and blackouts"},
    {"POST", "/api/v1/mentor/session-types", post_type, CTL_PERM_MENTOR,
     "Create a session type (length, buffers, notice, horizon, capacity, price)"},
    {"GET", "/api/v1/mentors/{id}/session-types", list_types, CTL_PERM_PUBLIC,
     "A mentor's active session types"},
    {"GET", "/api/v1/session-types/{id}/slots", slots, CTL_PERM_PUBLIC,
     "Bookable slots between from and to, shown in the viewer's time zone"},
};
const size_t ctl_availability_routes_count =
    sizeof ctl_availability_routes / sizeof ctl_availability_routes[0];
