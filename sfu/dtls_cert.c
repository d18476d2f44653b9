/*
 * DTLS certificates (see dtls.h): generating a self-signed ECDSA P-256
 * certificate or loading one from PEM files, its SDP fingerprint, and the
 * one SSL_CTX per certificate that every endpoint's SSL is made from. The
 * context is configured here once (DTLS 1.2 only, ECDHE ciphers, no
 * tickets or renegotiation, peer certificate required and pinned by the
 * endpoint's verify callback) and is only read afterwards, so any thread
 * may create endpoints from it.
 */
#include "sfu/dtls.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sfu/dtls_internal.h"

#define DTLS_CIPHERS                                                                               \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                                   \
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"
#define DTLS_GROUPS "X25519:P-256:P-384"
#define CERT_VALID_BEFORE_S (24L * 3600)
#define CERT_VALID_AFTER_S (30L * 24 * 3600)

void sfu__dtls_ssl_error_text(const char *what, char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    char detail[256];

    if (e) {
        ERR_error_string_n(e, detail, sizeof detail);
        snprintf(buf, len, "%s: %s", what, detail);
    } else {
        snprintf(buf, len, "%s", what);
    }
    ERR_clear_error();
}

static void format_fingerprint(const uint8_t *md, unsigned n, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (unsigned i = 0; i < n && o + 3 <= outlen; i++) {
        out[o++] = hex[md[i] >> 4];
        out[o++] = hex[md[i] & 15];
        out[o++] = (i + 1 < n) ? ':' : '\0';
    }
    if (n == 0 && outlen)
        out[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Certificates                                                             */

static sfu_dtls_cert *cert_finish(X509 *x509, EVP_PKEY *pkey, char *err, size_t errlen)
{
    sfu_dtls_cert *c = calloc(1, sizeof *c);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    if (!c) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    c->x509 = x509;
    c->pkey = pkey;
    x509 = NULL;
    pkey = NULL;
    if (X509_digest(c->x509, EVP_sha256(), md, &mdlen) != 1) {
        sfu__dtls_ssl_error_text("certificate digest", err, errlen);
        goto fail;
    }
    format_fingerprint(md, mdlen, c->fingerprint, sizeof c->fingerprint);

    c->out_method = sfu__dtls_out_method_new();
    if (!c->out_method) {
        sfu__dtls_ssl_error_text("BIO method", err, errlen);
        goto fail;
    }

    c->ctx = SSL_CTX_new(DTLS_method());
    if (!c->ctx || !SSL_CTX_set_min_proto_version(c->ctx, DTLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(c->ctx, DTLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(c->ctx, DTLS_CIPHERS) ||
        !SSL_CTX_set1_groups_list(c->ctx, DTLS_GROUPS) ||
        SSL_CTX_use_certificate(c->ctx, c->x509) != 1 ||
        SSL_CTX_use_PrivateKey(c->ctx, c->pkey) != 1 || SSL_CTX_check_private_key(c->ctx) != 1) {
        sfu__dtls_ssl_error_text("SSL_CTX setup", err, errlen);
        goto fail;
    }
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                    SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_read_ahead(c->ctx, 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(c->ctx, sfu__dtls_verify_peer, NULL);
    return c;

fail:
    X509_free(x509);
    EVP_PKEY_free(pkey);
    sfu_dtls_cert_free(c);
    return NULL;
}

sfu_dtls_cert *sfu_dtls_cert_generate(char *err, size_t errlen)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    BIGNUM *bn = NULL;
    uint8_t serial[8];
    X509_NAME *name;

    ERR_clear_error();
    pkey = EVP_EC_gen("P-256");
    x = X509_new();
    if (!pkey || !x || RAND_bytes(serial, sizeof serial) != 1) {
        sfu__dtls_ssl_error_text("key generation", err, errlen);
        goto fail;
    }
    serial[0] &= 0x7f; /* positive */
    serial[0] |= 0x01; /* non-zero */
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    name = X509_get_subject_name(x);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !X509_set_version(x, X509_VERSION_3) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -CERT_VALID_BEFORE_S) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), CERT_VALID_AFTER_S) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mentorlink",
                                    -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, pkey) ||
        X509_sign(x, pkey, EVP_sha256()) <= 0) {
        sfu__dtls_ssl_error_text("certificate generation", err, errlen);
        goto fail;
    }
    BN_free(bn);
    return cert_finish(x, pkey, err, errlen);

fail:
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return NULL;
}

/* Refuse passphrase prompts: an encrypted key file is an error. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

sfu_dtls_cert *sfu_dtls_cert_load(const char *cert_pem_path, const char *key_pem_path, char *err,
                                  size_t errlen)
{
    FILE *f = NULL;
    X509 *x = NULL;
    EVP_PKEY *pkey = NULL;

    ERR_clear_error();
    if (!cert_pem_path || !key_pem_path) {
        snprintf(err, errlen, "certificate and key paths are required");
        goto fail;
    }
    f = fopen(cert_pem_path, "r");
    if (!f || !(x = PEM_read_X509(f, NULL, no_passphrase_cb, NULL))) {
        snprintf(err, errlen, "%s: cannot read a PEM certificate", cert_pem_path);
        goto fail;
    }
    fclose(f);
    f = fopen(key_pem_path, "r");
    if (!f || !(pkey = PEM_read_PrivateKey(f, NULL, no_passphrase_cb, NULL))) {
        snprintf(err, errlen, "%s: cannot read a PEM private key", key_pem_path);
        goto fail;
    }
    fclose(f);
    f = NULL;
    if (X509_check_private_key(x, pkey) != 1) {
        snprintf(err, errlen, "%s does not match %s", key_pem_path, cert_pem_path);
        goto fail;
    }
    ERR_clear_error();
    return cert_finish(x, pkey, err, errlen);

fail:
    ERR_clear_error();
    if (f)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return NULL;
}

int sfu_dtls_cert_save(const sfu_dtls_cert *cert, const char *cert_pem_path,
                       const char *key_pem_path, char *err, size_t errlen)
{
    FILE *f = NULL;
    int fd;

    if (!cert || !cert_pem_path || !key_pem_path) {
        snprintf(err, errlen, "bad arguments");
        goto fail;
    }
    f = fopen(cert_pem_path, "w");
    if (!f || PEM_write_X509(f, cert->x509) != 1 || fclose(f) != 0) {
        f = NULL;
        snprintf(err, errlen, "%s: cannot write the certificate", cert_pem_path);
        goto fail;
    }
    fd = open(key_pem_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "%s: cannot create the key file", key_pem_path);
        goto fail;
    }
    if (PEM_write_PrivateKey(f, cert->pkey, NULL, NULL, 0, NULL, NULL) != 1 || fclose(f) != 0) {
        f = NULL;
        snprintf(err, errlen, "%s: cannot write the key", key_pem_path);
        goto fail;
    }
    return 0;

fail:
    ERR_clear_error();
    if (f)
        fclose(f);
    return -1;
}

const char *sfu_dtls_cert_fingerprint(const sfu_dtls_cert *cert)
{
    return cert ? cert->fingerprint : "";
}

void sfu_dtls_cert_free(sfu_dtls_cert *cert)
{
    if (!cert)
        return;
    SSL_CTX_free(cert->ctx);
    BIO_meth_free(cert->out_method);
    X509_free(cert->x509);
    EVP_PKEY_free(cert->pkey);
    free(cert);
}
