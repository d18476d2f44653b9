/*
 * The recording manager thread (see recording.h). It owns every running
 * recording: its row, its raw folder, one sink per tapped track (the ring
 * pointer the media worker pushes into, the writer's track) and, after the
 * room closed, the room's router. Events arrive through a queue from the
 * service thread (track published, room closed) and from the media workers
 * (tap attached / detached); nothing here runs on the media path except
 * the three tap callbacks at the top, which are one ring push each.
 *
 * Order matters for lifetimes: a sink's ring is published (atomic store)
 * only after its file exists, and freed only after the worker reported the
 * tap detached, so a worker never pushes into a freed ring. A room's router
 * is destroyed here, after its taps are detached, so a tap task is never
 * posted to a freed router.
 */
#include "signaling/recording.h"
#include "signaling/recording_internal.h"

#include "common/log.h"
#include "control/db.h"
#include "control/jobs.h"
#include "recorder/recout.h"
#include "recorder/tap.h"
#include "recorder/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 250
#define ENDED_POLL_US 500000u

typedef struct recording recording;

typedef struct rsink {
    recording *rec;
    uint64_t peer;
    char mid[32];
    _Atomic(rec_ring *) ring; /* NULL until the file exists */
    rec_track *wt;            /* writer track, manager only */
    bool detached;
    struct rsink *next;
} rsink;

struct recording {
    sfu_router *router;
    char room[64];
    long long session, row;
    char raw_dir[1024];
    rsink *sinks;
    int pending; /* taps that will still report detached (or attached-without-track) */
    bool stopping, destroy_router;
    recording *next;
};

enum { C_TRACK, C_CLOSED, C_ATTACHED, C_DETACHED };

typedef struct cmd {
    int type;
    sfu_router *router;
    char room[64];
    uint64_t peer;
    char mid[32];
    rsink *sink;
    bool has_info;
    sfu_tap_track info;
    struct cmd *next;
} cmd;

typedef struct norec {
    sfu_router *router;
    struct norec *next;
} norec;

static struct {
    bool running;
    const ml_config *cfg;
    char node[160];
    char dir[1024];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv, idle;
    cmd *head, *tail;
    bool stop, busy;
    /* manager thread only */
    ctl_db db;
    rec_writer *writer;
    recording *recs;
    norec *skip;
    uint64_t last_poll;
    /* metrics */
    _Atomic uint64_t active, started, drops, packets;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- tap callbacks (media worker) ------------------------------------------ */

static int op_rtp(void *sink, uint64_t t_us, const uint8_t *pkt, size_t len)
{
    rsink *s = sink;
    rec_ring *r = atomic_load_explicit(&s->ring, memory_order_acquire);
    if (!r)
        return 1;
    if (rec_tap_rtp(r, t_us, pkt, len) != 0) {
        atomic_fetch_add_explicit(&M.drops, 1, memory_order_relaxed);
        return -1;
    }
    atomic_fetch_add_explicit(&M.packets, 1, memory_order_relaxed);
    return 0;
}

static int op_sr(void *sink, uint64_t t_us, uint32_t ssrc, uint64_t ntp, uint32_t rtp_ts,
                 uint32_t packets, uint32_t octets)
{
    rsink *s = sink;
    rec_ring *r = atomic_load_explicit(&s->ring, memory_order_acquire);
    if (!r)
        return 1;
    rec_sr sr = {
        .ssrc = ssrc, .ntp = ntp, .rtp_ts = rtp_ts, .packet_count = packets, .octet_count = octets};
    if (rec_tap_sr(r, t_us, &sr) != 0) {
        atomic_fetch_add_explicit(&M.drops, 1, memory_order_relaxed);
        return -1;
    }
    return 0;
}

static int op_layer(void *sink, uint64_t t_us, uint32_t ssrc, const char *rid)
{
    rsink *s = sink;
    rec_ring *r = atomic_load_explicit(&s->ring, memory_order_acquire);
    if (!r)
        return 1;
    rec_layer l = {.ssrc = ssrc};
    snprintf(l.rid, sizeof l.rid, "%s", rid);
    return rec_tap_layer(r, t_us, &l) == 0 ? 0 : -1;
}

static void push(cmd *c)
{
    pthread_mutex_lock(&M.mu);
    if (M.tail)
        M.tail->next = c;
    else
        M.head = c;
    M.tail = c;
    pthread_cond_signal(&M.cv);
    pthread_mutex_unlock(&M.mu);
}

static void op_attached(void *sink, const sfu_tap_track *info)
{
    cmd *c = calloc(1, sizeof *c);
    if (!c)
        return; /* cannot happen in practice; the recording then never finishes this track */
    c->type = C_ATTACHED;
    c->sink = sink;
    if (info) {
        c->has_info = true;
        c->info = *info;
    }
    push(c);
}

static void op_detached(void *sink, const sfu_tap_stats *st)
{
    (void)st;
    cmd *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->type = C_DETACHED;
    c->sink = sink;
    push(c);
}

static const sfu_tap_ops ops = {op_rtp, op_sr, op_layer, op_attached, op_detached};

/* ---- service thread -------------------------------------------------------- */

void sig_rec_track_published(sfu_router *router, const char *room, uint64_t peer, const char *mid)
{
    if (!M.running)
        return;
    cmd *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->type = C_TRACK;
    c->router = router;
    snprintf(c->room, sizeof c->room, "%s", room);
    c->peer = peer;
    snprintf(c->mid, sizeof c->mid, "%s", mid);
    push(c);
}

void sig_rec_room_closed(sfu_router *router)
{
    cmd *c = M.running ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        sfu_router_destroy(router);
        return;
    }
    c->type = C_CLOSED;
    c->router = router;
    push(c);
}

/* ---- manager ------------------------------------------------------------------ */

static recording *find_rec(sfu_router *router)
{
    for (recording *r = M.recs; r; r = r->next)
        if (r->router == router)
            return r;
    return NULL;
}

static bool skipped(sfu_router *router)
{
    for (norec *n = M.skip; n; n = n->next)
        if (n->router == router)
            return true;
    return false;
}

static void skip_add(sfu_router *router)
{
    norec *n = calloc(1, sizeof *n);
    if (!n)
        return;
    n->router = router;
    n->next = M.skip;
    M.skip = n;
}

static void skip_remove(sfu_router *router)
{
    for (norec **pp = &M.skip; *pp; pp = &(*pp)->next)
        if ((*pp)->router == router) {
            norec *n = *pp;
            *pp = n->next;
            free(n);
            return;
        }
}

/* Is the room a session whose type is recorded (and not over)? */
static bool session_recorded(const char *room, long long *sid)
{
    char *end = NULL;
    long long id = strtoll(room, &end, 10);
    char err[256];
    if (!end || *end || id <= 0 || ctl_db_ensure(&M.db, err, sizeof err) != 0)
        return false;
    const char *p[1] = {room};
    PGresult *r = PQexecParams(M.db.conn,
                               "SELECT t.recorded AND s.status IN ('scheduled', 'live') FROM "
                               "sessions s JOIN session_types t ON t.id = s.session_type_id "
                               "WHERE s.id = $1::bigint",
                               1, NULL, p, NULL, NULL, 0);
    bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
               !strcmp(PQgetvalue(r, 0, 0), "t");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        ML_WARN("rec", "room %s: cannot read the session: %s", room, PQerrorMessage(M.db.conn));
    PQclear(r);
    *sid = id;
    return yes;
}

static recording *start_recording(sfu_router *router, const char *room, long long sid)
{
    recording *R = calloc(1, sizeof *R);
    if (!R)
        return NULL;
    R->router = router;
    R->session = sid;
    snprintf(R->room, sizeof R->room, "%s", room);
    snprintf(R->raw_dir, sizeof R->raw_dir, "%s/raw/%s-%llu", M.dir, room,
             (unsigned long long)rec_wall_us());
    char err[512];
    if (sig__rec_mkdirs(R->raw_dir, err, sizeof err) != 0) {
        ML_ERROR("rec", "room %s: %s", room, err);
        free(R);
        return NULL;
    }
    const char *p[4] = {room, room, M.node, R->raw_dir};
    PGresult *r = PQexecParams(M.db.conn,
                               "INSERT INTO recordings (room_id, session_ref, node_id, raw_dir) "
                               "VALUES ($1, $2, $3, $4) RETURNING id",
                               4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ML_ERROR("rec", "room %s: cannot insert the recording: %s", room, PQresultErrorMessage(r));
        PQclear(r);
        rmdir(R->raw_dir);
        free(R);
        return NULL;
    }
    R->row = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    R->next = M.recs;
    M.recs = R;
    atomic_fetch_add(&M.active, 1);
    atomic_fetch_add(&M.started, 1);
    ML_INFO("rec", "room %s: recording %lld started in %s", room, R->row, R->raw_dir);
    return R;
}

static void on_track(cmd *c)
{
    recording *R = find_rec(c->router);
    if (!R) {
        long long sid = 0;
        if (skipped(c->router))
            return;
        if (!session_recorded(c->room, &sid) || !(R = start_recording(c->router, c->room, sid))) {
            skip_add(c->router);
            return;
        }
    }
    if (R->stopping)
        return;
    for (rsink *s = R->sinks; s; s = s->next)
        if (s->peer == c->peer && !strcmp(s->mid, c->mid))
            return;
    rsink *s = calloc(1, sizeof *s);
    if (!s)
        return;
    s->rec = R;
    s->peer = c->peer;
    snprintf(s->mid, sizeof s->mid, "%s", c->mid);
    atomic_init(&s->ring, NULL);
    if (sfu_router_tap_attach(R->router, c->peer, c->mid, &ops, s) != 0) {
        free(s);
        return;
    }
    s->next = R->sinks;
    R->sinks = s;
    R->pending++;
}

static void on_attached(cmd *c)
{
    rsink *s = c->sink;
    recording *R = s->rec;
    if (!c->has_info) {
        s->detached = true; /* no tap was created */
        R->pending--;
        return;
    }
    if (R->stopping)
        return; /* the detach is on its way */
    rec_file_info fi;
    memset(&fi, 0, sizeof fi);
    fi.kind = c->info.audio ? REC_KIND_AUDIO : REC_KIND_VIDEO;
    fi.payload_type = c->info.payload_type;
    fi.channels = c->info.audio ? 2 : 0;
    fi.clock_rate = c->info.clock_rate;
    snprintf(fi.codec, sizeof fi.codec, "%s", c->info.audio ? "opus" : "VP8");
    snprintf(fi.room_id, sizeof fi.room_id, "%s", R->room);
    snprintf(fi.session_id, sizeof fi.session_id, "%lld", R->session);
    snprintf(fi.track_id, sizeof fi.track_id, "%llu:%s", (unsigned long long)s->peer, s->mid);
    fi.layer_count = c->info.n_layers > 1 ? c->info.n_layers : 0;
    for (int l = 0; l < fi.layer_count && l < REC_MAX_LAYERS; l++) {
        fi.layers[l].ssrc = c->info.ssrcs[l];
        snprintf(fi.layers[l].rid, sizeof fi.layers[l].rid, "%s", c->info.rids[l]);
    }
    fi.start_wall_us = rec_wall_us();
    fi.start_mono_us = rec_mono_us();
    char path[1200], err[512];
    snprintf(path, sizeof path, "%s/%s-%llu-%s.mlrec", R->raw_dir,
             c->info.audio ? "audio" : "video", (unsigned long long)s->peer, s->mid);
    s->wt = rec_writer_add(M.writer, path, &fi, err, sizeof err);
    if (!s->wt) {
        ML_ERROR("rec", "recording %lld: %s", R->row, err);
        return;
    }
    atomic_store_explicit(&s->ring, rec_track_ring(s->wt), memory_order_release);
}

/* Every tap is gone: close the files, move the row on, queue the job. */
static void finish(recording *R)
{
    for (rsink *s = R->sinks; s; s = s->next)
        if (s->wt) {
            rec_track_stats st;
            char err[256];
            if (rec_writer_remove(M.writer, s->wt, &st, err, sizeof err) != 0)
                ML_ERROR("rec", "recording %lld: %s", R->row, err);
            else if (st.drops)
                ML_WARN("rec", "recording %lld: track %llu:%s dropped %llu records (ring full)",
                        R->row, (unsigned long long)s->peer, s->mid, (unsigned long long)st.drops);
            s->wt = NULL;
        }
    char err[512];
    if (sig__rec_close_row(M.db.conn, R->row, R->raw_dir, err, sizeof err) != 0)
        ML_ERROR("rec", "recording %lld: %s", R->row, err);
    else
        ML_INFO("rec", "room %s: recording %lld stopped; processing queued", R->room, R->row);
    if (R->destroy_router)
        sfu_router_destroy(R->router);
    for (recording **pp = &M.recs; *pp; pp = &(*pp)->next)
        if (*pp == R) {
            *pp = R->next;
            break;
        }
    while (R->sinks) {
        rsink *s = R->sinks;
        R->sinks = s->next;
        free(s);
    }
    atomic_fetch_sub(&M.active, 1);
    free(R);
}

static void maybe_finish(recording *R)
{
    if (R->stopping && R->pending == 0)
        finish(R);
}

static void stop_recording(recording *R)
{
    if (R->stopping)
        return;
    R->stopping = true;
    for (rsink *s = R->sinks; s; s = s->next) {
        if (s->detached)
            continue;
        if (sfu_router_tap_detach(R->router, s) != 0) {
            /* Workers stopping: nothing pushes any more once they are
             * joined; sig_rec_stop() closes the files then. */
            s->detached = true; /* pending kept: finished by sig_rec_stop() */
        }
    }
    maybe_finish(R);
}

static void on_detached(cmd *c)
{
    rsink *s = c->sink;
    recording *R = s->rec;
    s->detached = true;
    R->pending--;
    maybe_finish(R);
}

static void on_closed(cmd *c)
{
    skip_remove(c->router);
    recording *R = find_rec(c->router);
    if (!R) {
        sfu_router_destroy(c->router);
        return;
    }
    R->destroy_router = true;
    stop_recording(R);
}

/* Stop recordings whose session ended (POST /sessions/{id}/end). */
static void poll_ended(void)
{
    uint64_t now = rec_mono_us();
    if (!M.recs || now - M.last_poll < ENDED_POLL_US)
        return;
    M.last_poll = now;
    char err[256];
    if (ctl_db_ensure(&M.db, err, sizeof err) != 0)
        return;
    for (recording *R = M.recs, *next; R; R = next) {
        next = R->next;
        if (R->stopping)
            continue;
        char sid[32];
        snprintf(sid, sizeof sid, "%lld", R->session);
        const char *p[1] = {sid};
        PGresult *r = PQexecParams(M.db.conn,
                                   "SELECT 1 FROM sessions WHERE id = $1::bigint AND status NOT "
                                   "IN ('scheduled', 'live')",
                                   1, NULL, p, NULL, NULL, 0);
        bool ended = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        if (ended) {
            ML_INFO("rec", "session %lld ended: stopping recording %lld", R->session, R->row);
            stop_recording(R);
        }
    }
}

static void handle(cmd *c)
{
    switch (c->type) {
    case C_TRACK:
        on_track(c);
        break;
    case C_CLOSED:
        on_closed(c);
        break;
    case C_ATTACHED:
        on_attached(c);
        break;
    case C_DETACHED:
        on_detached(c);
        break;
    }
}

static void *manager_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&M.mu);
    while (!M.stop) {
        if (!M.head) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += POLL_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&M.cv, &M.mu, &ts);
        }
        cmd *list = M.head;
        M.head = M.tail = NULL;
        M.busy = true;
        pthread_mutex_unlock(&M.mu);
        while (list) {
            cmd *c = list;
            list = c->next;
            handle(c);
            free(c);
        }
        poll_ended();
        pthread_mutex_lock(&M.mu);
        M.busy = false;
        pthread_cond_broadcast(&M.idle);
    }
    pthread_mutex_unlock(&M.mu);
    return NULL;
}

static bool detaching(void)
{
    for (recording *R = M.recs; R; R = R->next)
        if (R->stopping && R->pending > 0)
            return true;
    return false;
}

void sig_rec_quiesce(void)
{
    if (!M.running)
        return;
    pthread_mutex_lock(&M.mu);
    for (int i = 0; i < 100 && (M.head || M.busy || detaching()); i++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&M.idle, &M.mu, &ts);
    }
    pthread_mutex_unlock(&M.mu);
}

void sig_rec_stop(void)
{
    if (!M.running)
        return;
    pthread_mutex_lock(&M.mu);
    M.stop = true;
    pthread_cond_signal(&M.cv);
    pthread_mutex_unlock(&M.mu);
    pthread_join(M.thread, NULL);
    M.running = false;
    /* Workers are joined: events still queued only concern taps that can
     * no longer run. Close what is left and hand it to processing. */
    while (M.head) {
        cmd *c = M.head;
        M.head = c->next;
        if (c->type == C_CLOSED)
            sfu_router_destroy(c->router); /* workers gone: logged, not freed */
        free(c);
    }
    while (M.recs) {
        recording *R = M.recs;
        R->stopping = true;
        R->destroy_router = false;
        R->pending = 0;
        finish(R);
    }
    while (M.skip) {
        norec *n = M.skip;
        M.skip = n->next;
        free(n);
    }
    char err[256];
    if (rec_writer_stop(M.writer, err, sizeof err) != 0)
        ML_ERROR("rec", "recorder writer: %s", err);
    ctl_db_close(&M.db);
}

void sig_rec_get_metrics(sig_rec_metrics *m)
{
    m->active = atomic_load(&M.active);
    m->started = atomic_load(&M.started);
    m->tap_drops = atomic_load(&M.drops);
    m->tap_packets = atomic_load(&M.packets);
}

int sig_rec_start(const ml_config *cfg, const char *db_url, char *err, size_t errlen)
{
    M.cfg = cfg;
    sig__rec_dir(cfg, M.dir, sizeof M.dir);
    sig_rec_node_id(cfg, M.node, sizeof M.node);
    if (sig__rec_mkdirs(M.dir, err, errlen) != 0)
        return -1;
    ctl_jobs_register("recording.process", sig_rec_process_job);
    ctl_db_init(&M.db, db_url, 5);
    ctl_db_set_timeouts(&M.db, cfg->db_lock_timeout_ms, cfg->db_statement_timeout_ms);
    if (ctl_db_ensure(&M.db, err, errlen) != 0)
        return -1;
    if (sig__rec_recover(M.db.conn, M.node, err, errlen) != 0) {
        ctl_db_close(&M.db);
        return -1;
    }
    rec_writer_opts wo = {
        .sync = {.fsync_ms = (int)cfg->recording_fsync_ms,
                 .fsync_bytes = (size_t)cfg->recording_fsync_bytes},
        .ring_bytes = (size_t)cfg->recording_ring_bytes,
        .poll_ms = 10,
    };
    M.writer = rec_writer_start(&wo, err, errlen);
    if (!M.writer) {
        ctl_db_close(&M.db);
        return -1;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&M.cv, &ca);
    pthread_cond_init(&M.idle, &ca);
    pthread_condattr_destroy(&ca);
    M.stop = false;
    if (pthread_create(&M.thread, NULL, manager_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the recording manager: %s", strerror(errno));
        rec_writer_stop(M.writer, err, errlen);
        ctl_db_close(&M.db);
        return -1;
    }
    M.running = true;
    return 0;
}
