/*
 * Time-limited TURN credentials ("TURN REST API", the scheme coturn checks
 * with use-auth-secret / static-auth-secret):
 *   username = "<expiry unix time>:<user id>"
 *   password = base64(HMAC-SHA1(secret, username))
 * Pure function, no state: safe from any thread.
 */
#ifndef ML_SFU_TURN_H
#define ML_SFU_TURN_H

#include <stddef.h>
#include <time.h>

/* Enough for a password: base64 of a 20-byte HMAC-SHA1 is 28 chars + NUL. */
#define SFU_TURN_PASSWORD_MAX 29

/* Compute a credential valid until now + ttl_s. user_id may be NULL or ""
 * (username is then the expiry alone). secret must be non-empty, ttl_s > 0.
 * Writes NUL-terminated strings; returns 0, or -1 on bad arguments or when
 * a buffer is too small. */
int sfu_turn_credentials(const char *secret, const char *user_id, long ttl_s, time_t now,
                         char *username, size_t ulen, char *password, size_t plen);

#endif
