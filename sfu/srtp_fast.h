/*
 * SRTP and SRTCP packet protection on nettle (see srtp_fast.c).
 *
 * Debian's libsrtp2 is built on NSS, whose PKCS#11 layer takes locks and
 * allocates on every packet (~7-9k instructions per packet), and OpenSSL
 * 3's EVP layer costs ~2.5k instructions just to set a GCM IV; an SFU
 * protects every packet once per viewer, so the packet work is done here
 * with nettle's AES/GCM/HMAC-SHA1: RFC 3711 key derivation,
 * AEAD_AES_128_GCM (RFC 7714) and AES_CM_128_HMAC_SHA1_80 (RFC 3711),
 * rollover counters and SRTCP indexes per SSRC, and replay windows when
 * receiving (1024 packets for RTP, 128 for RTCP, as libsrtp). One context
 * per direction and per RTP/RTCP; single-threaded.
 */
#ifndef ML_SFU_SRTP_FAST_H
#define ML_SFU_SRTP_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "sfu/srtp.h"

typedef struct sfu_srtp_fast sfu_srtp_fast;

/* Derive the session keys from the master key and salt (lengths as the
 * profile requires) for sending (inbound 0) or receiving (inbound 1), RTP
 * (rtcp 0) or RTCP (rtcp 1). NULL on a bad profile or length, or OpenSSL
 * failure. */
sfu_srtp_fast *sfu_srtp_fast_create(sfu_srtp_profile profile, const uint8_t *key, size_t key_len,
                                  const uint8_t *salt, size_t salt_len, int inbound, int rtcp);

/* Sending: protect one RTP packet in place; buf must have room for the tag
 * (10 or 16 bytes) after *len. Returns 0, SFU_SRTP_ERR_INPUT (malformed
 * header) or SFU_SRTP_ERR. */
int sfu_srtp_fast_protect(sfu_srtp_fast *t, uint8_t *buf, size_t *len);

/* Receiving: verify and decrypt one SRTP packet in place; *len becomes the
 * RTP length. Returns 0, SFU_SRTP_ERR_AUTH, SFU_SRTP_ERR_REPLAY,
 * SFU_SRTP_ERR_INPUT or SFU_SRTP_ERR; on error buf content is undefined. */
int sfu_srtp_fast_unprotect(sfu_srtp_fast *t, uint8_t *buf, size_t *len);

/* SRTCP (RFC 3711 §3.4, RFC 7714 §9), always encrypted: protect appends
 * the tag and E||index (14 or 20 bytes; buf must have room), unprotect
 * verifies, checks the window and decrypts; results as for RTP. */
int sfu_srtp_fast_protect_rtcp(sfu_srtp_fast *t, uint8_t *buf, size_t *len);
int sfu_srtp_fast_unprotect_rtcp(sfu_srtp_fast *t, uint8_t *buf, size_t *len);

/* Free (NULL is fine); key material is wiped. */
void sfu_srtp_fast_destroy(sfu_srtp_fast *t);

#endif
