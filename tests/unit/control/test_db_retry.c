/* The retry decision of request transactions (control/db.c) and the
 * problem documents of database failures (control/db_tx.c). */
#include "control/db.h"
#include "control/db_tx.h"
#include "tests/unit/harness.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

TEST(fault_of_sqlstates)
{
    CHECK_INT_EQ(ctl_db_fault_of("40001"), CTL_DB_FAULT_RETRY);
    CHECK_INT_EQ(ctl_db_fault_of("40P01"), CTL_DB_FAULT_RETRY);
    CHECK_INT_EQ(ctl_db_fault_of("55P03"), CTL_DB_FAULT_TIMEOUT);
    CHECK_INT_EQ(ctl_db_fault_of("57014"), CTL_DB_FAULT_TIMEOUT);
    CHECK_INT_EQ(ctl_db_fault_of("23505"), CTL_DB_FAULT_OTHER);
    CHECK_INT_EQ(ctl_db_fault_of("40002"), CTL_DB_FAULT_OTHER); /* integrity violation in 40 */
    CHECK_INT_EQ(ctl_db_fault_of("MB409"), CTL_DB_FAULT_OTHER);
    CHECK_INT_EQ(ctl_db_fault_of(""), CTL_DB_FAULT_NONE);
    CHECK_INT_EQ(ctl_db_fault_of(NULL), CTL_DB_FAULT_NONE);
}

TEST(retry_only_deadlocks_and_serialization_within_the_bound)
{
    CHECK(ctl_db_should_retry("40P01", 1, 5));
    CHECK(ctl_db_should_retry("40001", 4, 5));
    CHECK(!ctl_db_should_retry("40001", 5, 5)); /* the last attempt failed: give up */
    CHECK(!ctl_db_should_retry("40P01", 1, 1));
    CHECK(!ctl_db_should_retry("55P03", 1, 5)); /* a lock timeout is answered, not retried */
    CHECK(!ctl_db_should_retry("57014", 1, 5));
    CHECK(!ctl_db_should_retry("23505", 1, 5));
    CHECK(!ctl_db_should_retry("", 1, 5)); /* connection lost: nothing to retry on */
    CHECK(!ctl_db_should_retry(NULL, 1, 5));
}

TEST(backoff_grows_is_capped_and_jittered)
{
    for (unsigned rnd = 0; rnd < 1000; rnd += 7) {
        int d1 = ctl_db_retry_delay_ms(1, rnd);
        CHECK(d1 >= 5 && d1 <= 10);
        int d3 = ctl_db_retry_delay_ms(3, rnd);
        CHECK(d3 >= 20 && d3 <= 40);
        int d9 = ctl_db_retry_delay_ms(9, rnd);
        CHECK(d9 >= 100 && d9 <= 200);
    }
    /* jitter: different random numbers give different delays */
    CHECK(ctl_db_retry_delay_ms(4, 0) != ctl_db_retry_delay_ms(4, 13));
}

static json_t *problem_of(const char *state, ctl_response *resp)
{
    ctl_request req;
    memset(&req, 0, sizeof req);
    snprintf(req.path, sizeof req.path, "/api/v1/bookings");
    memset(resp, 0, sizeof *resp);
    ctl_db_problem(resp, &req, "unit test", state, "canceling statement due to lock timeout");
    return json_loads(resp->body, 0, NULL);
}

static const char *header(const ctl_response *resp, const char *name)
{
    for (int i = 0; i < resp->nheaders; i++)
        if (strcmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

TEST(problem_documents_name_what_happened)
{
    ctl_response resp;
    json_t *o = problem_of("55P03", &resp);
    REQUIRE(o != NULL);
    CHECK_INT_EQ(resp.status, 503);
    CHECK(header(&resp, "Retry-After") != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(o, "sqlstate")), "55P03");
    CHECK(strstr(json_string_value(json_object_get(o, "detail")), "lock timeout") != NULL);
    CHECK(strstr(json_string_value(json_object_get(o, "type")), "database-busy") != NULL);
    json_decref(o);
    ctl_response_free(&resp);

    o = problem_of("57014", &resp);
    CHECK(strstr(json_string_value(json_object_get(o, "detail")), "statement timeout") != NULL);
    CHECK(header(&resp, "Retry-After") != NULL);
    json_decref(o);
    ctl_response_free(&resp);

    o = problem_of("40P01", &resp);
    CHECK(strstr(json_string_value(json_object_get(o, "type")), "database-conflict") != NULL);
    CHECK(header(&resp, "Retry-After") != NULL);
    json_decref(o);
    ctl_response_free(&resp);

    o = problem_of("25P02", &resp); /* a connection left in a failed transaction */
    CHECK_INT_EQ(resp.status, 503);
    CHECK(strstr(json_string_value(json_object_get(o, "detail")), "has been reset") != NULL);
    CHECK_STR_EQ(header(&resp, "Retry-After"), "1");
    json_decref(o);
    ctl_response_free(&resp);

    o = problem_of("08006", &resp);
    CHECK_INT_EQ(resp.status, 503);
    CHECK(strstr(json_string_value(json_object_get(o, "type")), "database-unavailable") != NULL);
    CHECK(header(&resp, "Retry-After") == NULL);
    json_decref(o);
    ctl_response_free(&resp);
}
