/* Room join tokens: round trip, another session's token refused, tampered
 * signature/header/payload, expiry, wrong key, key file creation. */
#include "control/b64url.h"
#include "control/room_token.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const unsigned char key1[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char key2[32] = "fedcba9876543210fedcba9876543210";

static void make(long long sid, long long uid, ctl_room_role role, long long exp_in, char *out)
{
    long long now = (long long)time(NULL);
    ctl_room_claims c = {
        .session_id = sid, .user_id = uid, .role = role, .iat = now, .exp = now + exp_in};
    REQUIRE(ctl_room_token_sign(&c, out, CTL_ROOM_TOKEN_MAX) == 0);
}

TEST(round_trip)
{
    REQUIRE(ctl_room_token_set_key(key1, sizeof key1) == 0);
    char tok[CTL_ROOM_TOKEN_MAX], err[128];
    make(7, 42, CTL_ROOM_PUBLISH, 120, tok);
    ctl_room_claims c = {0};
    REQUIRE(ctl_room_token_verify(tok, &c, err, sizeof err) == 0);
    CHECK_INT_EQ(c.session_id, 7);
    CHECK_INT_EQ(c.user_id, 42);
    CHECK(c.role == CTL_ROOM_PUBLISH);
    ctl_room_claims want = {.session_id = 7};
    CHECK(ctl_room_token_verify(tok, &want, err, sizeof err) == 0);
    CHECK(want.role == CTL_ROOM_PUBLISH);
}

TEST(other_session_refused)
{
    REQUIRE(ctl_room_token_set_key(key1, sizeof key1) == 0);
    char tok[CTL_ROOM_TOKEN_MAX], err[128] = "";
    make(8, 42, CTL_ROOM_SUBSCRIBE, 120, tok);
    ctl_room_claims want = {.session_id = 9};
    CHECK(ctl_room_token_verify(tok, &want, err, sizeof err) != 0);
    CHECK(strstr(err, "another session") != NULL);
    CHECK_INT_EQ(want.session_id, 9); /* untouched on failure */
}

TEST(tampering_and_expiry)
{
    REQUIRE(ctl_room_token_set_key(key1, sizeof key1) == 0);
    char tok[CTL_ROOM_TOKEN_MAX], bad[CTL_ROOM_TOKEN_MAX], err[128];
    ctl_room_claims c;
    make(7, 42, CTL_ROOM_SUBSCRIBE, 120, tok);
    /* flip one signature character */
    snprintf(bad, sizeof bad, "%s", tok);
    size_t n = strlen(bad);
    bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
    memset(&c, 0, sizeof c);
    CHECK(ctl_room_token_verify(bad, &c, err, sizeof err) != 0);
    /* a payload claiming publish with the old signature */
    char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    const char *pl = "{\"aud\":\"mentorlink-room\",\"sid\":7,\"sub\":42,\"role\":\"publish\","
                     "\"iat\":1,\"exp\":99999999999,\"jti\":\"x\"}";
    char enc[400];
    REQUIRE(ctl_b64url_encode((const unsigned char *)pl, strlen(pl), enc, sizeof enc) > 0);
    snprintf(bad, sizeof bad, "%.*s.%s%s", (int)(d1 - tok), tok, enc, d2);
    memset(&c, 0, sizeof c);
    CHECK(ctl_room_token_verify(bad, &c, err, sizeof err) != 0);
    /* alg none */
    char hdr[64];
    const char *none = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    REQUIRE(ctl_b64url_encode((const unsigned char *)none, strlen(none), hdr, sizeof hdr) > 0);
    snprintf(bad, sizeof bad, "%s%.*s.", hdr, (int)(d2 - d1), d1);
    memset(&c, 0, sizeof c);
    CHECK(ctl_room_token_verify(bad, &c, err, sizeof err) != 0);
    /* garbage */
    CHECK(ctl_room_token_verify("a.b.c", &c, err, sizeof err) != 0);
    CHECK(ctl_room_token_verify("", &c, err, sizeof err) != 0);
    /* expired */
    make(7, 42, CTL_ROOM_SUBSCRIBE, -60, tok);
    memset(&c, 0, sizeof c);
    CHECK(ctl_room_token_verify(tok, &c, err, sizeof err) != 0);
    /* another key */
    make(7, 42, CTL_ROOM_SUBSCRIBE, 120, tok);
    REQUIRE(ctl_room_token_set_key(key2, sizeof key2) == 0);
    memset(&c, 0, sizeof c);
    CHECK(ctl_room_token_verify(tok, &c, err, sizeof err) != 0);
}

TEST(short_key_refused)
{
    CHECK(ctl_room_token_set_key(key1, 16) != 0);
}
