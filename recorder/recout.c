/*
 * Appending to one raw recording file; see recout.h. The buffer holds
 * whole framed records, so a write(2) that the process does not survive
 * leaves at most one torn record at the end, which readers ignore.
 */
#include "recorder/recout.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OUT_BUF 65536

uint64_t rec_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t rec_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void sync_dir_of(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    int dfd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

int rec_out_open(rec_out *o, const char *path, const rec_file_info *info,
                 const rec_sync_policy *policy, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    uint8_t hdr[REC_HEADER_LEN];
    if (rec_header_encode(info, hdr, sizeof hdr) < 0) {
        snprintf(err, errlen, "invalid track description (string too long?)");
        goto fail;
    }
    if (strlen(path) >= sizeof o->path) {
        snprintf(err, errlen, "path too long");
        goto fail;
    }
    snprintf(o->path, sizeof o->path, "%s", path);
    o->buf = malloc(OUT_BUF);
    if (!o->buf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    o->buf_cap = OUT_BUF;
    o->policy = *policy;
    o->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (o->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (write_all(o->fd, hdr, sizeof hdr) != 0 || fdatasync(o->fd) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    sync_dir_of(path);
    o->bytes = sizeof hdr;
    o->last_sync_us = rec_mono_us();
    return 0;
fail:
    if (o->fd >= 0) {
        close(o->fd);
        unlink(path); /* only a header, no recorded data */
    }
    free(o->buf);
    memset(o, 0, sizeof *o);
    o->fd = -1;
    return -1;
}

int rec_out_append(rec_out *o, uint8_t type, uint64_t t_us, const void *payload, size_t len)
{
    if (o->error || len > REC_RECORD_MAX)
        return -1;
    size_t need = REC_RECORD_OVERHEAD + len;
    if (o->buf_len + need > o->buf_cap && rec_out_flush(o, rec_mono_us(), 0) != 0)
        return -1;
    if (need > o->buf_cap) {
        uint8_t *nb = realloc(o->buf, need);
        if (!nb)
            return -1;
        o->buf = nb;
        o->buf_cap = need;
    }
    long n = rec_record_encode(o->buf + o->buf_len, o->buf_cap - o->buf_len, type, t_us, payload,
                               len);
    if (n < 0)
        return -1;
    o->buf_len += (size_t)n;
    o->records++;
    return 0;
}

int rec_out_flush(rec_out *o, uint64_t now_us, int force)
{
    if (o->error)
        return -1;
    if (o->buf_len) {
        if (write_all(o->fd, o->buf, o->buf_len) != 0) {
            o->error = errno ? errno : EIO;
            return -1;
        }
        o->bytes += o->buf_len;
        o->unsynced_bytes += o->buf_len;
        o->buf_len = 0;
    }
    int due = force || o->policy.fsync_ms <= 0 ||
              now_us - o->last_sync_us >= (uint64_t)o->policy.fsync_ms * 1000u ||
              (o->policy.fsync_bytes && o->unsynced_bytes >= o->policy.fsync_bytes);
    if (due && (o->unsynced_bytes || force)) {
        if (fdatasync(o->fd) != 0) {
            o->error = errno ? errno : EIO;
            return -1;
        }
        o->syncs++;
        o->unsynced_bytes = 0;
        o->last_sync_us = now_us;
    }
    return 0;
}

int rec_out_close(rec_out *o, uint64_t drops, char *err, size_t errlen)
{
    int rc = 0;
    uint8_t endp[16];
    rec_end e = {.records = o->records, .drops = drops};
    size_t n = rec_end_encode(endp, &e);
    if (rec_out_append(o, REC_T_END, rec_mono_us(), endp, n) != 0 ||
        rec_out_flush(o, rec_mono_us(), 1) != 0) {
        snprintf(err, errlen, "%s: %s", o->path, strerror(o->error ? o->error : EIO));
        rc = -1;
    }
    if (o->fd >= 0 && close(o->fd) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: close: %s", o->path, strerror(errno));
        rc = -1;
    }
    o->fd = -1;
    free(o->buf);
    o->buf = NULL;
    return rc;
}

void rec_out_abandon(rec_out *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    free(o->buf);
    o->buf = NULL;
}
