/* Unit tests for tools/fakepay/signature.c: Stripe-Signature headers,
 * checked against HMAC-SHA256 values computed independently (Python's
 * hmac module). */
#include "tests/unit/harness.h"
#include "tools/fakepay/signature.h"

#include <string.h>

static const char body[] = "{\"id\":\"evt_1\"}";

TEST(sig_v1_matches_reference)
{
    char hex[65];
    REQUIRE(fp_sig_v1("whsec_one", 1700000000, body, strlen(body), hex) == 0);
    CHECK_STR_EQ(hex, "401fbbceeb3818dc562ff77127ba1c62e47e24c9c6cde4d7a6eba85e32dbd058");
    REQUIRE(fp_sig_v1("key", 0, "", 0, hex) == 0);
    CHECK_STR_EQ(hex, "85841b4efc3cd7776c3c8f9b7cca9e281c550e5d19889d78e9e669c6337f000d");
}

TEST(sig_header_one_v1_per_secret)
{
    const char *secrets[] = {"whsec_one", "whsec_two"};
    char h[512];
    REQUIRE(fp_sig_header(secrets, 2, 1700000000, body, strlen(body), h, sizeof h) == 0);
    CHECK_STR_EQ(h, "t=1700000000,"
                    "v1=401fbbceeb3818dc562ff77127ba1c62e47e24c9c6cde4d7a6eba85e32dbd058,"
                    "v1=4fb9aa7e8a9678e685ef5c7eafa19ac1eb7c0564196cbe246ca08c2fd799eaf3");
    REQUIRE(fp_sig_header(secrets, 0, 5, body, strlen(body), h, sizeof h) == 0);
    CHECK_STR_EQ(h, "t=5");
}

TEST(sig_header_refuses_to_truncate)
{
    const char *secrets[] = {"whsec_one"};
    char h[40];
    CHECK(fp_sig_header(secrets, 1, 1700000000, body, strlen(body), h, sizeof h) == -1);
    CHECK(fp_sig_header(secrets, 1, 1700000000, body, strlen(body), h, 3) == -1);
}
