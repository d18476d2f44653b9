/* Pure helpers of the platform machinery: rate-limit keys and the 429/503
 * problems, job back-off and the kind registry, outbox message checks,
 * audit action names and actors. (Redis and PostgreSQL behaviour is
 * covered by tests/integration/platform_*.test.js.) */
#include "control/audit.h"
#include "control/jobs.h"
#include "control/outbox.h"
#include "control/ratelimit.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>

TEST(ratelimit_keys_plain_and_hashed)
{
    char k[160];
    REQUIRE(ctl_ratelimit_key("rl", "login-ip", "127.0.0.1", k, sizeof k) == 0);
    CHECK_STR_EQ(k, "rl:login-ip:127.0.0.1");
    REQUIRE(ctl_ratelimit_key("rl", "login-ip", "::ffff:10.0.0.1", k, sizeof k) == 0);
    CHECK_STR_EQ(k, "rl:login-ip:::ffff:10.0.0.1");
    REQUIRE(ctl_ratelimit_key("rf", "login", "ann@example.com", k, sizeof k) == 0);
    CHECK_STR_EQ(k, "rf:login:ann@example.com");
    /* Spaces, braces, non-ASCII or long keys are hashed (SHA-256 hex). */
    REQUIRE(ctl_ratelimit_key("rl", "b", "a b", k, sizeof k) == 0);
    CHECK(strncmp(k, "rl:b:#", 6) == 0);
    CHECK_INT_EQ(strlen(k), 6 + 64);
    char k2[160];
    REQUIRE(ctl_ratelimit_key("rl", "b", "a  b", k2, sizeof k2) == 0);
    CHECK(strcmp(k, k2) != 0);
    char longkey[100];
    memset(longkey, 'a', 99);
    longkey[99] = '\0';
    REQUIRE(ctl_ratelimit_key("rl", "b", longkey, k, sizeof k) == 0);
    CHECK(strchr(k, '#') != NULL);
    REQUIRE(ctl_ratelimit_key("rl", "b", "", k, sizeof k) == 0); /* empty key hashes too */
    /* Buckets are names, not data. */
    CHECK(ctl_ratelimit_key("rl", "", "x", k, sizeof k) != 0);
    CHECK(ctl_ratelimit_key("rl", "a:b", "x", k, sizeof k) != 0);
    CHECK(ctl_ratelimit_key("rl", "a b", "x", k, sizeof k) != 0);
    char small[8];
    CHECK(ctl_ratelimit_key("rl", "bucket", "key", small, sizeof small) != 0);
}

TEST(ratelimit_problems_carry_retry_after)
{
    ctl_response resp;
    memset(&resp, 0, sizeof resp);
    ctl_ratelimit_problem(&resp, NULL, 42);
    CHECK_INT_EQ(resp.status, 429);
    CHECK_STR_EQ(resp.headers[0].name, "Retry-After");
    CHECK_STR_EQ(resp.headers[0].value, "42");
    CHECK(strstr(resp.body, "rate-limited") != NULL);
    ctl_response_free(&resp);
    memset(&resp, 0, sizeof resp);
    ctl_ratelimit_unavailable_problem(&resp, NULL);
    CHECK_INT_EQ(resp.status, 503);
    CHECK_STR_EQ(resp.headers[0].name, "Retry-After");
    ctl_response_free(&resp);
}

TEST(ratelimit_without_redis_is_unavailable_and_policy_decides)
{
    ctl_ctx ctx;
    memset(&ctx, 0, sizeof ctx); /* redis_ok = 0: no Redis configured */
    int ra = -1;
    CHECK_INT_EQ(ctl_ratelimit_hit(&ctx, "b", "k", 5, 60, &ra), CTL_RL_UNAVAILABLE);
    CHECK_INT_EQ(ctl_ratelimit_fail(&ctx, "b", "k", 5, 60, 60, &ra), CTL_RL_UNAVAILABLE);
    CHECK_INT_EQ(ctl_ratelimit_banned(&ctx, "b", "k", &ra), CTL_RL_UNAVAILABLE);
    ctl_response resp;
    memset(&resp, 0, sizeof resp);
    ctl_rate_policy open = {"reads", 100, 60, 0}, closed = {"login", 5, 60, 1};
    CHECK_INT_EQ(ctl_ratelimit_check(&ctx, &open, "k", NULL, &resp), 0);
    CHECK_INT_EQ(resp.status, 0);
    CHECK_INT_EQ(ctl_ratelimit_check(&ctx, &closed, "k", NULL, &resp), -1);
    CHECK_INT_EQ(resp.status, 503);
    ctl_response_free(&resp);
}

TEST(jobs_backoff_doubles_and_caps)
{
    CHECK_INT_EQ(ctl_jobs_backoff_ms(1, 1000, 60000), 1000);
    CHECK_INT_EQ(ctl_jobs_backoff_ms(2, 1000, 60000), 2000);
    CHECK_INT_EQ(ctl_jobs_backoff_ms(3, 1000, 60000), 4000);
    CHECK_INT_EQ(ctl_jobs_backoff_ms(7, 1000, 60000), 60000);
    CHECK_INT_EQ(ctl_jobs_backoff_ms(1000, 1000, 60000), 60000); /* no overflow */
    CHECK_INT_EQ(ctl_jobs_backoff_ms(0, 500, 60000), 500);
}

static int job_a(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    (void)ctx, (void)job, (void)err, (void)errlen;
    return CTL_JOB_OK;
}

static int job_b(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    (void)ctx, (void)job;
    snprintf(err, errlen, "b");
    return CTL_JOB_RETRY;
}

TEST(jobs_registry_and_static_kinds)
{
    CHECK(ctl_jobs_lookup("email.send") != NULL); /* built in */
    CHECK(ctl_jobs_lookup("test.unknown") == NULL);
    REQUIRE(ctl_jobs_register("test.a", job_a) == 0);
    CHECK(ctl_jobs_lookup("test.a") == job_a);
    REQUIRE(ctl_jobs_register("test.a", job_b) == 0); /* replaces */
    CHECK(ctl_jobs_lookup("test.a") == job_b);
}

TEST(jobs_enqueue_refuses_bad_specs_before_touching_the_database)
{
    char err[128];
    ctl_job_spec none = {0};
    CHECK(ctl_jobs_enqueue(NULL, &none, NULL, err, sizeof err) != 0);
    json_t *arr = json_array();
    ctl_job_spec bad = {.kind = "x", .payload = arr};
    CHECK(ctl_jobs_enqueue(NULL, &bad, NULL, err, sizeof err) != 0);
    CHECK(strstr(err, "object") != NULL);
    json_decref(arr);
}

TEST(outbox_checks_messages)
{
    char err[160];
    ctl_email ok = {.to = "ann@example.com", .subject = "Hi", .text = "Body\n"};
    CHECK_INT_EQ(ctl_outbox_check(&ok, err, sizeof err), 0);
    ctl_email m = ok;
    m.to = "not-an-address";
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
    m = ok;
    m.subject = "Hi\r\nBcc: x@y.z";
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
    m = ok;
    m.subject = "";
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
    m = ok;
    m.to_name = "A\nB";
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
    m = ok;
    m.reply_to = "bad reply";
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
    m = ok;
    m.text = "bad \xff utf8";
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
    m = ok;
    m.text = NULL;
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
    ctl_email_attachment a = {"invite.ics", "text/calendar", (const unsigned char *)"x", 1};
    m = ok;
    m.attachments = &a;
    m.nattachments = 1;
    CHECK_INT_EQ(ctl_outbox_check(&m, err, sizeof err), 0);
    a.content_type = "text/calendar\r\nX: y";
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
    a.content_type = "text/calendar";
    a.len = CTL_EMAIL_MAX_ATTACHMENT + 1;
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
    m.nattachments = CTL_EMAIL_MAX_ATTACHMENTS + 1;
    CHECK(ctl_outbox_check(&m, err, sizeof err) != 0);
}

TEST(audit_action_names)
{
    CHECK(ctl_audit_action_valid("user.login"));
    CHECK(ctl_audit_action_valid("booking.cancelled_by-admin"));
    CHECK(ctl_audit_action_valid("a"));
    CHECK(!ctl_audit_action_valid(""));
    CHECK(!ctl_audit_action_valid(NULL));
    CHECK(!ctl_audit_action_valid(".user"));
    CHECK(!ctl_audit_action_valid("User.Login"));
    CHECK(!ctl_audit_action_valid("user login"));
    CHECK(!ctl_audit_action_valid("user.login'--"));
    char longname[70];
    memset(longname, 'a', 65);
    longname[65] = '\0';
    CHECK(!ctl_audit_action_valid(longname));
}

TEST(audit_actor_from_request)
{
    ctl_request req;
    memset(&req, 0, sizeof req);
    snprintf(req.remote_addr, sizeof req.remote_addr, "10.0.0.1");
    snprintf(req.request_id, sizeof req.request_id, "abc");
    ctl_audit_entry e = {.action = "x"};
    ctl_audit_from_request(&e, &req);
    CHECK_INT_EQ(e.actor_user_id, 0);
    CHECK_STR_EQ(e.actor_role, "anonymous");
    CHECK_STR_EQ(e.remote_addr, "10.0.0.1");
    CHECK_STR_EQ(e.request_id, "abc");
    req.who.authenticated = 1;
    req.who.user_id = 7;
    snprintf(req.who.role, sizeof req.who.role, "admin");
    ctl_audit_from_request(&e, &req);
    CHECK_INT_EQ(e.actor_user_id, 7);
    CHECK_STR_EQ(e.actor_role, "admin");
    CHECK_STR_EQ(e.action, "x");
    char err[64];
    ctl_audit_entry bad = {.action = "Bad Action"};
    CHECK(ctl_audit_write(NULL, &bad, err, sizeof err) != 0);
}
