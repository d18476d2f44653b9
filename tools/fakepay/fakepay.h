/*
 * mlfakepay internals shared between its files (prefix fp_).
 *
 * Design: one thread (the libwebsockets service loop) owns every piece of
 * state: intents, refunds, events, idempotency keys and the test-control
 * configuration, all kept as jansson objects in `fp` (so persistence is a
 * json_dump of them). The only other thread is the webhook sender
 * (webhooks.c), which gets self-contained copies of what it must send and
 * reports each delivery attempt back through a queue that the service
 * thread drains on its 50 ms tick. Nothing else is shared.
 */
#ifndef ML_TOOLS_FAKEPAY_H
#define ML_TOOLS_FAKEPAY_H

#include <jansson.h>
#include <stddef.h>

#include "common/form.h"

#define FP_MAX_BODY (64 * 1024)
#define FP_API_VERSION "2024-06-20"

/* Process-wide state, owned by the service thread. */
typedef struct fp_globals {
    char secret_key[256];
    char public_url[512];
    char state_file[1024];
    int state_fsync; /* --fsync: fsync the state file and its folder */
    json_t *intents; /* id -> {"pi":PaymentIntent, "x":{private bookkeeping}} */
    json_t *refunds; /* id -> {"re":Refund, "x":{...}} */
    json_t *events;  /* array of {"event":Event, "deliveries":[...], "delivered":bool} */
    json_t *idem; /* key -> {"fp":fingerprint, "status":n, "body":s, "created":ms, "busy":bool} */
    /* test control (config.c), not persisted */
    json_t *webhook_urls;    /* array of strings */
    json_t *webhook_secrets; /* array of strings */
    int duplicate_webhooks;
    int reorder_webhooks;
    long webhook_delay_ms;
    long fail_next_count;
    int fail_next_timeout; /* 1: hang 30 s, 0: answer 500 */
    int dirty;             /* state changed since the last save */
} fp_globals;

extern fp_globals fp;

/* A response being built by a handler. */
typedef struct fp_resp {
    int status;
    char *body; /* malloc'd */
    size_t body_len;
    const char *content_type; /* static string; NULL = application/json */
    char location[2048];      /* for 303 redirects */
    int replayed;             /* Idempotent-Replayed: true */
    int hang;                 /* do not answer; close after 30 s */
} fp_resp;

/* One parsed request as the handlers see it. */
typedef struct fp_request {
    const char *method;
    const char *path;
    const char *query; /* raw form-encoded query, may be "" */
    const char *auth;  /* Authorization header or "" */
    const char *idem_key;
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *peer;
    const char *args[2]; /* path parameters captured by the route table */
} fp_request;

/* --- time and ids (util.c) --- */
long long fp_now_ms(void);
long long fp_now_s(void);
/* "<prefix><n random alphanumerics>" into out. */
void fp_new_id(const char *prefix, int n, char *out, size_t cap);

/* --- responses (routes.c) --- */
void fp_resp_json(fp_resp *r, int status, json_t *body);                  /* steals body */
void fp_resp_text(fp_resp *r, int status, const char *ctype, char *body); /* steals body */
/* Stripe-style {"error":{type, code, message[, param]}}. */
void fp_resp_error(fp_resp *r, int status, const char *type, const char *code, const char *param,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void fp_resp_redirect(fp_resp *r, const char *url);
void fp_resp_free(fp_resp *r);

/* --- dispatch (routes.c) --- */
/* Route one complete request; fills resp. Called on the service thread. */
void fp_route(const fp_request *req, fp_resp *resp, char *held_idem_key, size_t keycap);
/* The connection of a hanging request with this key closed: forget it. */
void fp_idem_release(const char *key);

/* --- params (routes.c): check that every form key is allowed --- */
/* `allowed` is NULL-terminated; a name ending in "[" admits "name[...]". */
int fp_check_params(const ml_form *f, const char *const *allowed, fp_resp *resp);
/* Collect metadata[k]=v pairs into a new object; -1 (resp set) on bad. */
int fp_parse_metadata(const ml_form *f, json_t **out, fp_resp *resp);

/* --- PaymentIntents (intents.c) --- */
void fp_intents_create(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_intents_get(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_intents_confirm(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_intents_cancel(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_intents_update(const fp_request *req, const ml_form *f, fp_resp *resp);
/* The record {"pi":..,"x":..} or NULL. */
json_t *fp_intent_find(const char *id);
/* Confirm intent `id` with payment method `pm` (pages and API).
 * Returns 0 and fills resp with the intent (or the card error). */
int fp_intent_confirm_pm(json_t *rec, const char *pm, const char *return_url, fp_resp *resp);
/* Finish 3-D-Secure-like authentication: ok=1 succeeds, 0 fails. */
int fp_intent_authenticate(json_t *rec, int ok);
/* Timers: processing intents whose time has come succeed. */
void fp_intents_tick(long long now_ms);
/* Sum of refunds not failed for intent id. */
long long fp_intent_refunded(const char *pi_id);

/* --- Refunds (refunds.c) --- */
void fp_refunds_create(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_refunds_get(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_refunds_tick(long long now_ms);

/* --- idempotency (idempotency.c) --- */
typedef enum { FP_IDEM_NEW, FP_IDEM_REPLAY, FP_IDEM_MISMATCH, FP_IDEM_BUSY } fp_idem_result;
/* Look the key up for this method+path+body; REPLAY fills resp. NEW marks
 * the key busy until fp_idem_finish(). */
fp_idem_result fp_idem_begin(const char *key, const fp_request *req, fp_resp *resp);
/* Store the response (if worth storing) or forget the key. */
void fp_idem_finish(const char *key, const fp_resp *resp);
void fp_idem_prune(long long now_ms);

/* --- webhooks (webhooks.c) --- */
int fp_webhooks_start(void);
void fp_webhooks_stop(void);
/* Record event `type` about a copy of `object` and queue its delivery. */
void fp_event_emit(const char *type, const json_t *object);
/* Drain delivery results, flush held (reordered) events. */
void fp_webhooks_tick(long long now_ms);
/* Re-queue undelivered events after a restart. */
void fp_webhooks_requeue_pending(void);
void fp_control_events(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_control_resend(const fp_request *req, const ml_form *f, fp_resp *resp);

/* --- test control (control.c) --- */
void fp_control_config(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_control_health(const fp_request *req, const ml_form *f, fp_resp *resp);
/* 1 if url is http(s) to a loopback host. */
int fp_url_is_loopback(const char *url);

/* --- pages (pages.c) --- */
void fp_page_checkout_get(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_page_checkout_post(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_page_auth_get(const fp_request *req, const ml_form *f, fp_resp *resp);
void fp_page_auth_post(const fp_request *req, const ml_form *f, fp_resp *resp);

/* --- state file (state.c) --- */
int fp_state_init(void);
int fp_state_load(char *err, size_t errlen);
/* Write the state (temp file + fsync + rename) when dirty. */
int fp_state_save(void);
void fp_state_free(void);

#endif
