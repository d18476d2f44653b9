/*
 * DTLS 1.2 endpoints for DTLS-SRTP over OpenSSL 3 (see dtls.h).
 *
 * This file owns the per-connection endpoint (certificates and the shared
 * SSL_CTX are in dtls_cert.c). An endpoint has no socket: received
 * datagrams go into a memory BIO; OpenSSL writes into a small custom BIO
 * that keeps every BIO_write as one datagram in a queue (a plain memory BIO
 * would merge the records of a flight and lose datagram boundaries). The
 * queue is flushed to the send callback after every operation.
 *
 * Peer authentication follows WebRTC: any self-signed certificate is
 * accepted if its digest equals the fingerprint from the peer's SDP. The
 * check runs in the certificate verify callback when the fingerprint is
 * already known (a mismatch aborts the handshake with a bad_certificate
 * alert), otherwise when the fingerprint arrives; "connected" is reported
 * only after it passed.
 *
 * Datagrams are pre-checked (dtls_record.c), so random bytes and truncated
 * or malformed plaintext records are rejected and counted before OpenSSL
 * sees them and cannot end a handshake.
 */
#include "sfu/dtls.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/hex.h"
#include "sfu/dtls_internal.h"

#define DEFAULT_SRTP_PROFILES "aead_aes_128_gcm,aes_cm_128_hmac_sha1_80"
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"

struct sfu_dtls {
    SSL *ssl;
    BIO *rbio; /* memory BIO, owned by ssl */
    sfu_dtls_role role;
    sfu_dtls_state state;
    sfu_dtls_callbacks cbs;
    void *user;

    const EVP_MD *remote_md; /* NULL until the remote fingerprint is set */
    uint8_t remote_fp[EVP_MAX_MD_SIZE];
    unsigned remote_fp_len;
    int handshake_done; /* OpenSSL finished; may still await the fingerprint */
    int fp_rejected;    /* the verify callback refused the peer's certificate */

    sfu_srtp_profile profile;

    uint8_t *outq; /* queued datagrams: 4-byte length + bytes, repeated */
    size_t outq_len, outq_cap;
    int flushing;

    int depth;  /* nesting of public calls (callbacks run inside) */
    int doomed; /* destroy requested from a callback */
    sfu_dtls_stats stats;
};

/* Process-wide totals, relaxed atomics (read only for stats). */
static struct {
    _Atomic uint64_t datagrams_in, datagrams_out, bad_records, handshake_failures,
        fingerprint_mismatches, retransmits, app_bytes_in, app_bytes_out;
} totals;

#define COUNT(d, field, n)                                                                         \
    do {                                                                                           \
        (d)->stats.field += (uint64_t)(n);                                                         \
        atomic_fetch_add_explicit(&totals.field, (uint64_t)(n), memory_order_relaxed);             \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static const EVP_MD *md_by_sdp_name(const char *name)
{
    if (!name)
        return NULL;
    if (strcasecmp(name, "sha-256") == 0)
        return EVP_sha256();
    if (strcasecmp(name, "sha-1") == 0)
        return EVP_sha1();
    if (strcasecmp(name, "sha-384") == 0)
        return EVP_sha384();
    if (strcasecmp(name, "sha-512") == 0)
        return EVP_sha512();
    return NULL;
}

/* Parse "AB:CD:..." into exactly want bytes. */
static int parse_fingerprint(const char *s, uint8_t *out, unsigned want)
{
    unsigned n = 0;

    while (*s == ' ')
        s++;
    while (n < want) {
        int hi = ml_hex_digit(s[0]), lo = hi < 0 ? -1 : ml_hex_digit(s[1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (n < want) {
            if (*s != ':')
                return -1;
            s++;
        }
    }
    while (*s == ' ')
        s++;
    return *s == '\0' ? 0 : -1;
}

/* Map our profile list ("aead_aes_128_gcm,aes_cm_128_hmac_sha1_80") to
 * OpenSSL's ("SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"). */
static int srtp_profiles_to_openssl(const char *list, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = list ? list : DEFAULT_SRTP_PROFILES;

    out[0] = '\0';
    while (*p) {
        const char *name;
        size_t len, nlen;

        while (*p == ' ' || *p == ',')
            p++;
        len = strcspn(p, ", ");
        if (len == 0)
            break;
        if ((len == 16 && strncasecmp(p, "aead_aes_128_gcm", len) == 0) ||
            (len == 21 && strncasecmp(p, "SRTP_AEAD_AES_128_GCM", len) == 0))
            name = "SRTP_AEAD_AES_128_GCM";
        else if ((len == 23 && strncasecmp(p, "aes_cm_128_hmac_sha1_80", len) == 0) ||
                 (len == 22 && strncasecmp(p, "SRTP_AES128_CM_SHA1_80", len) == 0))
            name = "SRTP_AES128_CM_SHA1_80";
        else
            return -1;
        nlen = strlen(name);
        if (o + nlen + 2 > outlen)
            return -1;
        if (o)
            out[o++] = ':';
        memcpy(out + o, name, nlen + 1);
        o += nlen;
        p += len;
    }
    return o ? 0 : -1;
}

int sfu_dtls_check_srtp_profiles(const char *list)
{
    char buf[128];
    return list ? srtp_profiles_to_openssl(list, buf, sizeof buf) : -1;
}

/* ------------------------------------------------------------------------ */
/* The datagram-queue BIO                                                   */

static int outq_push(sfu_dtls *d, const void *data, size_t len)
{
    uint32_t l32 = (uint32_t)len;

    if (d->outq_cap - d->outq_len < len + 4) {
        size_t cap = d->outq_cap ? d->outq_cap : 4096;
        uint8_t *n;
        while (cap - d->outq_len < len + 4)
            cap *= 2;
        n = realloc(d->outq, cap);
        if (!n)
            return -1;
        d->outq = n;
        d->outq_cap = cap;
    }
    memcpy(d->outq + d->outq_len, &l32, 4);
    memcpy(d->outq + d->outq_len + 4, data, len);
    d->outq_len += len + 4;
    return 0;
}

static int out_bio_write(BIO *b, const char *data, int len)
{
    sfu_dtls *d = BIO_get_data(b);

    BIO_clear_retry_flags(b);
    if (!d || len < 0 || outq_push(d, data, (size_t)len) < 0)
        return -1;
    return len;
}

static long out_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return SFU_DTLS_MTU;
    default: /* pending, MTU overhead, timers, ...: nothing to report */
        return 0;
    }
}

static int out_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

BIO_METHOD *sfu__dtls_out_method_new(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sfu-dtls-out");

    if (!m || !BIO_meth_set_write(m, out_bio_write) || !BIO_meth_set_ctrl(m, out_bio_ctrl) ||
        !BIO_meth_set_create(m, out_bio_create)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------------------ */
/* Endpoint internals                                                       */

static int peer_matches(const sfu_dtls *d, X509 *peer)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    if (!d->remote_md || !peer || X509_digest(peer, d->remote_md, md, &n) != 1)
        return 0;
    return n == d->remote_fp_len && CRYPTO_memcmp(md, d->remote_fp, n) == 0;
}

/* Replaces chain verification: pin the leaf by digest when we know it,
 * otherwise defer the decision to the arrival of the fingerprint. */
int sfu__dtls_verify_peer(X509_STORE_CTX *xs, void *arg)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    sfu_dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);

    if (!d || !leaf)
        return 0;
    if (!d->remote_md || peer_matches(d, leaf))
        return 1;
    COUNT(d, fingerprint_mismatches, 1);
    d->fp_rejected = 1;
    X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
    return 0;
}

/* Hand queued datagrams to the send callback, oldest first. A nested call
 * (from a callback) returns at once; the outer loop sends what it added. */
static void flush(sfu_dtls *d)
{
    if (d->flushing)
        return;
    d->flushing = 1;
    while (d->outq_len > 0 && !d->doomed) {
        uint8_t *q = d->outq;
        size_t qlen = d->outq_len, qcap = d->outq_cap, off = 0;

        d->outq = NULL; /* datagrams queued meanwhile go to a fresh buffer */
        d->outq_len = d->outq_cap = 0;
        while (off + 4 <= qlen && !d->doomed) {
            uint32_t l32;
            memcpy(&l32, q + off, 4);
            COUNT(d, datagrams_out, 1);
            d->cbs.send(d->user, q + off + 4, l32);
            off += 4 + (size_t)l32;
        }
        if (!d->outq) { /* nothing new: keep the buffer for next time */
            d->outq = q;
            d->outq_cap = qcap;
            d->outq_len = 0;
        } else {
            free(q);
        }
    }
    d->flushing = 0;
}

static void fail(sfu_dtls *d, const char *reason)
{
    if (d->state == SFU_DTLS_STATE_FAILED || d->state == SFU_DTLS_STATE_CLOSED)
        return;
    if (d->state != SFU_DTLS_STATE_CONNECTED)
        COUNT(d, handshake_failures, 1);
    d->state = SFU_DTLS_STATE_FAILED;
    ML_DEBUG("dtls", "%s: %s", d->role == SFU_DTLS_ROLE_CLIENT ? "client" : "server", reason);
    flush(d); /* any alert OpenSSL queued */
    if (d->cbs.failed && !d->doomed)
        d->cbs.failed(d->user, reason);
}

static int export_keys(sfu_dtls *d, sfu_srtp_keys *k)
{
    uint8_t km[2 * (SFU_SRTP_MAX_KEY_LEN + SFU_SRTP_MAX_SALT_LEN)];
    const uint8_t *ck, *sk, *cs, *ss;
    size_t kl, sl;

    memset(k, 0, sizeof *k);
    if (sfu_srtp_key_lengths(d->profile, &kl, &sl) < 0)
        return -1;
    if (SSL_export_keying_material(d->ssl, km, 2 * (kl + sl), EXPORTER_LABEL,
                                   strlen(EXPORTER_LABEL), NULL, 0, 0) != 1)
        return -1;
    /* RFC 5764 4.2: client key | server key | client salt | server salt */
    ck = km;
    sk = km + kl;
    cs = km + 2 * kl;
    ss = km + 2 * kl + sl;
    k->profile = d->profile;
    k->key_len = kl;
    k->salt_len = sl;
    memcpy(k->local_key, d->role == SFU_DTLS_ROLE_CLIENT ? ck : sk, kl);
    memcpy(k->local_salt, d->role == SFU_DTLS_ROLE_CLIENT ? cs : ss, sl);
    memcpy(k->remote_key, d->role == SFU_DTLS_ROLE_CLIENT ? sk : ck, kl);
    memcpy(k->remote_salt, d->role == SFU_DTLS_ROLE_CLIENT ? ss : cs, sl);
    OPENSSL_cleanse(km, sizeof km);
    return 0;
}

/* OpenSSL finished and the fingerprint is known: decide. */
static void finish_handshake(sfu_dtls *d)
{
    SRTP_PROTECTION_PROFILE *p;
    sfu_srtp_keys keys;

    if (!peer_matches(d, SSL_get0_peer_certificate(d->ssl))) {
        COUNT(d, fingerprint_mismatches, 1);
        fail(d, "remote certificate does not match the fingerprint");
        return;
    }
    p = SSL_get_selected_srtp_profile(d->ssl);
    if (!p) {
        fail(d, "no SRTP profile negotiated");
        return;
    }
    if (p->id == SRTP_AES128_CM_SHA1_80)
        d->profile = SFU_SRTP_AES128_CM_SHA1_80;
    else if (p->id == SRTP_AEAD_AES_128_GCM)
        d->profile = SFU_SRTP_AEAD_AES_128_GCM;
    else {
        fail(d, "unsupported SRTP profile negotiated");
        return;
    }
    if (export_keys(d, &keys) < 0) {
        char reason[300];
        sfu__dtls_ssl_error_text("SRTP key export failed", reason, sizeof reason);
        fail(d, reason);
        return;
    }
    d->state = SFU_DTLS_STATE_CONNECTED;
    ML_DEBUG("dtls", "connected as %s, %s, %s",
             d->role == SFU_DTLS_ROLE_CLIENT ? "client" : "server", SSL_get_cipher_name(d->ssl),
             sfu_srtp_profile_name(d->profile));
    if (d->cbs.connected && !d->doomed)
        d->cbs.connected(d->user, &keys);
    OPENSSL_cleanse(&keys, sizeof keys);
}

/* Read records until OpenSSL wants more input; deliver application data
 * once connected (earlier data is dropped; SCTP retransmits). */
static void read_records(sfu_dtls *d)
{
    uint8_t buf[16384];

    while (!d->doomed && (d->state == SFU_DTLS_STATE_CONNECTED ||
                          (d->state == SFU_DTLS_STATE_CONNECTING && d->handshake_done))) {
        int n, e;

        ERR_clear_error();
        n = SSL_read(d->ssl, buf, sizeof buf);
        if (n > 0) {
            if (d->state != SFU_DTLS_STATE_CONNECTED)
                continue;
            COUNT(d, app_bytes_in, n);
            if (d->cbs.app_data)
                d->cbs.app_data(d->user, buf, (size_t)n);
            continue;
        }
        e = SSL_get_error(d->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            ERR_clear_error();
            SSL_shutdown(d->ssl); /* answer with our close_notify */
            d->state = SFU_DTLS_STATE_CLOSED;
            flush(d);
            if (d->cbs.closed && !d->doomed)
                d->cbs.closed(d->user);
            break;
        }
        {
            char reason[300];
            sfu__dtls_ssl_error_text("DTLS read failed", reason, sizeof reason);
            fail(d, reason);
        }
        break;
    }
}

/* Advance the handshake and read whatever is readable. */
static void drive(sfu_dtls *d)
{
    if (d->state == SFU_DTLS_STATE_CONNECTING && !d->handshake_done) {
        int r, e;

        ERR_clear_error();
        r = SSL_do_handshake(d->ssl);
        if (r == 1) {
            d->handshake_done = 1;
            flush(d);
            if (d->remote_md && !d->doomed)
                finish_handshake(d);
        } else {
            e = SSL_get_error(d->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                char reason[300];
                sfu__dtls_ssl_error_text(d->fp_rejected ? "remote certificate does not match "
                                                          "the fingerprint"
                                                        : "DTLS handshake failed",
                                         reason, sizeof reason);
                fail(d, reason);
                return;
            }
        }
    }
    flush(d);
    read_records(d);
    if (!d->doomed)
        flush(d);
}

static void free_now(sfu_dtls *d)
{
    SSL_free(d->ssl); /* frees both BIOs */
    free(d->outq);
    OPENSSL_cleanse(d, sizeof *d);
    free(d);
}

static void enter(sfu_dtls *d)
{
    d->depth++;
}

/* Leave a public call; runs a destroy deferred from a callback. */
static int leave(sfu_dtls *d, int rc)
{
    if (--d->depth == 0 && d->doomed)
        free_now(d);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Endpoint API                                                             */

sfu_dtls *sfu_dtls_create(const sfu_dtls_cert *cert, sfu_dtls_role role, const char *srtp_profiles,
                          const sfu_dtls_callbacks *cbs, void *user)
{
    sfu_dtls *d = NULL;
    BIO *wbio = NULL;
    char profiles[128];

    if (!cert || !cbs || !cbs->send ||
        (role != SFU_DTLS_ROLE_CLIENT && role != SFU_DTLS_ROLE_SERVER))
        goto fail;
    if (srtp_profiles_to_openssl(srtp_profiles, profiles, sizeof profiles) < 0)
        goto fail;
    d = calloc(1, sizeof *d);
    if (!d)
        goto fail;
    d->role = role;
    d->state = SFU_DTLS_STATE_NEW;
    d->cbs = *cbs;
    d->user = user;

    ERR_clear_error();
    d->ssl = SSL_new(cert->ctx);
    if (!d->ssl)
        goto fail;
    SSL_set_app_data(d->ssl, d);
    /* SSL_set_tlsext_use_srtp returns 0 on success. */
    if (SSL_set_tlsext_use_srtp(d->ssl, profiles) != 0)
        goto fail;
    d->rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(cert->out_method);
    if (!d->rbio || !wbio)
        goto fail;
    BIO_set_mem_eof_return(d->rbio, -1); /* empty = "try again", not EOF */
    BIO_set_data(wbio, d);
    SSL_set_bio(d->ssl, d->rbio, wbio);
    wbio = NULL;
    SSL_set_options(d->ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(d->ssl, SFU_DTLS_MTU);
    if (role == SFU_DTLS_ROLE_CLIENT)
        SSL_set_connect_state(d->ssl);
    else
        SSL_set_accept_state(d->ssl);
    return d;

fail:
    ERR_clear_error();
    BIO_free(wbio);
    if (d) {
        if (d->ssl)
            SSL_free(d->ssl);
        else
            BIO_free(d->rbio);
        free(d);
    }
    return NULL;
}

int sfu_dtls_set_remote_fingerprint(sfu_dtls *d, const char *hash_alg, const char *value)
{
    const EVP_MD *md = md_by_sdp_name(hash_alg);
    uint8_t fp[EVP_MAX_MD_SIZE];
    unsigned n;

    if (!d || !md || !value)
        return -1;
    n = (unsigned)EVP_MD_get_size(md);
    if (n > sizeof fp || parse_fingerprint(value, fp, n) < 0)
        return -1;
    if (d->state == SFU_DTLS_STATE_CONNECTED) {
        /* Keys are out; only confirm that it is the same peer. */
        const EVP_MD *old_md = d->remote_md;
        uint8_t old[EVP_MAX_MD_SIZE];
        unsigned old_len = d->remote_fp_len;
        int ok;
        memcpy(old, d->remote_fp, sizeof old);
        d->remote_md = md;
        memcpy(d->remote_fp, fp, n);
        d->remote_fp_len = n;
        ok = peer_matches(d, SSL_get0_peer_certificate(d->ssl));
        d->remote_md = old_md;
        memcpy(d->remote_fp, old, sizeof old);
        d->remote_fp_len = old_len;
        return ok ? 0 : -1;
    }
    if (d->state == SFU_DTLS_STATE_FAILED || d->state == SFU_DTLS_STATE_CLOSED)
        return -1;
    d->remote_md = md;
    memcpy(d->remote_fp, fp, n);
    d->remote_fp_len = n;
    if (d->state == SFU_DTLS_STATE_CONNECTING && d->handshake_done) {
        enter(d);
        finish_handshake(d);
        if (!d->doomed)
            read_records(d);
        if (!d->doomed)
            flush(d);
        return leave(d, 0);
    }
    return 0;
}

int sfu_dtls_start(sfu_dtls *d)
{
    if (!d)
        return -1;
    if (d->state != SFU_DTLS_STATE_NEW)
        return d->state == SFU_DTLS_STATE_CONNECTING ? 0 : -1;
    d->state = SFU_DTLS_STATE_CONNECTING;
    if (d->role == SFU_DTLS_ROLE_SERVER)
        return 0;
    enter(d);
    drive(d);
    return leave(d, d->state == SFU_DTLS_STATE_FAILED ? -1 : 0);
}

int sfu_dtls_input(sfu_dtls *d, const uint8_t *data, size_t len)
{
    int rc = 0;

    if (!d || !data)
        return -1;
    if (d->state == SFU_DTLS_STATE_FAILED || d->state == SFU_DTLS_STATE_CLOSED)
        return -1;
    if (d->state == SFU_DTLS_STATE_NEW && d->role == SFU_DTLS_ROLE_CLIENT) {
        COUNT(d, bad_records, 1); /* nothing can arrive before our ClientHello */
        return -1;
    }
    if (len > INT_MAX || !sfu__dtls_datagram_well_formed(data, len)) {
        COUNT(d, bad_records, 1);
        ML_DEBUG("dtls", "dropped a malformed datagram (%zu bytes)", len);
        return -1;
    }
    if (d->state == SFU_DTLS_STATE_NEW)
        d->state = SFU_DTLS_STATE_CONNECTING; /* server: first ClientHello */

    enter(d);
    COUNT(d, datagrams_in, 1);
    if (BIO_write(d->rbio, data, (int)len) != (int)len) {
        rc = -1;
        goto out;
    }
    drive(d);
    if (!d->doomed) {
        (void)BIO_reset(d->rbio); /* never let a datagram's rest join the next */
        if (d->state == SFU_DTLS_STATE_FAILED)
            rc = -1;
    }
out:
    return leave(d, rc);
}

int sfu_dtls_send(sfu_dtls *d, const uint8_t *data, size_t len)
{
    int n, rc = 0;

    if (!d || !data || len == 0 || len > 16384 || d->state != SFU_DTLS_STATE_CONNECTED)
        return -1;
    enter(d);
    ERR_clear_error();
    n = SSL_write(d->ssl, data, (int)len);
    if (n == (int)len) {
        COUNT(d, app_bytes_out, len);
    } else {
        int e = SSL_get_error(d->ssl, n);
        rc = -1;
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            char reason[300];
            sfu__dtls_ssl_error_text("DTLS write failed", reason, sizeof reason);
            fail(d, reason);
        }
        ERR_clear_error();
    }
    if (!d->doomed)
        flush(d);
    return leave(d, rc);
}

int sfu_dtls_timeout_ms(sfu_dtls *d)
{
    struct timeval tv;
    long long ms;

    if (!d || (d->state != SFU_DTLS_STATE_CONNECTING && d->state != SFU_DTLS_STATE_CONNECTED))
        return -1;
    if (DTLSv1_get_timeout(d->ssl, &tv) != 1)
        return -1;
    ms = (long long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

void sfu_dtls_handle_timeout(sfu_dtls *d)
{
    int r;

    if (!d || (d->state != SFU_DTLS_STATE_CONNECTING && d->state != SFU_DTLS_STATE_CONNECTED))
        return;
    enter(d);
    ERR_clear_error();
    r = DTLSv1_handle_timeout(d->ssl);
    if (r > 0) {
        COUNT(d, retransmits, 1);
        flush(d);
    } else if (r < 0) {
        char reason[300];
        sfu__dtls_ssl_error_text("DTLS handshake timed out", reason, sizeof reason);
        fail(d, reason);
    }
    ERR_clear_error();
    leave(d, 0);
}

void sfu_dtls_close(sfu_dtls *d)
{
    if (!d || d->state == SFU_DTLS_STATE_CLOSED || d->state == SFU_DTLS_STATE_FAILED)
        return;
    enter(d);
    if (d->state == SFU_DTLS_STATE_CONNECTED) {
        ERR_clear_error();
        SSL_shutdown(d->ssl);
        ERR_clear_error();
    }
    d->state = SFU_DTLS_STATE_CLOSED;
    flush(d);
    leave(d, 0);
}

void sfu_dtls_destroy(sfu_dtls *d)
{
    if (!d)
        return;
    if (d->depth > 0) {
        d->doomed = 1;
        return;
    }
    free_now(d);
}

sfu_dtls_state sfu_dtls_get_state(const sfu_dtls *d)
{
    return d ? d->state : SFU_DTLS_STATE_FAILED;
}

const char *sfu_dtls_state_name(sfu_dtls_state state)
{
    switch (state) {
    case SFU_DTLS_STATE_NEW:
        return "new";
    case SFU_DTLS_STATE_CONNECTING:
        return "connecting";
    case SFU_DTLS_STATE_CONNECTED:
        return "connected";
    case SFU_DTLS_STATE_FAILED:
        return "failed";
    case SFU_DTLS_STATE_CLOSED:
        return "closed";
    }
    return "unknown";
}

sfu_dtls_role sfu_dtls_get_role(const sfu_dtls *d)
{
    return d->role;
}

sfu_srtp_profile sfu_dtls_get_srtp_profile(const sfu_dtls *d)
{
    return d && d->state == SFU_DTLS_STATE_CONNECTED ? d->profile : SFU_SRTP_PROFILE_NONE;
}

void sfu_dtls_get_stats(const sfu_dtls *d, sfu_dtls_stats *out)
{
    if (d)
        *out = d->stats;
    else
        memset(out, 0, sizeof *out);
}

void sfu_dtls_get_totals(sfu_dtls_stats *out)
{
    out->datagrams_in = atomic_load_explicit(&totals.datagrams_in, memory_order_relaxed);
    out->datagrams_out = atomic_load_explicit(&totals.datagrams_out, memory_order_relaxed);
    out->bad_records = atomic_load_explicit(&totals.bad_records, memory_order_relaxed);
    out->handshake_failures =
        atomic_load_explicit(&totals.handshake_failures, memory_order_relaxed);
    out->fingerprint_mismatches =
        atomic_load_explicit(&totals.fingerprint_mismatches, memory_order_relaxed);
    out->retransmits = atomic_load_explicit(&totals.retransmits, memory_order_relaxed);
    out->app_bytes_in = atomic_load_explicit(&totals.app_bytes_in, memory_order_relaxed);
    out->app_bytes_out = atomic_load_explicit(&totals.app_bytes_out, memory_order_relaxed);
}
