/*
 * Webhook events: recording, the delivery log, and the sender thread.
 *
 * The service thread records every event in fp.events and hands the sender
 * one self-contained job per (event, URL): the serialized body, copies of
 * the signing secrets, the due time and how many attempts remain. The
 * sender thread owns its job list: it takes the job with the earliest due
 * time (ties in queue order), signs it with a fresh timestamp (or the one
 * a resend asked for), POSTs it with libcurl (5 s timeout, no proxy, no
 * redirects) and pushes the outcome onto a result list that the service
 * thread drains on its tick into the event's delivery log. A non-2xx
 * answer or a timeout re-queues the job after 0.5 s, 1 s, 2 s, ... up to
 * 8 attempts in all. Test switches: duplicate_webhooks queues every job
 * twice; webhook_delay_ms delays the first attempt; reorder_webhooks holds
 * new events until 300 ms pass without one and then queues them newest
 * first.
 */
#include "tools/fakepay/fakepay.h"
#include "tools/fakepay/signature.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTEMPTS 8
#define TIMEOUT_MS 5000
#define HOLD_QUIET_MS 300

typedef struct job {
    struct job *next;
    char evt_id[48];
    char url[1024];
    char *body;
    char **secrets;
    size_t nsecrets;
    long long fixed_t; /* 0: sign with the current time */
    int attempt;       /* attempts made so far for this job */
    int max_attempts;
    int duplicate;
    long long due_ms;
    unsigned long long seq;
} job;

typedef struct result {
    struct result *next;
    char evt_id[48];
    char url[1024];
    int attempt;
    long status; /* HTTP status, 0 when none */
    char error[128];
    long long signed_t;
    long long at_ms;
    int duplicate;
    int will_retry;
} result;

static struct {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *jobs;
    result *results, **results_tail;
    volatile int stop;
    unsigned long long seq;
    json_t *held; /* event ids held for reordering (service thread) */
    long long last_held_ms;
} wh = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void job_free(job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->nsecrets; i++)
        free(j->secrets[i]);
    free(j->secrets);
    free(j->body);
    free(j);
}

static void push_job(job *j)
{
    pthread_mutex_lock(&wh.mu);
    j->seq = wh.seq++;
    j->next = wh.jobs;
    wh.jobs = j;
    pthread_cond_signal(&wh.cv);
    pthread_mutex_unlock(&wh.mu);
}

/* ---- sender thread ---- */

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
    return sz * n;
}

static int abort_on_stop(void *u, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    return wh.stop ? 1 : 0;
}

static void deliver(job *j, result *r)
{
    long long t = j->fixed_t ? j->fixed_t : fp_now_s();
    char sig[64 + 72 * 16];
    r->signed_t = t;
    size_t nsec = j->nsecrets > 16 ? 16 : j->nsecrets;
    if (fp_sig_header((const char *const *)j->secrets, nsec, t, j->body, strlen(j->body), sig,
                      sizeof sig) != 0) {
        snprintf(r->error, sizeof r->error, "cannot sign");
        return;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(r->error, sizeof r->error, "curl init failed");
        return;
    }
    char sighdr[sizeof sig + 32];
    snprintf(sighdr, sizeof sighdr, "Stripe-Signature: %s", sig);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    h = curl_slist_append(h, sighdr);
    h = curl_slist_append(h, "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    } else {
        snprintf(r->error, sizeof r->error, "%s",
                 rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : curl_easy_strerror(rc));
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

/* Unlink and return the due job with the earliest (due, seq), or NULL and
 * the earliest due time in *next_due (0 when there is none). */
static job *take_due(long long now, long long *next_due)
{
    job **best = NULL;
    *next_due = 0;
    for (job **pp = &wh.jobs; *pp; pp = &(*pp)->next) {
        job *j = *pp;
        if (!best || j->due_ms < (*best)->due_ms ||
            (j->due_ms == (*best)->due_ms && j->seq < (*best)->seq))
            best = pp;
    }
    if (!best)
        return NULL;
    if ((*best)->due_ms > now) {
        *next_due = (*best)->due_ms;
        return NULL;
    }
    job *j = *best;
    *best = j->next;
    j->next = NULL;
    return j;
}

static void *sender_main(void *arg)
{
    pthread_mutex_lock(&wh.mu);
    while (!wh.stop) {
        long long next_due;
        job *j = take_due(fp_now_ms(), &next_due);
        if (!j) {
            if (next_due) {
                struct timespec ts = {.tv_sec = next_due / 1000,
                                      .tv_nsec = (long)(next_due % 1000) * 1000000};
                pthread_cond_timedwait(&wh.cv, &wh.mu, &ts);
            } else {
                pthread_cond_wait(&wh.cv, &wh.mu);
            }
            continue;
        }
        pthread_mutex_unlock(&wh.mu);
        result *r = calloc(1, sizeof *r);
        j->attempt++;
        if (r) {
            deliver(j, r);
            snprintf(r->evt_id, sizeof r->evt_id, "%s", j->evt_id);
            snprintf(r->url, sizeof r->url, "%s", j->url);
            r->attempt = j->attempt;
            r->at_ms = fp_now_ms();
            r->duplicate = j->duplicate;
        }
        int ok = r && r->status >= 200 && r->status < 300;
        int retry = !ok && !wh.stop && j->attempt < j->max_attempts;
        if (r)
            r->will_retry = retry;
        pthread_mutex_lock(&wh.mu);
        if (r) {
            *wh.results_tail = r;
            wh.results_tail = &r->next;
        }
        if (retry) {
            j->due_ms = fp_now_ms() + (500LL << (j->attempt - 1));
            j->seq = wh.seq++;
            j->next = wh.jobs;
            wh.jobs = j;
        } else {
            job_free(j);
        }
    }
    pthread_mutex_unlock(&wh.mu);
    return arg;
}

int fp_webhooks_start(void)
{
    wh.results = NULL;
    wh.results_tail = &wh.results;
    wh.held = json_array();
    wh.stop = 0;
    if (pthread_create(&wh.thread, NULL, sender_main, NULL) != 0)
        return -1;
    wh.started = 1;
    return 0;
}

void fp_webhooks_stop(void)
{
    if (wh.started) {
        pthread_mutex_lock(&wh.mu);
        wh.stop = 1;
        pthread_cond_broadcast(&wh.cv);
        pthread_mutex_unlock(&wh.mu);
        pthread_join(wh.thread, NULL);
        wh.started = 0;
    }
    fp_webhooks_tick(fp_now_ms()); /* record the last results */
    while (wh.jobs) {
        job *j = wh.jobs;
        wh.jobs = j->next;
        job_free(j);
    }
    json_decref(wh.held);
    wh.held = NULL;
}

/* ---- service thread side ---- */

static json_t *event_rec(const char *id)
{
    size_t i;
    json_t *rec;
    for (i = json_array_size(fp.events); i-- > 0;) {
        rec = json_array_get(fp.events, i);
        const char *eid = json_string_value(json_object_get(json_object_get(rec, "event"), "id"));
        if (eid && strcmp(eid, id) == 0)
            return rec;
    }
    return NULL;
}

/* Queue delivery of one recorded event to every webhook URL. */
static void queue_event(json_t *rec, long long fixed_t, int max_attempts, long long due_ms)
{
    json_t *ev = json_object_get(rec, "event");
    const char *id = json_string_value(json_object_get(ev, "id"));
    char *body = json_dumps(ev, JSON_COMPACT);
    if (!body || !id) {
        free(body);
        return;
    }
    size_t i;
    json_t *u;
    json_array_foreach(fp.webhook_urls, i, u)
    {
        for (int copy = 0; copy < (fp.duplicate_webhooks ? 2 : 1); copy++) {
            job *j = calloc(1, sizeof *j);
            if (!j)
                break;
            snprintf(j->evt_id, sizeof j->evt_id, "%s", id);
            snprintf(j->url, sizeof j->url, "%s", json_string_value(u));
            j->body = strdup(body);
            j->nsecrets = json_array_size(fp.webhook_secrets);
            j->secrets = calloc(j->nsecrets + 1, sizeof *j->secrets);
            for (size_t s = 0; j->secrets && s < j->nsecrets; s++)
                j->secrets[s] = strdup(json_string_value(json_array_get(fp.webhook_secrets, s)));
            if (!j->body || !j->secrets) {
                job_free(j);
                break;
            }
            j->fixed_t = fixed_t;
            j->max_attempts = max_attempts;
            j->duplicate = copy;
            j->due_ms = due_ms;
            push_job(j);
        }
    }
    free(body);
}

void fp_event_emit(const char *type, const json_t *object)
{
    char id[48];
    fp_new_id("evt_", 24, id, sizeof id);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:I, s:s, s:{s:o}, s:b, s:i}", "id", id, "object",
                           "event", "type", type, "created", (json_int_t)fp_now_s(), "api_version",
                           FP_API_VERSION, "data", "object", json_deep_copy(object), "livemode", 0,
                           "pending_webhooks", (int)json_array_size(fp.webhook_urls));
    if (!ev)
        return;
    json_t *rec = json_pack("{s:o, s:[], s:b}", "event", ev, "deliveries", "delivered", 0);
    json_array_append_new(fp.events, rec);
    fp.dirty = 1;
    if (fp.reorder_webhooks) {
        json_array_append_new(wh.held, json_string(id));
        wh.last_held_ms = fp_now_ms();
        return;
    }
    queue_event(rec, 0, MAX_ATTEMPTS, fp_now_ms() + fp.webhook_delay_ms);
}

static void flush_held(long long now)
{
    if (!wh.held || json_array_size(wh.held) == 0)
        return;
    if (fp.reorder_webhooks && now - wh.last_held_ms < HOLD_QUIET_MS)
        return;
    long long due = now + fp.webhook_delay_ms;
    for (size_t i = json_array_size(wh.held); i-- > 0;) { /* newest first */
        json_t *rec = event_rec(json_string_value(json_array_get(wh.held, i)));
        if (rec)
            queue_event(rec, 0, MAX_ATTEMPTS, due);
    }
    json_array_clear(wh.held);
}

void fp_webhooks_tick(long long now_ms)
{
    pthread_mutex_lock(&wh.mu);
    result *list = wh.results;
    wh.results = NULL;
    wh.results_tail = &wh.results;
    pthread_mutex_unlock(&wh.mu);
    while (list) {
        result *r = list;
        list = r->next;
        json_t *rec = event_rec(r->evt_id);
        if (rec) {
            json_t *d =
                json_pack("{s:s, s:i, s:I, s:I, s:b, s:b}", "url", r->url, "attempt", r->attempt,
                          "signed_t", (json_int_t)r->signed_t, "at_ms", (json_int_t)r->at_ms,
                          "duplicate", r->duplicate, "will_retry", r->will_retry);
            json_object_set_new(d, "status", r->status ? json_integer(r->status) : json_null());
            json_object_set_new(d, "error", r->error[0] ? json_string(r->error) : json_null());
            json_array_append_new(json_object_get(rec, "deliveries"), d);
            if (r->status >= 200 && r->status < 300)
                json_object_set_new(rec, "delivered", json_true());
            fp.dirty = 1;
        }
        free(r);
    }
    if (wh.held)
        flush_held(now_ms);
}

void fp_webhooks_requeue_pending(void)
{
    size_t i;
    json_t *rec;
    json_array_foreach(fp.events, i, rec)
    {
        if (json_is_true(json_object_get(rec, "delivered")))
            continue;
        int made = (int)json_array_size(json_object_get(rec, "deliveries"));
        if (made < MAX_ATTEMPTS)
            queue_event(rec, 0, MAX_ATTEMPTS - made, fp_now_ms());
    }
}

void fp_control_events(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    const char *type = ml_form_get(f, "type");
    json_t *data = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(fp.events, i, rec)
    {
        json_t *ev = json_object_get(rec, "event");
        const char *t = json_string_value(json_object_get(ev, "type"));
        if (type && (!t || strcmp(t, type) != 0))
            continue;
        json_t *o = json_deep_copy(ev);
        json_object_set(o, "deliveries", json_object_get(rec, "deliveries"));
        json_object_set(o, "delivered", json_object_get(rec, "delivered"));
        json_array_append_new(data, o);
    }
    fp_resp_json(resp, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

void fp_control_resend(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    json_t *rec = event_rec(req->args[0]);
    if (!rec) {
        fp_resp_error(resp, 404, "invalid_request_error", "resource_missing", NULL,
                      "No such event: '%.64s'", req->args[0]);
        return;
    }
    long long t = 0;
    const char *ts = ml_form_get(f, "t");
    if (ts) {
        char *end = NULL;
        t = strtoll(ts, &end, 10);
        if (!*ts || *end || t <= 0) {
            fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_integer", "t",
                          "t must be a positive unix time in seconds");
            return;
        }
    }
    queue_event(rec, t, 1, fp_now_ms());
    fp_resp_json(resp, 200,
                 json_pack("{s:s, s:b, s:I, s:i}", "id", req->args[0], "queued", 1, "t",
                           (json_int_t)t, "urls", (int)json_array_size(fp.webhook_urls)));
}
