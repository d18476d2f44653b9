/*
 * An S3 client for recordings (a job-runner thread, never the media path):
 * uploads a file with PUT, or with a multipart upload above a threshold
 * (CreateMultipartUpload, UploadPart, CompleteMultipartUpload, and
 * AbortMultipartUpload when anything fails), each request signed by
 * libcurl's CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3") and retried with
 * exponential back-off on connection errors, timeouts, 5xx and 429.
 * Integrity: every body goes with Content-MD5 and x-amz-content-sha256;
 * returned ETags are compared with the MD5 we computed (per part, and for
 * the whole object either the AWS multipart form md5(part md5s)-N or the
 * plain MD5), and a HEAD confirms the stored size. A 4xx is not retried:
 * the error quotes S3's code and message.
 */
#ifndef ML_RECORDER_S3_H
#define ML_RECORDER_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rec_s3_config {
    char endpoint[256]; /* http(s)://host[:port] */
    char region[64];
    char bucket[128];
    char access_key[128];
    char secret_key[256];
    bool path_style;
    uint64_t multipart_threshold; /* files of at least this size use multipart */
    uint64_t part_size;           /* bytes per part (S3 wants >= 5 MiB except the last) */
    int max_attempts;             /* per request, >= 1 */
    int backoff_ms;               /* first retry delay; doubles each time */
    int timeout_s;                /* per request */
} rec_s3_config;

typedef struct rec_s3_put_result {
    char etag[128];     /* as returned, quotes removed */
    char md5_hex[33];   /* of the whole file */
    uint64_t bytes;
    unsigned parts;     /* 0 for a single PUT */
    unsigned requests;  /* HTTP requests made, retries included */
    unsigned retries;
} rec_s3_put_result;

/* Defaults: 16 MiB threshold, 8 MiB parts, 4 attempts, 200 ms back-off, 60 s timeout. */
void rec_s3_config_defaults(rec_s3_config *c);

/*
 * Upload the file at path as key. Returns 0, or -1 with err (the S3 error
 * code and message or the transport error, and how many attempts were
 * made). The local file is only read.
 */
int rec_s3_put_file(const rec_s3_config *c, const char *path, const char *key,
                    rec_s3_put_result *res, char *err, size_t errlen);

/* HEAD key: size and ETag (quotes removed). 0, or -1 + err (404 included). */
int rec_s3_head(const rec_s3_config *c, const char *key, uint64_t *size, char *etag, size_t ecap,
                char *err, size_t errlen);

#endif
