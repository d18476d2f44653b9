/*
 * TURN REST credentials. Expected passwords were computed independently
 * with the openssl command line (HMAC-SHA1, then base64):
 *   printf '%s' '1700086400:user-42' \
 *     | openssl dgst -sha1 -hmac 'north-wind-secret' -binary | base64
 *   printf '%s' '1700000060' | openssl dgst -sha1 -hmac 's3cr3t' -binary | base64
 */
#include "tests/unit/harness.h"

#include "sfu/turn.h"

TEST(turn_known_credential)
{
    char user[128], pass[SFU_TURN_PASSWORD_MAX];

    CHECK_INT_EQ(sfu_turn_credentials("north-wind-secret", "user-42", 86400, 1700000000, user,
                                      sizeof user, pass, sizeof pass),
                 0);
    CHECK_STR_EQ(user, "1700086400:user-42");
    CHECK_STR_EQ(pass, "LJevxHElMIGlxtfshCjlpVkzRTg=");
}

TEST(turn_without_user_id)
{
    char user[128], pass[SFU_TURN_PASSWORD_MAX];

    CHECK_INT_EQ(
        sfu_turn_credentials("s3cr3t", NULL, 60, 1700000000, user, sizeof user, pass, sizeof pass),
        0);
    CHECK_STR_EQ(user, "1700000060");
    CHECK_STR_EQ(pass, "kmOuCaKhtOwmzQaaYmFkuss6k8U=");
    CHECK_INT_EQ(
        sfu_turn_credentials("s3cr3t", "", 60, 1700000000, user, sizeof user, pass, sizeof pass),
        0);
    CHECK_STR_EQ(user, "1700000060");
}

TEST(turn_rejects_bad_arguments)
{
    char user[128], pass[SFU_TURN_PASSWORD_MAX], small[8];

    CHECK_INT_EQ(sfu_turn_credentials("", "u", 60, 1, user, sizeof user, pass, sizeof pass), -1);
    CHECK_INT_EQ(sfu_turn_credentials(NULL, "u", 60, 1, user, sizeof user, pass, sizeof pass), -1);
    CHECK_INT_EQ(sfu_turn_credentials("k", "u", 0, 1, user, sizeof user, pass, sizeof pass), -1);
    CHECK_INT_EQ(sfu_turn_credentials("k", "u", -5, 1, user, sizeof user, pass, sizeof pass), -1);
    /* buffers too small: both outputs come back empty */
    CHECK_INT_EQ(
        sfu_turn_credentials("k", "user", 60, 1700000000, small, sizeof small, pass, sizeof pass),
        -1);
    CHECK_STR_EQ(small, "");
    CHECK_STR_EQ(pass, "");
    CHECK_INT_EQ(
        sfu_turn_credentials("k", "user", 60, 1700000000, user, sizeof user, small, sizeof small),
        -1);
    CHECK_STR_EQ(user, "");
}
