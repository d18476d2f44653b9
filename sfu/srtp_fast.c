/*
 * SRTP and SRTCP on nettle (see srtp_fast.h).
 *
 * Key derivation (RFC 3711 §4.3, key derivation rate 0): for each label,
 * x = master_salt XOR (label at byte 7 of the 14-byte salt), and the key
 * is the AES-128-CTR keystream under the master key from IV = x || 0x0000.
 * A 12-byte GCM master salt is zero-padded to 14 bytes first (what RFC 7714
 * §11 and libsrtp do). Labels: 0 encryption key, 1 authentication key,
 * 2 salt.
 *
 * AEAD_AES_128_GCM (RFC 7714 §8): IV = (0x0000 || SSRC || ROC || SEQ)
 * XOR session salt (12 bytes); the RTP header (with CSRCs and extension)
 * is the AAD; the 16-byte tag follows the payload.
 *
 * AES_CM_128_HMAC_SHA1_80 (RFC 3711 §4.1.1, §4.2): IV = (salt || 0x0000)
 * XOR (SSRC at bytes 4..7) XOR (48-bit index at bytes 8..13); the payload
 * is encrypted with AES-128-CTR; the tag is the first 10 bytes of
 * HMAC-SHA1(auth key, header || payload || ROC).
 *
 * Sending, the rollover counter is kept per SSRC as a sender does: it
 * counts up when the sequence number wraps forward, and an older sequence
 * number (a retransmission from the RTX buffer) is placed in the rollover
 * period it came from. Receiving (RFC 3711 §3.3.1, Appendix A), the index
 * is estimated from the highest authenticated one (while that is below
 * 2^15 the sequence number is taken as is, like libsrtp), checked against
 * a 1024-packet replay window, authenticated, and only then does it move
 * the window.
 */
#include "sfu/srtp_fast.h"

#include <nettle/aes.h>
#include <nettle/ctr.h>
#include <nettle/gcm.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SSRCS 256
#define REPLAY_WINDOW 1024

typedef struct tx_ssrc {
    uint32_t ssrc;
    uint32_t roc;
    uint16_t last_seq;
    uint64_t highest;                     /* receiving: highest authenticated index */
    uint64_t seen[REPLAY_WINDOW / 64];    /* receiving: bit (index % window) */
} tx_ssrc;

struct sfu_srtp_fast {
    sfu_srtp_profile profile;
    int inbound;
    int rtcp;        /* SRTCP keys (labels 3-5) and packets */
    uint32_t window; /* replay window: 1024 (RTP) or 128 (RTCP), as libsrtp */
    union {
        struct gcm_aes128_ctx gcm; /* AEAD_AES_128_GCM */
        struct aes128_ctx aes;     /* AES_CM_128_HMAC_SHA1_80 */
    } k;
    struct hmac_sha1_ctx hmac; /* AES-CM only */
    uint8_t salt[14];  /* session salt (12 bytes used for GCM) */
    int n_ssrcs, cap_ssrcs;
    tx_ssrc *ssrcs;
};

static void aes_enc(const void *ctx, size_t len, uint8_t *dst, const uint8_t *src)
{
    aes128_encrypt(ctx, len, dst, src);
}

/* AES-128-CTR over buf in place, from the 16-byte counter block iv. */
static void aes_ctr(const struct aes128_ctx *k, uint8_t iv[16], uint8_t *buf, size_t len)
{
    if (len)
        ctr_crypt(k, aes_enc, AES_BLOCK_SIZE, iv, len, buf, buf);
}

/* AES-128-CTR keystream of n bytes for one label (RFC 3711 §4.3.1). */
static void kdf(const uint8_t *mkey, const uint8_t *msalt14, uint8_t label, uint8_t *out, size_t n)
{
    uint8_t iv[16] = {0};
    struct aes128_ctx a;
    memcpy(iv, msalt14, 14);
    iv[7] ^= label;
    aes128_set_encrypt_key(&a, mkey);
    memset(out, 0, n);
    aes_ctr(&a, iv, out, n);
    OPENSSL_cleanse(&a, sizeof a);
}

sfu_srtp_fast *sfu_srtp_fast_create(sfu_srtp_profile profile, const uint8_t *key, size_t key_len,
                                  const uint8_t *salt, size_t salt_len, int inbound, int rtcp)
{
    size_t want_key, want_salt;
    if (sfu_srtp_key_lengths(profile, &want_key, &want_salt) != 0 || key_len != want_key ||
        salt_len != want_salt || key_len != 16)
        return NULL;
    sfu_srtp_fast *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->profile = profile;
    t->inbound = inbound;
    t->rtcp = rtcp;
    t->window = rtcp ? 128 : REPLAY_WINDOW;
    uint8_t base = rtcp ? 3 : 0;
    uint8_t msalt[14] = {0}, skey[16], sauth[20];
    memcpy(msalt, salt, salt_len);
    kdf(key, msalt, base, skey, 16);
    kdf(key, msalt, base + 2, t->salt, profile == SFU_SRTP_AEAD_AES_128_GCM ? 12 : 14);
    if (profile == SFU_SRTP_AEAD_AES_128_GCM) {
        gcm_aes128_set_key(&t->k.gcm, skey);
    } else {
        aes128_set_encrypt_key(&t->k.aes, skey);
        kdf(key, msalt, base + 1, sauth, 20);
        hmac_sha1_set_key(&t->hmac, sizeof sauth, sauth);
    }
    OPENSSL_cleanse(skey, sizeof skey);
    OPENSSL_cleanse(sauth, sizeof sauth);
    OPENSSL_cleanse(msalt, sizeof msalt);
    return t;
}

void sfu_srtp_fast_destroy(sfu_srtp_fast *t)
{
    if (!t)
        return;
    free(t->ssrcs);
    OPENSSL_cleanse(t, sizeof *t);
    free(t);
}

static tx_ssrc *find_ssrc(sfu_srtp_fast *t, uint32_t ssrc)
{
    for (int i = 0; i < t->n_ssrcs; i++)
        if (t->ssrcs[i].ssrc == ssrc)
            return &t->ssrcs[i];
    return NULL;
}

static tx_ssrc *add_ssrc(sfu_srtp_fast *t, uint32_t ssrc)
{
    if (t->n_ssrcs == t->cap_ssrcs) {
        if (t->cap_ssrcs >= MAX_SSRCS)
            return NULL;
        int cap = t->cap_ssrcs ? t->cap_ssrcs * 2 : 4;
        tx_ssrc *n = realloc(t->ssrcs, (size_t)cap * sizeof *n);
        if (!n)
            return NULL;
        t->ssrcs = n;
        t->cap_ssrcs = cap;
    }
    tx_ssrc *s = &t->ssrcs[t->n_ssrcs++];
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    return s;
}

/* The rollover counter for this packet, updating the SSRC's state. */
static int roc_for(sfu_srtp_fast *t, uint32_t ssrc, uint16_t seq, uint32_t *roc)
{
    tx_ssrc *s = find_ssrc(t, ssrc);
    if (!s) {
        s = add_ssrc(t, ssrc);
        if (!s)
            return -1;
        s->last_seq = seq;
        *roc = 0;
        return 0;
    }
    int16_t delta = (int16_t)(uint16_t)(seq - s->last_seq);
    if (delta > 0) {
        if (seq < s->last_seq)
            s->roc++; /* wrapped forward */
        s->last_seq = seq;
        *roc = s->roc;
    } else {
        /* Same or older: a resend; before the wrap if numerically above. */
        *roc = seq > s->last_seq && s->roc > 0 ? s->roc - 1 : s->roc;
    }
    return 0;
}

static size_t header_len(const uint8_t *b, size_t len)
{
    size_t h = 12 + 4u * (b[0] & 0x0f);
    if (h > len)
        return 0;
    if (b[0] & 0x10) {
        if (h + 4 > len)
            return 0;
        h += 4 + 4u * ((size_t)b[h + 2] << 8 | b[h + 3]);
        if (h > len)
            return 0;
    }
    return h;
}

static void gcm_iv(const sfu_srtp_fast *t, uint32_t ssrc, uint32_t roc, uint16_t seq, uint8_t iv[12])
{
    const uint8_t v[12] = {0, 0,
                           (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16), (uint8_t)(ssrc >> 8), (uint8_t)ssrc,
                           (uint8_t)(roc >> 24),  (uint8_t)(roc >> 16),  (uint8_t)(roc >> 8),  (uint8_t)roc,
                           (uint8_t)(seq >> 8),   (uint8_t)seq};
    for (int i = 0; i < 12; i++)
        iv[i] = v[i] ^ t->salt[i];
}

static void cm_iv(const sfu_srtp_fast *t, uint32_t ssrc, uint32_t roc, uint16_t seq, uint8_t iv[16])
{
    memcpy(iv, t->salt, 14);
    iv[14] = iv[15] = 0;
    /* SSRC at bytes 4..7; index (ROC || SEQ, 48 bits) at bytes 8..13. */
    iv[4] ^= (uint8_t)(ssrc >> 24);
    iv[5] ^= (uint8_t)(ssrc >> 16);
    iv[6] ^= (uint8_t)(ssrc >> 8);
    iv[7] ^= (uint8_t)ssrc;
    iv[8] ^= (uint8_t)(roc >> 24);
    iv[9] ^= (uint8_t)(roc >> 16);
    iv[10] ^= (uint8_t)(roc >> 8);
    iv[11] ^= (uint8_t)roc;
    iv[12] ^= (uint8_t)(seq >> 8);
    iv[13] ^= (uint8_t)seq;
}

/* HMAC-SHA1(auth key, buf[0..len) || ROC) into tag (20 bytes). */
static void cm_tag(sfu_srtp_fast *t, const uint8_t *buf, size_t len, uint32_t roc,
                   uint8_t tag[SHA1_DIGEST_SIZE])
{
    uint8_t rocb[4] = {(uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8),
                       (uint8_t)roc};
    hmac_sha1_update(&t->hmac, len, buf);
    hmac_sha1_update(&t->hmac, 4, rocb);
    hmac_sha1_digest(&t->hmac, SHA1_DIGEST_SIZE, tag); /* and back to the keyed state */
}

static int protect_gcm(sfu_srtp_fast *t, uint8_t *buf, size_t hlen, size_t len, uint32_t ssrc,
                       uint32_t roc, uint16_t seq)
{
    uint8_t iv[12];
    gcm_iv(t, ssrc, roc, seq, iv);
    gcm_aes128_set_iv(&t->k.gcm, 12, iv);
    gcm_aes128_update(&t->k.gcm, hlen, buf);
    gcm_aes128_encrypt(&t->k.gcm, len - hlen, buf + hlen, buf + hlen);
    gcm_aes128_digest(&t->k.gcm, 16, buf + len);
    return 16;
}

static int protect_cm(sfu_srtp_fast *t, uint8_t *buf, size_t hlen, size_t len, uint32_t ssrc,
                      uint32_t roc, uint16_t seq)
{
    uint8_t iv[16], tag[SHA1_DIGEST_SIZE];
    cm_iv(t, ssrc, roc, seq, iv);
    aes_ctr(&t->k.aes, iv, buf + hlen, len - hlen);
    cm_tag(t, buf, len, roc, tag);
    memcpy(buf + len, tag, 10);
    return 10;
}

int sfu_srtp_fast_protect(sfu_srtp_fast *t, uint8_t *buf, size_t *len)
{
    size_t n = *len;
    if (t->inbound || t->rtcp || n < 12 || (buf[0] >> 6) != 2 || n > (1u << 20))
        return SFU_SRTP_ERR_INPUT;
    size_t hlen = header_len(buf, n);
    if (!hlen)
        return SFU_SRTP_ERR_INPUT;
    uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
    uint32_t ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    uint32_t roc;
    if (roc_for(t, ssrc, seq, &roc) != 0)
        return SFU_SRTP_ERR;
    int tag = t->profile == SFU_SRTP_AEAD_AES_128_GCM ? protect_gcm(t, buf, hlen, n, ssrc, roc, seq)
                                                       : protect_cm(t, buf, hlen, n, ssrc, roc, seq);
    if (tag < 0)
        return tag;
    *len = n + (size_t)tag;
    return 0;
}

/* ---- receiving ------------------------------------------------------------- */

/* Index estimate (RFC 3711 Appendix A) from the highest authenticated one. */
static uint64_t estimate_index(const tx_ssrc *s, uint16_t seq)
{
    if (s->highest <= 0x8000)
        return seq; /* early on, like libsrtp: no rollover guessed */
    uint32_t roc = (uint32_t)(s->highest >> 16);
    uint16_t sl = (uint16_t)s->highest;
    uint32_t v = roc;
    if (sl < 0x8000) {
        if (seq > sl && seq - sl > 0x8000 && roc > 0)
            v = roc - 1;
    } else if (seq < sl - 0x8000) {
        v = roc + 1;
    }
    return (uint64_t)v << 16 | seq;
}

static int seen_bit(const tx_ssrc *s, uint64_t index)
{
    uint32_t b = (uint32_t)(index % REPLAY_WINDOW);
    return (int)((s->seen[b / 64] >> (b % 64)) & 1u);
}

/* Replayed, or older than the window: refuse before any crypto. */
static int is_replay(const sfu_srtp_fast *t, const tx_ssrc *s, uint64_t index)
{
    return index <= s->highest && (s->highest - index >= t->window || seen_bit(s, index));
}

static void set_bit(tx_ssrc *s, uint64_t index, int on)
{
    uint32_t b = (uint32_t)(index % REPLAY_WINDOW);
    if (on)
        s->seen[b / 64] |= 1ull << (b % 64);
    else
        s->seen[b / 64] &= ~(1ull << (b % 64));
}

/* Record an authenticated index: move the window forward if it is newer. */
static void accept_index(tx_ssrc *s, uint64_t index, int first)
{
    if (first) {
        memset(s->seen, 0, sizeof s->seen);
        s->highest = index;
    } else if (index > s->highest) {
        uint64_t d = index - s->highest;
        if (d >= REPLAY_WINDOW)
            memset(s->seen, 0, sizeof s->seen);
        else
            for (uint64_t k = s->highest + 1; k < index; k++)
                set_bit(s, k, 0);
        s->highest = index;
    }
    set_bit(s, index, 1);
}

int sfu_srtp_fast_unprotect(sfu_srtp_fast *t, uint8_t *buf, size_t *len)
{
    size_t taglen = t->profile == SFU_SRTP_AEAD_AES_128_GCM ? 16 : 10;
    size_t n = *len;
    if (!t->inbound || t->rtcp || n < 12 + taglen || (buf[0] >> 6) != 2 || n > (1u << 20))
        return SFU_SRTP_ERR_INPUT;
    n -= taglen;
    size_t hlen = header_len(buf, n);
    if (!hlen)
        return SFU_SRTP_ERR_INPUT;
    uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
    uint32_t ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    tx_ssrc *s = find_ssrc(t, ssrc);
    int first = s == NULL;
    uint64_t index = seq;
    if (s) {
        index = estimate_index(s, seq);
        if (is_replay(t, s, index))
            return SFU_SRTP_ERR_REPLAY;
    } else if (t->n_ssrcs >= MAX_SSRCS) {
        return SFU_SRTP_ERR;
    }
    uint32_t roc = (uint32_t)(index >> 16);
    size_t plen = n - hlen;
    if (t->profile == SFU_SRTP_AEAD_AES_128_GCM) {
        uint8_t iv[12], tag[16];
        gcm_iv(t, ssrc, roc, seq, iv);
        gcm_aes128_set_iv(&t->k.gcm, 12, iv);
        gcm_aes128_update(&t->k.gcm, hlen, buf);
        gcm_aes128_decrypt(&t->k.gcm, plen, buf + hlen, buf + hlen);
        gcm_aes128_digest(&t->k.gcm, 16, tag);
        if (!memeql_sec(tag, buf + n, 16))
            return SFU_SRTP_ERR_AUTH;
    } else {
        uint8_t tag[SHA1_DIGEST_SIZE], iv[16];
        cm_tag(t, buf, n, roc, tag);
        if (!memeql_sec(tag, buf + n, 10))
            return SFU_SRTP_ERR_AUTH;
        cm_iv(t, ssrc, roc, seq, iv);
        aes_ctr(&t->k.aes, iv, buf + hlen, plen);
    }
    if (first) {
        s = add_ssrc(t, ssrc);
        if (!s)
            return SFU_SRTP_ERR;
    }
    accept_index(s, index, first);
    *len = n;
    return 0;
}

/* ---- SRTCP ------------------------------------------------------------------ */

/* GCM (RFC 7714 §9.1): IV = (0x0000 || SSRC || 0x0000 || index) XOR salt. */
static void rtcp_gcm_iv(const sfu_srtp_fast *t, uint32_t ssrc, uint32_t index, uint8_t iv[12])
{
    const uint8_t v[12] = {0, 0,
                           (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16), (uint8_t)(ssrc >> 8), (uint8_t)ssrc,
                           0, 0,
                           (uint8_t)(index >> 24), (uint8_t)(index >> 16), (uint8_t)(index >> 8),
                           (uint8_t)index};
    for (int i = 0; i < 12; i++)
        iv[i] = v[i] ^ t->salt[i];
}

/* AES-CM: the RTP formula with the 31-bit SRTCP index as the index. */
static void rtcp_cm_iv(const sfu_srtp_fast *t, uint32_t ssrc, uint32_t index, uint8_t iv[16])
{
    cm_iv(t, ssrc, 0, 0, iv);
    iv[10] ^= (uint8_t)(index >> 24);
    iv[11] ^= (uint8_t)(index >> 16);
    iv[12] ^= (uint8_t)(index >> 8);
    iv[13] ^= (uint8_t)index;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int sfu_srtp_fast_protect_rtcp(sfu_srtp_fast *t, uint8_t *buf, size_t *len)
{
    size_t n = *len;
    if (t->inbound || !t->rtcp || n < 8 || (buf[0] >> 6) != 2 || n > (1u << 20))
        return SFU_SRTP_ERR_INPUT;
    uint32_t ssrc = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
    tx_ssrc *s = find_ssrc(t, ssrc);
    if (!s && !(s = add_ssrc(t, ssrc)))
        return SFU_SRTP_ERR;
    /* The SRTCP index counts packets per SSRC; the first one is 1, as
     * libsrtp sends it. */
    if (s->roc >= 0x7fffffffu)
        return SFU_SRTP_ERR; /* exhausted: the session must be re-keyed */
    uint32_t index = ++s->roc;
    uint8_t eidx[4];
    put32(eidx, 0x80000000u | index);
    size_t plen = n - 8;
    if (t->profile == SFU_SRTP_AEAD_AES_128_GCM) {
        uint8_t iv[12], aad[12];
        rtcp_gcm_iv(t, ssrc, index, iv);
        /* header(8) | ciphertext | tag(16) | E||index(4); AAD = header || E||index */
        memcpy(aad, buf, 8);
        memcpy(aad + 8, eidx, 4);
        gcm_aes128_set_iv(&t->k.gcm, 12, iv);
        gcm_aes128_update(&t->k.gcm, 12, aad);
        gcm_aes128_encrypt(&t->k.gcm, plen, buf + 8, buf + 8);
        gcm_aes128_digest(&t->k.gcm, 16, buf + n);
        memcpy(buf + n + 16, eidx, 4);
        *len = n + 20;
        return 0;
    }
    /* header(8) | ciphertext | E||index(4) | tag(10) */
    uint8_t iv[16], tag[SHA1_DIGEST_SIZE];
    rtcp_cm_iv(t, ssrc, index, iv);
    aes_ctr(&t->k.aes, iv, buf + 8, plen);
    memcpy(buf + n, eidx, 4);
    hmac_sha1_update(&t->hmac, n + 4, buf);
    hmac_sha1_digest(&t->hmac, SHA1_DIGEST_SIZE, tag);
    memcpy(buf + n + 4, tag, 10);
    *len = n + 14;
    return 0;
}

int sfu_srtp_fast_unprotect_rtcp(sfu_srtp_fast *t, uint8_t *buf, size_t *len)
{
    size_t n = *len;
    int gcm = t->profile == SFU_SRTP_AEAD_AES_128_GCM;
    size_t over = gcm ? 20 : 14;
    if (!t->inbound || !t->rtcp || n < 8 + over || (buf[0] >> 6) != 2 || n > (1u << 20))
        return SFU_SRTP_ERR_INPUT;
    const uint8_t *e = gcm ? buf + n - 4 : buf + n - 14;
    uint32_t eidx = (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
    if (!(eidx & 0x80000000u))
        return SFU_SRTP_ERR_INPUT; /* unencrypted SRTCP is not negotiated by browsers */
    uint32_t index = eidx & 0x7fffffffu;
    uint32_t ssrc = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
    tx_ssrc *s = find_ssrc(t, ssrc);
    if (s && is_replay(t, s, index))
        return SFU_SRTP_ERR_REPLAY;
    if (!s && t->n_ssrcs >= MAX_SSRCS)
        return SFU_SRTP_ERR;
    size_t body = n - over; /* header + ciphertext */
    if (gcm) {
        uint8_t iv[12], aad[12], tag[16];
        memcpy(aad, buf, 8);
        memcpy(aad + 8, e, 4);
        rtcp_gcm_iv(t, ssrc, index, iv);
        gcm_aes128_set_iv(&t->k.gcm, 12, iv);
        gcm_aes128_update(&t->k.gcm, 12, aad);
        gcm_aes128_decrypt(&t->k.gcm, body - 8, buf + 8, buf + 8);
        gcm_aes128_digest(&t->k.gcm, 16, tag);
        if (!memeql_sec(tag, buf + body, 16))
            return SFU_SRTP_ERR_AUTH;
    } else {
        uint8_t tag[SHA1_DIGEST_SIZE], iv[16];
        hmac_sha1_update(&t->hmac, body + 4, buf);
        hmac_sha1_digest(&t->hmac, SHA1_DIGEST_SIZE, tag);
        if (!memeql_sec(tag, buf + body + 4, 10))
            return SFU_SRTP_ERR_AUTH;
        rtcp_cm_iv(t, ssrc, index, iv);
        aes_ctr(&t->k.aes, iv, buf + 8, body - 8);
    }
    int first = s == NULL;
    if (first && !(s = add_ssrc(t, ssrc)))
        return SFU_SRTP_ERR;
    accept_index(s, index, first);
    *len = body;
    return 0;
}
