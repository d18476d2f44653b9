/* Fuzz the JSON body validator (control/json.c) with arbitrary bodies
 * against a field table using every type and flag. The first input byte
 * picks the Content-Type; the rest is the body. Whatever the input, the
 * result must be a parsed object or a problem whose body is valid JSON. */
#include "control/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ctl_json_field fields[] = {
    {"email", CTL_JSON_EMAIL, CTL_JSON_REQUIRED | CTL_JSON_TRIM | CTL_JSON_LOWER, 3, 254, NULL},
    {"name", CTL_JSON_STRING, CTL_JSON_TRIM, 1, 20, NULL},
    {"bio", CTL_JSON_STRING, CTL_JSON_MULTILINE, 0, 0, NULL},
    {"age", CTL_JSON_INT, CTL_JSON_NULLABLE, 0, 200, NULL},
    {"score", CTL_JSON_NUMBER, 0, -5, 5, NULL},
    {"ok", CTL_JSON_BOOL, 0, 0, 0, NULL},
    {"role", CTL_JSON_ENUM, 0, 0, 0, "a|bb|ccc"},
    {"id", CTL_JSON_UUID, 0, 0, 0, NULL},
    {"at", CTL_JSON_TIMESTAMP, 0, 0, 0, NULL},
    {"tags", CTL_JSON_ARRAY, 0, 1, 3, NULL},
    {"meta", CTL_JSON_OBJECT, 0, 0, 4, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"application/json", "application/json; charset=utf-8",
                                        "application/x+json", "text/plain", NULL};
    if (size < 1)
        return 0;
    ctl_request req;
    ctl_response resp;
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    const char *ct = types[data[0] % 5];
    if (ct) {
        snprintf(req.headers[0].name, sizeof req.headers[0].name, "content-type");
        snprintf(req.headers[0].value, sizeof req.headers[0].value, "%s", ct);
        req.nheaders = 1;
    }
    char *body = malloc(size); /* body_len bytes plus a NUL, like http.c */
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    req.body = body;
    req.body_len = size - 1;
    json_t *out = NULL;
    if (ctl_json_body(&req, fields, sizeof fields / sizeof fields[0], &out, &resp) == 0) {
        if (!json_is_object(out) || !ctl_json_str(out, "email"))
            abort();
        json_decref(out);
    } else {
        json_t *p = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
        if (!p || resp.status < 400 || resp.status > 499)
            abort();
        json_decref(p);
    }
    ctl_response_free(&resp);
    free(body);
    return 0;
}
