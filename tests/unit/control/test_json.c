/* Declarative JSON body validation: content types, parse errors, field
 * errors (missing, wrong type, out of range, unknown), normalisation. */
#include "control/json.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>

static const ctl_json_field fields[] = {
    {"email", CTL_JSON_EMAIL, CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_LOWER, 3, 254, NULL},
    {"name", CTL_JSON_STRING, CTL_JSON_TRIM, 1, 5, NULL},
    {"age", CTL_JSON_INT, 0, 13, 130, NULL},
    {"score", CTL_JSON_NUMBER, 0, 0, 10, NULL},
    {"ok", CTL_JSON_BOOL, 0, 0, 0, NULL},
    {"role", CTL_JSON_ENUM, CTL_JSON_NULLABLE, 0, 0, "mentor|mentee"},
    {"id", CTL_JSON_UUID, 0, 0, 0, NULL},
    {"at", CTL_JSON_TIMESTAMP, 0, 0, 0, NULL},
    {"tags", CTL_JSON_ARRAY, 0, 0, 2, NULL},
    {"meta", CTL_JSON_OBJECT, 0, 0, 0, NULL},
    {"bio", CTL_JSON_STRING, CTL_JSON_MULTILINE, 0, 0, NULL},
};

static void req_init(ctl_request *req, const char *ct, const char *body, size_t len)
{
    memset(req, 0, sizeof *req);
    snprintf(req->method, sizeof req->method, "POST");
    snprintf(req->path, sizeof req->path, "/api/v1/x");
    snprintf(req->request_id, sizeof req->request_id, "rid1");
    if (ct) {
        snprintf(req->headers[0].name, sizeof req->headers[0].name, "content-type");
        snprintf(req->headers[0].value, sizeof req->headers[0].value, "%s", ct);
        req->nheaders = 1;
    }
    req->body = body;
    req->body_len = len;
}

/* Run the validator; returns the status (0 when valid) and the problem. */
static int run(const char *ct, const char *body, size_t len, json_t **out, json_t **problem)
{
    ctl_request req;
    ctl_response resp;
    memset(&resp, 0, sizeof resp);
    req_init(&req, ct, body, len);
    *out = NULL;
    *problem = NULL;
    int rc = ctl_json_body(&req, fields, CTL_JSON_NFIELDS(fields), out, &resp);
    int status = rc == 0 ? 0 : resp.status;
    if (rc != 0) {
        *problem = json_loadb(resp.body, resp.body_len, 0, NULL);
        CHECK(*problem != NULL); /* the problem body is always valid JSON */
    }
    ctl_response_free(&resp);
    return status;
}

static int run_s(const char *body, json_t **out, json_t **problem)
{
    return run("application/json", body, strlen(body), out, problem);
}

/* Does the problem list an error for `field`? */
static int has_error(json_t *problem, const char *field, const char *message_part)
{
    json_t *errors = json_object_get(problem, "errors"), *e;
    size_t i;
    json_array_foreach(errors, i, e)
    {
        const char *f = json_string_value(json_object_get(e, "field"));
        const char *m = json_string_value(json_object_get(e, "message"));
        if (f && !strcmp(f, field) && (!message_part || (m && strstr(m, message_part))))
            return 1;
    }
    return 0;
}

TEST(json_valid_body_is_parsed_and_normalised)
{
    json_t *out, *p;
    int st = run_s("{\"email\":\"  Ann@Example.COM \",\"name\":\" Ann \",\"age\":30,"
                   "\"score\":9.5,\"ok\":true,\"role\":\"mentor\","
                   "\"id\":\"123e4567-e89b-12d3-a456-426614174000\","
                   "\"at\":\"2024-02-29T10:00:00.123+01:00\",\"tags\":[1,2],\"meta\":{},"
                   "\"bio\":\"a\\nb\"}",
                   &out, &p);
    REQUIRE(st == 0);
    CHECK_STR_EQ(ctl_json_str(out, "email"), "ann@example.com");
    CHECK_STR_EQ(ctl_json_str(out, "name"), "Ann");
    CHECK_INT_EQ(ctl_json_int(out, "age", 0), 30);
    CHECK(ctl_json_num(out, "score", 0) == 9.5);
    CHECK_INT_EQ(ctl_json_bool(out, "ok", 0), 1);
    CHECK(ctl_json_has(out, "role"));
    CHECK(!ctl_json_has(out, "nope"));
    CHECK_INT_EQ(ctl_json_int(out, "missing", 7), 7);
    json_decref(out);
}

TEST(json_content_type_is_checked)
{
    json_t *out, *p;
    const char *b = "{\"email\":\"a@b.co\"}";
    CHECK_INT_EQ(run(NULL, b, strlen(b), &out, &p), 415);
    json_decref(p);
    CHECK_INT_EQ(run("text/plain", b, strlen(b), &out, &p), 415);
    json_decref(p);
    CHECK_INT_EQ(run("application/json; charset=latin1", b, strlen(b), &out, &p), 415);
    json_decref(p);
    CHECK_INT_EQ(run("application/jsonx", b, strlen(b), &out, &p), 415);
    json_decref(p);
    CHECK_INT_EQ(run("Application/JSON; charset=UTF-8", b, strlen(b), &out, &p), 0);
    json_decref(out);
    CHECK_INT_EQ(run("application/merge-patch+json", b, strlen(b), &out, &p), 0);
    json_decref(out);
}

TEST(json_malformed_bodies_are_400)
{
    json_t *out, *p;
    const char *bad[] = {"", "{", "[1,2]", "\"str\"", "{\"email\":\"a@b.co\",}", "nul",
                         "{\"email\":\"a@b.co\",\"email\":\"c@d.co\"}", /* duplicate key */
                         "{\"email\":\"a\\u0000b@c.co\"}",                /* escaped NUL */
                         "{\"email\":\"\xff\xfe@b.co\"}",                  /* invalid UTF-8 */
                         "{\"email\":\"\xc0\xaf@b.co\"}"};                 /* overlong */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = run_s(bad[i], &out, &p);
        if (st != 400)
            printf("# body %zu gave %d\n", i, st);
        CHECK_INT_EQ(st, 400);
        CHECK_INT_EQ(json_integer_value(json_object_get(p, "status")), 400);
        CHECK_STR_EQ(json_string_value(json_object_get(p, "request_id")), "rid1");
        json_decref(p);
    }
    /* A raw NUL byte inside the body (length-delimited). */
    const char raw[] = "{\"email\":\"a@b.co\"}\0{}";
    CHECK_INT_EQ(run("application/json", raw, sizeof raw - 1, &out, &p), 400);
    CHECK(strstr(json_string_value(json_object_get(p, "detail")), "NUL") != NULL);
    json_decref(p);
}

TEST(json_field_errors_are_422_with_all_errors)
{
    json_t *out, *p;
    int st = run_s("{\"name\":\"toolongname\",\"age\":12,\"score\":\"x\",\"ok\":1,"
                   "\"role\":\"boss\",\"id\":\"nope\",\"at\":\"2023-02-29T00:00:00Z\","
                   "\"tags\":[1,2,3],\"meta\":[],\"extra\":1,\"bio\":\"tab\\there\"}",
                   &out, &p);
    REQUIRE(st == 422);
    CHECK(has_error(p, "email", "is required"));
    CHECK(has_error(p, "name", "at most 5"));
    CHECK(has_error(p, "age", "between 13 and 130"));
    CHECK(has_error(p, "score", "must be a number"));
    CHECK(has_error(p, "ok", "true or false"));
    CHECK(has_error(p, "role", "mentor, mentee"));
    CHECK(has_error(p, "id", "UUID"));
    CHECK(has_error(p, "at", "RFC 3339"));
    CHECK(has_error(p, "tags", "at most 2"));
    CHECK(has_error(p, "meta", "object"));
    CHECK(has_error(p, "extra", "not a known field"));
    CHECK(!has_error(p, "bio", NULL)); /* multiline allows tabs */
    json_decref(p);
}

TEST(json_strings_refuse_control_characters_and_empty_after_trim)
{
    json_t *out, *p;
    CHECK_INT_EQ(run_s("{\"email\":\"a@b.co\",\"name\":\"a\\nb\"}", &out, &p), 422);
    CHECK(has_error(p, "name", "control"));
    json_decref(p);
    CHECK_INT_EQ(run_s("{\"email\":\"a@b.co\",\"name\":\"   \"}", &out, &p), 422);
    CHECK(has_error(p, "name", "empty"));
    json_decref(p);
    /* Length is in characters: five two-byte characters fit a max of 5. */
    CHECK_INT_EQ(run_s("{\"email\":\"a@b.co\",\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}",
                       &out, &p),
                 0);
    json_decref(out);
}

TEST(json_null_handling)
{
    json_t *out, *p;
    CHECK_INT_EQ(run_s("{\"email\":\"a@b.co\",\"role\":null}", &out, &p), 0);
    CHECK(!ctl_json_has(out, "role"));
    json_decref(out);
    CHECK_INT_EQ(run_s("{\"email\":\"a@b.co\",\"age\":null}", &out, &p), 422);
    CHECK(has_error(p, "age", "null"));
    json_decref(p);
    CHECK_INT_EQ(run_s("{\"email\":null}", &out, &p), 422);
    CHECK(has_error(p, "email", "required"));
    json_decref(p);
}

TEST(json_unknown_field_names_are_bounded_and_valid_utf8)
{
    char body[400];
    char longname[200];
    memset(longname, 'k', sizeof longname);
    /* 62 ASCII bytes then a 3-byte character crossing the 64-byte cut. */
    memcpy(longname + 62, "\xe2\x82\xac", 3);
    longname[150] = '\0';
    snprintf(body, sizeof body, "{\"email\":\"a@b.co\",\"%s\":1}", longname);
    json_t *out, *p;
    CHECK_INT_EQ(run_s(body, &out, &p), 422);
    json_t *e = json_array_get(json_object_get(p, "errors"), 0);
    const char *f = json_string_value(json_object_get(e, "field"));
    REQUIRE(f != NULL);
    CHECK(strlen(f) <= 64);
    CHECK(ctl_utf8_length(f, strlen(f)) >= 0);
    json_decref(p);
}

TEST(json_error_list_is_capped)
{
    char body[8192];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"email\":\"a@b.co\"");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, ",\"f%d\":1", i);
    snprintf(body + n, sizeof body - n, "}");
    json_t *out, *p;
    CHECK_INT_EQ(run_s(body, &out, &p), 422);
    CHECK(json_array_size(json_object_get(p, "errors")) <= 32);
    json_decref(p);
}

TEST(json_email_checks)
{
    CHECK(ctl_json_is_email("a@b.co"));
    CHECK(ctl_json_is_email("first.last+tag@sub.example.org"));
    CHECK(!ctl_json_is_email("a@b"));
    CHECK(!ctl_json_is_email("@b.co"));
    CHECK(!ctl_json_is_email("a@@b.co"));
    CHECK(!ctl_json_is_email("a b@c.co"));
    CHECK(!ctl_json_is_email(".a@b.co"));
    CHECK(!ctl_json_is_email("a..b@c.co"));
    CHECK(!ctl_json_is_email("a@-b.co"));
    CHECK(!ctl_json_is_email("a@b.co."));
    CHECK(!ctl_json_is_email("a@b..co"));
    CHECK(!ctl_json_is_email("a\r\n@b.co"));
    CHECK(!ctl_json_is_email("\xc3\xa9@b.co"));
}

TEST(json_timestamp_and_uuid_checks)
{
    CHECK(ctl_json_is_timestamp("2024-01-31T23:59:59Z"));
    CHECK(ctl_json_is_timestamp("2024-02-29t00:00:00.5-05:30"));
    CHECK(!ctl_json_is_timestamp("2024-02-30T00:00:00Z"));
    CHECK(!ctl_json_is_timestamp("2024-01-01T00:00:00"));
    CHECK(!ctl_json_is_timestamp("2024-01-01 00:00:00Z"));
    CHECK(!ctl_json_is_timestamp("2024-13-01T00:00:00Z"));
    CHECK(!ctl_json_is_timestamp("2024-01-01T24:00:00Z"));
    CHECK(!ctl_json_is_timestamp("2024-01-01T00:00:00.Z"));
    CHECK(!ctl_json_is_timestamp("2024-01-01T00:00:00Zjunk"));
    CHECK(ctl_json_is_uuid("123E4567-e89b-12d3-a456-426614174000"));
    CHECK(!ctl_json_is_uuid("123e4567e89b12d3a456426614174000"));
    CHECK(!ctl_json_is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
}

TEST(json_utf8_length)
{
    CHECK_INT_EQ(ctl_utf8_length("abc", 3), 3);
    CHECK_INT_EQ(ctl_utf8_length("\xe2\x82\xac", 3), 1);
    CHECK_INT_EQ(ctl_utf8_length("\xf0\x9f\x98\x80", 4), 1);
    CHECK_INT_EQ(ctl_utf8_length("\xed\xa0\x80", 3), -1); /* surrogate */
    CHECK_INT_EQ(ctl_utf8_length("\xe2\x82", 2), -1);     /* truncated */
    CHECK_INT_EQ(ctl_utf8_length("\xf5\x80\x80\x80", 4), -1);
}

TEST(json_field_problem_and_respond)
{
    ctl_response resp;
    memset(&resp, 0, sizeof resp);
    ctl_json_field_problem(&resp, NULL, "email", "is already registered");
    CHECK_INT_EQ(resp.status, 422);
    json_t *p = json_loadb(resp.body, resp.body_len, 0, NULL);
    REQUIRE(p != NULL);
    CHECK(has_error(p, "email", "already"));
    json_decref(p);
    ctl_json_respond(&resp, 201, json_pack("{s:i}", "id", 5));
    CHECK_INT_EQ(resp.status, 201);
    CHECK_STR_EQ(resp.body, "{\"id\":5}");
    CHECK_STR_EQ(resp.content_type, "application/json");
    ctl_response_free(&resp);
}

TEST(json_nested_validation_with_prefix)
{
    static const ctl_json_field inner[] = {{"city", CTL_JSON_STRING, CTL_JSON_REQUIRED, 1, 50, NULL}};
    json_t *o = json_loads("{\"zip\":1}", 0, NULL);
    json_t *errors = json_array();
    CHECK_INT_EQ(ctl_json_validate(o, inner, 1, "address.", errors), 2);
    json_t *p = json_pack("{s:O}", "errors", errors);
    CHECK(has_error(p, "address.city", "required"));
    CHECK(has_error(p, "address.zip", "not a known field"));
    json_decref(p);
    json_decref(errors);
    json_decref(o);
}
