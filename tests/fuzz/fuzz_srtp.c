/*
 * Fuzz target for sfu/srtp_fast.c (RTP SRTP on OpenSSL). The first byte
 * picks the profile; the rest is a datagram that is
 *  - unprotected as received SRTP: never a crash or an out-of-bounds read,
 *    and the verdict must equal libsrtp's (SFU_SRTP_RTP=libsrtp);
 *  - protected as RTP when the header is valid, and then unprotected again
 *    by a peer: the round trip must give back the same bytes;
 *  - the same two steps as SRTCP/RTCP.
 */
#include "sfu/srtp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PKT 2048

static void keys_for(sfu_srtp_profile p, sfu_srtp_keys *k, int flip)
{
    size_t kl = 0, sl = 0;
    sfu_srtp_key_lengths(p, &kl, &sl);
    memset(k, 0, sizeof *k);
    k->profile = p;
    k->key_len = kl;
    k->salt_len = sl;
    for (size_t i = 0; i < kl; i++) {
        k->local_key[i] = (uint8_t)((flip ? 0x80 : 0x10) + i);
        k->remote_key[i] = (uint8_t)((flip ? 0x10 : 0x80) + i);
    }
    for (size_t i = 0; i < sl; i++) {
        k->local_salt[i] = (uint8_t)((flip ? 0xc0 : 0x40) + i);
        k->remote_salt[i] = (uint8_t)((flip ? 0x40 : 0xc0) + i);
    }
}

static sfu_srtp *make(sfu_srtp_profile p, int flip, int libsrtp)
{
    sfu_srtp_keys k;
    char err[128];
    keys_for(p, &k, flip);
    if (libsrtp)
        setenv("SFU_SRTP_RTP", "libsrtp", 1);
    else
        unsetenv("SFU_SRTP_RTP");
    sfu_srtp *s = sfu_srtp_create(&k, err, sizeof err);
    unsetenv("SFU_SRTP_RTP");
    if (!s)
        abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > MAX_PKT - 32)
        return 0;
    sfu_srtp_profile p = (data[0] & 1) ? SFU_SRTP_AEAD_AES_128_GCM : SFU_SRTP_AES128_CM_SHA1_80;
    data++;
    size--;
    _Alignas(16) uint8_t a[MAX_PKT], b[MAX_PKT];

    /* As received SRTP: ours and libsrtp agree. */
    sfu_srtp *ours = make(p, 0, 0), *ref = make(p, 0, 1);
    size_t la = size, lb = size;
    memcpy(a, data, size);
    memcpy(b, data, size);
    int ra = sfu_srtp_unprotect_rtp(ours, a, &la);
    int rb = sfu_srtp_unprotect_rtp(ref, b, &lb);
    if ((ra == 0) != (rb == 0))
        abort();
    if (ra == 0 && (la != lb || memcmp(a, b, la) != 0))
        abort();

    /* As RTP to send: protect, then the peer unprotects the same bytes. */
    sfu_srtp *peer = make(p, 1, 0);
    la = size;
    memcpy(a, data, size);
    if (sfu_srtp_protect_rtp(ours, a, &la, sizeof a) == 0) {
        if (la != size + sfu_srtp_overhead(p, 0))
            abort();
        if (sfu_srtp_unprotect_rtp(peer, a, &la) != 0 || la != size || memcmp(a, data, size) != 0)
            abort();
    }

    /* The same as RTCP. */
    la = lb = size;
    memcpy(a, data, size);
    memcpy(b, data, size);
    ra = sfu_srtp_unprotect_rtcp(ours, a, &la);
    rb = sfu_srtp_unprotect_rtcp(ref, b, &lb);
    if ((ra == 0) != (rb == 0) || (ra == 0 && (la != lb || memcmp(a, b, la) != 0)))
        abort();
    la = size;
    memcpy(a, data, size);
    if (sfu_srtp_protect_rtcp(ours, a, &la, sizeof a) == 0) {
        if (la != size + sfu_srtp_overhead(p, 1))
            abort();
        if (sfu_srtp_unprotect_rtcp(peer, a, &la) != 0 || la != size ||
            memcmp(a, data, size) != 0)
            abort();
    }
    sfu_srtp_destroy(ours);
    sfu_srtp_destroy(ref);
    sfu_srtp_destroy(peer);
    return 0;
}
