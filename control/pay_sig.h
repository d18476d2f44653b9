/*
 * Webhook signatures (Stripe's scheme): the provider sends
 *   Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=...]
 * with one v1 per signing secret (and may add other schemes, ignored).
 * A delivery is genuine when any v1 matches the HMAC under any of our
 * configured secrets (secret rotation), compared in constant time
 * (CRYPTO_memcmp), and t is within the tolerance of our clock.
 *
 * The parser is pure (no I/O, no clock): tests/fuzz/fuzz_pay_sig.c feeds
 * it arbitrary headers.
 */
#ifndef ML_CONTROL_PAY_SIG_H
#define ML_CONTROL_PAY_SIG_H

#include <stddef.h>

#define CTL_PAY_SIG_MAX_V1 8

typedef struct ctl_pay_sig {
    long long t;
    int nv1;
    unsigned char v1[CTL_PAY_SIG_MAX_V1][32]; /* decoded signatures */
} ctl_pay_sig;

/* Results of ctl_pay_sig_verify. */
#define CTL_PAY_SIG_OK 0
#define CTL_PAY_SIG_MALFORMED (-1) /* missing/garbled header, no t, no v1 */
#define CTL_PAY_SIG_STALE (-2)     /* t outside the tolerance */
#define CTL_PAY_SIG_MISMATCH (-3)  /* no v1 matches any secret */

/* Parse a header value: comma-separated key=value pairs; exactly one t
 * (decimal, > 0), v1 values of 64 hex digits (at most CTL_PAY_SIG_MAX_V1
 * kept; more are ignored), other keys ignored. 0 or -1. */
int ctl_pay_sig_parse(const char *header, ctl_pay_sig *out);

/* Compute hex HMAC-SHA256(secret, "<t>.<body>") into hex (65 bytes). */
void ctl_pay_sig_sign(const char *secret, long long t, const char *body, size_t len, char hex[65]);

/* Verify a delivery: header value (NULL = missing), raw body, the
 * secrets, our clock `now` and the tolerance in seconds (|now - t| must be
 * <= tolerance). Returns one of CTL_PAY_SIG_*. */
int ctl_pay_sig_verify(const char *header, const char *body, size_t len, const char *const *secrets,
                       int nsecrets, long long now, int tolerance_s);

#endif
