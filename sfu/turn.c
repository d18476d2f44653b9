/*
 * TURN REST API credentials: the time-limited username/password pair that
 * a TURN server configured with a shared secret (coturn use-auth-secret)
 * recomputes and checks. The server owns no TURN state; clients get a
 * fresh pair with each join. See turn.h.
 */
#include "sfu/turn.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

int sfu_turn_credentials(const char *secret, const char *user_id, long ttl_s, time_t now,
                         char *username, size_t ulen, char *password, size_t plen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    long long expiry;
    size_t secret_len;
    int n;

    if (!secret || !username || !password || ulen == 0 || plen == 0 || ttl_s <= 0 || now < 0)
        goto fail;
    secret_len = strlen(secret);
    if (secret_len == 0 || secret_len > 0x7fffffff)
        goto fail;
    expiry = (long long)now + (long long)ttl_s;

    if (user_id && user_id[0])
        n = snprintf(username, ulen, "%lld:%s", expiry, user_id);
    else
        n = snprintf(username, ulen, "%lld", expiry);
    if (n < 0 || (size_t)n >= ulen)
        goto fail;

    if (!HMAC(EVP_sha1(), secret, (int)secret_len, (const unsigned char *)username, (size_t)n, mac,
              &maclen))
        goto fail;
    n = EVP_EncodeBlock(b64, mac, (int)maclen);
    if (n < 0 || (size_t)n >= plen)
        goto fail;
    memcpy(password, b64, (size_t)n + 1);
    return 0;

fail:
    if (username && ulen)
        username[0] = '\0';
    if (password && plen)
        password[0] = '\0';
    return -1;
}
