/*
 * One-time email codes for sign-up verification. A code is 6 random
 * decimal digits (rejection sampling, no modulo bias), valid for five
 * minutes and AUTH_OTP_MAX_ATTEMPTS guesses. Only HMAC-SHA-256(salt, code)
 * is stored, one live code per account; issuing a new code replaces the
 * old one. The email goes through the outbox in the caller's transaction,
 * so a code is stored if and only if its email is queued.
 */
#include "control/auth_internal.h"
#include "common/hex.h"

#include "common/log.h"
#include "control/outbox.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 16

static int random_code(char out[7])
{
    uint32_t v;
    do {
        if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
            return -1;
    } while (v >= 4294000000u); /* a multiple of 10^6: no bias */
    snprintf(out, 7, "%06u", (unsigned)(v % 1000000u));
    return 0;
}

static void code_mac(const unsigned char *salt, const char *code, unsigned char mac[32])
{
    unsigned int len = 0;
    HMAC(EVP_sha256(), salt, SALT_LEN, (const unsigned char *)code, strlen(code), mac, &len);
}

int auth__otp_issue(PGconn *c, const ml_config *cfg, long long user_id, const char *email,
                    const char *name)
{
    char code[7], uid[24], salt_hex[2 * SALT_LEN + 1], mac_hex[65], ttl[16];
    unsigned char salt[SALT_LEN], mac[32];
    if (random_code(code) != 0 || RAND_bytes(salt, sizeof salt) != 1)
        return -1;
    code_mac(salt, code, mac);
    ml_hex_encode(salt, sizeof salt, salt_hex);
    ml_hex_encode(mac, sizeof mac, mac_hex);
    snprintf(uid, sizeof uid, "%lld", user_id);
    snprintf(ttl, sizeof ttl, "%d", AUTH_OTP_TTL_S);
    const char *p[] = {uid, mac_hex, salt_hex, ttl};
    PGresult *r = auth__exec(c,
                             "INSERT INTO email_codes (user_id, code_hash, salt, expires_at) "
                             "VALUES ($1::bigint, decode($2, 'hex'), decode($3, 'hex'), "
                             "        now() + make_interval(secs => $4::int)) "
                             "ON CONFLICT (user_id) DO UPDATE SET code_hash = EXCLUDED.code_hash, "
                             "  salt = EXCLUDED.salt, attempts = 0, "
                             "  expires_at = EXCLUDED.expires_at, created_at = now()",
                             4, p, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    PQclear(r);
    char subject[128], text[1024];
    snprintf(subject, sizeof subject, "Your MentorLink code: %s", code);
    snprintf(text, sizeof text,
             "Hello %s,\n\nYour MentorLink verification code is %s.\n"
             "It expires in %d minutes. If you did not sign up, ignore this email.\n",
             name && name[0] ? name : "there", code, AUTH_OTP_TTL_S / 60);
    (void)cfg;
    ctl_email mail = {.to = email, .to_name = name, .subject = subject, .text = text,
                      .tag = "otp", .user_id = user_id};
    char err[256];
    int rc = ctl_outbox_email(c, &mail, err, sizeof err);
    OPENSSL_cleanse(code, sizeof code);
    OPENSSL_cleanse(text, sizeof text);
    OPENSSL_cleanse(subject, sizeof subject);
    if (rc != 0)
        ML_WARN("auth", "cannot queue the code email: %s", err);
    return rc == 0 ? 0 : -1;
}

int auth__otp_check(PGconn *c, long long user_id, const char *code)
{
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", user_id);
    const char *p[] = {uid, NULL};
    PGresult *r = auth__exec(c,
                             "SELECT encode(code_hash, 'hex'), encode(salt, 'hex'), attempts, "
                             "       expires_at < now() FROM email_codes "
                             "WHERE user_id = $1::bigint FOR UPDATE",
                             1, p, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return 2;
    }
    int attempts = atoi(PQgetvalue(r, 0, 2));
    int expired = PQgetvalue(r, 0, 3)[0] == 't';
    unsigned char salt[SALT_LEN], stored[32], mac[32];
    const char *sh = PQgetvalue(r, 0, 1), *mh = PQgetvalue(r, 0, 0);
    int lens_ok = strlen(sh) == 2 * SALT_LEN && strlen(mh) == 64;
    for (int i = 0; lens_ok && i < SALT_LEN; i++)
        sscanf(sh + 2 * i, "%2hhx", &salt[i]);
    for (int i = 0; lens_ok && i < 32; i++)
        sscanf(mh + 2 * i, "%2hhx", &stored[i]);
    PQclear(r);
    if (!lens_ok || expired || attempts >= AUTH_OTP_MAX_ATTEMPTS)
        return 2;
    code_mac(salt, code, mac);
    int match = CRYPTO_memcmp(mac, stored, sizeof mac) == 0;
    r = auth__exec(c,
                   match ? "DELETE FROM email_codes WHERE user_id = $1::bigint"
                         : "UPDATE email_codes SET attempts = attempts + 1 "
                           "WHERE user_id = $1::bigint",
                   1, p, PGRES_COMMAND_OK);
    if (!r)
        return -1;
    PQclear(r);
    return match ? 0 : 1;
}
