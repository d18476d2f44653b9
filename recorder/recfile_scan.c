/*
 * The raw-file scanner and salvager: walks records after the header,
 * hands each valid one to a callback, skips damaged regions by searching
 * for the next sync word that starts a CRC-valid record, and recognises a
 * torn (incomplete) last record left by a crash. Files are read through a
 * read-only mmap so that post-processing can keep pointers into them.
 */
#include "recorder/recfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The next offset > from where a complete, CRC-valid record starts, or len. */
static size_t next_valid(const uint8_t *buf, size_t len, size_t from)
{
    for (size_t q = from; q + REC_RECORD_OVERHEAD <= len; q++) {
        if (buf[q] != 0x4D)
            continue;
        rec_record r;
        size_t total;
        if (rec_record_check(buf + q, len - q, &r, &total) == 1)
            return q;
    }
    return len;
}

int rec_scan_buffer(const uint8_t *buf, size_t len, rec_file_info *info, rec_record_fn fn,
                    void *ctx, rec_scan_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    int hlen = rec_header_decode(buf, len, info, err, errlen);
    if (hlen < 0)
        return -1;
    size_t p = (size_t)hlen;
    while (p < len) {
        rec_record r;
        size_t total;
        int rc = rec_record_check(buf + p, len - p, &r, &total);
        if (rc == 1) {
            r.offset = p;
            st->records++;
            st->bytes += total;
            st->clean_end = r.type == REC_T_END;
            switch (r.type) {
            case REC_T_RTP: st->rtp++; break;
            case REC_T_SR: st->sr++; break;
            case REC_T_LAYER: st->layer++; break;
            case REC_T_END:
                st->end++;
                if (rec_end_decode(r.data, r.len, &st->totals) != 0)
                    memset(&st->totals, 0, sizeof st->totals);
                break;
            default: break;
            }
            if (fn && fn(ctx, &r) != 0) {
                snprintf(err, errlen, "scan stopped at offset %zu", p);
                return -1;
            }
            p += total;
            continue;
        }
        size_t q = next_valid(buf, len, p + 1);
        if (q < len) {
            if (!st->first_bad_offset)
                st->first_bad_offset = p;
            st->bad_records++;
            st->skipped_bytes += q - p;
            p = q;
            continue;
        }
        if (rc == 0) {
            st->torn_tail = true;
            st->torn_bytes = len - p;
        } else {
            if (!st->first_bad_offset)
                st->first_bad_offset = p;
            st->bad_records++;
            st->skipped_bytes += len - p;
        }
        st->clean_end = false;
        break;
    }
    return 0;
}

int rec_file_map(const char *path, rec_map *m, char *err, size_t errlen)
{
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    if (sb.st_size > 0) {
        void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
            goto fail;
        }
        m->data = p;
        m->len = (size_t)sb.st_size;
    }
    close(fd);
    return 0;
fail:
    close(fd);
    return -1;
}

void rec_file_unmap(rec_map *m)
{
    if (m->data && m->len)
        munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

int rec_scan_file(const char *path, rec_file_info *info, rec_record_fn fn, void *ctx,
                  rec_scan_stats *st, char *err, size_t errlen)
{
    rec_map m;
    if (rec_file_map(path, &m, err, errlen) != 0) {
        memset(st, 0, sizeof *st);
        memset(info, 0, sizeof *info);
        return -1;
    }
    char e2[256];
    int rc = rec_scan_buffer(m.data, m.len, info, fn, ctx, st, e2, sizeof e2);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, e2);
    rec_file_unmap(&m);
    return rc;
}
