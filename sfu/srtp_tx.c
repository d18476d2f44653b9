/*
 * Outbound SRTP (see srtp_tx.h).
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
 * The rollover counter is kept per SSRC as a sender does: it counts up
 * when the sequence number wraps forward, and an older sequence number
 * (a retransmission from the RTX buffer) is placed in the rollover period
 * it came from.
 */
#include "sfu/srtp_tx.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SSRCS 256

typedef struct tx_ssrc {
    uint32_t ssrc;
    uint32_t roc;
    uint16_t last_seq;
} tx_ssrc;

struct sfu_srtp_tx {
    sfu_srtp_profile profile;
    EVP_CIPHER_CTX *cipher; /* GCM or CTR, session key set */
    EVP_MAC *mac;
    EVP_MAC_CTX *hmac; /* AES-CM profile only */
    uint8_t salt[14];  /* session salt (12 bytes used for GCM) */
    int n_ssrcs, cap_ssrcs;
    tx_ssrc *ssrcs;
};

/* AES-128-CTR keystream of n bytes for one label (RFC 3711 §4.3.1). */
static int kdf(const uint8_t *mkey, const uint8_t *msalt14, uint8_t label, uint8_t *out, int n)
{
    uint8_t iv[16] = {0}, zero[32] = {0};
    memcpy(iv, msalt14, 14);
    iv[7] ^= label;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, mkey, iv) == 1;
    int outl = 0;
    ok = ok && n <= (int)sizeof zero && EVP_EncryptUpdate(c, out, &outl, zero, n) == 1 && outl == n;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

sfu_srtp_tx *sfu_srtp_tx_create(sfu_srtp_profile profile, const uint8_t *key, size_t key_len,
                                const uint8_t *salt, size_t salt_len)
{
    size_t want_key, want_salt;
    if (sfu_srtp_key_lengths(profile, &want_key, &want_salt) != 0 || key_len != want_key ||
        salt_len != want_salt || key_len != 16)
        return NULL;
    sfu_srtp_tx *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->profile = profile;
    uint8_t msalt[14] = {0}, skey[16], sauth[20];
    memcpy(msalt, salt, salt_len);
    int ok = kdf(key, msalt, 0, skey, 16) == 0 &&
             kdf(key, msalt, 2, t->salt, profile == SFU_SRTP_AEAD_AES_128_GCM ? 12 : 14) == 0;
    t->cipher = EVP_CIPHER_CTX_new();
    ok = ok && t->cipher;
    if (ok && profile == SFU_SRTP_AEAD_AES_128_GCM) {
        ok = EVP_EncryptInit_ex(t->cipher, EVP_aes_128_gcm(), NULL, skey, NULL) == 1;
    } else if (ok) {
        ok = EVP_EncryptInit_ex(t->cipher, EVP_aes_128_ctr(), NULL, skey, NULL) == 1 &&
             kdf(key, msalt, 1, sauth, 20) == 0;
        t->mac = ok ? EVP_MAC_fetch(NULL, "HMAC", NULL) : NULL;
        t->hmac = t->mac ? EVP_MAC_CTX_new(t->mac) : NULL;
        char digest[] = "SHA1";
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end(),
        };
        ok = t->hmac && EVP_MAC_init(t->hmac, sauth, sizeof sauth, params) == 1;
    }
    OPENSSL_cleanse(skey, sizeof skey);
    OPENSSL_cleanse(sauth, sizeof sauth);
    OPENSSL_cleanse(msalt, sizeof msalt);
    if (!ok) {
        sfu_srtp_tx_destroy(t);
        return NULL;
    }
    return t;
}

void sfu_srtp_tx_destroy(sfu_srtp_tx *t)
{
    if (!t)
        return;
    EVP_CIPHER_CTX_free(t->cipher);
    EVP_MAC_CTX_free(t->hmac);
    EVP_MAC_free(t->mac);
    free(t->ssrcs);
    OPENSSL_cleanse(t, sizeof *t);
    free(t);
}

/* The rollover counter for this packet, updating the SSRC's state. */
static int roc_for(sfu_srtp_tx *t, uint32_t ssrc, uint16_t seq, uint32_t *roc)
{
    tx_ssrc *s = NULL;
    for (int i = 0; i < t->n_ssrcs; i++)
        if (t->ssrcs[i].ssrc == ssrc) {
            s = &t->ssrcs[i];
            break;
        }
    if (!s) {
        if (t->n_ssrcs == t->cap_ssrcs) {
            if (t->cap_ssrcs >= MAX_SSRCS)
                return -1;
            int cap = t->cap_ssrcs ? t->cap_ssrcs * 2 : 4;
            tx_ssrc *n = realloc(t->ssrcs, (size_t)cap * sizeof *n);
            if (!n)
                return -1;
            t->ssrcs = n;
            t->cap_ssrcs = cap;
        }
        s = &t->ssrcs[t->n_ssrcs++];
        s->ssrc = ssrc;
        s->roc = 0;
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

static int protect_gcm(sfu_srtp_tx *t, uint8_t *buf, size_t hlen, size_t len, uint32_t ssrc,
                       uint32_t roc, uint16_t seq)
{
    uint8_t iv[12] = {0, 0,
                      (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16), (uint8_t)(ssrc >> 8), (uint8_t)ssrc,
                      (uint8_t)(roc >> 24),  (uint8_t)(roc >> 16),  (uint8_t)(roc >> 8),  (uint8_t)roc,
                      (uint8_t)(seq >> 8),   (uint8_t)seq};
    for (int i = 0; i < 12; i++)
        iv[i] ^= t->salt[i];
    int outl;
    size_t plen = len - hlen;
    if (EVP_EncryptInit_ex(t->cipher, NULL, NULL, NULL, iv) != 1 ||
        EVP_EncryptUpdate(t->cipher, NULL, &outl, buf, (int)hlen) != 1 ||
        (plen && EVP_EncryptUpdate(t->cipher, buf + hlen, &outl, buf + hlen, (int)plen) != 1) ||
        EVP_EncryptFinal_ex(t->cipher, buf + len, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(t->cipher, EVP_CTRL_GCM_GET_TAG, 16, buf + len) != 1)
        return SFU_SRTP_ERR;
    return 16;
}

static int protect_cm(sfu_srtp_tx *t, uint8_t *buf, size_t hlen, size_t len, uint32_t ssrc,
                      uint32_t roc, uint16_t seq)
{
    uint8_t iv[16] = {0};
    memcpy(iv, t->salt, 14);
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
    int outl;
    size_t plen = len - hlen;
    if (EVP_EncryptInit_ex(t->cipher, NULL, NULL, NULL, iv) != 1 ||
        (plen && EVP_EncryptUpdate(t->cipher, buf + hlen, &outl, buf + hlen, (int)plen) != 1))
        return SFU_SRTP_ERR;
    uint8_t rocb[4] = {(uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8),
                       (uint8_t)roc};
    uint8_t tag[EVP_MAX_MD_SIZE];
    size_t tl = 0;
    if (EVP_MAC_init(t->hmac, NULL, 0, NULL) != 1 || EVP_MAC_update(t->hmac, buf, len) != 1 ||
        EVP_MAC_update(t->hmac, rocb, 4) != 1 || EVP_MAC_final(t->hmac, tag, &tl, sizeof tag) != 1 ||
        tl < 10)
        return SFU_SRTP_ERR;
    memcpy(buf + len, tag, 10);
    return 10;
}

int sfu_srtp_tx_protect(sfu_srtp_tx *t, uint8_t *buf, size_t *len)
{
    size_t n = *len;
    if (n < 12 || (buf[0] >> 6) != 2 || n > (1u << 20))
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
