/*
 * Where finished recordings go: local disk by default (recording_dir, or
 * data_dir/recordings, under a key-shaped path), or S3 when s3_endpoint
 * is configured. One interface for the job runner: put a file under a
 * key, and make a download link (a presigned S3 URL; for local storage
 * the path, which the daemon serves itself).
 */
#ifndef ML_RECORDER_STORAGE_H
#define ML_RECORDER_STORAGE_H

#include "common/config.h"
#include "recorder/s3.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct rec_storage {
    bool s3;
    char local_dir[1100]; /* when !s3 */
    rec_s3_config s3cfg;   /* when s3 */
    int presign_ttl_s;
} rec_storage;

typedef struct rec_put_info {
    char location[2048]; /* s3://bucket/key or the local path */
    uint64_t bytes;
    char md5_hex[33];
    unsigned parts, requests, retries;
} rec_put_info;

/* Build the storage description from the configuration. 0 or -1 + err. */
int rec_storage_from_config(const ml_config *c, rec_storage *st, char *err, size_t errlen);

/*
 * Store the file at path under key (a relative path of safe characters:
 * letters, digits, - _ . / and no "..") . Local: copied to a temporary
 * name, fsync'ed, renamed. S3: rec_s3_put_file(). The source file is never
 * modified or deleted. Returns 0 or -1 + err.
 */
int rec_storage_put(const rec_storage *st, const char *path, const char *key, rec_put_info *info,
                    char *err, size_t errlen);

/*
 * A download URL for key valid ttl_s seconds from now (ttl_s <= 0: the
 * configured s3_presign_ttl_s). S3 only; -1 + err for local storage.
 */
int rec_storage_presign(const rec_storage *st, const char *key, int ttl_s, time_t now, char *url,
                        size_t cap, char *err, size_t errlen);

/* 1 when key is acceptable as an object key / relative path, else 0. */
int rec_storage_key_ok(const char *key);

#endif
