/*
 * Strict base64url (RFC 4648 section 5) without padding, as JOSE uses it
 * (RFC 7515 section 2). The decoder refuses padding, characters outside the
 * alphabet, impossible lengths and non-zero trailing bits, so every byte
 * string has exactly one accepted encoding.
 */
#ifndef ML_CONTROL_B64URL_H
#define ML_CONTROL_B64URL_H

#include <stddef.h>

/* Encode len bytes into out (NUL-terminated). Returns the encoded length,
 * or -1 if out (cap bytes) is too small. */
int ctl_b64url_encode(const unsigned char *in, size_t len, char *out, size_t cap);
/* Decode inlen characters into out. Returns the decoded length, or -1 on
 * malformed input or when out (cap bytes) is too small. */
int ctl_b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t cap);

#endif
