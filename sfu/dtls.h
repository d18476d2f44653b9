/*
 * DTLS 1.2 for WebRTC transports (DTLS-SRTP, RFC 5763/5764), over OpenSSL.
 *
 * Two objects live here:
 *  - sfu_dtls_cert: our certificate and key (self-signed ECDSA P-256, or
 *    loaded from PEM files), its "sha-256" fingerprint for SDP, and one
 *    configured SSL_CTX. It is immutable after creation and shared
 *    read-only by every connection on every thread; free it only after all
 *    connections using it are destroyed.
 *  - sfu_dtls: one DTLS endpoint of one peer connection. It owns no socket,
 *    thread or timer: the caller feeds received datagrams with
 *    sfu_dtls_input(), gets datagrams to send through the send callback,
 *    and drives retransmissions with sfu_dtls_timeout_ms() and
 *    sfu_dtls_handle_timeout(). The peer's certificate is pinned by the
 *    fingerprint from its SDP (sfu_dtls_set_remote_fingerprint); chains
 *    and CAs are not checked, as WebRTC requires.
 *
 * On success the SRTP profile and keys (RFC 5764 §4.2, split into local
 * and remote by our role) are handed to the connected callback.
 *
 * Threads: everything on one sfu_dtls (and its callbacks) runs on the one
 * thread that owns the connection. Certificates may be used from any
 * thread at once. The process-wide totals may be read from any thread.
 *
 * Callbacks run synchronously inside sfu_dtls_start/input/send/
 * handle_timeout/close. From a callback the caller may call sfu_dtls_send(),
 * sfu_dtls_close() and sfu_dtls_destroy() on the same object (a destroy is
 * deferred until the outer call returns; no further callbacks follow).
 *
 * Status: 0 (or a count) on success, negative on error. Bad input from the
 * network is counted and returned as an error, never logged above debug.
 */
#ifndef ML_SFU_DTLS_H
#define ML_SFU_DTLS_H

#include <stddef.h>
#include <stdint.h>

#include "sfu/srtp.h"

typedef struct sfu_dtls_cert sfu_dtls_cert;
typedef struct sfu_dtls sfu_dtls;

typedef enum { SFU_DTLS_ROLE_CLIENT = 0, SFU_DTLS_ROLE_SERVER = 1 } sfu_dtls_role;

typedef enum {
    SFU_DTLS_STATE_NEW = 0,    /* created, not started */
    SFU_DTLS_STATE_CONNECTING, /* handshake in progress */
    SFU_DTLS_STATE_CONNECTED,  /* handshake done, fingerprint verified, keys out */
    SFU_DTLS_STATE_FAILED,     /* handshake or connection failed (terminal) */
    SFU_DTLS_STATE_CLOSED,     /* close_notify sent or received (terminal) */
} sfu_dtls_state;

/* Our DTLS datagram size limit (bytes of UDP payload). */
#define SFU_DTLS_MTU 1200

/* Length of a fingerprint string: up to 64 digest bytes as "XX:" pairs. */
#define SFU_DTLS_FINGERPRINT_MAX (64 * 3)

typedef struct sfu_dtls_callbacks {
    /* One outgoing datagram (required). */
    void (*send)(void *user, const uint8_t *data, size_t len);
    /* Handshake complete, remote fingerprint verified, SRTP profile chosen.
     * keys is valid only during the call (copy it). */
    void (*connected)(void *user, const sfu_srtp_keys *keys);
    /* Decrypted application data (one DTLS record; SCTP packets). */
    void (*app_data)(void *user, const uint8_t *data, size_t len);
    /* The connection failed for good; reason is a short text. Called once. */
    void (*failed)(void *user, const char *reason);
    /* The peer sent close_notify. */
    void (*closed)(void *user);
} sfu_dtls_callbacks;

typedef struct sfu_dtls_stats {
    uint64_t datagrams_in;       /* accepted datagrams fed to OpenSSL */
    uint64_t datagrams_out;      /* datagrams handed to the send callback */
    uint64_t bad_records;        /* datagrams rejected as malformed/unexpected */
    uint64_t handshake_failures; /* failed handshakes (incl. fingerprint mismatch) */
    uint64_t fingerprint_mismatches;
    uint64_t retransmits; /* handshake flights re-sent on timeout */
    uint64_t app_bytes_in;
    uint64_t app_bytes_out;
} sfu_dtls_stats;

/* ---- Certificates (shared, read-only) ---- */

/* Generate an ECDSA P-256 key and a self-signed certificate (random serial,
 * valid from one day ago for 30 days, CN "mentorlink"). NULL + err on error. */
sfu_dtls_cert *sfu_dtls_cert_generate(char *err, size_t errlen);

/* Load a PEM certificate file and a PEM private-key file; the key must
 * match the certificate. NULL + err on error. */
sfu_dtls_cert *sfu_dtls_cert_load(const char *cert_pem_path, const char *key_pem_path, char *err,
                                  size_t errlen);

/* The certificate's SHA-256 fingerprint as uppercase colon-separated hex
 * ("AB:CD:...", 95 characters), for a=fingerprint:sha-256. */
const char *sfu_dtls_cert_fingerprint(const sfu_dtls_cert *cert);

/* Write the certificate and key as PEM to two files (key file mode 0600),
 * e.g. to keep a generated certificate across restarts. */
int sfu_dtls_cert_save(const sfu_dtls_cert *cert, const char *cert_pem_path,
                       const char *key_pem_path, char *err, size_t errlen);

/* Free a certificate. Every sfu_dtls using it must be destroyed first. */
void sfu_dtls_cert_free(sfu_dtls_cert *cert);

/* ---- Endpoints (one thread each) ---- */

/* Check an SRTP profile list as accepted by sfu_dtls_create() (e.g. the
 * srtp_profiles configuration key). Returns 0 if valid, -1 otherwise. */
int sfu_dtls_check_srtp_profiles(const char *list);

/* Create an endpoint. srtp_profiles is a comma-separated preference list
 * of "aead_aes_128_gcm" and "aes_cm_128_hmac_sha1_80" (NULL = both, in
 * that order). As server our order wins; as client it is offered in order.
 * cbs is copied; cbs->send is required. NULL on error (bad arguments). */
sfu_dtls *sfu_dtls_create(const sfu_dtls_cert *cert, sfu_dtls_role role, const char *srtp_profiles,
                          const sfu_dtls_callbacks *cbs, void *user);

/* Pin the peer's certificate: hash_alg is "sha-256" (also "sha-1",
 * "sha-384", "sha-512", case-insensitive) and value the hex digest with
 * colons. May be called before or during the handshake; if the handshake
 * finished before it was set, the result is decided now (connected or
 * failed callback). Returns -1 if the text is malformed. */
int sfu_dtls_set_remote_fingerprint(sfu_dtls *d, const char *hash_alg, const char *value);

/* Start the handshake: a client sends its ClientHello, a server waits for
 * one (a server also starts on its first input). Returns 0 or -1. */
int sfu_dtls_start(sfu_dtls *d);

/* Feed one received datagram (first byte 20..63, RFC 7983). Drives the
 * handshake and delivers application data. Returns 0, or a negative value
 * when the datagram was rejected (malformed records or plaintext content:
 * counted in bad_records; or a client not yet started, or a FAILED/CLOSED
 * endpoint) or the connection failed; the endpoint stays usable unless its
 * state became FAILED. Encrypted records that fail authentication are
 * dropped silently by OpenSSL (RFC 6347) and return 0. */
int sfu_dtls_input(sfu_dtls *d, const uint8_t *data, size_t len);

/* Send application data as one record, one datagram (only when CONNECTED;
 * 1..16384 bytes; keep len + ~40 bytes of record overhead within the path
 * MTU, DTLS does not fragment application data). Returns 0 or -1. */
int sfu_dtls_send(sfu_dtls *d, const uint8_t *data, size_t len);

/* Milliseconds until the retransmission timer fires (0 = now), or -1 when
 * no timer runs. Call sfu_dtls_handle_timeout() when it reaches 0. */
int sfu_dtls_timeout_ms(sfu_dtls *d);

/* Handle an expired timer: retransmit the last flight, or fail the
 * handshake after too many attempts. Harmless when not yet expired. */
void sfu_dtls_handle_timeout(sfu_dtls *d);

/* Send close_notify (if connected) and move to CLOSED. */
void sfu_dtls_close(sfu_dtls *d);

/* Free the endpoint (no callbacks). NULL is ignored. Deferred when called
 * from inside one of its callbacks. */
void sfu_dtls_destroy(sfu_dtls *d);

/* Current state. */
sfu_dtls_state sfu_dtls_get_state(const sfu_dtls *d);

/* Short state name ("new", "connecting", "connected", "failed", "closed"). */
const char *sfu_dtls_state_name(sfu_dtls_state state);

/* Our role. */
sfu_dtls_role sfu_dtls_get_role(const sfu_dtls *d);

/* Negotiated SRTP profile (SFU_SRTP_PROFILE_NONE before CONNECTED). */
sfu_srtp_profile sfu_dtls_get_srtp_profile(const sfu_dtls *d);

/* Counters of this endpoint. */
void sfu_dtls_get_stats(const sfu_dtls *d, sfu_dtls_stats *out);

/* Process-wide totals of all endpoints ever created (any thread). */
void sfu_dtls_get_totals(sfu_dtls_stats *out);

#endif
