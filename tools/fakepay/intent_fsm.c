/*
 * PaymentIntent transitions and test payment methods as tables; see
 * intent_fsm.h. Pure: no state, no allocation.
 */
#include "tools/fakepay/intent_fsm.h"

#include <stddef.h>
#include <string.h>

#define X -1
#define RPM FP_PI_REQUIRES_PAYMENT_METHOD
#define RC FP_PI_REQUIRES_CONFIRMATION
#define RA FP_PI_REQUIRES_ACTION
#define PR FP_PI_PROCESSING
#define OK FP_PI_SUCCEEDED
#define CA FP_PI_CANCELED

/* clang-format off */
/* rows: from-state; columns: fp_pi_event in enum order
 *                 ATTACH CONF_OK DECLINE ACTION PROCESS AUTH_OK AUTH_FAIL SETTLE CANCEL */
static const signed char table[FP_PI_NSTATES][FP_EV_N] = {
    [RPM] = {RC, OK, RPM, RA, PR, X, X, X, CA},
    [RC] = {RC, OK, RPM, RA, PR, X, X, X, CA},
    [RA] = {X, OK, RPM, RA, PR, OK, RPM, X, CA},
    [PR] = {X, X, X, X, X, X, X, OK, X},
    [OK] = {X, X, X, X, X, X, X, X, X},
    [CA] = {X, X, X, X, X, X, X, X, X},
};
/* clang-format on */

static const char *const names[FP_PI_NSTATES] = {
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "succeeded",
    "canceled",
};

static const struct {
    const char *pm;
    const char *card;
    fp_pm_kind kind;
} methods[] = {
    {"pm_card_visa", "4242424242424242", FP_PM_VISA},
    {"pm_card_chargeDeclined", "4000000000000002", FP_PM_DECLINED},
    {"pm_card_authenticationRequired", "4000002760003184", FP_PM_AUTH_REQUIRED},
    {"pm_card_processing", "4000000000000077", FP_PM_PROCESSING},
};

int fp_pi_next(fp_pi_state from, fp_pi_event ev)
{
    if ((int)from < 0 || from >= FP_PI_NSTATES || (int)ev < 0 || ev >= FP_EV_N)
        return -1;
    return table[from][ev];
}

const char *fp_pi_state_name(fp_pi_state s)
{
    return ((int)s >= 0 && s < FP_PI_NSTATES) ? names[s] : "unknown";
}

int fp_pi_state_parse(const char *name)
{
    for (int i = 0; name && i < FP_PI_NSTATES; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

fp_pm_kind fp_pm_kind_of(const char *pm)
{
    for (size_t i = 0; pm && i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(methods[i].pm, pm) == 0)
            return methods[i].kind;
    return FP_PM_UNKNOWN;
}

const char *fp_pm_for_card(const char *number)
{
    char digits[32];
    size_t n = 0;
    for (const char *p = number; p && *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (*p < '0' || *p > '9' || n + 1 >= sizeof digits)
            return NULL;
        digits[n++] = *p;
    }
    digits[n] = '\0';
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(methods[i].card, digits) == 0)
            return methods[i].pm;
    return NULL;
}

fp_pi_event fp_pm_confirm_event(fp_pm_kind k)
{
    switch (k) {
    case FP_PM_VISA:
        return FP_EV_CONFIRM_OK;
    case FP_PM_AUTH_REQUIRED:
        return FP_EV_CONFIRM_ACTION;
    case FP_PM_PROCESSING:
        return FP_EV_CONFIRM_PROCESSING;
    case FP_PM_DECLINED:
    default:
        return FP_EV_CONFIRM_DECLINE;
    }
}
