/*
 * The recorder writer thread; see writer.h. One mutex guards the track
 * list and each track's rec_out: it is taken by the thread for a drain pass
 * and by control threads adding or removing tracks. Producers never take
 * it; they only push into the lock-free SPSC ring of their track.
 */
#include "recorder/writer.h"
#include "recorder/tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rec_track {
    rec_ring ring;
    rec_out out;
    struct rec_track *next;
};

struct rec_writer {
    rec_writer_opts opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop;
    rec_track *tracks;
    uint8_t *scratch; /* one popped ring message */
    size_t scratch_cap;
};

/* Move every record waiting in t's ring into its file. Called with mu held. */
static void drain(rec_writer *w, rec_track *t, uint64_t now)
{
    for (;;) {
        long n = rec_ring_pop(&t->ring, w->scratch, w->scratch_cap);
        if (n == 0)
            break;
        if (n < 0)
            continue; /* cannot happen: pushes are bounded by the scratch size */
        uint8_t type;
        uint64_t t_us;
        const uint8_t *p;
        size_t plen;
        if (rec_tap_decode(w->scratch, (size_t)n, &type, &t_us, &p, &plen) == 0)
            rec_out_append(&t->out, type, t_us, p, plen);
    }
    rec_out_flush(&t->out, now, 0);
}

static void *writer_main(void *arg)
{
    rec_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        uint64_t now = rec_mono_us();
        for (rec_track *t = w->tracks; t; t = t->next)
            drain(w, t, now);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long ns = ts.tv_nsec + (long)w->opts.poll_ms * 1000000L;
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

rec_writer *rec_writer_start(const rec_writer_opts *o, char *err, size_t errlen)
{
    rec_writer *w = calloc(1, sizeof *w);
    pthread_condattr_t ca;
    bool cv_ok = false, mu_ok = false;
    if (!w)
        goto fail;
    w->opts = *o;
    if (w->opts.poll_ms <= 0)
        w->opts.poll_ms = 10;
    if (w->opts.ring_bytes < 4096)
        w->opts.ring_bytes = 4096;
    w->scratch_cap = REC_TAP_PREFIX + REC_RECORD_MAX;
    w->scratch = malloc(w->scratch_cap);
    if (!w->scratch || pthread_mutex_init(&w->mu, NULL) != 0)
        goto fail;
    mu_ok = true;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cv_ok = pthread_cond_init(&w->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cv_ok || pthread_create(&w->thread, NULL, writer_main, w) != 0)
        goto fail;
    return w;
fail:
    snprintf(err, errlen, "cannot start the recorder writer: %s", strerror(errno ? errno : ENOMEM));
    if (w) {
        if (cv_ok)
            pthread_cond_destroy(&w->cv);
        if (mu_ok)
            pthread_mutex_destroy(&w->mu);
        free(w->scratch);
        free(w);
    }
    return NULL;
}

rec_track *rec_writer_add(rec_writer *w, const char *path, const rec_file_info *info, char *err,
                          size_t errlen)
{
    rec_track *t = calloc(1, sizeof *t);
    if (!t || rec_ring_init(&t->ring, w->opts.ring_bytes) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (rec_out_open(&t->out, path, info, &w->opts.sync, err, errlen) != 0)
        goto fail;
    pthread_mutex_lock(&w->mu);
    t->next = w->tracks;
    w->tracks = t;
    pthread_mutex_unlock(&w->mu);
    return t;
fail:
    if (t)
        rec_ring_free(&t->ring);
    free(t);
    return NULL;
}

rec_ring *rec_track_ring(rec_track *t)
{
    return &t->ring;
}

static void fill_stats(rec_track *t, rec_track_stats *st)
{
    st->records = t->out.records;
    st->bytes = t->out.bytes + t->out.buf_len;
    st->drops = atomic_load(&t->ring.drops);
    st->syncs = t->out.syncs;
    st->error = t->out.error;
}

void rec_track_get_stats(rec_writer *w, rec_track *t, rec_track_stats *st)
{
    pthread_mutex_lock(&w->mu);
    fill_stats(t, st);
    pthread_mutex_unlock(&w->mu);
}

/* Drain, close and free t (already unlinked from the list). Called with mu held. */
static int finish(rec_writer *w, rec_track *t, rec_track_stats *st, char *err, size_t errlen)
{
    drain(w, t, rec_mono_us());
    uint64_t drops = atomic_load(&t->ring.drops);
    rec_track_stats tmp;
    fill_stats(t, &tmp);
    int rc = rec_out_close(&t->out, drops, err, errlen);
    tmp.bytes = t->out.bytes;
    tmp.syncs = t->out.syncs;
    tmp.error = t->out.error;
    if (st)
        *st = tmp;
    rec_ring_free(&t->ring);
    free(t);
    return rc;
}

int rec_writer_remove(rec_writer *w, rec_track *t, rec_track_stats *st, char *err, size_t errlen)
{
    pthread_mutex_lock(&w->mu);
    rec_track **pp = &w->tracks;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (!*pp) {
        pthread_mutex_unlock(&w->mu);
        snprintf(err, errlen, "track is not registered with this writer");
        return -1;
    }
    *pp = t->next;
    int rc = finish(w, t, st, err, errlen);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void rec_writer_flush(rec_writer *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t now = rec_mono_us();
    for (rec_track *t = w->tracks; t; t = t->next)
        drain(w, t, now);
    pthread_mutex_unlock(&w->mu);
}

int rec_writer_stop(rec_writer *w, char *err, size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    while (w->tracks) {
        rec_track *t = w->tracks;
        w->tracks = t->next;
        char e[256];
        if (finish(w, t, NULL, e, sizeof e) != 0 && rc == 0) {
            snprintf(err, errlen, "%s", e);
            rc = -1;
        }
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->scratch);
    free(w);
    return rc;
}
