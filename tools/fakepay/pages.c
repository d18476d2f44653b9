/*
 * Browser pages: the hosted checkout (GET/POST /checkout/{pi}) and the
 * 3-D-Secure-like challenge (GET/POST /authenticate/{pi}). Plain HTML
 * forms, no script, every interpolated value HTML-escaped. A checkout
 * submit maps the card number to its test payment method, confirms, and
 * answers 303 to the authenticate page or to return_url with
 * ?payment_intent=..&payment_intent_client_secret=..&redirect_status=
 * succeeded|processing|failed.
 */
#include "tools/fakepay/fakepay.h"
#include "tools/fakepay/intent_fsm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap : 1024);
        while (nc < b->n + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_esc(sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            sb_add(b, "&lt;", 4);
            break;
        case '>':
            sb_add(b, "&gt;", 4);
            break;
        case '&':
            sb_add(b, "&amp;", 5);
            break;
        case '"':
            sb_add(b, "&quot;", 6);
            break;
        case '\'':
            sb_add(b, "&#39;", 5);
            break;
        default:
            sb_add(b, s, 1);
        }
    }
}

static void url_esc(sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (plain) {
            sb_add(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            sb_add(b, e, 3);
        }
    }
}

static const char *str_of(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void head(sbuf *b, const char *title)
{
    sb_printf(b, "<!doctype html><html><head><meta charset=\"utf-8\"><title>");
    sb_esc(b, title);
    sb_printf(b, "</title><style>body{font-family:sans-serif;max-width:28em;margin:3em auto}"
                 "input,button{font-size:1.1em;margin:.3em 0}</style></head><body>");
}

static void page(fp_resp *resp, int status, sbuf *b)
{
    sb_printf(b, "</body></html>\n");
    fp_resp_text(resp, status, "text/html; charset=utf-8", b->p ? b->p : strdup(""));
}

static void message_page(fp_resp *resp, int status, const char *title, const char *text)
{
    sbuf b = {0};
    head(&b, title);
    sb_printf(&b, "<h1>");
    sb_esc(&b, title);
    sb_printf(&b, "</h1><p id=\"message\">");
    sb_esc(&b, text);
    sb_printf(&b, "</p>");
    page(resp, status, &b);
}

static void amount_line(sbuf *b, json_t *pi)
{
    long long a = json_integer_value(json_object_get(pi, "amount"));
    const char *cur = str_of(pi, "currency");
    char up[8] = "";
    for (int i = 0; cur && cur[i] && i < 7; i++)
        up[i] = (char)(cur[i] - 32 * (cur[i] >= 'a' && cur[i] <= 'z')), up[i + 1] = '\0';
    if (cur && strcmp(cur, "jpy") == 0)
        sb_printf(b, "<p id=\"amount\">%lld %s</p>", a, up);
    else
        sb_printf(b, "<p id=\"amount\">%lld.%02lld %s</p>", a / 100, a % 100, up);
}

/* The intent for a page, checking the client secret when given or needed. */
static json_t *page_intent(const fp_request *req, const char *secret, int need_secret,
                           fp_resp *resp)
{
    json_t *rec = fp_intent_find(req->args[0]);
    const char *want = rec ? str_of(json_object_get(rec, "pi"), "client_secret") : NULL;
    if (!rec || ((need_secret || secret) && (!secret || !want || strcmp(secret, want) != 0))) {
        message_page(resp, 404, "Payment not found",
                     "No such payment, or the client secret does not match.");
        return NULL;
    }
    return rec;
}

static int valid_return_url(const char *u)
{
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0);
}

static void checkout_form(fp_resp *resp, int status, json_t *rec, const char *secret,
                          const char *return_url, const char *error)
{
    json_t *pi = json_object_get(rec, "pi");
    sbuf b = {0};
    head(&b, "MentorLink test checkout");
    sb_printf(&b, "<h1>Test checkout</h1>");
    amount_line(&b, pi);
    sb_printf(&b, "<p>Status: <span id=\"status\">");
    sb_esc(&b, str_of(pi, "status"));
    sb_printf(&b, "</span></p>");
    if (error) {
        sb_printf(&b, "<p id=\"error\" style=\"color:#b00\">");
        sb_esc(&b, error);
        sb_printf(&b, "</p>");
    }
    sb_printf(&b, "<form method=\"post\" action=\"/checkout/");
    sb_esc(&b, str_of(pi, "id"));
    sb_printf(&b, "\"><label>Card number<br><input id=\"card\" name=\"card_number\" "
                  "autocomplete=\"off\" placeholder=\"4242 4242 4242 4242\"></label>"
                  "<input type=\"hidden\" name=\"client_secret\" value=\"");
    sb_esc(&b, secret);
    sb_printf(&b, "\">");
    if (return_url) {
        sb_printf(&b, "<input type=\"hidden\" name=\"return_url\" value=\"");
        sb_esc(&b, return_url);
        sb_printf(&b, "\">");
    }
    sb_printf(&b, "<br><button id=\"pay\" type=\"submit\">Pay</button></form>"
                  "<p><small>Test cards: 4242424242424242 succeeds, 4000000000000002 is "
                  "declined, 4000002760003184 needs authentication, 4000000000000077 is "
                  "processing for about a second.</small></p>");
    page(resp, status, &b);
}

/* 303 to return_url with the outcome, or a result page when there is none. */
static void finish(fp_resp *resp, json_t *rec)
{
    json_t *pi = json_object_get(rec, "pi");
    const char *st = str_of(pi, "status");
    const char *rs = !st                             ? "failed"
                     : strcmp(st, "succeeded") == 0  ? "succeeded"
                     : strcmp(st, "processing") == 0 ? "processing"
                                                     : "failed";
    const char *ru = str_of(json_object_get(rec, "x"), "return_url");
    if (!ru) {
        message_page(resp, 200, "Payment finished", rs);
        return;
    }
    sbuf b = {0};
    sb_add(&b, ru, strlen(ru));
    sb_add(&b, strchr(ru, '?') ? "&" : "?", 1);
    sb_printf(&b, "payment_intent=");
    url_esc(&b, str_of(pi, "id"));
    sb_printf(&b, "&payment_intent_client_secret=");
    url_esc(&b, str_of(pi, "client_secret"));
    sb_printf(&b, "&redirect_status=%s", rs);
    fp_resp_redirect(resp, b.p ? b.p : "/");
    free(b.p);
}

/* The intent a checkout page is for (client_secret checked) and its
 * return_url (*ru, may be NULL); NULL with the error page in resp. */
static json_t *checkout_intent(const fp_request *req, const ml_form *f, fp_resp *resp,
                               const char **secret, const char **ru)
{
    *secret = ml_form_get(f, "client_secret");
    *ru = ml_form_get(f, "return_url");
    json_t *rec = page_intent(req, *secret, 1, resp);
    if (!rec)
        return NULL;
    if (*ru && !valid_return_url(*ru)) {
        message_page(resp, 400, "Bad return URL", "return_url must be an http(s) URL.");
        return NULL;
    }
    return rec;
}

void fp_page_checkout_get(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    const char *secret, *ru;
    json_t *rec = checkout_intent(req, f, resp, &secret, &ru);
    if (!rec)
        return;
    checkout_form(resp, 200, rec, secret, ru, NULL);
}

void fp_page_checkout_post(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    const char *secret, *ru;
    json_t *rec = checkout_intent(req, f, resp, &secret, &ru);
    if (!rec)
        return;
    const char *pm = fp_pm_for_card(ml_form_get(f, "card_number"));
    if (!pm) {
        checkout_form(resp, 400, rec, secret, ru, "Your card number is incorrect.");
        return;
    }
    fp_resp tmp = {0};
    int rc = fp_intent_confirm_pm(rec, pm, ru, &tmp);
    int status = tmp.status;
    fp_resp_free(&tmp);
    if (rc != 0) {
        checkout_form(resp, status ? status : 400, rec, secret, ru,
                      "This payment cannot be confirmed in its current state.");
        return;
    }
    json_t *pi = json_object_get(rec, "pi");
    if (strcmp(str_of(pi, "status"), "requires_action") == 0) {
        char url[512];
        snprintf(url, sizeof url, "/authenticate/%s", str_of(pi, "id"));
        fp_resp_redirect(resp, url);
        return;
    }
    finish(resp, rec);
}

void fp_page_auth_get(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    json_t *rec = page_intent(req, NULL, 0, resp);
    if (!rec)
        return;
    json_t *pi = json_object_get(rec, "pi");
    if (fp_pi_state_parse(str_of(pi, "status")) != FP_PI_REQUIRES_ACTION) {
        message_page(resp, 400, "Nothing to authenticate", str_of(pi, "status"));
        return;
    }
    sbuf b = {0};
    head(&b, "Authenticate payment");
    sb_printf(&b, "<h1>Authenticate this test payment</h1>");
    amount_line(&b, pi);
    for (int ok = 1; ok >= 0; ok--) {
        sb_printf(&b, "<form method=\"post\" action=\"/authenticate/");
        sb_esc(&b, str_of(pi, "id"));
        sb_printf(&b,
                  "\" style=\"display:inline\"><input type=\"hidden\" name=\"action\" "
                  "value=\"%s\"><button id=\"%s\" type=\"submit\">%s</button></form> ",
                  ok ? "complete" : "fail", ok ? "complete" : "fail", ok ? "Complete" : "Fail");
    }
    page(resp, 200, &b);
}

void fp_page_auth_post(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    json_t *rec = page_intent(req, NULL, 0, resp);
    if (!rec)
        return;
    const char *action = ml_form_get(f, "action");
    if (!action || (strcmp(action, "complete") != 0 && strcmp(action, "fail") != 0)) {
        message_page(resp, 400, "Bad request", "action must be complete or fail.");
        return;
    }
    if (fp_intent_authenticate(rec, strcmp(action, "complete") == 0) != 0) {
        message_page(resp, 400, "Nothing to authenticate",
                     str_of(json_object_get(rec, "pi"), "status"));
        return;
    }
    finish(resp, rec);
}
