/*
 * Form-urlencoded parser; see form.h. The input is walked with a cursor
 * bounded by its length (it need not be NUL-terminated); each component is
 * decoded into a fresh string and checked for UTF-8 so that callers may
 * hand values straight to JSON encoders.
 */
#include "common/form.h"
#include "common/hex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3629 well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

char *ml_form_decode(const char *in, size_t len, size_t *outlen)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%') {
            if (len - i < 3)
                goto bad;
            int hi = ml_hex_digit((unsigned char)in[i + 1]),
                lo = ml_hex_digit((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                goto bad;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = (char)c;
        }
        if (o > 0 && out[o - 1] == '\0')
            goto bad;
    }
    out[o] = '\0';
    if (!utf8_valid((const unsigned char *)out, o))
        goto bad;
    if (outlen)
        *outlen = o;
    return out;
bad:
    free(out);
    return NULL;
}

void ml_form_free(ml_form *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->pairs[i].key);
        free(f->pairs[i].value);
    }
    free(f->pairs);
    f->pairs = NULL;
    f->n = 0;
}

const char *ml_form_get(const ml_form *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->pairs[i].key, key) == 0)
            return f->pairs[i].value;
    return NULL;
}

int ml_form_subkey(const char *key, const char *prefix, const char **sub, size_t *sublen)
{
    size_t pl = strlen(prefix), kl = strlen(key);
    if (kl < pl + 3 || strncmp(key, prefix, pl) != 0 || key[pl] != '[' || key[kl - 1] != ']')
        return 0;
    const char *s = key + pl + 1;
    size_t n = kl - pl - 2;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '[' || s[i] == ']')
            return 0;
    *sub = s;
    *sublen = n;
    return 1;
}

static int is_array_key(const char *k)
{
    size_t n = strlen(k);
    return n >= 2 && k[n - 2] == '[' && k[n - 1] == ']';
}

int ml_form_parse(const char *in, size_t len, ml_form *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    const char *p = in, *end = in + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        if (seg_end == p) { /* empty segment ("a=1&&b=2"): skipped, as browsers do */
            p = seg_end + 1;
            continue;
        }
        const char *eq = memchr(p, '=', (size_t)(seg_end - p));
        const char *kend = eq ? eq : seg_end;
        if (kend == p) {
            snprintf(err, errlen, "empty parameter name");
            goto fail;
        }
        if ((size_t)(kend - p) > 3 * ML_FORM_MAX_KEY) {
            snprintf(err, errlen, "parameter name too long");
            goto fail;
        }
        if (out->n >= ML_FORM_MAX_PAIRS) {
            snprintf(err, errlen, "too many parameters (at most %d)", ML_FORM_MAX_PAIRS);
            goto fail;
        }
        size_t klen = 0;
        char *key = ml_form_decode(p, (size_t)(kend - p), &klen);
        if (!key) {
            snprintf(err, errlen, "invalid encoding in a parameter name");
            goto fail;
        }
        if (klen == 0 || klen > ML_FORM_MAX_KEY) {
            free(key);
            snprintf(err, errlen, klen ? "parameter name too long" : "empty parameter name");
            goto fail;
        }
        const char *vstart = eq ? eq + 1 : seg_end;
        char *val = ml_form_decode(vstart, (size_t)(seg_end - vstart), NULL);
        if (!val) {
            snprintf(err, errlen, "invalid encoding in the value of %.64s", key);
            free(key);
            goto fail;
        }
        if (!is_array_key(key) && ml_form_get(out, key)) {
            snprintf(err, errlen, "parameter %.64s given more than once", key);
            free(key);
            free(val);
            goto fail;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            ml_form_pair *np = realloc(out->pairs, nc * sizeof *np);
            if (!np) {
                free(key);
                free(val);
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            out->pairs = np;
            cap = nc;
        }
        out->pairs[out->n].key = key;
        out->pairs[out->n].value = val;
        out->n++;
        p = seg_end + (amp ? 1 : 0);
        if (!amp)
            break;
    }
    return 0;
fail:
    ml_form_free(out);
    return -1;
}

int ml_form_append_arg(char *out, size_t cap, size_t *len, const char *arg)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = *len;
    if (o > 0) {
        if (o + 1 >= cap)
            return -1;
        out[o++] = '&';
    }
    int seen_eq = 0;
    for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
                    (*p == '=' && !seen_eq);
        if (*p == '=')
            seen_eq = 1;
        if (o + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    *len = o;
    return 0;
}
