/* Internals shared by recording.c, recording_db.c and recording_job.c. */
#ifndef ML_SIGNALING_RECORDING_INTERNAL_H
#define ML_SIGNALING_RECORDING_INTERNAL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "common/config.h"

/* The recording folder: recording_dir, else data_dir/recordings. */
void sig__rec_dir(const ml_config *cfg, char *out, size_t cap);

/* mkdir -p. 0 or -1 + err. */
int sig__rec_mkdirs(const char *dir, char *err, size_t errlen);

/*
 * The raw files of recording `row` in raw_dir are closed (or salvaged after
 * a crash): read each one, then in one transaction set status processing,
 * ended_at, track_files and raw_bytes, and queue its recording.process job.
 * A row with no raw file at all goes to failed ("nothing was recorded").
 * 0 or -1 + err.
 */
int sig__rec_close_row(PGconn *conn, long long row, const char *raw_dir, char *err, size_t errlen);

/* At start-up: close_row() every row of this node still `recording`. */
int sig__rec_recover(PGconn *conn, const char *node, char *err, size_t errlen);

#endif
