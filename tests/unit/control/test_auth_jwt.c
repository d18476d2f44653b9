/*
 * Access-token verification (control/auth_jwt.c) against hand-made tokens:
 * every header, signature and claim rule has a case here, built byte by
 * byte with OpenSSL's HMAC so the tests do not trust the signer under test.
 */
#include "control/auth_jwt.h"
#include "control/b64url.h"
#include "tests/unit/harness.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define NOW 1700000000LL
#define ISS "https://mentorlink.test"
#define AUD "mentorlink-api"

static ctl_jwt_keyset keys(void)
{
    ctl_jwt_keyset ks;
    memset(&ks, 0, sizeof ks);
    snprintf(ks.keys[0].kid, sizeof ks.keys[0].kid, "key-new-0001");
    memset(ks.keys[0].secret, 0x42, CTL_JWT_SECRET_LEN);
    snprintf(ks.keys[1].kid, sizeof ks.keys[1].kid, "key-old-0001");
    memset(ks.keys[1].secret, 0x17, CTL_JWT_SECRET_LEN);
    ks.n = 2;
    return ks;
}

static ctl_jwt_expect expect(void)
{
    ctl_jwt_expect ex = {.iss = ISS, .aud = AUD, .now = NOW, .leeway_s = 30, .max_ttl_s = 900};
    return ex;
}

/* header and payload JSON -> compact JWS HMAC-signed with secret (or the
 * literal signature `sig` when not NULL). */
static void make(char *out, size_t cap, const char *header, const char *payload,
                 const unsigned char *secret, const char *sig)
{
    char h[1024], p[2048], s[128];
    ctl_b64url_encode((const unsigned char *)header, strlen(header), h, sizeof h);
    ctl_b64url_encode((const unsigned char *)payload, strlen(payload), p, sizeof p);
    snprintf(out, cap, "%s.%s", h, p);
    if (sig) {
        snprintf(out + strlen(out), cap - strlen(out), ".%s", sig);
        return;
    }
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret, CTL_JWT_SECRET_LEN, (const unsigned char *)out, strlen(out), mac,
         &len);
    ctl_b64url_encode(mac, len, s, sizeof s);
    snprintf(out + strlen(out), cap - strlen(out), ".%s", s);
}

static char *claims(char *buf, size_t cap, const char *iss, const char *aud, long long iat,
                    long long nbf, long long exp)
{
    snprintf(buf, cap,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"42\",\"role\":\"mentor\",\"jti\":\"abc\","
             "\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}",
             iss, aud, iat, nbf, exp);
    return buf;
}

#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"key-new-0001\"}"

static int verify_with(const char *header, const char *payload, const unsigned char *secret)
{
    ctl_jwt_keyset ks = keys();
    ctl_jwt_expect ex = expect();
    ctl_jwt_claims c;
    char tok[4096];
    make(tok, sizeof tok, header, payload, secret, NULL);
    return ctl_jwt_verify(tok, &ks, &ex, &c);
}

TEST(jwt_sign_then_verify)
{
    ctl_jwt_keyset ks = keys();
    ctl_jwt_expect ex = expect();
    ctl_jwt_claims c;
    char tok[CTL_JWT_MAX_TOKEN], jti[48];
    REQUIRE(ctl_jwt_sign(&ks, ISS, AUD, 7, "admin", NOW, 900, tok, sizeof tok, jti) == 0);
    CHECK_INT_EQ(ctl_jwt_verify(tok, &ks, &ex, &c), 0);
    CHECK_INT_EQ(c.sub, 7);
    CHECK(!strcmp(c.role, "admin"));
    CHECK(!strcmp(c.jti, jti));
    CHECK(!strcmp(c.kid, "key-new-0001"));
    CHECK_INT_EQ(c.exp, NOW + 900);
    CHECK(strlen(tok) < 500); /* fits the 512-byte header copy of ctl_request */
}

TEST(jwt_hand_made_valid_and_old_key)
{
    ctl_jwt_keyset ks = keys();
    char p[512];
    claims(p, sizeof p, ISS, AUD, NOW - 10, NOW - 10, NOW + 600);
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), 0);
    /* an older key still verifies while it is in the set */
    CHECK_INT_EQ(verify_with("{\"alg\":\"HS256\",\"kid\":\"key-old-0001\"}", p, ks.keys[1].secret),
                 0);
    /* but a token naming one kid and signed with the other does not */
    CHECK_INT_EQ(verify_with("{\"alg\":\"HS256\",\"kid\":\"key-old-0001\"}", p, ks.keys[0].secret),
                 CTL_JWT_BAD_SIG);
}

TEST(jwt_time_claims)
{
    ctl_jwt_keyset ks = keys();
    char p[512];
    claims(p, sizeof p, ISS, AUD, NOW - 900, NOW - 900, NOW - 31);
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), CTL_JWT_EXPIRED);
    claims(p, sizeof p, ISS, AUD, NOW - 900, NOW - 900, NOW - 20); /* within leeway */
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), 0);
    claims(p, sizeof p, ISS, AUD, NOW, NOW + 120, NOW + 600);
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), CTL_JWT_NOT_YET);
    claims(p, sizeof p, ISS, AUD, NOW + 120, NOW, NOW + 600);
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), CTL_JWT_NOT_YET);
    claims(p, sizeof p, ISS, AUD, NOW, NOW, NOW + 901); /* longer than max_ttl */
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), CTL_JWT_BAD_CLAIM);
    claims(p, sizeof p, ISS, AUD, NOW, NOW, NOW); /* exp not after iat */
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), CTL_JWT_BAD_CLAIM);
    claims(p, sizeof p, ISS, AUD, -5, 0, NOW + 10); /* negative times */
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), CTL_JWT_BAD_CLAIM);
}

TEST(jwt_iss_aud_sub_role)
{
    ctl_jwt_keyset ks = keys();
    char p[512];
    claims(p, sizeof p, "https://evil.test", AUD, NOW, NOW, NOW + 600);
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), CTL_JWT_BAD_CLAIM);
    claims(p, sizeof p, ISS, "other-api", NOW, NOW, NOW + 600);
    CHECK_INT_EQ(verify_with(HDR, p, ks.keys[0].secret), CTL_JWT_BAD_CLAIM);
    const char *bad[] = {
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"042\",\"role\":\"mentor\",\"jti\":\"a\","
        "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000600}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"-1\",\"role\":\"mentor\",\"jti\":\"a\","
        "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000600}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"1\",\"role\":\"root\",\"jti\":\"a\","
        "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000600}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"99999999999999999999\",\"role\":"
        "\"mentor\",\"jti\":\"a\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000600}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT_EQ(verify_with(HDR, bad[i], ks.keys[0].secret), CTL_JWT_BAD_CLAIM);
    /* wrong types and missing claims are malformed */
    const char *malformed[] = {
        "{\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\"],\"sub\":\"1\",\"role\":\"mentor\",\"jti\":\"a\","
        "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000600}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":1,\"role\":\"mentor\",\"jti\":\"a\","
        "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000600}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"1\",\"role\":\"mentor\",\"jti\":\"a\","
        "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":\"1700000600\"}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"1\",\"role\":\"mentor\",\"jti\":\"a\","
        "\"iat\":1700000000,\"nbf\":1700000000}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"1\",\"sub\":\"2\",\"role\":\"mentor\","
        "\"jti\":\"a\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000600}",
        "[1,2,3]",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        CHECK_INT_EQ(verify_with(HDR, malformed[i], ks.keys[0].secret), CTL_JWT_MALFORMED);
}

TEST(jwt_algorithm_pinned)
{
    ctl_jwt_keyset ks = keys();
    ctl_jwt_expect ex = expect();
    ctl_jwt_claims c;
    char p[512], tok[4096];
    claims(p, sizeof p, ISS, AUD, NOW, NOW, NOW + 600);
    /* alg none with an empty signature, with and without a kid */
    make(tok, sizeof tok, "{\"alg\":\"none\",\"kid\":\"key-new-0001\"}", p, NULL, "");
    CHECK_INT_EQ(ctl_jwt_verify(tok, &ks, &ex, &c), CTL_JWT_BAD_ALG);
    make(tok, sizeof tok, "{\"alg\":\"none\"}", p, NULL, "");
    CHECK_INT_EQ(ctl_jwt_verify(tok, &ks, &ex, &c), CTL_JWT_BAD_ALG);
    make(tok, sizeof tok, "{\"alg\":\"None\",\"kid\":\"key-new-0001\"}", p, NULL, "");
    CHECK_INT_EQ(ctl_jwt_verify(tok, &ks, &ex, &c), CTL_JWT_BAD_ALG);
    /* other algorithms, even with a correct HMAC under the key */
    const char *algs[] = {"HS384", "HS512", "RS256", "ES256", "PS256", "EdDSA", "hs256", "HS256 ",
                          ""};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char h[128];
        snprintf(h, sizeof h, "{\"alg\":\"%s\",\"kid\":\"key-new-0001\"}", algs[i]);
        CHECK_INT_EQ(verify_with(h, p, ks.keys[0].secret), CTL_JWT_BAD_ALG);
    }
    CHECK_INT_EQ(verify_with("{\"kid\":\"key-new-0001\"}", p, ks.keys[0].secret), CTL_JWT_BAD_ALG);
    CHECK_INT_EQ(verify_with("{\"alg\":[\"HS256\"],\"kid\":\"key-new-0001\"}", p, ks.keys[0].secret),
                 CTL_JWT_BAD_ALG);
}

TEST(jwt_header_rules)
{
    ctl_jwt_keyset ks = keys();
    char p[512];
    claims(p, sizeof p, ISS, AUD, NOW, NOW, NOW + 600);
    CHECK_INT_EQ(verify_with("{\"alg\":\"HS256\"}", p, ks.keys[0].secret), CTL_JWT_MALFORMED);
    CHECK_INT_EQ(verify_with("{\"alg\":\"HS256\",\"kid\":\"nope\"}", p, ks.keys[0].secret),
                 CTL_JWT_UNKNOWN_KID);
    CHECK_INT_EQ(verify_with("{\"alg\":\"HS256\",\"kid\":7}", p, ks.keys[0].secret),
                 CTL_JWT_MALFORMED);
    CHECK_INT_EQ(verify_with("{\"alg\":\"HS256\",\"kid\":\"key-new-0001\",\"jku\":\"http://x\"}", p,
                             ks.keys[0].secret),
                 CTL_JWT_MALFORMED);
    CHECK_INT_EQ(verify_with("{\"alg\":\"HS256\",\"kid\":\"key-new-0001\",\"crit\":[\"exp\"]}", p,
                             ks.keys[0].secret),
                 CTL_JWT_MALFORMED);
    CHECK_INT_EQ(verify_with("{\"alg\":\"HS256\",\"kid\":\"key-new-0001\",\"typ\":\"at+jwt\"}", p,
                             ks.keys[0].secret),
                 CTL_JWT_MALFORMED);
    CHECK_INT_EQ(
        verify_with("{\"alg\":\"HS256\",\"alg\":\"HS256\",\"kid\":\"key-new-0001\"}", p,
                    ks.keys[0].secret),
        CTL_JWT_MALFORMED);
}

TEST(jwt_signature_checks)
{
    ctl_jwt_keyset ks = keys();
    ctl_jwt_expect ex = expect();
    ctl_jwt_claims c;
    char p[512], tok[4096];
    unsigned char other[CTL_JWT_SECRET_LEN];
    memset(other, 0x43, sizeof other);
    claims(p, sizeof p, ISS, AUD, NOW, NOW, NOW + 600);
    CHECK_INT_EQ(verify_with(HDR, p, other), CTL_JWT_BAD_SIG);
    make(tok, sizeof tok, HDR, p, ks.keys[0].secret, NULL);
    /* flip one payload character */
    char *dot = strchr(tok, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    CHECK(ctl_jwt_verify(tok, &ks, &ex, &c) != 0);
    /* truncated and extended signatures */
    make(tok, sizeof tok, HDR, p, ks.keys[0].secret, NULL);
    size_t n = strlen(tok);
    tok[n - 4] = '\0';
    CHECK(ctl_jwt_verify(tok, &ks, &ex, &c) != 0);
    make(tok, sizeof tok, HDR, p, ks.keys[0].secret, NULL);
    strcat(tok, "AAAA");
    CHECK_INT_EQ(ctl_jwt_verify(tok, &ks, &ex, &c), CTL_JWT_BAD_SIG);
    make(tok, sizeof tok, HDR, p, NULL, "");
    CHECK_INT_EQ(ctl_jwt_verify(tok, &ks, &ex, &c), CTL_JWT_BAD_SIG);
}

TEST(jwt_structure)
{
    ctl_jwt_keyset ks = keys();
    ctl_jwt_expect ex = expect();
    ctl_jwt_claims c;
    const char *bad[] = {"", ".", "..", "...", "a.b", "a.b.c.d", "eyJ.eyJ.", "e30.e30.",
                         "e30=.e30.AAAA", "e30.e30.AA==", "e30 .e30.AAAA", "!!.??.**"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(ctl_jwt_verify(bad[i], &ks, &ex, &c) < 0);
    char big[CTL_JWT_MAX_TOKEN + 100];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[10] = '.';
    big[20] = '.';
    CHECK_INT_EQ(ctl_jwt_verify(big, &ks, &ex, &c), CTL_JWT_MALFORMED);
}

TEST(b64url_strict)
{
    unsigned char out[16];
    char text[32];
    CHECK_INT_EQ(ctl_b64url_encode((const unsigned char *)"hi?", 3, text, sizeof text), 4);
    CHECK(!strcmp(text, "aGk_"));
    CHECK_INT_EQ(ctl_b64url_decode("aGk_", 4, out, sizeof out), 3);
    CHECK_INT_EQ(ctl_b64url_decode("aGk", 3, out, sizeof out), 2);
    CHECK_INT_EQ(ctl_b64url_decode("aGl", 3, out, sizeof out), -1); /* non-zero trailing bits */
    CHECK_INT_EQ(ctl_b64url_decode("aGk=", 4, out, sizeof out), -1);
    CHECK_INT_EQ(ctl_b64url_decode("aGk+", 4, out, sizeof out), -1);
    CHECK_INT_EQ(ctl_b64url_decode("a", 1, out, sizeof out), -1);
    CHECK_INT_EQ(ctl_b64url_decode("aGk_aGk_", 8, out, 5), -1);
    CHECK_INT_EQ(ctl_b64url_encode((const unsigned char *)"hi?", 3, text, 4), -1);
    for (size_t n = 0; n < 12; n++) {
        unsigned char in[12], back[12];
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(i * 37 + n);
        int el = ctl_b64url_encode(in, n, text, sizeof text);
        REQUIRE(el >= 0);
        CHECK_INT_EQ(ctl_b64url_decode(text, (size_t)el, back, sizeof back), n);
        CHECK(memcmp(in, back, n) == 0);
    }
}
