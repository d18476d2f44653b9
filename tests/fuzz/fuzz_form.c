/* Fuzz the form-urlencoded parser (common/form.c). Whatever the input,
 * parsing must either fail cleanly (empty result, a message) or yield
 * pairs whose keys are non-empty, whose strings are NUL-free within their
 * length and valid for every lookup helper; re-encoding the pairs with
 * ml_form_append_arg() yields only unreserved bytes, '=', '&' and %XX
 * escapes (or reports that they do not fit); then everything is freed. */
#include "common/form.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reencoded(const ml_form *f)
{
    char out[512], arg[512];
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < f->n; i++) {
        snprintf(arg, sizeof arg, "%s=%s", f->pairs[i].key, f->pairs[i].value);
        if (ml_form_append_arg(out, sizeof out, &n, arg) != 0)
            break;
        if (n >= sizeof out || strlen(out) != n)
            abort();
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '%') {
            if (i + 2 >= n || !strchr("0123456789ABCDEF", out[i + 1]) || !out[i + 1] ||
                !strchr("0123456789ABCDEF", out[i + 2]) || !out[i + 2])
                abort();
            i += 2;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     strchr("-._~=&", c))) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ml_form f;
    char err[128];
    err[0] = '\0';
    int rc = ml_form_parse((const char *)data, size, &f, err, sizeof err);
    if (rc != 0) {
        if (f.n != 0 || f.pairs != NULL || err[0] == '\0')
            abort();
        return 0;
    }
    if (f.n > ML_FORM_MAX_PAIRS)
        abort();
    for (size_t i = 0; i < f.n; i++) {
        size_t kl = strlen(f.pairs[i].key);
        if (kl == 0 || kl > ML_FORM_MAX_KEY)
            abort();
        if (ml_form_get(&f, f.pairs[i].key) == NULL)
            abort();
        const char *sub;
        size_t sl;
        if (ml_form_subkey(f.pairs[i].key, "metadata", &sub, &sl) &&
            (sl == 0 || sub + sl > f.pairs[i].key + kl))
            abort();
        (void)strlen(f.pairs[i].value);
    }
    check_reencoded(&f);
    /* decoding a decoded value again must not crash either */
    if (f.n) {
        size_t n = 0;
        char *again = ml_form_decode(f.pairs[0].value, strlen(f.pairs[0].value), &n);
        free(again);
    }
    ml_form_free(&f);
    return 0;
}
