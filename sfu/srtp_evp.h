/*
 * SRTP for RTP packets on OpenSSL's EVP directly (see srtp_evp.c).
 *
 * Debian's libsrtp2 is built on NSS, whose PKCS#11 layer takes locks and
 * allocates on every packet (~7-9k instructions per packet); RTP is what
 * an SFU protects N times per received packet, so RTP is done here: RFC
 * 3711 key derivation, AEAD_AES_128_GCM (RFC 7714) and
 * AES_CM_128_HMAC_SHA1_80 (RFC 3711), rollover counters per SSRC, and a
 * replay window when receiving (1024 packets for RTP, 128 for RTCP, as
 * libsrtp). SRTCP is done here too (RTCP feedback from every viewer adds
 * up). One context per direction and per RTP/RTCP; single-threaded.
 */
#ifndef ML_SFU_SRTP_EVP_H
#define ML_SFU_SRTP_EVP_H

#include <stddef.h>
#include <stdint.h>

#include "sfu/srtp.h"

typedef struct sfu_srtp_evp sfu_srtp_evp;

/* Derive the session keys from the master key and salt (lengths as the
 * profile requires) for sending (inbound 0) or receiving (inbound 1), RTP
 * (rtcp 0) or RTCP (rtcp 1). NULL on a bad profile or length, or OpenSSL
 * failure. */
sfu_srtp_evp *sfu_srtp_evp_create(sfu_srtp_profile profile, const uint8_t *key, size_t key_len,
                                  const uint8_t *salt, size_t salt_len, int inbound, int rtcp);

/* Sending: protect one RTP packet in place; buf must have room for the tag
 * (10 or 16 bytes) after *len. Returns 0, SFU_SRTP_ERR_INPUT (malformed
 * header) or SFU_SRTP_ERR. */
int sfu_srtp_evp_protect(sfu_srtp_evp *t, uint8_t *buf, size_t *len);

/* Receiving: verify and decrypt one SRTP packet in place; *len becomes the
 * RTP length. Returns 0, SFU_SRTP_ERR_AUTH, SFU_SRTP_ERR_REPLAY,
 * SFU_SRTP_ERR_INPUT or SFU_SRTP_ERR; on error buf content is undefined. */
int sfu_srtp_evp_unprotect(sfu_srtp_evp *t, uint8_t *buf, size_t *len);

/* SRTCP (RFC 3711 §3.4, RFC 7714 §9), always encrypted: protect appends
 * the tag and E||index (14 or 20 bytes; buf must have room), unprotect
 * verifies, checks the window and decrypts; results as for RTP. */
int sfu_srtp_evp_protect_rtcp(sfu_srtp_evp *t, uint8_t *buf, size_t *len);
int sfu_srtp_evp_unprotect_rtcp(sfu_srtp_evp *t, uint8_t *buf, size_t *len);

/* Free (NULL is fine); key material is wiped. */
void sfu_srtp_evp_destroy(sfu_srtp_evp *t);

#endif
