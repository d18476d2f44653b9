/*
 * Lowercase hexadecimal text for bytes (digests, MACs, random tokens) and
 * the value of one hex digit for the decoders (percent-escapes, signature
 * headers, SDP fingerprints). Pure: no state, no allocation.
 */
#ifndef ML_COMMON_HEX_H
#define ML_COMMON_HEX_H

#include <stddef.h>

/* Write the n bytes at in as 2*n lowercase hex digits and a NUL into out,
 * which must hold 2*n + 1 bytes. */
void ml_hex_encode(const void *in, size_t n, char *out);

/* The value (0-15) of the hex digit c, either case, or -1. */
int ml_hex_digit(int c);

#endif
