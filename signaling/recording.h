/*
 * Recording on the daemon (docs/recording.md): connects the SFU's tap
 * (sfu/router.h) to the recorder (recorder/writer.h) and the control plane
 * (the recordings table, the job runner).
 *
 * One "recording manager" thread with its own PostgreSQL connection owns
 * every running recording. The service thread only queues events to it
 * (never waits on it, except once at shutdown): a mentor's track was
 * published in a room, a room closed (its router is handed over and freed
 * by the manager after the taps are gone). The manager decides whether the
 * room's session is recorded (its session type), inserts the row, opens one
 * raw file per track and attaches a tap whose callbacks push into the
 * track's ring on the media worker. A session that ends (POST
 * /sessions/{id}/end, seen by polling its status) or a room that empties
 * stops the recording: taps detached, files closed with END, the row moves
 * to `processing` and a `recording.process` job is queued
 * (signaling/recording_job.c). At start-up, rows of this node still in
 * `recording` (the daemon died) are moved to `processing` the same way:
 * post-processing salvages every complete record.
 */
#ifndef ML_SIGNALING_RECORDING_H
#define ML_SIGNALING_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "sfu/router.h"

/* Start the manager (and recover unfinished recordings of this node);
 * registers the recording.process job kind. 0 or -1 + err. */
int sig_rec_start(const ml_config *cfg, const char *db_url, char *err, size_t errlen);

/* Service thread: a mentor published track "<peer>:<mid>" in room `room`. */
void sig_rec_track_published(sfu_router *router, const char *room, uint64_t peer, const char *mid);

/* Service thread: the room closed; the manager stops its recording and
 * destroys the router (also when nothing was recorded). Without a manager
 * the router is destroyed at once. */
void sig_rec_room_closed(sfu_router *router);

/* Service thread at shutdown, while the workers still run: wait until the
 * manager handled every queued event and every tap is detached. */
void sig_rec_quiesce(void);

/* After the workers stopped: close what is left, stop the thread. */
void sig_rec_stop(void);

/* Counters for /metrics. */
typedef struct sig_rec_metrics {
    uint64_t active;    /* recordings running */
    uint64_t started;   /* since start-up */
    uint64_t tap_drops; /* records the media workers could not hand over (ring full) */
    uint64_t tap_packets;
} sig_rec_metrics;
void sig_rec_get_metrics(sig_rec_metrics *m);

/* Job handler of "recording.process" (recording_job.c). */
struct ctl_ctx;
struct ctl_job;
int sig_rec_process_job(struct ctl_ctx *ctx, const struct ctl_job *job, char *err, size_t errlen);

/* Presign a GET of a stored object (installed with ctl_recording_set_presigner). */
int sig_rec_presign(const ml_config *cfg, const char *key, int ttl_s, char *url, size_t cap,
                    char *err, size_t errlen);

/* The node id written into recordings rows: "<host>:<recording dir>". */
void sig_rec_node_id(const ml_config *cfg, char *out, size_t cap);

#endif
