/*
 * Stripe webhook signatures: "t=<unix>,v1=<hex HMAC-SHA256(secret,
 * "<t>.<body>")>[,v1=...]", one v1 per secret. Pure (OpenSSL HMAC only).
 */
#ifndef ML_TOOLS_FAKEPAY_SIGNATURE_H
#define ML_TOOLS_FAKEPAY_SIGNATURE_H

#include <stddef.h>

/* Lowercase hex HMAC-SHA256(secret, "<t>.<body>") into out[65]. 0 or -1. */
int fp_sig_v1(const char *secret, long long t, const char *body, size_t body_len, char out[65]);

/* The whole Stripe-Signature header value for `nsecrets` secrets into out.
 * Returns 0, or -1 if it does not fit or HMAC fails. */
int fp_sig_header(const char *const *secrets, size_t nsecrets, long long t, const char *body,
                  size_t body_len, char *out, size_t cap);

#endif
