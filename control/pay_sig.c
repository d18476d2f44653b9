/*
 * Webhook signature parsing and verification; see pay_sig.h. Every v1
 * under every secret is compared (no early exit on the secret that
 * matched first is needed for secrecy: CRYPTO_memcmp hides where a
 * candidate differs, which is what an attacker could learn from).
 */
#include "control/pay_sig.h"
#include "common/hex.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_pay_sig_parse(const char *header, ctl_pay_sig *out)
{
    memset(out, 0, sizeof *out);
    if (!header)
        return -1;
    int have_t = 0;
    const char *p = header;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq) {
            size_t klen = (size_t)(eq - p);
            const char *v = eq + 1;
            size_t vlen = (size_t)(end - v);
            while (vlen > 0 && v[vlen - 1] == ' ')
                vlen--;
            if (klen == 1 && p[0] == 't') {
                if (have_t || vlen == 0 || vlen > 12)
                    return -1;
                long long t = 0;
                for (size_t i = 0; i < vlen; i++) {
                    if (v[i] < '0' || v[i] > '9')
                        return -1;
                    t = t * 10 + (v[i] - '0');
                }
                if (t <= 0)
                    return -1;
                out->t = t;
                have_t = 1;
            } else if (klen == 2 && p[0] == 'v' && p[1] == '1') {
                if (vlen != 64)
                    return -1;
                if (out->nv1 < CTL_PAY_SIG_MAX_V1) {
                    unsigned char *d = out->v1[out->nv1];
                    for (size_t i = 0; i < 32; i++) {
                        int hi = ml_hex_digit(v[2 * i]), lo = ml_hex_digit(v[2 * i + 1]);
                        if (hi < 0 || lo < 0)
                            return -1;
                        d[i] = (unsigned char)(hi * 16 + lo);
                    }
                    out->nv1++;
                }
            }
        } else if (end != p) {
            return -1; /* a piece without '=' */
        }
        p = *end ? end + 1 : end;
    }
    return have_t && out->nv1 > 0 ? 0 : -1;
}

static int mac(const char *secret, long long t, const char *body, size_t len, unsigned char out[32])
{
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "%lld.", t);
    unsigned char *msg = malloc((size_t)n + len + 1);
    unsigned int olen = 32;
    if (!msg)
        return -1;
    memcpy(msg, prefix, (size_t)n);
    if (len)
        memcpy(msg + n, body, len);
    int ok =
        HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, (size_t)n + len, out, &olen) != NULL;
    free(msg);
    return ok ? 0 : -1;
}

void ctl_pay_sig_sign(const char *secret, long long t, const char *body, size_t len, char hex[65])
{
    unsigned char m[32] = {0};
    if (mac(secret, t, body, len, m) != 0)
        memset(m, 0, sizeof m);
    ml_hex_encode(m, sizeof m, hex);
}

int ctl_pay_sig_verify(const char *header, const char *body, size_t len, const char *const *secrets,
                       int nsecrets, long long now, int tolerance_s)
{
    ctl_pay_sig sig;
    if (ctl_pay_sig_parse(header, &sig) != 0)
        return CTL_PAY_SIG_MALFORMED;
    long long age = now - sig.t;
    if (age > tolerance_s || age < -(long long)tolerance_s)
        return CTL_PAY_SIG_STALE;
    int ok = 0;
    for (int s = 0; s < nsecrets; s++) {
        if (!secrets[s] || !secrets[s][0])
            continue;
        unsigned char m[32];
        if (mac(secrets[s], sig.t, body, len, m) != 0)
            continue;
        for (int i = 0; i < sig.nv1; i++)
            ok |= CRYPTO_memcmp(m, sig.v1[i], 32) == 0;
    }
    return ok ? CTL_PAY_SIG_OK : CTL_PAY_SIG_MISMATCH;
}
