/*
 * Outbound SRTP for RTP packets, on OpenSSL's EVP directly (see srtp_tx.c).
 *
 * Debian's libsrtp2 is built on NSS, whose PKCS#11 layer takes locks and
 * allocates on every packet; protecting is what an SFU does N times per
 * received packet, so that one direction is done here: RFC 3711 key
 * derivation, AEAD_AES_128_GCM (RFC 7714) and AES_CM_128_HMAC_SHA1_80
 * (RFC 3711), with the sender's rollover counter per SSRC. Unprotect and
 * SRTCP stay on libsrtp (sfu/srtp.c). One context per direction and
 * session; single-threaded.
 */
#ifndef ML_SFU_SRTP_TX_H
#define ML_SFU_SRTP_TX_H

#include <stddef.h>
#include <stdint.h>

#include "sfu/srtp.h"

typedef struct sfu_srtp_tx sfu_srtp_tx;

/* Derive the session keys from the master key and salt (lengths as the
 * profile requires). NULL on a bad profile or length, or OpenSSL failure. */
sfu_srtp_tx *sfu_srtp_tx_create(sfu_srtp_profile profile, const uint8_t *key, size_t key_len,
                                const uint8_t *salt, size_t salt_len);

/* Protect one RTP packet in place; buf must have room for the tag (10 or 16
 * bytes) after *len. Returns 0 or SFU_SRTP_ERR_INPUT (malformed header)
 * or SFU_SRTP_ERR. */
int sfu_srtp_tx_protect(sfu_srtp_tx *t, uint8_t *buf, size_t *len);

/* Free (NULL is fine); key material is wiped. */
void sfu_srtp_tx_destroy(sfu_srtp_tx *t);

#endif
