/* Cursor pagination: round trips, tampering, scopes, limit parsing. */
#include "control/pagination.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>

static void req_query(ctl_request *req, const char *q)
{
    memset(req, 0, sizeof *req);
    snprintf(req->path, sizeof req->path, "/api/v1/list");
    snprintf(req->query, sizeof req->query, "%s", q);
}

TEST(cursor_round_trip)
{
    ctl_cursor c = {.key = "2024-01-01T00:00:00.000000Z", .id = 42}, d;
    char buf[CTL_CURSOR_MAX];
    REQUIRE(ctl_cursor_encode("s3cret", "audit", &c, buf, sizeof buf) == 0);
    for (const char *p = buf; *p; p++)
        CHECK((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_');
    REQUIRE(ctl_cursor_decode("s3cret", "audit", buf, &d) == 0);
    CHECK_STR_EQ(d.key, c.key);
    CHECK_INT_EQ(d.id, 42);
    /* Keys may contain '|' (the id is after the last one) or be empty. */
    ctl_cursor e = {.key = "a|b", .id = 0};
    REQUIRE(ctl_cursor_encode("", "x", &e, buf, sizeof buf) == 0);
    REQUIRE(ctl_cursor_decode("", "x", buf, &d) == 0);
    CHECK_STR_EQ(d.key, "a|b");
    CHECK_INT_EQ(d.id, 0);
}

TEST(cursor_refuses_tampering_other_scope_and_other_key)
{
    ctl_cursor c = {.key = "k", .id = 7}, d;
    char buf[CTL_CURSOR_MAX];
    REQUIRE(ctl_cursor_encode("s", "audit", &c, buf, sizeof buf) == 0);
    CHECK(ctl_cursor_decode("s", "bookings", buf, &d) != 0);
    CHECK(ctl_cursor_decode("t", "audit", buf, &d) != 0);
    for (size_t i = 0; buf[i]; i++) {
        char t[CTL_CURSOR_MAX];
        snprintf(t, sizeof t, "%s", buf);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        CHECK(ctl_cursor_decode("s", "audit", t, &d) != 0);
    }
    char t[CTL_CURSOR_MAX];
    snprintf(t, sizeof t, "%s", buf);
    t[strlen(t) - 1] = '\0';
    CHECK(ctl_cursor_decode("s", "audit", t, &d) != 0);
    CHECK(ctl_cursor_decode("s", "audit", "", &d) != 0);
    CHECK(ctl_cursor_decode("s", "audit", "!!!!", &d) != 0);
    CHECK(ctl_cursor_decode("s", "audit", "abc=", &d) != 0);
    CHECK(ctl_cursor_decode("s", "audit", NULL, &d) != 0);
}

TEST(cursor_encode_refuses_bad_input)
{
    char buf[CTL_CURSOR_MAX], small[8];
    ctl_cursor neg = {.key = "k", .id = -1}, ctrl = {.key = "a\nb", .id = 1}, ok = {.key = "k", .id = 1};
    CHECK(ctl_cursor_encode("s", "x", &neg, buf, sizeof buf) != 0);
    CHECK(ctl_cursor_encode("s", "x", &ctrl, buf, sizeof buf) != 0);
    CHECK(ctl_cursor_encode("s", "x", &ok, small, sizeof small) != 0);
}

TEST(page_limit_parsing)
{
    ctl_request req;
    ctl_response resp;
    ctl_page page;
    memset(&resp, 0, sizeof resp);
    req_query(&req, "");
    REQUIRE(ctl_page_from_query("s", "x", &req, &page, &resp) == 0);
    CHECK_INT_EQ(page.limit, CTL_PAGE_DEFAULT_LIMIT);
    CHECK_INT_EQ(page.has_cursor, 0);
    req_query(&req, "limit=100");
    REQUIRE(ctl_page_from_query("s", "x", &req, &page, &resp) == 0);
    CHECK_INT_EQ(page.limit, 100);
    req_query(&req, "cursor=");
    REQUIRE(ctl_page_from_query("s", "x", &req, &page, &resp) == 0);
    CHECK_INT_EQ(page.has_cursor, 0);
    const char *bad[] = {"limit=0", "limit=-1", "limit=101", "limit=99999999999999999999",
                         "limit=abc", "limit=", "limit=1.5", "limit=+5", "limit=%00",
                         "cursor=garbage", "cursor=%ZZ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req_query(&req, bad[i]);
        memset(&resp, 0, sizeof resp);
        CHECK(ctl_page_from_query("s", "x", &req, &page, &resp) != 0);
        CHECK_INT_EQ(resp.status, 400);
        CHECK(resp.body && strstr(resp.body, "invalid-parameter"));
        ctl_response_free(&resp);
    }
}

TEST(page_cursor_from_query)
{
    ctl_cursor c = {.key = "", .id = 99};
    char buf[CTL_CURSOR_MAX], q[CTL_CURSOR_MAX + 32];
    REQUIRE(ctl_cursor_encode("s", "x", &c, buf, sizeof buf) == 0);
    snprintf(q, sizeof q, "limit=5&cursor=%s", buf);
    ctl_request req;
    ctl_response resp;
    ctl_page page;
    memset(&resp, 0, sizeof resp);
    req_query(&req, q);
    REQUIRE(ctl_page_from_query("s", "x", &req, &page, &resp) == 0);
    CHECK_INT_EQ(page.limit, 5);
    CHECK_INT_EQ(page.has_cursor, 1);
    CHECK_INT_EQ(page.after.id, 99);
}

TEST(page_respond_envelope)
{
    ctl_response resp;
    memset(&resp, 0, sizeof resp);
    ctl_page_respond(&resp, json_pack("[i]", 1), NULL);
    CHECK_INT_EQ(resp.status, 200);
    CHECK_STR_EQ(resp.body, "{\"items\":[1],\"next_cursor\":null}");
    ctl_page_respond(&resp, json_array(), "abc");
    CHECK_STR_EQ(resp.body, "{\"items\":[],\"next_cursor\":\"abc\"}");
    ctl_response_free(&resp);
}
