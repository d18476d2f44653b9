/*
 * Fuzz the access-token parser and verifier (control/auth_jwt.c, b64url.c).
 * The first byte picks a mode:
 *   even: the rest is a token string, verified as is (structure, header,
 *         signature paths);
 *   odd:  the rest is "<header JSON>\n<payload JSON>", which is encoded and
 *         correctly signed with the test key first, so the fuzzer reaches
 *         the header rules and claim checks behind the signature.
 */
#include "control/auth_jwt.h"
#include "control/b64url.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void keyset(ctl_jwt_keyset *ks)
{
    memset(ks, 0, sizeof *ks);
    snprintf(ks->keys[0].kid, sizeof ks->keys[0].kid, "fuzzkey-0001");
    memset(ks->keys[0].secret, 0x42, CTL_JWT_SECRET_LEN);
    ks->n = 1;
}

static void signed_token(const uint8_t *d, size_t n, char *out, size_t cap)
{
    const uint8_t *nl = memchr(d, '\n', n);
    size_t hl = nl ? (size_t)(nl - d) : n;
    size_t pl = nl ? n - hl - 1 : 0;
    int a = ctl_b64url_encode(d, hl, out, cap);
    if (a < 0 || (size_t)a + 2 >= cap)
        return;
    out[a] = '.';
    int b = ctl_b64url_encode(nl ? nl + 1 : d, pl, out + a + 1, cap - (size_t)a - 1);
    if (b < 0)
        return;
    size_t used = (size_t)a + 1 + (size_t)b;
    unsigned char mac[32];
    unsigned int ml = 0;
    unsigned char key[CTL_JWT_SECRET_LEN];
    memset(key, 0x42, sizeof key);
    HMAC(EVP_sha256(), key, sizeof key, (const unsigned char *)out, used, mac, &ml);
    if (used + 1 + 44 >= cap)
        return;
    out[used] = '.';
    ctl_b64url_encode(mac, ml, out + used + 1, cap - used - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 3 * CTL_JWT_MAX_TOKEN)
        return 0;
    char *tok = calloc(1, 4 * CTL_JWT_MAX_TOKEN + 1);
    if (!tok)
        return 0;
    if (data[0] & 1)
        signed_token(data + 1, size - 1, tok, 4 * CTL_JWT_MAX_TOKEN);
    else
        memcpy(tok, data + 1, size - 1 < 4 * CTL_JWT_MAX_TOKEN ? size - 1 : 4 * CTL_JWT_MAX_TOKEN);
    ctl_jwt_keyset ks;
    keyset(&ks);
    ctl_jwt_expect ex = {.iss = "https://mentorlink.test", .aud = "mentorlink-api",
                         .now = 1700000000, .leeway_s = 30, .max_ttl_s = 900};
    ctl_jwt_claims c;
    int rc = ctl_jwt_verify(tok, &ks, &ex, &c);
    if (rc == 0 && (c.sub <= 0 || c.exp <= c.iat))
        abort(); /* an accepted token always has a user and a lifetime */
    ctl_jose j;
    if (ctl_jose_parse(tok, &j) == 0)
        ctl_jose_free(&j);
    free(tok);
    return 0;
}
