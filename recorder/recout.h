/*
 * One raw recording file being appended to (see recfile.h for the format).
 * Records are framed into a user-space buffer, written with write(2) on
 * rec_out_flush() and made durable with fdatasync(2) according to a policy
 * (every fsync_ms or fsync_bytes, whichever comes first). A crash loses at
 * most what was not yet flushed; whatever reached the file is readable up
 * to the last complete record.
 *
 * A rec_out is owned by one thread at a time (the recorder writer).
 */
#ifndef ML_RECORDER_RECOUT_H
#define ML_RECORDER_RECOUT_H

#include "recorder/recfile.h"

#include <stddef.h>
#include <stdint.h>

/* When to fdatasync: after fsync_ms milliseconds or fsync_bytes bytes since the last one (0 = every flush). */
typedef struct rec_sync_policy {
    int fsync_ms;
    size_t fsync_bytes;
} rec_sync_policy;

typedef struct rec_out {
    int fd;
    char path[1024];
    uint8_t *buf;
    size_t buf_len, buf_cap;
    rec_sync_policy policy;
    uint64_t last_sync_us;    /* monotonic */
    uint64_t unsynced_bytes;  /* written since the last fdatasync */
    uint64_t records;         /* records appended */
    uint64_t bytes;           /* file size, header included */
    uint64_t syncs;           /* fdatasync calls */
    int error;                /* errno of the first write/sync failure, 0 if none */
} rec_out;

/*
 * Create path (must not exist; parent folder must), write and sync the
 * header and the folder entry. Returns 0 or -1 + err.
 */
int rec_out_open(rec_out *o, const char *path, const rec_file_info *info,
                 const rec_sync_policy *policy, char *err, size_t errlen);
/*
 * Frame one record into the buffer (flushing first if it is full).
 * Returns 0, or -1 (payload too large, earlier I/O error).
 */
int rec_out_append(rec_out *o, uint8_t type, uint64_t t_us, const void *payload, size_t len);
/*
 * Write the buffer to the file, then fdatasync if the policy says so
 * (force != 0 always syncs). now_us is CLOCK_MONOTONIC in µs. 0 or -1.
 */
int rec_out_flush(rec_out *o, uint64_t now_us, int force);
/*
 * Append the END record (with drops), flush, sync and close. Always closes
 * the file; returns 0, or -1 + err when anything failed on the way.
 */
int rec_out_close(rec_out *o, uint64_t drops, char *err, size_t errlen);
/* Close without the END record and without syncing (error paths, tests). */
void rec_out_abandon(rec_out *o);

/* CLOCK_MONOTONIC in microseconds (the clock of record times). */
uint64_t rec_mono_us(void);
/* CLOCK_REALTIME in microseconds since the Unix epoch. */
uint64_t rec_wall_us(void);

#endif
