/* Webhook signatures (control/pay_sig.c) against vectors computed
 * independently with `printf '%s' "<t>.<body>" | openssl dgst -sha256
 * -hmac <secret>`; tolerance edges (exactly 300 s accepted, 301 refused,
 * both directions), several v1 values and several secrets, malformed
 * headers; plus the pure helpers of payments: Idempotency-Key validation
 * and provider status names. */
#include "control/idempotency.h"
#include "control/pay_provider.h"
#include "control/pay_sig.h"
#include "tests/unit/harness.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *BODY = "{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\"}";
/* openssl dgst -sha256 -hmac whsec_test_secret over "1700000000.<BODY>" */
static const char *V_TEST = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31";
/* the same under whsec_other */
static const char *V_OTHER = "fd1bfea9611123bdabc198314fcbcdd375eb7fc1afebb5148d282d3803151dff";
/* whsec_test_secret over "1700000300." (empty body) */
static const char *V_EMPTY = "49ca03186ee559fe15b047c0f4d566e99c97958c2a580fbcf64c932a7c90de5d";

static int verify(const char *hdr, const char *body, long long now, const char *s1, const char *s2)
{
    const char *secrets[2] = {s1, s2};
    return ctl_pay_sig_verify(hdr, body, strlen(body), secrets, s2 ? 2 : 1, now, 300);
}

TEST(sign_matches_openssl)
{
    char hex[65];
    ctl_pay_sig_sign("whsec_test_secret", 1700000000, BODY, strlen(BODY), hex);
    CHECK_STR_EQ(hex, V_TEST);
    ctl_pay_sig_sign("whsec_other", 1700000000, BODY, strlen(BODY), hex);
    CHECK_STR_EQ(hex, V_OTHER);
    ctl_pay_sig_sign("whsec_test_secret", 1700000300, "", 0, hex);
    CHECK_STR_EQ(hex, V_EMPTY);
}

TEST(known_vector_verifies)
{
    char h[256];
    snprintf(h, sizeof h, "t=1700000000,v1=%s", V_TEST);
    CHECK_INT_EQ(verify(h, BODY, 1700000000, "whsec_test_secret", NULL), CTL_PAY_SIG_OK);
    snprintf(h, sizeof h, "t=1700000300,v1=%s", V_EMPTY);
    CHECK_INT_EQ(verify(h, "", 1700000300, "whsec_test_secret", NULL), CTL_PAY_SIG_OK);
    /* the body or the timestamp changed: no match */
    snprintf(h, sizeof h, "t=1700000000,v1=%s", V_TEST);
    CHECK_INT_EQ(verify(h, "{\"id\":\"evt_2\"}", 1700000000, "whsec_test_secret", NULL),
                 CTL_PAY_SIG_MISMATCH);
    snprintf(h, sizeof h, "t=1700000001,v1=%s", V_TEST);
    CHECK_INT_EQ(verify(h, BODY, 1700000000, "whsec_test_secret", NULL), CTL_PAY_SIG_MISMATCH);
    /* unknown secret */
    snprintf(h, sizeof h, "t=1700000000,v1=%s", V_TEST);
    CHECK_INT_EQ(verify(h, BODY, 1700000000, "whsec_attacker", NULL), CTL_PAY_SIG_MISMATCH);
    /* upper-case hex is the same signature */
    char up[65];
    for (int i = 0; i < 65; i++)
        up[i] = (char)(V_TEST[i] >= 'a' && V_TEST[i] <= 'f' ? V_TEST[i] - 32 : V_TEST[i]);
    snprintf(h, sizeof h, "t=1700000000,v1=%s", up);
    CHECK_INT_EQ(verify(h, BODY, 1700000000, "whsec_test_secret", NULL), CTL_PAY_SIG_OK);
}

TEST(tolerance_edges)
{
    char h[256];
    snprintf(h, sizeof h, "t=1700000000,v1=%s", V_TEST);
    CHECK_INT_EQ(verify(h, BODY, 1700000300, "whsec_test_secret", NULL), CTL_PAY_SIG_OK);
    CHECK_INT_EQ(verify(h, BODY, 1700000301, "whsec_test_secret", NULL), CTL_PAY_SIG_STALE);
    CHECK_INT_EQ(verify(h, BODY, 1699999700, "whsec_test_secret", NULL), CTL_PAY_SIG_OK);
    CHECK_INT_EQ(verify(h, BODY, 1699999699, "whsec_test_secret", NULL), CTL_PAY_SIG_STALE);
    /* a stale header is refused even when the signature is right */
    CHECK_INT_EQ(verify(h, BODY, 1800000000, "whsec_test_secret", NULL), CTL_PAY_SIG_STALE);
}

TEST(several_v1_and_secrets)
{
    char h[512];
    /* ours is the second v1 */
    snprintf(h, sizeof h, "t=1700000000,v1=%064d,v1=%s", 0, V_TEST);
    CHECK_INT_EQ(verify(h, BODY, 1700000000, "whsec_test_secret", NULL), CTL_PAY_SIG_OK);
    /* one v1 per provider secret, we know only the other one (rotation) */
    snprintf(h, sizeof h, "t=1700000000,v1=%s,v1=%s", V_TEST, V_OTHER);
    CHECK_INT_EQ(verify(h, BODY, 1700000000, "whsec_old", "whsec_other"), CTL_PAY_SIG_OK);
    /* other schemes are ignored; spaces tolerated */
    snprintf(h, sizeof h, "t=1700000000, v0=abc, v1=%s", V_OTHER);
    CHECK_INT_EQ(verify(h, BODY, 1700000000, "whsec_test_secret", "whsec_other"), CTL_PAY_SIG_OK);
    /* neither secret */
    snprintf(h, sizeof h, "t=1700000000,v1=%s,v1=%s", V_TEST, V_OTHER);
    CHECK_INT_EQ(verify(h, BODY, 1700000000, "whsec_a", "whsec_b"), CTL_PAY_SIG_MISMATCH);
    /* an empty secret never matches */
    CHECK_INT_EQ(verify(h, BODY, 1700000000, "", NULL), CTL_PAY_SIG_MISMATCH);
}

TEST(malformed_headers)
{
    char h[256];
    const char *bad[] = {
        NULL,
        "",
        "t=1700000000",
        "v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
        "t=abc,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
        "t=-5,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
        "t=0,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
        "t=1700000000,v1=22d8",
        "t=1700000000,v1=zzd8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
        "t=1,t=2,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
        "t=99999999999999999999,v1="
        "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
        "garbage,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT_EQ(verify(bad[i], BODY, 1700000000, "whsec_test_secret", NULL),
                     CTL_PAY_SIG_MALFORMED);
    /* more than CTL_PAY_SIG_MAX_V1 values: the extra ones are ignored */
    size_t n = (size_t)snprintf(h, sizeof h, "t=1700000000");
    ctl_pay_sig s;
    char big[2048];
    snprintf(big, sizeof big, "%s", h);
    n = strlen(big);
    for (int i = 0; i < 12; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, ",v1=%064d", i);
    CHECK_INT_EQ(ctl_pay_sig_parse(big, &s), 0);
    CHECK_INT_EQ(s.nv1, CTL_PAY_SIG_MAX_V1);
    CHECK_INT_EQ(s.t, 1700000000);
}

TEST(idempotency_keys)
{
    CHECK(ctl_idem_key_valid("a"));
    CHECK(ctl_idem_key_valid("550e8400-e29b-41d4-a716-446655440000"));
    CHECK(!ctl_idem_key_valid(""));
    CHECK(!ctl_idem_key_valid(NULL));
    CHECK(!ctl_idem_key_valid("has space"));
    CHECK(!ctl_idem_key_valid("tab\tkey"));
    CHECK(!ctl_idem_key_valid("caf\xc3\xa9"));
    char k[300];
    memset(k, 'k', sizeof k);
    k[255] = '\0';
    CHECK(ctl_idem_key_valid(k));
    k[255] = 'k';
    k[256] = '\0';
    CHECK(!ctl_idem_key_valid(k));
}

TEST(provider_objects)
{
    CHECK(ctl_pi_status_parse("requires_action") == CTL_PI_REQUIRES_ACTION);
    CHECK(ctl_pi_status_parse("succeeded") == CTL_PI_SUCCEEDED);
    CHECK(ctl_pi_status_parse("bogus") == CTL_PI_UNKNOWN);
    CHECK(ctl_pi_status_parse(NULL) == CTL_PI_UNKNOWN);
    CHECK_STR_EQ(ctl_pi_status_name(CTL_PI_CANCELED), "canceled");
    CHECK(ctl_re_status_parse("pending") == CTL_RE_PENDING);
    json_t *o =
        json_loads("{\"id\":\"pi_1\",\"object\":\"payment_intent\",\"amount\":2500,"
                   "\"amount_received\":2500,\"currency\":\"eur\",\"status\":\"succeeded\","
                   "\"client_secret\":\"pi_1_secret_x\",\"metadata\":{\"payment_id\":\"42\"},"
                   "\"last_payment_error\":null,\"next_action\":null}",
                   0, NULL);
    ctl_pay_intent pi;
    REQUIRE(ctl_pay_intent_from_json(o, &pi) == 0);
    CHECK_STR_EQ(pi.id, "pi_1");
    CHECK_INT_EQ(pi.amount_received, 2500);
    CHECK_INT_EQ(pi.payment_id, 42);
    CHECK(pi.status == CTL_PI_SUCCEEDED);
    json_decref(o);
    o = json_loads("{\"id\":\"re_1\",\"object\":\"refund\",\"metadata\":{\"refund_id\":\"1x\"}}", 0,
                   NULL);
    ctl_pay_intent pj;
    CHECK(ctl_pay_intent_from_json(o, &pj) == -1);
    ctl_pay_refund re;
    REQUIRE(ctl_pay_refund_from_json(o, &re) == 0);
    CHECK_INT_EQ(re.refund_id, 0); /* not a number: ignored */
    json_decref(o);
}
