/* Unit tests for tools/fakepay/intent_fsm.c: the whole PaymentIntent
 * transition table against Stripe's documented lifecycle, and the test
 * payment methods / card numbers. */
#include "tests/unit/harness.h"
#include "tools/fakepay/intent_fsm.h"

#define RPM FP_PI_REQUIRES_PAYMENT_METHOD
#define RC FP_PI_REQUIRES_CONFIRMATION
#define RA FP_PI_REQUIRES_ACTION
#define PR FP_PI_PROCESSING
#define OK FP_PI_SUCCEEDED
#define CA FP_PI_CANCELED

TEST(fsm_every_transition)
{
    /* clang-format off */
    /* expected next state per (from, event); -1 = refused */
    static const int want[FP_PI_NSTATES][FP_EV_N] = {
        /*        ATTACH OK  DECL ACT PROC AUOK AUFAIL SETTLE CANCEL */
        [RPM] = {RC, OK, RPM, RA, PR, -1, -1, -1, CA},
        [RC] = {RC, OK, RPM, RA, PR, -1, -1, -1, CA},
        [RA] = {-1, OK, RPM, RA, PR, OK, RPM, -1, CA},
        [PR] = {-1, -1, -1, -1, -1, -1, -1, OK, -1},
        [OK] = {-1, -1, -1, -1, -1, -1, -1, -1, -1},
        [CA] = {-1, -1, -1, -1, -1, -1, -1, -1, -1},
    };
    /* clang-format on */
    for (int s = 0; s < FP_PI_NSTATES; s++)
        for (int e = 0; e < FP_EV_N; e++)
            if (fp_pi_next((fp_pi_state)s, (fp_pi_event)e) != want[s][e])
                th_fail(__FILE__, __LINE__, "state %s event %d: got %d want %d",
                        fp_pi_state_name((fp_pi_state)s), e,
                        fp_pi_next((fp_pi_state)s, (fp_pi_event)e), want[s][e]);
}

TEST(fsm_out_of_range_is_refused)
{
    CHECK_INT_EQ(fp_pi_next((fp_pi_state)-1, FP_EV_CANCEL), -1);
    CHECK_INT_EQ(fp_pi_next(FP_PI_NSTATES, FP_EV_CANCEL), -1);
    CHECK_INT_EQ(fp_pi_next(RPM, FP_EV_N), -1);
}

TEST(fsm_names_round_trip)
{
    for (int s = 0; s < FP_PI_NSTATES; s++)
        CHECK_INT_EQ(fp_pi_state_parse(fp_pi_state_name((fp_pi_state)s)), s);
    CHECK_STR_EQ(fp_pi_state_name(RPM), "requires_payment_method");
    CHECK_INT_EQ(fp_pi_state_parse("bogus"), -1);
    CHECK_INT_EQ(fp_pi_state_parse(NULL), -1);
}

TEST(fsm_test_cards_and_methods)
{
    CHECK_STR_EQ(fp_pm_for_card("4242 4242 4242 4242"), "pm_card_visa");
    CHECK_STR_EQ(fp_pm_for_card("4000-0000-0000-0002"), "pm_card_chargeDeclined");
    CHECK_STR_EQ(fp_pm_for_card("4000002760003184"), "pm_card_authenticationRequired");
    CHECK_STR_EQ(fp_pm_for_card("4000000000000077"), "pm_card_processing");
    CHECK(fp_pm_for_card("4111111111111111") == NULL);
    CHECK(fp_pm_for_card("4242x") == NULL);
    CHECK(fp_pm_for_card("") == NULL);
    CHECK(fp_pm_for_card(NULL) == NULL);
    CHECK(fp_pm_for_card("42424242424242424242424242424242424242") == NULL);
    CHECK_INT_EQ(fp_pm_confirm_event(fp_pm_kind_of("pm_card_visa")), FP_EV_CONFIRM_OK);
    CHECK_INT_EQ(fp_pm_confirm_event(fp_pm_kind_of("pm_card_chargeDeclined")),
                 FP_EV_CONFIRM_DECLINE);
    CHECK_INT_EQ(fp_pm_confirm_event(fp_pm_kind_of("pm_card_authenticationRequired")),
                 FP_EV_CONFIRM_ACTION);
    CHECK_INT_EQ(fp_pm_confirm_event(fp_pm_kind_of("pm_card_processing")),
                 FP_EV_CONFIRM_PROCESSING);
    CHECK_INT_EQ(fp_pm_kind_of("pm_card_mastercard"), FP_PM_UNKNOWN);
    CHECK_INT_EQ(fp_pm_kind_of(NULL), FP_PM_UNKNOWN);
}
