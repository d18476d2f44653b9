/*
 * AWS Signature Version 4 pieces we compute ourselves (uploads are signed
 * by libcurl's CURLOPT_AWS_SIGV4): presigned GET URLs with query-string
 * authentication (X-Amz-Algorithm, -Credential, -Date, -Expires,
 * -SignedHeaders=host, -Signature; payload UNSIGNED-PAYLOAD), the S3 URL
 * of an object in path or virtual-hosted style, and the URI encoding SigV4
 * requires. Pure functions over OpenSSL's SHA-256 and HMAC.
 */
#ifndef ML_RECORDER_S3_SIGN_H
#define ML_RECORDER_S3_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Where objects live: endpoint "http(s)://host[:port]", bucket, style. */
typedef struct rec_s3_target {
    const char *endpoint;
    const char *region;
    const char *bucket;
    bool path_style;
} rec_s3_target;

/*
 * URI-encode s into out as SigV4 wants: unreserved characters
 * (A-Z a-z 0-9 - _ . ~) kept, everything else %XX in upper case; '/' kept
 * when keep_slash. Returns the length, or -1 when cap is too small.
 */
int rec_s3_uri_encode(const char *s, bool keep_slash, char *out, size_t cap);

/*
 * The object URL (no query) and the Host header value for key. Returns 0
 * or -1 (bad endpoint, too long).
 */
int rec_s3_object_url(const rec_s3_target *t, const char *key, char *url, size_t ucap, char *host,
                      size_t hcap);

/*
 * A presigned GET URL for key, valid ttl_s seconds (1..604800) from now
 * (Unix time). Returns 0 or -1.
 */
int rec_s3_presign_get(const rec_s3_target *t, const char *access_key, const char *secret_key,
                       const char *key, int ttl_s, time_t now, char *url, size_t cap);

/* Lower-case hex SHA-256 of data (out holds 65 bytes). */
void rec_s3_sha256_hex(const void *data, size_t len, char out[65]);

#endif
