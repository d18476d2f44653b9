/*
 * The recorder writer: one thread that drains the rings of any number of
 * recorded tracks and appends their records to raw files (recout.h), with
 * an fsync policy. Media workers only push into rings (tap.h) and never
 * wait; the writer polls every poll_ms and writes what it finds.
 *
 * Lifetimes: the writer owns its tracks. rec_writer_add() creates a track
 * (file + ring) and returns it; the producer may push into
 * rec_track_ring() until it has stopped tapping (the SFU's detach), then
 * rec_writer_remove() drains what is left, appends the END record, syncs,
 * closes and frees the track. rec_writer_stop() does the same for every
 * remaining track and joins the thread.
 */
#ifndef ML_RECORDER_WRITER_H
#define ML_RECORDER_WRITER_H

#include "recorder/recfile.h"
#include "recorder/recout.h"
#include "recorder/ring.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rec_writer rec_writer;
typedef struct rec_track rec_track;

typedef struct rec_writer_opts {
    rec_sync_policy sync; /* config: recording_fsync_ms, recording_fsync_bytes */
    size_t ring_bytes;    /* config: recording_ring_bytes (per track) */
    int poll_ms;          /* how often the thread drains (default 10) */
} rec_writer_opts;

typedef struct rec_track_stats {
    uint64_t records; /* written to the file (END excluded) */
    uint64_t bytes;   /* file size */
    uint64_t drops;   /* refused by the full ring */
    uint64_t syncs;   /* fdatasync calls */
    int error;        /* errno of the first I/O failure, 0 if none */
} rec_track_stats;

/* Start the writer thread. NULL + err on failure. */
rec_writer *rec_writer_start(const rec_writer_opts *o, char *err, size_t errlen);
/*
 * Create the raw file at path (must not exist) with the given header and a
 * ring for it. NULL + err on failure.
 */
rec_track *rec_writer_add(rec_writer *w, const char *path, const rec_file_info *info, char *err,
                          size_t errlen);
/* The ring the media worker pushes into for this track (tap.h). */
rec_ring *rec_track_ring(rec_track *t);
/* Current counters of a track (safe while the writer runs). */
void rec_track_get_stats(rec_writer *w, rec_track *t, rec_track_stats *st);
/*
 * The producer has stopped: drain, write END, sync, close and free the
 * track. Fills *st if not NULL. Returns 0, or -1 + err on an I/O failure
 * (the file keeps every record that reached it).
 */
int rec_writer_remove(rec_writer *w, rec_track *t, rec_track_stats *st, char *err, size_t errlen);
/* Drain and flush every track now (tests; a clean checkpoint). */
void rec_writer_flush(rec_writer *w);
/* Close every remaining track, stop and free the writer. 0 or -1 + err. */
int rec_writer_stop(rec_writer *w, char *err, size_t errlen);

#endif
