/*
 * DTLS endpoints wired back to back in memory: each side's send callback
 * queues datagrams that pump() feeds to the other side (never re-entrantly).
 * Covers both SRTP profiles and preference handling, crosswise key export,
 * fingerprint pinning (early, late, wrong), garbage and truncated input,
 * application data, close_notify, retransmission after a lost flight,
 * destroy from a callback, certificate generation/PEM loading, and a
 * certificate larger than the MTU (fragmented flight, every datagram within
 * SFU_DTLS_MTU).
 */
#include "tests/unit/harness.h"

#include "sfu/dtls.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QSLOTS 64
#define QSLOT 4096
#define RECORD_HDR 13

typedef struct side {
    sfu_dtls *d;
    uint8_t q[QSLOTS][QSLOT];
    size_t qlen[QSLOTS];
    int qhead, qcount;
    int drop_next; /* drop this many outgoing datagrams */
    int connected, failed, closed;
    char reason[256];
    sfu_srtp_keys keys;
    uint8_t app[QSLOT];
    size_t app_len;
    int app_count;
    int destroy_on_connected;
} side;

static void on_send(void *user, const uint8_t *data, size_t len)
{
    side *s = user;

    if (s->drop_next > 0) {
        s->drop_next--;
        return;
    }
    REQUIRE(len <= QSLOT && s->qcount < QSLOTS);
    CHECK(len <= SFU_DTLS_MTU);
    int slot = (s->qhead + s->qcount) % QSLOTS;
    memcpy(s->q[slot], data, len);
    s->qlen[slot] = len;
    s->qcount++;
}

static void on_connected(void *user, const sfu_srtp_keys *keys)
{
    side *s = user;

    s->connected++;
    s->keys = *keys;
    if (s->destroy_on_connected) {
        sfu_dtls_destroy(s->d);
        s->d = NULL;
    }
}

static void on_app_data(void *user, const uint8_t *data, size_t len)
{
    side *s = user;

    REQUIRE(len <= sizeof s->app);
    memcpy(s->app, data, len);
    s->app_len = len;
    s->app_count++;
}

static void on_failed(void *user, const char *reason)
{
    side *s = user;

    s->failed++;
    snprintf(s->reason, sizeof s->reason, "%s", reason);
}

static void on_closed(void *user)
{
    side *s = user;

    s->closed++;
}

static const sfu_dtls_callbacks cbs = {
    .send = on_send,
    .connected = on_connected,
    .app_data = on_app_data,
    .failed = on_failed,
    .closed = on_closed,
};

/* Deliver queued datagrams both ways until both queues are empty. */
static void pump(side *a, side *b)
{
    for (int round = 0; round < 100 && (a->qcount || b->qcount); round++) {
        side *from = (round % 2) ? b : a, *to = (round % 2) ? a : b;
        while (from->qcount) {
            int slot = from->qhead;
            from->qhead = (from->qhead + 1) % QSLOTS;
            from->qcount--;
            if (to->d)
                sfu_dtls_input(to->d, from->q[slot], from->qlen[slot]);
        }
    }
}

typedef struct pair {
    sfu_dtls_cert *cc, *sc; /* client and server certificates */
    side *c, *s;
} pair;

static void pair_init(pair *p, const char *client_profiles, const char *server_profiles,
                      int pin_client, int pin_server)
{
    char err[256];

    memset(p, 0, sizeof *p);
    p->cc = sfu_dtls_cert_generate(err, sizeof err);
    p->sc = sfu_dtls_cert_generate(err, sizeof err);
    REQUIRE(p->cc && p->sc);
    p->c = calloc(1, sizeof *p->c);
    p->s = calloc(1, sizeof *p->s);
    REQUIRE(p->c && p->s);
    p->c->d = sfu_dtls_create(p->cc, SFU_DTLS_ROLE_CLIENT, client_profiles, &cbs, p->c);
    p->s->d = sfu_dtls_create(p->sc, SFU_DTLS_ROLE_SERVER, server_profiles, &cbs, p->s);
    REQUIRE(p->c->d && p->s->d);
    if (pin_client)
        REQUIRE(sfu_dtls_set_remote_fingerprint(p->c->d, "sha-256",
                                                sfu_dtls_cert_fingerprint(p->sc)) == 0);
    if (pin_server)
        REQUIRE(sfu_dtls_set_remote_fingerprint(p->s->d, "sha-256",
                                                sfu_dtls_cert_fingerprint(p->cc)) == 0);
}

static void pair_free(pair *p)
{
    sfu_dtls_destroy(p->c->d);
    sfu_dtls_destroy(p->s->d);
    free(p->c);
    free(p->s);
    sfu_dtls_cert_free(p->cc);
    sfu_dtls_cert_free(p->sc);
}

static void handshake(pair *p)
{
    CHECK_INT_EQ(sfu_dtls_start(p->s->d), 0);
    CHECK_INT_EQ(sfu_dtls_start(p->c->d), 0);
    CHECK(p->c->qcount > 0); /* ClientHello */
    pump(p->c, p->s);
}

static void check_crosswise_keys(pair *p, sfu_srtp_profile profile, size_t salt_len)
{
    const sfu_srtp_keys *ck = &p->c->keys, *sk = &p->s->keys;

    CHECK_INT_EQ(ck->profile, profile);
    CHECK_INT_EQ(sk->profile, profile);
    CHECK_UINT_EQ(ck->key_len, 16);
    CHECK_UINT_EQ(ck->salt_len, salt_len);
    CHECK_UINT_EQ(sk->salt_len, salt_len);
    CHECK_MEM_EQ(ck->local_key, sk->remote_key, 16);
    CHECK_MEM_EQ(ck->remote_key, sk->local_key, 16);
    CHECK_MEM_EQ(ck->local_salt, sk->remote_salt, salt_len);
    CHECK_MEM_EQ(ck->remote_salt, sk->local_salt, salt_len);
    CHECK(memcmp(ck->local_key, ck->remote_key, 16) != 0);
}

static void expect_connected(pair *p, sfu_srtp_profile profile, size_t salt_len)
{
    CHECK_INT_EQ(p->c->connected, 1);
    CHECK_INT_EQ(p->s->connected, 1);
    CHECK_INT_EQ(p->c->failed + p->s->failed, 0);
    CHECK_INT_EQ(sfu_dtls_get_state(p->c->d), SFU_DTLS_STATE_CONNECTED);
    CHECK_INT_EQ(sfu_dtls_get_state(p->s->d), SFU_DTLS_STATE_CONNECTED);
    CHECK_INT_EQ(sfu_dtls_get_srtp_profile(p->c->d), profile);
    CHECK_INT_EQ(sfu_dtls_get_srtp_profile(p->s->d), profile);
    CHECK_INT_EQ(sfu_dtls_timeout_ms(p->c->d), -1);
    CHECK_INT_EQ(sfu_dtls_timeout_ms(p->s->d), -1);
    check_crosswise_keys(p, profile, salt_len);
}

TEST(dtls_handshake_gcm_preferred)
{
    pair p;

    pair_init(&p, NULL, "aead_aes_128_gcm,aes_cm_128_hmac_sha1_80", 1, 1);
    CHECK_INT_EQ(sfu_dtls_get_state(p.c->d), SFU_DTLS_STATE_NEW);
    handshake(&p);
    expect_connected(&p, SFU_SRTP_AEAD_AES_128_GCM, 12);
    pair_free(&p);
}

TEST(dtls_handshake_aes_cm)
{
    pair p;

    pair_init(&p, "aes_cm_128_hmac_sha1_80", "aes_cm_128_hmac_sha1_80", 1, 1);
    handshake(&p);
    expect_connected(&p, SFU_SRTP_AES128_CM_SHA1_80, 14);
    pair_free(&p);
}

TEST(dtls_profile_preference_mismatch)
{
    pair p;

    /* client offers only AES_CM: AES_CM although the server prefers GCM */
    pair_init(&p, "aes_cm_128_hmac_sha1_80", NULL, 1, 1);
    handshake(&p);
    expect_connected(&p, SFU_SRTP_AES128_CM_SHA1_80, 14);
    pair_free(&p);

    /* both offered, client prefers AES_CM: the server's preference (GCM) wins */
    pair_init(&p, "aes_cm_128_hmac_sha1_80, aead_aes_128_gcm", NULL, 1, 1);
    handshake(&p);
    expect_connected(&p, SFU_SRTP_AEAD_AES_128_GCM, 12);
    pair_free(&p);
}

TEST(dtls_no_common_profile_fails)
{
    pair p;

    pair_init(&p, "aead_aes_128_gcm", "aes_cm_128_hmac_sha1_80", 1, 1);
    handshake(&p);
    CHECK_INT_EQ(p.c->connected + p.s->connected, 0);
    CHECK_INT_EQ(p.c->failed, 1);
    CHECK_INT_EQ(p.s->failed, 1);
    CHECK(strstr(p.c->reason, "SRTP") != NULL);
    pair_free(&p);
}

TEST(dtls_wrong_fingerprint_client_side)
{
    pair p;
    sfu_dtls_stats st;
    char wrong[SFU_DTLS_FINGERPRINT_MAX];

    pair_init(&p, NULL, NULL, 0, 1);
    snprintf(wrong, sizeof wrong, "%s", sfu_dtls_cert_fingerprint(p.sc));
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    REQUIRE(sfu_dtls_set_remote_fingerprint(p.c->d, "sha-256", wrong) == 0);
    handshake(&p);
    CHECK_INT_EQ(p.c->connected, 0);
    CHECK_INT_EQ(p.s->connected, 0);
    CHECK_INT_EQ(p.c->failed, 1);
    CHECK(strstr(p.c->reason, "fingerprint") != NULL);
    CHECK_INT_EQ(p.s->failed, 1); /* got our bad_certificate alert */
    CHECK_INT_EQ(sfu_dtls_get_state(p.c->d), SFU_DTLS_STATE_FAILED);
    sfu_dtls_get_stats(p.c->d, &st);
    CHECK_UINT_EQ(st.fingerprint_mismatches, 1);
    CHECK_UINT_EQ(st.handshake_failures, 1);
    /* a failed endpoint refuses further input and sends */
    CHECK(sfu_dtls_input(p.c->d, (const uint8_t *)"\x16\xfe\xfd", 3) < 0);
    CHECK(sfu_dtls_send(p.c->d, (const uint8_t *)"x", 1) < 0);
    pair_free(&p);
}

TEST(dtls_wrong_fingerprint_server_side)
{
    pair p;

    pair_init(&p, NULL, NULL, 1, 0);
    /* right digest of the wrong certificate, and with sha-1 */
    REQUIRE(sfu_dtls_set_remote_fingerprint(p.s->d, "SHA-256", sfu_dtls_cert_fingerprint(p.sc)) ==
            0);
    handshake(&p);
    CHECK_INT_EQ(p.s->failed, 1);
    CHECK_INT_EQ(p.s->connected, 0);
    CHECK_INT_EQ(p.c->connected, 0);
    pair_free(&p);
}

TEST(dtls_fingerprint_set_after_handshake)
{
    pair p;
    sfu_dtls_stats totals_before, totals_after;

    sfu_dtls_get_totals(&totals_before);
    pair_init(&p, NULL, NULL, 1, 0);
    handshake(&p);
    CHECK_INT_EQ(p.c->connected, 1);
    CHECK_INT_EQ(p.s->connected, 0); /* waits for the fingerprint */
    CHECK_INT_EQ(sfu_dtls_get_state(p.s->d), SFU_DTLS_STATE_CONNECTING);
    CHECK(sfu_dtls_send(p.s->d, (const uint8_t *)"x", 1) < 0);
    /* data from the client meanwhile is dropped, not delivered unverified */
    CHECK_INT_EQ(sfu_dtls_send(p.c->d, (const uint8_t *)"early", 5), 0);
    pump(p.c, p.s);
    CHECK_INT_EQ(p.s->app_count, 0);
    /* malformed text is refused and changes nothing */
    CHECK(sfu_dtls_set_remote_fingerprint(p.s->d, "sha-256", "AB:CD") < 0);
    CHECK(sfu_dtls_set_remote_fingerprint(p.s->d, "md5", sfu_dtls_cert_fingerprint(p.cc)) < 0);
    CHECK_INT_EQ(p.s->connected, 0);
    CHECK_INT_EQ(
        sfu_dtls_set_remote_fingerprint(p.s->d, "sha-256", sfu_dtls_cert_fingerprint(p.cc)), 0);
    CHECK_INT_EQ(p.s->connected, 1);
    check_crosswise_keys(&p, SFU_SRTP_AEAD_AES_128_GCM, 12);
    /* the same fingerprint again is fine; another one is refused */
    CHECK_INT_EQ(
        sfu_dtls_set_remote_fingerprint(p.s->d, "sha-256", sfu_dtls_cert_fingerprint(p.cc)), 0);
    CHECK(sfu_dtls_set_remote_fingerprint(p.s->d, "sha-256", sfu_dtls_cert_fingerprint(p.sc)) < 0);
    CHECK_INT_EQ(sfu_dtls_get_state(p.s->d), SFU_DTLS_STATE_CONNECTED);
    sfu_dtls_get_totals(&totals_after);
    CHECK(totals_after.datagrams_in > totals_before.datagrams_in);
    pair_free(&p);
}

TEST(dtls_garbage_and_truncated_records)
{
    pair p;
    sfu_dtls_stats st;
    uint8_t junk[300], hello[QSLOT];
    size_t hello_len;

    pair_init(&p, NULL, NULL, 1, 1);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(rand() & 0xff);
    junk[0] = 0x99; /* not a DTLS content type */
    /* before start, a client accepts nothing */
    CHECK(sfu_dtls_input(p.c->d, junk, sizeof junk) < 0);
    CHECK(sfu_dtls_input(p.s->d, junk, sizeof junk) < 0);
    CHECK(sfu_dtls_input(p.s->d, junk, 0) < 0);
    CHECK_INT_EQ(sfu_dtls_start(p.c->d), 0);
    REQUIRE(p.c->qcount >= 1);
    hello_len = p.c->qlen[p.c->qhead];
    memcpy(hello, p.c->q[p.c->qhead], hello_len);
    /* truncated ClientHello record; a header claiming more than the datagram */
    CHECK(sfu_dtls_input(p.s->d, hello, hello_len - 10) < 0);
    CHECK(sfu_dtls_input(p.s->d, hello, 12) < 0);
    /* a valid record followed by a truncated one */
    memcpy(hello + hello_len, hello, 5);
    CHECK(sfu_dtls_input(p.s->d, hello, hello_len + 5) < 0);
    /* random bytes after a handshake type byte */
    junk[0] = 22;
    CHECK(sfu_dtls_input(p.s->d, junk, sizeof junk) < 0);
    /* a well-formed plaintext record header around a random body */
    memcpy(junk, hello, RECORD_HDR);
    junk[11] = 0;
    junk[12] = 60;
    CHECK(sfu_dtls_input(p.s->d, junk, RECORD_HDR + 60) < 0);
    CHECK_INT_EQ(p.s->failed, 0);
    CHECK_INT_EQ(p.s->qcount, 0);
    /* the real handshake still completes */
    pump(p.c, p.s);
    expect_connected(&p, SFU_SRTP_AEAD_AES_128_GCM, 12);
    /* garbage after connecting is rejected too, and the connection lives */
    junk[0] = 0x17;
    CHECK(sfu_dtls_input(p.s->d, junk, 40) < 0);
    junk[0] = 0x01;
    CHECK(sfu_dtls_input(p.s->d, junk, sizeof junk) < 0);
    /* an encrypted-epoch record that fails authentication is dropped by
     * OpenSSL without an error (RFC 6347 4.1.2.7) */
    junk[0] = 23;
    junk[1] = 0xfe;
    junk[2] = 0xfd;
    junk[3] = 0;
    junk[4] = 1;
    junk[11] = 0;
    junk[12] = 60;
    CHECK_INT_EQ(sfu_dtls_input(p.s->d, junk, RECORD_HDR + 60), 0);
    CHECK_INT_EQ(p.s->app_count, 0);
    CHECK_INT_EQ(sfu_dtls_send(p.c->d, (const uint8_t *)"still", 5), 0);
    pump(p.c, p.s);
    CHECK_INT_EQ(p.s->app_count, 1);
    CHECK_INT_EQ(sfu_dtls_get_state(p.s->d), SFU_DTLS_STATE_CONNECTED);
    sfu_dtls_get_stats(p.s->d, &st);
    CHECK_UINT_EQ(st.bad_records, 9);
    CHECK_UINT_EQ(st.handshake_failures, 0);
    pair_free(&p);
}

TEST(dtls_application_data_and_close)
{
    pair p;
    uint8_t big[1100];
    sfu_dtls_stats st;

    pair_init(&p, NULL, NULL, 1, 1);
    CHECK(sfu_dtls_send(p.c->d, (const uint8_t *)"x", 1) < 0); /* not connected */
    handshake(&p);
    expect_connected(&p, SFU_SRTP_AEAD_AES_128_GCM, 12);

    CHECK_INT_EQ(sfu_dtls_send(p.c->d, (const uint8_t *)"hello server", 12), 0);
    pump(p.c, p.s);
    CHECK_INT_EQ(p.s->app_count, 1);
    CHECK_UINT_EQ(p.s->app_len, 12);
    CHECK_MEM_EQ(p.s->app, "hello server", 12);

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    CHECK_INT_EQ(sfu_dtls_send(p.s->d, big, sizeof big), 0);
    pump(p.c, p.s);
    CHECK_INT_EQ(p.c->app_count, 1);
    CHECK_UINT_EQ(p.c->app_len, sizeof big);
    CHECK_MEM_EQ(p.c->app, big, sizeof big);
    CHECK(sfu_dtls_send(p.s->d, big, 0) < 0);

    sfu_dtls_get_stats(p.s->d, &st);
    CHECK_UINT_EQ(st.app_bytes_in, 12);
    CHECK_UINT_EQ(st.app_bytes_out, sizeof big);

    sfu_dtls_close(p.c->d);
    CHECK_INT_EQ(sfu_dtls_get_state(p.c->d), SFU_DTLS_STATE_CLOSED);
    pump(p.c, p.s);
    CHECK_INT_EQ(p.s->closed, 1);
    CHECK_INT_EQ(p.c->closed, 0); /* a local close has no callback */
    CHECK_INT_EQ(sfu_dtls_get_state(p.s->d), SFU_DTLS_STATE_CLOSED);
    CHECK(sfu_dtls_send(p.s->d, big, 10) < 0);
    CHECK_INT_EQ(p.c->failed + p.s->failed, 0);
    CHECK_STR_EQ(sfu_dtls_state_name(sfu_dtls_get_state(p.s->d)), "closed");
    pair_free(&p);
}

TEST(dtls_retransmits_lost_flight)
{
    pair p;
    sfu_dtls_stats st;
    int ms, waited = 0;

    pair_init(&p, NULL, NULL, 1, 1);
    CHECK_INT_EQ(sfu_dtls_timeout_ms(p.s->d), -1);
    p.c->drop_next = 1; /* lose the first ClientHello */
    CHECK_INT_EQ(sfu_dtls_start(p.s->d), 0);
    CHECK_INT_EQ(sfu_dtls_start(p.c->d), 0);
    CHECK_INT_EQ(p.c->qcount, 0);
    pump(p.c, p.s);
    CHECK_INT_EQ(p.c->connected + p.s->connected, 0);
    ms = sfu_dtls_timeout_ms(p.c->d);
    CHECK(ms > 0 && ms <= 1000);
    while ((ms = sfu_dtls_timeout_ms(p.c->d)) > 0 && waited < 3000) {
        usleep((useconds_t)ms * 1000);
        waited += ms;
    }
    CHECK_INT_EQ(ms, 0);
    sfu_dtls_handle_timeout(p.c->d);
    CHECK(p.c->qcount > 0);
    pump(p.c, p.s);
    expect_connected(&p, SFU_SRTP_AEAD_AES_128_GCM, 12);
    sfu_dtls_get_stats(p.c->d, &st);
    CHECK_UINT_EQ(st.retransmits, 1);
    pair_free(&p);
}

TEST(dtls_destroy_from_callback)
{
    pair p;

    pair_init(&p, NULL, NULL, 1, 1);
    p.s->destroy_on_connected = 1;
    handshake(&p);
    CHECK_INT_EQ(p.s->connected, 1);
    CHECK(p.s->d == NULL); /* freed after the callback returned (ASan checks) */
    pair_free(&p);
}

TEST(dtls_create_rejects_bad_arguments)
{
    char err[256];
    sfu_dtls_cert *c = sfu_dtls_cert_generate(err, sizeof err);
    sfu_dtls_callbacks nosend = cbs;

    REQUIRE(c);
    nosend.send = NULL;
    CHECK(sfu_dtls_create(c, SFU_DTLS_ROLE_CLIENT, "rot13", &cbs, NULL) == NULL);
    CHECK(sfu_dtls_create(c, SFU_DTLS_ROLE_CLIENT, "", &cbs, NULL) == NULL);
    CHECK(sfu_dtls_create(c, SFU_DTLS_ROLE_CLIENT, NULL, &nosend, NULL) == NULL);
    CHECK(sfu_dtls_create(NULL, SFU_DTLS_ROLE_CLIENT, NULL, &cbs, NULL) == NULL);
    CHECK_INT_EQ(sfu_dtls_check_srtp_profiles("aead_aes_128_gcm,aes_cm_128_hmac_sha1_80"), 0);
    CHECK_INT_EQ(sfu_dtls_check_srtp_profiles("aes_cm_128_hmac_sha1_32"), -1);
    sfu_dtls_destroy(NULL);
    sfu_dtls_cert_free(c);
}

static int fingerprint_well_formed(const char *fp)
{
    if (strlen(fp) != 95)
        return 0;
    for (int i = 0; i < 95; i++) {
        if (i % 3 == 2) {
            if (fp[i] != ':')
                return 0;
        } else if (!isxdigit((unsigned char)fp[i]) || islower((unsigned char)fp[i])) {
            return 0;
        }
    }
    return 1;
}

TEST(dtls_cert_generate_and_load)
{
    char err[256], dir[] = "/tmp/ml_test_dtls_XXXXXX", cert_a[300], key_a[300], cert_b[300],
                   key_b[300];
    sfu_dtls_cert *a, *b, *loaded;

    a = sfu_dtls_cert_generate(err, sizeof err);
    b = sfu_dtls_cert_generate(err, sizeof err);
    REQUIRE(a && b);
    CHECK(fingerprint_well_formed(sfu_dtls_cert_fingerprint(a)));
    CHECK(strcmp(sfu_dtls_cert_fingerprint(a), sfu_dtls_cert_fingerprint(b)) != 0);

    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(cert_a, sizeof cert_a, "%s/a.crt", dir);
    snprintf(key_a, sizeof key_a, "%s/a.key", dir);
    snprintf(cert_b, sizeof cert_b, "%s/b.crt", dir);
    snprintf(key_b, sizeof key_b, "%s/b.key", dir);
    CHECK_INT_EQ(sfu_dtls_cert_save(a, cert_a, key_a, err, sizeof err), 0);
    CHECK_INT_EQ(sfu_dtls_cert_save(b, cert_b, key_b, err, sizeof err), 0);

    loaded = sfu_dtls_cert_load(cert_a, key_a, err, sizeof err);
    CHECK(loaded != NULL);
    if (loaded)
        CHECK_STR_EQ(sfu_dtls_cert_fingerprint(loaded), sfu_dtls_cert_fingerprint(a));
    sfu_dtls_cert_free(loaded);

    err[0] = '\0';
    CHECK(sfu_dtls_cert_load(cert_a, key_b, err, sizeof err) == NULL);
    CHECK(strstr(err, "does not match") != NULL);
    CHECK(sfu_dtls_cert_load(key_a, key_a, err, sizeof err) == NULL);   /* not a certificate */
    CHECK(sfu_dtls_cert_load(cert_a, cert_a, err, sizeof err) == NULL); /* not a key */
    CHECK(sfu_dtls_cert_load("/nonexistent/x.crt", key_a, err, sizeof err) == NULL);

    unlink(cert_a);
    unlink(key_a);
    unlink(cert_b);
    unlink(key_b);
    rmdir(dir);
    sfu_dtls_cert_free(a);
    sfu_dtls_cert_free(b);
}

/* Write a self-signed EC certificate carrying a ~2.5 kB comment extension
 * (so its Certificate message exceeds the MTU) as PEM files. */
static int write_big_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_EXTENSION *ext = NULL;
    FILE *f = NULL;
    char comment[2500];
    int rc = -1;

    memset(comment, 'm', sizeof comment - 1);
    comment[sizeof comment - 1] = '\0';
    if (!pkey || !x)
        goto out;
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"big", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, pkey);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, comment);
    if (!ext || !X509_add_ext(x, ext, -1) || X509_sign(x, pkey, EVP_sha256()) <= 0)
        goto out;
    f = fopen(cert_path, "w");
    if (!f || PEM_write_X509(f, x) != 1)
        goto out;
    fclose(f);
    f = fopen(key_path, "w");
    if (!f || PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    rc = 0;
out:
    if (f)
        fclose(f);
    X509_EXTENSION_free(ext);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

TEST(dtls_large_certificate_is_fragmented)
{
    char err[256], dir[] = "/tmp/ml_test_dtls_XXXXXX", cert_path[300], key_path[300];
    sfu_dtls_cert *big, *other;
    side *c, *s;

    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(cert_path, sizeof cert_path, "%s/big.crt", dir);
    snprintf(key_path, sizeof key_path, "%s/big.key", dir);
    REQUIRE(write_big_cert(cert_path, key_path) == 0);
    big = sfu_dtls_cert_load(cert_path, key_path, err, sizeof err);
    other = sfu_dtls_cert_generate(err, sizeof err);
    REQUIRE(big && other);
    CHECK(fingerprint_well_formed(sfu_dtls_cert_fingerprint(big)));

    c = calloc(1, sizeof *c);
    s = calloc(1, sizeof *s);
    REQUIRE(c && s);
    s->d = sfu_dtls_create(big, SFU_DTLS_ROLE_SERVER, NULL, &cbs, s);
    c->d = sfu_dtls_create(other, SFU_DTLS_ROLE_CLIENT, NULL, &cbs, c);
    REQUIRE(c->d && s->d);
    CHECK_INT_EQ(sfu_dtls_set_remote_fingerprint(c->d, "sha-256", sfu_dtls_cert_fingerprint(big)),
                 0);
    CHECK_INT_EQ(sfu_dtls_set_remote_fingerprint(s->d, "sha-256", sfu_dtls_cert_fingerprint(other)),
                 0);
    CHECK_INT_EQ(sfu_dtls_start(c->d), 0);
    pump(c, s); /* on_send checks every datagram against SFU_DTLS_MTU */
    CHECK_INT_EQ(c->connected, 1);
    CHECK_INT_EQ(s->connected, 1);
    CHECK_MEM_EQ(c->keys.local_key, s->keys.remote_key, 16);
    {
        sfu_dtls_stats st;
        sfu_dtls_get_stats(s->d, &st);
        CHECK(st.datagrams_out >= 4); /* hello, >= 3 certificate fragments, ... */
    }

    sfu_dtls_destroy(c->d);
    sfu_dtls_destroy(s->d);
    free(c);
    free(s);
    sfu_dtls_cert_free(big);
    sfu_dtls_cert_free(other);
    unlink(cert_path);
    unlink(key_path);
    rmdir(dir);
}
