/*
 * SRTP and SRTCP protection for one transport, over libsrtp2.
 *
 * An sfu_srtp owns two libsrtp sessions built from the keys that DTLS-SRTP
 * exported (or that a pipe transport was configured with): an inbound
 * session keyed with the remote key and salt (any SSRC, replay window on),
 * and an outbound session keyed with the local key and salt (any SSRC,
 * repeated indexes allowed so that a retransmission with the same sequence
 * number can be protected again). Packets are transformed in place.
 *
 * Threads: sfu_srtp_global_init() may be called from any thread, any number
 * of times (the first call initialises libsrtp, pthread_once). One sfu_srtp
 * object is used by exactly one thread (the media worker that owns the
 * transport); libsrtp sessions are not safe for concurrent use. Different
 * objects may be used on different threads at the same time.
 */
#ifndef ML_SFU_SRTP_H
#define ML_SFU_SRTP_H

#include <stddef.h>
#include <stdint.h>

/* Status codes (0 on success). Callers count the distinct failures. */
#define SFU_SRTP_ERR (-1)        /* internal / libsrtp failure */
#define SFU_SRTP_ERR_AUTH (-2)   /* authentication tag did not verify */
#define SFU_SRTP_ERR_REPLAY (-3) /* replayed, or too old for the replay window */
#define SFU_SRTP_ERR_INPUT (-4)  /* malformed packet, or buffer too small */

typedef enum {
    SFU_SRTP_PROFILE_NONE = 0,
    SFU_SRTP_AES128_CM_SHA1_80 = 1, /* RFC 5764 SRTP_AES128_CM_HMAC_SHA1_80: key 16, salt 14 */
    SFU_SRTP_AEAD_AES_128_GCM = 7,  /* RFC 7714 SRTP_AEAD_AES_128_GCM: key 16, salt 12 */
} sfu_srtp_profile;

#define SFU_SRTP_MAX_KEY_LEN 16
#define SFU_SRTP_MAX_SALT_LEN 14
/* Largest value of sfu_srtp_overhead() for any profile, RTP or RTCP. */
#define SFU_SRTP_MAX_OVERHEAD 20

/* Keying material for one direction pair. key_len/salt_len must match the
 * profile (sfu_srtp_key_lengths()). "local" protects what we send,
 * "remote" unprotects what we receive. */
typedef struct sfu_srtp_keys {
    sfu_srtp_profile profile;
    size_t key_len;
    size_t salt_len;
    uint8_t local_key[SFU_SRTP_MAX_KEY_LEN];
    uint8_t local_salt[SFU_SRTP_MAX_SALT_LEN];
    uint8_t remote_key[SFU_SRTP_MAX_KEY_LEN];
    uint8_t remote_salt[SFU_SRTP_MAX_SALT_LEN];
} sfu_srtp_keys;

typedef struct sfu_srtp sfu_srtp;

/* Initialise libsrtp once per process (thread-safe, idempotent).
 * Returns 0, or -1 if srtp_init() failed (then every later call fails too). */
int sfu_srtp_global_init(void);

/* Key and salt lengths of a profile; returns -1 for an unknown profile. */
int sfu_srtp_key_lengths(sfu_srtp_profile profile, size_t *key_len, size_t *salt_len);

/* Bytes that protecting one packet adds: auth tag for RTP; tag plus the
 * 4-byte SRTCP index for RTCP. 0 for an unknown profile. */
size_t sfu_srtp_overhead(sfu_srtp_profile profile, int rtcp);

/* Short name for logs and stats: "AES_CM_128_HMAC_SHA1_80",
 * "AEAD_AES_128_GCM", or "none". Never NULL. */
const char *sfu_srtp_profile_name(sfu_srtp_profile profile);

/* Create the inbound and outbound sessions (calls sfu_srtp_global_init()).
 * The keys are copied. Returns NULL with a message in err on failure. */
sfu_srtp *sfu_srtp_create(const sfu_srtp_keys *keys, char *err, size_t errlen);

/* The profile the object was created with. */
sfu_srtp_profile sfu_srtp_get_profile(const sfu_srtp *s);

/* Protect an RTP packet in place. *len is the plain length on entry and
 * the protected length on return; cap is the size of buf and must leave
 * room for sfu_srtp_overhead(profile, 0) more bytes. buf should be 4-byte
 * aligned. Returns 0 or SFU_SRTP_ERR*. */
int sfu_srtp_protect_rtp(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap);

/* Protect an RTCP compound packet in place (as above; RTCP overhead). */
int sfu_srtp_protect_rtcp(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap);

/* Verify and decrypt an SRTP packet in place; *len shrinks to the plain
 * length. Returns 0, SFU_SRTP_ERR_AUTH, SFU_SRTP_ERR_REPLAY,
 * SFU_SRTP_ERR_INPUT or SFU_SRTP_ERR. On error buf content is undefined. */
int sfu_srtp_unprotect_rtp(sfu_srtp *s, uint8_t *buf, size_t *len);

/* Verify and decrypt an SRTCP packet in place (as above). */
int sfu_srtp_unprotect_rtcp(sfu_srtp *s, uint8_t *buf, size_t *len);

/* Free both sessions and wipe the keys. NULL is ignored. */
void sfu_srtp_destroy(sfu_srtp *s);

#endif
