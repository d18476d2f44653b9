/*
 * application/x-www-form-urlencoded bodies and query strings (the WHATWG
 * URL standard's parser, strict): "k=v&k2=v2", '+' is a space, %XX is one
 * byte. Stripe-style bracket keys ("metadata[plan]") are kept whole; the
 * caller splits them with ml_form_subkey().
 *
 * Pure: no logging, no globals. ml_form_parse() allocates the pair array
 * and the decoded strings, owned by the ml_form until ml_form_free().
 * Rejected (return -1 with a message): a bad or truncated %-escape, a
 * decoded NUL byte, invalid UTF-8, an empty key, a repeated key (other
 * than keys ending in "[]"), more than ML_FORM_MAX_PAIRS pairs, a key
 * longer than ML_FORM_MAX_KEY bytes.
 */
#ifndef ML_COMMON_FORM_H
#define ML_COMMON_FORM_H

#include <stddef.h>

#define ML_FORM_MAX_PAIRS 256
#define ML_FORM_MAX_KEY 256

typedef struct ml_form_pair {
    char *key;   /* decoded, NUL-terminated */
    char *value; /* decoded, NUL-terminated (never contains NUL) */
} ml_form_pair;

typedef struct ml_form {
    ml_form_pair *pairs;
    size_t n;
} ml_form;

/* Parse `len` bytes of `in` into `out` (zeroed first). Returns 0, or -1
 * with a one-line reason in err (out is then empty). */
int ml_form_parse(const char *in, size_t len, ml_form *out, char *err, size_t errlen);

/* Free every string and the array; the ml_form is left empty. */
void ml_form_free(ml_form *f);

/* The value of the first pair named `key`, or NULL. */
const char *ml_form_get(const ml_form *f, const char *key);

/* If `key` is "<prefix>[<sub>]" with a non-empty sub without brackets,
 * point *sub at it (not NUL-terminated), set *sublen and return 1;
 * otherwise 0. */
int ml_form_subkey(const char *key, const char *prefix, const char **sub, size_t *sublen);

/* Percent-decode one component ('+' is a space) into a new NUL-terminated
 * string; *outlen gets its length. Returns NULL on a bad escape, a decoded
 * NUL or invalid UTF-8 (or no memory). */
char *ml_form_decode(const char *in, size_t len, size_t *outlen);

/* Append one already-decoded argument "k=v" to the form string out
 * (length *len, capacity cap), after a '&' unless out is empty: every byte
 * but the unreserved ones and the argument's first '=' is %XX-escaped, so
 * that ml_form_parse() and ctl_req_query() decode it exactly once. Used by
 * the HTTP servers, which get the query from libwebsockets decoded.
 * Returns 0 (out NUL-terminated, *len advanced), or -1 when it does not
 * fit (out and *len are then to be dropped by the caller). */
int ml_form_append_arg(char *out, size_t cap, size_t *len, const char *arg);

#endif
