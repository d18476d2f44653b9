/* Fuzz the form-urlencoded parser (common/form.c). Whatever the input,
 * parsing must either fail cleanly (empty result, a message) or yield
 * pairs whose keys are non-empty, whose strings are NUL-free within their
 * length and valid for every lookup helper; then everything is freed. */
#include "common/form.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    /* decoding a decoded value again must not crash either */
    if (f.n) {
        size_t n = 0;
        char *again = ml_form_decode(f.pairs[0].value, strlen(f.pairs[0].value), &n);
        free(again);
    }
    ml_form_free(&f);
    return 0;
}
