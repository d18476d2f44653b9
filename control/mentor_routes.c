/*
 * Mentor profiles and search.
 *
 *   GET /api/v1/mentors               public search (filters, sort, cursor)
 *   GET /api/v1/mentors/{id}          public profile
 *   GET /api/v1/mentors/{id}/reviews  public reviews (newest 100)
 *   PUT /api/v1/mentor/profile        the caller's own profile (mentor)
 *
 * Query parameters are checked here (unknown ones refused by name) and
 * handed to booking_search() as one jsonb object; the query, its indexes
 * (GIN over skills/tags/topics, trigram over name) and keyset pagination
 * live in schema/0005_booking.sql.
 */
#include "control/booking_internal.h"
#include "control/json.h"
#include "control/pagination.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { P_TEXT, P_UINT, P_RATING, P_BOOL, P_TIME, P_SORT, P_PAGE } ptype;
static const struct {
    const char *name;
    ptype type;
} search_params[] = {
    {"skill", P_TEXT},          {"tag", P_TEXT},
    {"topic", P_TEXT},          {"name", P_TEXT},
    {"min_experience", P_UINT}, {"min_rating", P_RATING},
    {"min_price", P_UINT},      {"max_price", P_UINT},
    {"free", P_BOOL},           {"available_from", P_TIME},
    {"available_to", P_TIME},   {"sort", P_SORT},
    {"limit", P_PAGE},          {"cursor", P_PAGE},
};
#define NSEARCH (sizeof search_params / sizeof search_params[0])

static int bad(ctl_response *resp, const ctl_request *req, const char *fmt, const char *name)
{
    char d[160];
    snprintf(d, sizeof d, fmt, name);
    ctl_response_problem(resp, 400, "invalid-parameter", "Bad Request", d, req);
    return -1;
}

static int uint_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Parse the query into a jsonb-ready object; -1 with a 400 in resp. */
static int search_filters(const ctl_request *req, ctl_response *resp, json_t *f)
{
    for (const char *p = req->query; *p;) { /* refuse unknown parameters */
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        size_t kl = (size_t)((eq ? eq : end) - p);
        int known = kl == 0;
        for (size_t i = 0; !known && i < NSEARCH; i++)
            known =
                strlen(search_params[i].name) == kl && strncmp(search_params[i].name, p, kl) == 0;
        if (!known)
            return bad(resp, req, "unknown query parameter%s", "");
        p = amp ? amp + 1 : end;
    }
    char v[256];
    for (size_t i = 0; i < NSEARCH; i++) {
        const char *name = search_params[i].name;
        int rc = ctl_req_query(req, name, v, sizeof v);
        if (rc < 0)
            return bad(resp, req, "%s is malformed or too long", name);
        if (rc == 0 || !v[0] || search_params[i].type == P_PAGE)
            continue;
        switch (search_params[i].type) {
        case P_TEXT:
            if (ctl_utf8_length(v, strlen(v)) < 0 || strlen(v) > 100)
                return bad(resp, req, "%s must be text of at most 100 characters", name);
            json_object_set_new(f, name, json_string(v));
            break;
        case P_UINT:
            if (!uint_ok(v))
                return bad(resp, req, "%s must be a non-negative integer", name);
            json_object_set_new(f, name, json_integer(atoll(v)));
            break;
        case P_RATING: {
            char *e;
            double d = strtod(v, &e);
            if (*e || e == v || !isfinite(d) || d < 0 || d > 5)
                return bad(resp, req, "%s must be a number from 0 to 5", name);
            json_object_set_new(f, name, json_real(d));
            break;
        }
        case P_BOOL:
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
                return bad(resp, req, "%s must be true or false", name);
            json_object_set_new(f, name, json_boolean(v[0] == 't'));
            break;
        case P_TIME:
            if (!ctl_json_is_timestamp(v))
                return bad(resp, req, "%s must be an RFC 3339 date-time with a time zone", name);
            json_object_set_new(f, name, json_string(v));
            break;
        case P_SORT:
            if (strcmp(v, "relevance") && strcmp(v, "rating") && strcmp(v, "price") &&
                strcmp(v, "experience"))
                return bad(resp, req, "%s must be relevance, rating, price or experience", name);
            json_object_set_new(f, name, json_string(v));
            break;
        case P_PAGE:
            break;
        }
    }
    if (json_object_get(f, "available_from") == NULL ||
        json_object_get(f, "available_to") == NULL) {
        if (json_object_get(f, "available_from") || json_object_get(f, "available_to"))
            return bad(resp, req, "available_from and available_to go together%s", "");
    }
    return 0;
}

/* 64-bit FNV-1a: a short digest of the filters for the cursor scope (the
 * cursor itself is HMAC-signed; this only tells searches apart). */
static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static void search(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_READ) != 0)
        return;
    json_t *f = json_object();
    ctl_page page;
    PGresult *r = NULL;
    char *ftext = NULL;
    if (!f || search_filters(req, resp, f) != 0)
        goto done;
    /* A cursor belongs to one search: its sort and every filter (the sort
     * value means different things with and without a name). */
    ftext = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
    if (!ftext) {
        ctl_response_problem(resp, 500, "internal", "Internal Server Error", "out of memory", req);
        goto done;
    }
    char scope[64];
    const char *sort = json_string_value(json_object_get(f, "sort"));
    snprintf(scope, sizeof scope, "mentors:%s:%016llx", sort ? sort : "relevance",
             (unsigned long long)fnv1a64(ftext));
    if (ctl_page_from_query(ctx->cfg->cursor_secret, scope, req, &page, resp) != 0)
        goto done;
    if (ctl_bk__db(ctx, req, resp) != 0)
        goto done;
    char lim[16], aid[32];
    snprintf(lim, sizeof lim, "%d", page.limit + 1);
    snprintf(aid, sizeof aid, "%lld", page.after.id);
    const char *p[4] = {ftext, lim, page.has_cursor ? page.after.key : NULL,
                        page.has_cursor ? aid : NULL};
    r = PQexecParams(ctx->db.conn,
                     "SELECT id, sort_key::text, item::text FROM "
                     "booking_search($1::jsonb, $2::int, $3::text, $4::bigint)",
                     4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ctl_bk__sql_problem(r, req, resp);
        goto done;
    }
    int n = PQntuples(r), more = n > page.limit;
    if (more)
        n = page.limit;
    json_t *items = json_array();
    for (int i = 0; items && i < n; i++)
        json_array_append_new(items, json_loads(PQgetvalue(r, i, 2), 0, NULL));
    char next[CTL_CURSOR_MAX] = "";
    if (more) {
        ctl_cursor c = {.id = strtoll(PQgetvalue(r, n - 1, 0), NULL, 10)};
        snprintf(c.key, sizeof c.key, "%s", PQgetvalue(r, n - 1, 1));
        if (ctl_cursor_encode(ctx->cfg->cursor_secret, scope, &c, next, sizeof next) != 0)
            next[0] = '\0';
    }
    ctl_page_respond(resp, items, next[0] ? next : NULL);
done:
    free(ftext);
    PQclear(r);
    json_decref(f);
}

static void get_mentor(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_READ) != 0)
        return;
    long long id = ctl_bk__id_param(req, resp, "id");
    if (id <= 0)
        return;
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[1] = {ids};
    ctl_bk__respond(ctx, req, resp, 200, "SELECT booking_profile_json($1::bigint)::text", 1, p);
}

static void get_reviews(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
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
                    "SELECT jsonb_build_object('items', booking_reviews_json(user_id))::text "
                    "FROM mentor_profiles WHERE user_id = $1::bigint",
                    1, p);
}

static const ctl_json_field profile_fields[] = {
    {"name", CTL_JSON_STRING, CTL_JSON_REQUIRED | CTL_JSON_TRIM, 1, 100, NULL},
    {"headline", CTL_JSON_STRING, CTL_JSON_TRIM, 0, 200, NULL},
    {"bio", CTL_JSON_STRING, CTL_JSON_TRIM | CTL_JSON_MULTILINE, 0, 5000, NULL},
    {"skills", CTL_JSON_ARRAY, 0, 0, 50, NULL},
    {"tags", CTL_JSON_ARRAY, 0, 0, 50, NULL},
    {"topics", CTL_JSON_ARRAY, 0, 0, 50, NULL},
    {"languages", CTL_JSON_ARRAY, 0, 0, 20, NULL},
    {"years_experience", CTL_JSON_INT, 0, 0, 80, NULL},
    {"time_zone", CTL_JSON_STRING, CTL_JSON_REQUIRED | CTL_JSON_TRIM, 1, 64, NULL},
    {"price_cents", CTL_JSON_INT, 0, 0, 100000000, NULL},
    {"currency", CTL_JSON_STRING, 0, 3, 3, NULL},
};

/* Each array element must be a short string. */
static int string_arrays(json_t *body, const ctl_request *req, ctl_response *resp)
{
    static const char *const arrays[] = {"skills", "tags", "topics", "languages"};
    for (size_t a = 0; a < 4; a++) {
        json_t *arr = json_object_get(body, arrays[a]);
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x)
        {
            if (!json_is_string(x) || json_string_length(x) == 0 || json_string_length(x) > 60) {
                ctl_json_field_problem(resp, req, arrays[a],
                                       "must be an array of strings of 1 to 60 characters");
                return -1;
            }
        }
    }
    return 0;
}

static void put_profile(ctl_ctx *ctx, const ctl_request *req, ctl_response *resp)
{
    if (ctl_bk__limit(ctx, req, resp, CTL_BK_WRITE) != 0)
        return;
    json_t *body = NULL;
    if (ctl_json_body(req, profile_fields, CTL_JSON_NFIELDS(profile_fields), &body, resp) != 0)
        return;
    if (string_arrays(body, req, resp) == 0) {
        char uid[32];
        char *b = json_dumps(body, JSON_COMPACT);
        snprintf(uid, sizeof uid, "%lld", req->who.user_id);
        const char *p[2] = {uid, b};
        ctl_bk__respond(ctx, req, resp, 200,
                        "SELECT booking_put_profile($1::bigint, $2::jsonb)::text", 2, p);
        free(b);
    }
    json_decref(body);
}

const ctl_route ctl_mentor_routes[] = {
    {"GET", "/api/v1/mentors", search, CTL_PERM_PUBLIC,
     "Search mentors by skill, tag, topic, name, experience, rating, price and free slots"},
    {"GET", "/api/v1/mentors/{id}", get_mentor, CTL_PERM_PUBLIC, "A mentor's public profile"},
    {"GET", "/api/v1/mentors/{id}/reviews", get_reviews, CTL_PERM_PUBLIC,
     "A mentor's reviews, newest first"},
    {"PUT", "/api/v1/mentor/profile", put_profile, CTL_PERM_MENTOR,
     "Create or replace the caller's mentor profile"},
};
const size_t ctl_mentor_routes_count = sizeof ctl_mentor_routes / sizeof ctl_mentor_routes[0];
