/*
 * Recording storage: local folder or S3; see storage.h. Local copies are
 * made crash-safe the usual way (write a temporary file, fsync, rename,
 * fsync the folder) so a half-copied file never appears under its key.
 */
#include "recorder/storage.h"
#include "recorder/s3_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rec_storage_key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 512 || key[0] == '/' || key[n - 1] == '/' || strstr(key, "..") ||
        strstr(key, "//"))
        return 0;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.' || *p == '/'))
            return 0;
    return 1;
}

int rec_storage_from_config(const ml_config *c, rec_storage *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    st->presign_ttl_s = c->s3_presign_ttl_s;
    if (!c->s3_endpoint[0]) {
        if (c->recording_dir[0])
            snprintf(st->local_dir, sizeof st->local_dir, "%s", c->recording_dir);
        else
            snprintf(st->local_dir, sizeof st->local_dir, "%s/recordings", c->data_dir);
        return 0;
    }
    if (strncmp(c->s3_endpoint, "http://", 7) && strncmp(c->s3_endpoint, "https://", 8)) {
        snprintf(err, errlen, "s3_endpoint must start with http:// or https://");
        return -1;
    }
    if (!c->s3_bucket[0] || !c->s3_access_key[0] || !c->s3_secret_key[0]) {
        snprintf(err, errlen, "s3_endpoint is set: s3_bucket, s3_access_key and s3_secret_key are needed");
        return -1;
    }
    st->s3 = true;
    rec_s3_config *s = &st->s3cfg;
    rec_s3_config_defaults(s);
    snprintf(s->endpoint, sizeof s->endpoint, "%s", c->s3_endpoint);
    snprintf(s->region, sizeof s->region, "%s", c->s3_region);
    snprintf(s->bucket, sizeof s->bucket, "%s", c->s3_bucket);
    snprintf(s->access_key, sizeof s->access_key, "%s", c->s3_access_key);
    snprintf(s->secret_key, sizeof s->secret_key, "%s", c->s3_secret_key);
    s->path_style = c->s3_path_style != 0;
    s->multipart_threshold = (uint64_t)c->s3_multipart_threshold_bytes;
    s->part_size = (uint64_t)c->s3_part_bytes;
    s->max_attempts = c->s3_max_attempts;
    return 0;
}

/* mkdir -p of the folder part of path. */
static int make_parents(const char *path)
{
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static int copy_local(const char *src, const char *dst, rec_put_info *info, char *err,
                      size_t errlen)
{
    char tmp[2100];
    snprintf(tmp, sizeof tmp, "%s.part", dst);
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    char *buf = malloc(1 << 20);
    if (in < 0 || !buf) {
        snprintf(err, errlen, "%s: %s", src, in < 0 ? strerror(errno) : "out of memory");
        goto fail;
    }
    if (make_parents(dst) != 0 ||
        (out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    ssize_t n;
    while ((n = read(in, buf, 1 << 20)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
                goto fail;
            }
            off += w;
        }
        info->bytes += (uint64_t)n;
    }
    if (n < 0 || fsync(out) != 0 || close(out) != 0) {
        snprintf(err, errlen, "%s: %s", n < 0 ? src : tmp, strerror(errno));
        out = -1;
        goto fail;
    }
    out = -1;
    if (rename(tmp, dst) != 0) {
        snprintf(err, errlen, "rename to %s: %s", dst, strerror(errno));
        goto fail;
    }
    char d[2048];
    snprintf(d, sizeof d, "%s", dst);
    int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    close(in);
    free(buf);
    return 0;
fail:
    if (out >= 0)
        close(out);
    unlink(tmp);
    if (in >= 0)
        close(in);
    free(buf);
    return -1;
}

int rec_storage_put(const rec_storage *st, const char *path, const char *key, rec_put_info *info,
                    char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (!rec_storage_key_ok(key)) {
        snprintf(err, errlen, "invalid storage key \"%s\"", key);
        return -1;
    }
    if (!st->s3) {
        snprintf(info->location, sizeof info->location, "%s/%s", st->local_dir, key);
        return copy_local(path, info->location, info, err, errlen);
    }
    rec_s3_put_result r;
    int rc = rec_s3_put_file(&st->s3cfg, path, key, &r, err, errlen);
    info->bytes = r.bytes;
    memcpy(info->md5_hex, r.md5_hex, sizeof info->md5_hex);
    info->parts = r.parts;
    info->requests = r.requests;
    info->retries = r.retries;
    snprintf(info->location, sizeof info->location, "s3://%s/%s", st->s3cfg.bucket, key);
    return rc;
}

int rec_storage_presign(const rec_storage *st, const char *key, int ttl_s, time_t now, char *url,
                        size_t cap, char *err, size_t errlen)
{
    if (!st->s3) {
        snprintf(err, errlen, "presigned URLs need S3 storage (s3_endpoint is empty)");
        return -1;
    }
    if (!rec_storage_key_ok(key)) {
        snprintf(err, errlen, "invalid storage key \"%s\"", key);
        return -1;
    }
    const rec_s3_config *c = &st->s3cfg;
    rec_s3_target t = {c->endpoint, c->region, c->bucket, c->path_style};
    if (rec_s3_presign_get(&t, c->access_key, c->secret_key, key,
                           ttl_s > 0 ? ttl_s : st->presign_ttl_s, now, url, cap) != 0) {
        snprintf(err, errlen, "cannot presign (bad endpoint or TTL out of 1..604800)");
        return -1;
    }
    return 0;
}
