/*
 * Fuzz the Stripe-Signature parser and verifier (control/pay_sig.c), which
 * reads a header from anyone who can reach the public webhook route. The
 * input is split at the first newline: before it the header, after it the
 * body. Verification runs under two secrets with a clock taken from the
 * parsed t (so the fuzzer also reaches the HMAC comparison).
 */
#include "control/pay_sig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *nl = memchr(buf, '\n', size);
    const char *body = "";
    size_t blen = 0;
    if (nl) {
        *nl = '\0';
        body = nl + 1;
        blen = size - (size_t)(nl + 1 - buf);
    }
    ctl_pay_sig s;
    long long now = 1700000000;
    if (ctl_pay_sig_parse(buf, &s) == 0)
        now = s.t;
    const char *secrets[2] = {"whsec_fuzz_one", "whsec_fuzz_two"};
    int rc = ctl_pay_sig_verify(buf, body, blen, secrets, 2, now, 300);
    if (rc != CTL_PAY_SIG_OK && rc != CTL_PAY_SIG_MALFORMED && rc != CTL_PAY_SIG_STALE &&
        rc != CTL_PAY_SIG_MISMATCH)
        abort();
    free(buf);
    return 0;
}
