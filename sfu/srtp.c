/*
 * SRTP/SRTCP protection (see srtp.h). The packet work is done by
 * srtp_fast.c on nettle: Debian's libsrtp2 runs on NSS, whose PKCS#11
 * layer locks and allocates on every packet (7-9k instructions each).
 * libsrtp2 stays as the reference (unit tests, fuzz target) and as a
 * fallback with SFU_SRTP_RTP=libsrtp. This file owns the
 * one-time libsrtp initialisation, the mapping from DTLS-SRTP profiles to
 * libsrtp crypto policies, and the translation of libsrtp status codes into
 * the few outcomes a caller counts (auth failure, replay, bad input).
 *
 * Buffer space: libsrtp documents that protect may write up to
 * SRTP_MAX_TRAILER_LEN bytes (tag + MKI). We never configure an MKI, so it
 * writes only the tag (plus the 4-byte SRTCP index for RTCP); callers size
 * buffers with sfu_srtp_overhead() and we check the capacity before each
 * call.
 */
#include "sfu/srtp.h"
#include "sfu/srtp_fast.h"

#include <limits.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define RTP_MIN_HEADER 12
#define RTCP_MIN_HEADER 8
#define INBOUND_REPLAY_WINDOW 1024
/* Outbound: a retransmission (NACK) of an older packet must still be
 * protectable; 4096 packets is several seconds of video. */
#define OUTBOUND_REPLAY_WINDOW 4096

struct sfu_srtp {
    srtp_t in, out; /* libsrtp, only with SFU_SRTP_RTP=libsrtp */
    /* nettle (srtp_fast.h), all NULL with SFU_SRTP_RTP=libsrtp: */
    sfu_srtp_fast *tx, *rx;           /* RTP out, in */
    sfu_srtp_fast *tx_rtcp, *rx_rtcp; /* RTCP out, in */
    sfu_srtp_profile profile;
    size_t rtp_overhead;
    size_t rtcp_overhead;
};

static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static int srtp_init_status = -1;

static void srtp_init_once(void)
{
    srtp_init_status = srtp_init() == srtp_err_status_ok ? 0 : -1;
}

int sfu_srtp_global_init(void)
{
    pthread_once(&srtp_once, srtp_init_once);
    return srtp_init_status;
}

int sfu_srtp_key_lengths(sfu_srtp_profile profile, size_t *key_len, size_t *salt_len)
{
    switch (profile) {
    case SFU_SRTP_AES128_CM_SHA1_80:
        *key_len = 16;
        *salt_len = 14;
        return 0;
    case SFU_SRTP_AEAD_AES_128_GCM:
        *key_len = 16;
        *salt_len = 12;
        return 0;
    default:
        return -1;
    }
}

size_t sfu_srtp_overhead(sfu_srtp_profile profile, int rtcp)
{
    switch (profile) {
    case SFU_SRTP_AES128_CM_SHA1_80:
        return rtcp ? 10 + 4 : 10;
    case SFU_SRTP_AEAD_AES_128_GCM:
        return rtcp ? 16 + 4 : 16;
    default:
        return 0;
    }
}

const char *sfu_srtp_profile_name(sfu_srtp_profile profile)
{
    switch (profile) {
    case SFU_SRTP_AES128_CM_SHA1_80:
        return "AES_CM_128_HMAC_SHA1_80";
    case SFU_SRTP_AEAD_AES_128_GCM:
        return "AEAD_AES_128_GCM";
    default:
        return "none";
    }
}

static int set_policy(srtp_policy_t *p, sfu_srtp_profile profile)
{
    switch (profile) {
    case SFU_SRTP_AES128_CM_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
        return 0;
    case SFU_SRTP_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
        return 0;
    default:
        return -1;
    }
}

/* Create one session with key||salt. */
static int make_session(srtp_t *out, sfu_srtp_profile profile, int inbound, const uint8_t *key,
                        size_t key_len, const uint8_t *salt, size_t salt_len, char *err,
                        size_t errlen)
{
    uint8_t master[SFU_SRTP_MAX_KEY_LEN + SFU_SRTP_MAX_SALT_LEN];
    srtp_policy_t policy;
    srtp_err_status_t st;

    memset(&policy, 0, sizeof policy);
    if (set_policy(&policy, profile) < 0) {
        snprintf(err, errlen, "unknown SRTP profile %d", (int)profile);
        return -1;
    }
    memcpy(master, key, key_len);
    memcpy(master + key_len, salt, salt_len);
    policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    policy.key = master;
    policy.window_size = inbound ? INBOUND_REPLAY_WINDOW : OUTBOUND_REPLAY_WINDOW;
    policy.allow_repeat_tx = inbound ? 0 : 1;
    policy.next = NULL;
    st = srtp_create(out, &policy);
    OPENSSL_cleanse(master, sizeof master);
    if (st != srtp_err_status_ok) {
        *out = NULL;
        snprintf(err, errlen, "srtp_create (%s) failed: status %d",
                 inbound ? "inbound" : "outbound", (int)st);
        return -1;
    }
    return 0;
}

sfu_srtp *sfu_srtp_create(const sfu_srtp_keys *keys, char *err, size_t errlen)
{
    sfu_srtp *s = NULL;
    size_t key_len, salt_len;

    if (!keys) {
        snprintf(err, errlen, "no SRTP keys");
        goto fail;
    }
    if (sfu_srtp_key_lengths(keys->profile, &key_len, &salt_len) < 0) {
        snprintf(err, errlen, "unknown SRTP profile %d", (int)keys->profile);
        goto fail;
    }
    if (keys->key_len != key_len || keys->salt_len != salt_len) {
        snprintf(err, errlen, "SRTP key/salt length %zu/%zu do not match profile %s", keys->key_len,
                 keys->salt_len, sfu_srtp_profile_name(keys->profile));
        goto fail;
    }
    if (sfu_srtp_global_init() < 0) {
        snprintf(err, errlen, "srtp_init failed");
        goto fail;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->profile = keys->profile;
    s->rtp_overhead = sfu_srtp_overhead(keys->profile, 0);
    s->rtcp_overhead = sfu_srtp_overhead(keys->profile, 1);
    /* SRTP and SRTCP on nettle (srtp_fast.h); libsrtp sessions only when
     * SFU_SRTP_RTP=libsrtp asks for them (comparison, fallback). */
    const char *rtp_env = getenv("SFU_SRTP_RTP");
    if (rtp_env && strcmp(rtp_env, "libsrtp") == 0) {
        if (make_session(&s->in, keys->profile, 1, keys->remote_key, key_len, keys->remote_salt,
                         salt_len, err, errlen) < 0)
            goto fail;
        if (make_session(&s->out, keys->profile, 0, keys->local_key, key_len, keys->local_salt,
                         salt_len, err, errlen) < 0)
            goto fail;
        return s;
    }
    s->tx = sfu_srtp_fast_create(keys->profile, keys->local_key, key_len, keys->local_salt,
                                 salt_len, 0, 0);
    s->rx = sfu_srtp_fast_create(keys->profile, keys->remote_key, key_len, keys->remote_salt,
                                 salt_len, 1, 0);
    s->tx_rtcp = sfu_srtp_fast_create(keys->profile, keys->local_key, key_len, keys->local_salt,
                                      salt_len, 0, 1);
    s->rx_rtcp = sfu_srtp_fast_create(keys->profile, keys->remote_key, key_len,
                                      keys->remote_salt, salt_len, 1, 1);
    if (!s->tx || !s->rx || !s->tx_rtcp || !s->rx_rtcp) {
        snprintf(err, errlen, "SRTP context setup failed");
        goto fail;
    }
    return s;

fail:
    sfu_srtp_destroy(s);
    return NULL;
}

sfu_srtp_profile sfu_srtp_get_profile(const sfu_srtp *s)
{
    return s ? s->profile : SFU_SRTP_PROFILE_NONE;
}

static int map_status(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok:
        return 0;
    case srtp_err_status_auth_fail:
        return SFU_SRTP_ERR_AUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        return SFU_SRTP_ERR_REPLAY;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
    case srtp_err_status_no_ctx:
        return SFU_SRTP_ERR_INPUT;
    default:
        return SFU_SRTP_ERR;
    }
}

/* Common length checks; the RTP/RTCP version bits must be 2. */
static int check_input(const uint8_t *buf, size_t len, size_t min)
{
    if (!buf || len < min || len > INT_MAX / 2)
        return SFU_SRTP_ERR_INPUT;
    if ((buf[0] >> 6) != 2)
        return SFU_SRTP_ERR_INPUT;
    return 0;
}

int sfu_srtp_protect_rtp(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
    int n, rc;

    if (!s || !len)
        return SFU_SRTP_ERR_INPUT;
    rc = check_input(buf, *len, RTP_MIN_HEADER);
    if (rc < 0)
        return rc;
    if (cap < *len + s->rtp_overhead)
        return SFU_SRTP_ERR_INPUT;
    if (s->tx)
        return sfu_srtp_fast_protect(s->tx, buf, len);
    n = (int)*len;
    rc = map_status(srtp_protect(s->out, buf, &n));
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

int sfu_srtp_protect_rtcp(sfu_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
    int n, rc;

    if (!s || !len)
        return SFU_SRTP_ERR_INPUT;
    rc = check_input(buf, *len, RTCP_MIN_HEADER);
    if (rc < 0)
        return rc;
    if (cap < *len + s->rtcp_overhead)
        return SFU_SRTP_ERR_INPUT;
    if (s->tx_rtcp)
        return sfu_srtp_fast_protect_rtcp(s->tx_rtcp, buf, len);
    n = (int)*len;
    rc = map_status(srtp_protect_rtcp(s->out, buf, &n));
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

int sfu_srtp_unprotect_rtp(sfu_srtp *s, uint8_t *buf, size_t *len)
{
    int n, rc;

    if (!s || !len)
        return SFU_SRTP_ERR_INPUT;
    rc = check_input(buf, *len, RTP_MIN_HEADER + s->rtp_overhead);
    if (rc < 0)
        return rc;
    if (s->rx)
        return sfu_srtp_fast_unprotect(s->rx, buf, len);
    n = (int)*len;
    rc = map_status(srtp_unprotect(s->in, buf, &n));
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

int sfu_srtp_unprotect_rtcp(sfu_srtp *s, uint8_t *buf, size_t *len)
{
    int n, rc;

    if (!s || !len)
        return SFU_SRTP_ERR_INPUT;
    rc = check_input(buf, *len, RTCP_MIN_HEADER + s->rtcp_overhead);
    if (rc < 0)
        return rc;
    if (s->rx_rtcp)
        return sfu_srtp_fast_unprotect_rtcp(s->rx_rtcp, buf, len);
    n = (int)*len;
    rc = map_status(srtp_unprotect_rtcp(s->in, buf, &n));
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

void sfu_srtp_destroy(sfu_srtp *s)
{
    if (!s)
        return;
    if (s->in)
        srtp_dealloc(s->in);
    if (s->out)
        srtp_dealloc(s->out);
    sfu_srtp_fast_destroy(s->tx);
    sfu_srtp_fast_destroy(s->rx);
    sfu_srtp_fast_destroy(s->tx_rtcp);
    sfu_srtp_fast_destroy(s->rx_rtcp);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}
