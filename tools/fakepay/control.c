/*
 * Test control (not part of Stripe's API): GET/POST /_fakepay/config and
 * /_fakepay/healthz. The config is a JSON object; POST changes only the
 * fields it names and answers the whole current config. Every field is
 * validated before any is applied, so a bad request changes nothing.
 */
#include "tools/fakepay/fakepay.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fp_url_is_loopback(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = 0;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto done;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto done;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        goto done;
    struct in_addr a4;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
        ok = 1;
    else if (inet_pton(AF_INET, host, &a4) == 1)
        ok = (ntohl(a4.s_addr) >> 24) == 127;
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static json_t *config_json(void)
{
    json_t *fail = json_pack("{s:I}", "count", (json_int_t)fp.fail_next_count);
    json_object_set_new(fail, "status",
                        fp.fail_next_timeout ? json_string("timeout") : json_integer(500));
    return json_pack("{s:b, s:b, s:I, s:o, s:O, s:O}", "duplicate_webhooks", fp.duplicate_webhooks,
                     "reorder_webhooks", fp.reorder_webhooks, "webhook_delay_ms",
                     (json_int_t)fp.webhook_delay_ms, "fail_next", fail, "webhook_secrets",
                     fp.webhook_secrets, "webhook_urls", fp.webhook_urls);
}

static int bad(fp_resp *resp, const char *field, const char *why)
{
    fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid", field, "%s: %s", field,
                  why);
    return -1;
}

static int string_list(json_t *v, const char *field, int urls, fp_resp *resp)
{
    if (!json_is_array(v) || json_array_size(v) > 16)
        return bad(resp, field, "must be an array of at most 16 strings");
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        const char *str = json_string_value(s);
        if (!str || !*str || strlen(str) > 1000)
            return bad(resp, field, "every entry must be a non-empty string");
        if (urls && !fp_url_is_loopback(str))
            return bad(resp, field, "webhook URLs must be http(s) on a loopback address");
    }
    return 0;
}

/* Check every field of a config update; 0 when all are acceptable. */
static int validate(json_t *in, fp_resp *resp)
{
    static const char *const known[] = {"duplicate_webhooks", "reorder_webhooks",
                                        "webhook_delay_ms",   "fail_next",
                                        "webhook_secrets",    "webhook_urls"};
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= strcmp(k, known[i]) == 0;
        if (!ok)
            return bad(resp, k, "unknown config field");
    }
    if ((v = json_object_get(in, "duplicate_webhooks")) && !json_is_boolean(v))
        return bad(resp, "duplicate_webhooks", "must be a boolean");
    if ((v = json_object_get(in, "reorder_webhooks")) && !json_is_boolean(v))
        return bad(resp, "reorder_webhooks", "must be a boolean");
    if ((v = json_object_get(in, "webhook_delay_ms")) &&
        (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 600000))
        return bad(resp, "webhook_delay_ms", "must be an integer 0..600000");
    if ((v = json_object_get(in, "fail_next"))) {
        json_t *c = json_object_get(v, "count"), *s = json_object_get(v, "status");
        if (!json_is_object(v) || !json_is_integer(c) || json_integer_value(c) < 0 ||
            json_integer_value(c) > 1000)
            return bad(resp, "fail_next",
                       "must be {\"count\":0..1000, \"status\":500|\"timeout\"}");
        if (s && !(json_is_integer(s) && json_integer_value(s) == 500) &&
            !(json_is_string(s) && strcmp(json_string_value(s), "timeout") == 0))
            return bad(resp, "fail_next.status", "must be 500 or \"timeout\"");
    }
    if ((v = json_object_get(in, "webhook_secrets")) &&
        string_list(v, "webhook_secrets", 0, resp) != 0)
        return -1;
    if ((v = json_object_get(in, "webhook_urls")) && string_list(v, "webhook_urls", 1, resp) != 0)
        return -1;
    return 0;
}

static void apply(json_t *in)
{
    json_t *v;
    if ((v = json_object_get(in, "duplicate_webhooks")))
        fp.duplicate_webhooks = json_is_true(v);
    if ((v = json_object_get(in, "reorder_webhooks")))
        fp.reorder_webhooks = json_is_true(v);
    if ((v = json_object_get(in, "webhook_delay_ms")))
        fp.webhook_delay_ms = (long)json_integer_value(v);
    if ((v = json_object_get(in, "fail_next"))) {
        fp.fail_next_count = (long)json_integer_value(json_object_get(v, "count"));
        fp.fail_next_timeout = json_is_string(json_object_get(v, "status"));
    }
    if ((v = json_object_get(in, "webhook_secrets"))) {
        json_decref(fp.webhook_secrets);
        fp.webhook_secrets = json_deep_copy(v);
    }
    if ((v = json_object_get(in, "webhook_urls"))) {
        json_decref(fp.webhook_urls);
        fp.webhook_urls = json_deep_copy(v);
    }
}

void fp_control_config(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    if (strcmp(req->method, "POST") == 0) {
        json_error_t jerr;
        json_t *in =
            json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(in)) {
            json_decref(in);
            fp_resp_error(resp, 400, "invalid_request_error", "parameter_invalid_json", NULL,
                          "The body must be a JSON object: %s", jerr.text);
            return;
        }
        if (validate(in, resp) != 0) {
            json_decref(in);
            return;
        }
        apply(in);
        json_decref(in);
    }
    fp_resp_json(resp, 200, config_json());
}

void fp_control_health(const fp_request *req, const ml_form *f, fp_resp *resp)
{
    fp_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}
