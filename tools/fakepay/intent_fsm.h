/*
 * The PaymentIntent state machine as a pure table (Stripe's states, the
 * subset mlfakepay implements). Unit-tested on its own.
 *
 *   requires_payment_method --attach--> requires_confirmation
 *   requires_payment_method|requires_confirmation|requires_action
 *        --confirm--> processing | requires_action | succeeded
 *                   | requires_payment_method (declined)
 *   requires_action --auth_ok--> succeeded, --auth_fail--> requires_payment_method
 *   processing --settle--> succeeded
 *   any but processing/succeeded/canceled --cancel--> canceled
 */
#ifndef ML_TOOLS_FAKEPAY_INTENT_FSM_H
#define ML_TOOLS_FAKEPAY_INTENT_FSM_H

typedef enum {
    FP_PI_REQUIRES_PAYMENT_METHOD = 0,
    FP_PI_REQUIRES_CONFIRMATION,
    FP_PI_REQUIRES_ACTION,
    FP_PI_PROCESSING,
    FP_PI_SUCCEEDED,
    FP_PI_CANCELED,
    FP_PI_NSTATES
} fp_pi_state;

typedef enum {
    FP_EV_ATTACH = 0, /* a payment method is set without confirming */
    FP_EV_CONFIRM_OK, /* confirm, card succeeds at once */
    FP_EV_CONFIRM_DECLINE,
    FP_EV_CONFIRM_ACTION, /* card needs authentication */
    FP_EV_CONFIRM_PROCESSING,
    FP_EV_AUTH_OK,
    FP_EV_AUTH_FAIL,
    FP_EV_SETTLE, /* processing finished */
    FP_EV_CANCEL,
    FP_EV_N
} fp_pi_event;

/* Test payment methods and what a confirm with them does. */
typedef enum {
    FP_PM_UNKNOWN = -1,
    FP_PM_VISA = 0,
    FP_PM_DECLINED,
    FP_PM_AUTH_REQUIRED,
    FP_PM_PROCESSING,
} fp_pm_kind;

/* Next state, or -1 when the event is not allowed in `from`. */
int fp_pi_next(fp_pi_state from, fp_pi_event ev);
/* Stripe's name of a state ("requires_payment_method", ...). */
const char *fp_pi_state_name(fp_pi_state s);
/* Inverse of fp_pi_state_name; -1 when unknown. */
int fp_pi_state_parse(const char *name);
/* Kind of a test payment method id ("pm_card_visa", ...). */
fp_pm_kind fp_pm_kind_of(const char *pm);
/* The payment method id for a test card number (spaces ignored), or NULL. */
const char *fp_pm_for_card(const char *number);
/* The confirm event for a payment method kind. */
fp_pi_event fp_pm_confirm_event(fp_pm_kind k);

#endif
