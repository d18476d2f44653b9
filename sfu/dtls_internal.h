/*
 * Internals shared by dtls.c (endpoints), dtls_cert.c (certificates and
 * the shared SSL_CTX) and dtls_record.c (datagram pre-check). Not for use
 * outside these files (and their tests/fuzzers).
 */
#ifndef ML_SFU_DTLS_INTERNAL_H
#define ML_SFU_DTLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sfu/dtls.h"

/* Immutable after sfu_dtls_cert_generate/load returns. */
struct sfu_dtls_cert {
    X509 *x509;
    EVP_PKEY *pkey;
    SSL_CTX *ctx;
    BIO_METHOD *out_method; /* the datagram-queue BIO, shared by all endpoints */
    char fingerprint[SFU_DTLS_FINGERPRINT_MAX];
};

/* Certificate verify callback installed on every SSL_CTX: pins the peer's
 * leaf certificate to the endpoint's remote fingerprint (dtls.c). */
int sfu__dtls_verify_peer(X509_STORE_CTX *xs, void *arg);

/* A new BIO method whose writes each become one queued datagram of the
 * endpoint set with BIO_set_data (dtls.c). NULL on failure. */
BIO_METHOD *sfu__dtls_out_method_new(void);

/* Format "what: <last OpenSSL error>" into buf and clear the thread's
 * OpenSSL error queue (dtls_cert.c). */
void sfu__dtls_ssl_error_text(const char *what, char *buf, size_t len);

/* 1 if a received datagram is a plausible sequence of DTLS 1.0/1.2
 * records (dtls_record.c), 0 if it must be dropped and counted. */
int sfu__dtls_datagram_well_formed(const uint8_t *p, size_t len);

#endif
