/*
 * Password hashing with Argon2id (libargon2), OWASP parameters by default:
 * m = 19 MiB, t = 2, p = 1, a 16-byte random salt and a 32-byte tag, kept
 * as the standard encoded string ($argon2id$v=19$m=...,t=...,p=...$salt$tag)
 * so that parameters can be raised later without breaking old hashes.
 *
 * Checking an unknown account, or one without a password, verifies against
 * a dummy hash made once with the current parameters, so every failed
 * login costs the same work and the answer time does not reveal whether
 * the email exists.
 */
#include "control/auth_internal.h"

#include <argon2.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#define SALT_LEN 16
#define TAG_LEN 32

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char dummy_hash[AUTH_HASH_MAX];

int auth__password_hash(const ml_config *cfg, const char *pw, char *out, size_t cap)
{
    unsigned char salt[SALT_LEN];
    if (RAND_bytes(salt, sizeof salt) != 1)
        return -1;
    int rc = argon2id_hash_encoded((uint32_t)cfg->argon2_iterations,
                                   (uint32_t)cfg->argon2_memory_kib, 1, pw, strlen(pw), salt,
                                   sizeof salt, TAG_LEN, out, cap);
    return rc == ARGON2_OK ? 0 : -1;
}

static const char *dummy(const ml_config *cfg)
{
    pthread_mutex_lock(&dummy_lock);
    if (!dummy_hash[0] &&
        auth__password_hash(cfg, "not-a-password", dummy_hash, sizeof dummy_hash) != 0)
        dummy_hash[0] = '\0';
    pthread_mutex_unlock(&dummy_lock);
    return dummy_hash;
}

int auth__password_check(const ml_config *cfg, const char *encoded, const char *pw)
{
    int real = encoded && !strncmp(encoded, "$argon2id$", 10);
    const char *h = real ? encoded : dummy(cfg);
    if (!h[0])
        return 0;
    int ok = argon2id_verify(h, pw, strlen(pw)) == ARGON2_OK;
    return real && ok;
}
