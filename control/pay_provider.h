/*
 * The payment provider as the control plane sees it: PaymentIntents and
 * Refunds with Stripe's states. One implementation, control/pay_stripe.c,
 * speaks Stripe's HTTP API (form bodies, Bearer key, JSON answers) to a
 * configurable base URL — Stripe itself or the local mlfakepay.
 *
 * Every POST carries an Idempotency-Key derived from our own operation
 * ("ml-pay-<payment id>-create", "ml-refund-<refund id>"), so repeating an
 * operation after a timeout can never charge or refund twice.
 *
 * Where to talk to (URL, secret key, webhook secrets) is process state:
 * from the configuration, or set by the embedded mlfakepay supervisor
 * (pay_embedded.c) once it knows its port.
 */
#ifndef ML_CONTROL_PAY_PROVIDER_H
#define ML_CONTROL_PAY_PROVIDER_H

#include <jansson.h>
#include <stddef.h>

#include "common/config.h"

/* Stripe's PaymentIntent states (plus UNKNOWN for anything else). */
typedef enum {
    CTL_PI_UNKNOWN = 0,
    CTL_PI_REQUIRES_PAYMENT_METHOD,
    CTL_PI_REQUIRES_CONFIRMATION,
    CTL_PI_REQUIRES_ACTION,
    CTL_PI_PROCESSING,
    CTL_PI_SUCCEEDED,
    CTL_PI_CANCELED,
} ctl_pi_status;

/* Stripe's Refund states. */
typedef enum {
    CTL_RE_UNKNOWN = 0,
    CTL_RE_PENDING,
    CTL_RE_SUCCEEDED,
    CTL_RE_FAILED,
    CTL_RE_CANCELED,
} ctl_re_status;

typedef struct ctl_pay_intent {
    char id[128];
    ctl_pi_status status;
    long long amount, amount_received;
    char currency[8];
    char client_secret[256];
    char next_action_url[512];
    char error_code[64]; /* last_payment_error.code, "" when none */
    char error_message[256];
    long long payment_id; /* metadata[payment_id], 0 when absent */
} ctl_pay_intent;

typedef struct ctl_pay_refund {
    char id[128];
    ctl_re_status status;
    long long amount;
    char currency[8];
    char payment_intent[128];
    long long refund_id; /* metadata[refund_id], 0 when absent */
} ctl_pay_refund;

/* Outcome of one provider call. */
typedef enum {
    CTL_PAY_OK = 0,
    CTL_PAY_DECLINED,    /* 402 card_error: the intent (if sent) is in the out struct */
    CTL_PAY_REJECTED,    /* other 4xx: our request is wrong (not retryable) */
    CTL_PAY_UNAVAILABLE, /* timeout, connection failure, 5xx, garbled answer: retry later */
} ctl_pay_rc;

typedef struct ctl_pay_error {
    int http_status; /* 0 when no answer */
    char type[48];
    char code[64];
    char message[256];
} ctl_pay_error;

/* Names as Stripe spells them ("requires_action"); parse returns UNKNOWN
 * for anything else. (pure) */
const char *ctl_pi_status_name(ctl_pi_status s);
ctl_pi_status ctl_pi_status_parse(const char *s);
const char *ctl_re_status_name(ctl_re_status s);
ctl_re_status ctl_re_status_parse(const char *s);

/* Fill from a PaymentIntent / Refund JSON object (an API answer or an
 * event's data.object). 0, or -1 when it is not one. (pure) */
int ctl_pay_intent_from_json(const json_t *o, ctl_pay_intent *out);
int ctl_pay_refund_from_json(const json_t *o, ctl_pay_refund *out);

/* Where the provider is. */
typedef struct ctl_pay_settings {
    int ready;     /* a provider is configured or the embedded one runs */
    char url[512]; /* base URL without trailing slash */
    char secret_key[256];
    char webhook_secrets[1024]; /* comma list */
    char public_url[512];       /* for checkout links (= url for the embedded one) */
} ctl_pay_settings;

/* Set the process-wide settings (thread-safe). */
void ctl_pay_settings_set(const ctl_pay_settings *s);
/* Copy the current settings. */
void ctl_pay_settings_get(ctl_pay_settings *out);
/* From the configuration (payments_provider_url etc.); ready when the URL
 * is set. Called at start-up. */
void ctl_pay_settings_from_config(const ml_config *cfg);

/* The provider operations (pay_stripe.c). timeouts from cfg. */
typedef struct ctl_pay_create {
    long long amount;
    const char *currency;
    const char *payment_method; /* NULL: the browser confirms on the checkout page */
    long long payment_id;       /* metadata[payment_id] */
    const char *description;
} ctl_pay_create;

ctl_pay_rc ctl_pay_create_intent(const ml_config *cfg, const ctl_pay_create *c,
                                 const char *idem_key, ctl_pay_intent *out, ctl_pay_error *e);
ctl_pay_rc ctl_pay_get_intent(const ml_config *cfg, const char *id, ctl_pay_intent *out,
                              ctl_pay_error *e);
ctl_pay_rc ctl_pay_confirm_intent(const ml_config *cfg, const char *id, const char *payment_method,
                                  const char *idem_key, ctl_pay_intent *out, ctl_pay_error *e);
ctl_pay_rc ctl_pay_cancel_intent(const ml_config *cfg, const char *id, const char *idem_key,
                                 ctl_pay_intent *out, ctl_pay_error *e);
ctl_pay_rc ctl_pay_create_refund(const ml_config *cfg, const char *intent_id, long long amount,
                                 long long refund_id, const char *idem_key, ctl_pay_refund *out,
                                 ctl_pay_error *e);
ctl_pay_rc ctl_pay_get_refund(const ml_config *cfg, const char *id, ctl_pay_refund *out,
                              ctl_pay_error *e);

#endif
