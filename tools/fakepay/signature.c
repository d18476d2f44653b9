/*
 * Stripe-Signature header building; see signature.h.
 */
#include "tools/fakepay/signature.h"
#include "common/hex.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fp_sig_v1(const char *secret, long long t, const char *body, size_t body_len, char out[65])
{
    char prefix[32];
    int pl = snprintf(prefix, sizeof prefix, "%lld.", t);
    size_t total = (size_t)pl + body_len;
    unsigned char *msg = malloc(total ? total : 1);
    if (!msg)
        return -1;
    memcpy(msg, prefix, (size_t)pl);
    if (body_len)
        memcpy(msg + pl, body, body_len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    unsigned char *r = HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, total, mac, &maclen);
    free(msg);
    if (!r || maclen != 32)
        return -1;
    ml_hex_encode(mac, 32, out);
    return 0;
}

int fp_sig_header(const char *const *secrets, size_t nsecrets, long long t, const char *body,
                  size_t body_len, char *out, size_t cap)
{
    int n = snprintf(out, cap, "t=%lld", t);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    size_t o = (size_t)n;
    for (size_t i = 0; i < nsecrets; i++) {
        char hex[65];
        if (fp_sig_v1(secrets[i], t, body, body_len, hex) != 0)
            return -1;
        n = snprintf(out + o, cap - o, ",v1=%s", hex);
        if (n < 0 || (size_t)n >= cap - o)
            return -1;
        o += (size_t)n;
    }
    return 0;
}
