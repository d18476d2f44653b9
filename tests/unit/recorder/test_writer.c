/*
 * Unit tests for the recorder writer thread and the tap (recorder/writer.c,
 * recorder/tap.c, recorder/ring.c): records pushed from a producer thread
 * reach the file in order, a full ring counts drops (reported in the END
 * record), and a writer process killed with SIGKILL leaves a file whose
 * every complete record is readable.
 */
#include "recorder/recfile.h"
#include "recorder/tap.h"
#include "recorder/writer.h"
#include "tests/unit/harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void make_info(rec_file_info *info, uint8_t kind)
{
    memset(info, 0, sizeof *info);
    info->kind = kind;
    info->payload_type = kind == REC_KIND_AUDIO ? 111 : 96;
    info->clock_rate = kind == REC_KIND_AUDIO ? 48000 : 90000;
    info->channels = kind == REC_KIND_AUDIO ? 2 : 0;
    snprintf(info->codec, sizeof info->codec, kind == REC_KIND_AUDIO ? "opus" : "VP8");
    snprintf(info->session_id, sizeof info->session_id, "s1");
    info->start_wall_us = rec_wall_us();
    info->start_mono_us = rec_mono_us();
}

typedef struct prod {
    rec_ring *ring;
    int n;
    int accepted;
} prod;

/* Push n fake RTP packets whose first 4 bytes are their index. */
static void *producer(void *arg)
{
    prod *p = arg;
    uint8_t pkt[1200];
    for (int i = 0; i < p->n; i++) {
        memset(pkt, 0xAB, sizeof pkt);
        memcpy(pkt, &i, 4);
        size_t len = 100 + (size_t)(i % 1000);
        if (rec_tap_rtp(p->ring, rec_mono_us(), pkt, len) == 0)
            p->accepted++;
        if (i % 64 == 0)
            usleep(200);
    }
    return NULL;
}

typedef struct order {
    int last;
    int count;
    int out_of_order;
} order;

static int check_order(void *ctx, const rec_record *r)
{
    order *o = ctx;
    if (r->type != REC_T_RTP)
        return 0;
    int i;
    memcpy(&i, r->data, 4);
    if (i <= o->last || r->len != 100 + (size_t)(i % 1000))
        o->out_of_order++;
    o->last = i;
    o->count++;
    return 0;
}

static void tmpdir(char *dir)
{
    strcpy(dir, "/tmp/ml-writer-XXXXXX");
    if (!mkdtemp(dir))
        abort();
}

TEST(writer_two_producers_records_in_order)
{
    char dir[64], pa[128], pv[128], err[256];
    tmpdir(dir);
    snprintf(pa, sizeof pa, "%s/audio.mlrec", dir);
    snprintf(pv, sizeof pv, "%s/video.mlrec", dir);
    rec_writer_opts o = {.sync = {.fsync_ms = 50, .fsync_bytes = 1 << 20},
                         .ring_bytes = 1 << 20, .poll_ms = 2};
    rec_writer *w = rec_writer_start(&o, err, sizeof err);
    REQUIRE(w != NULL);
    rec_file_info ia, iv;
    make_info(&ia, REC_KIND_AUDIO);
    make_info(&iv, REC_KIND_VIDEO);
    rec_track *ta = rec_writer_add(w, pa, &ia, err, sizeof err);
    rec_track *tv = rec_writer_add(w, pv, &iv, err, sizeof err);
    REQUIRE(ta && tv);
    prod p1 = {rec_track_ring(ta), 5000, 0}, p2 = {rec_track_ring(tv), 5000, 0};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, producer, &p1);
    pthread_create(&t2, NULL, producer, &p2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    rec_writer_flush(w); /* the ring may still be full: make room for the SR */
    rec_sr sr = {1, 2, 3, 4, 5};
    CHECK(rec_tap_sr(rec_track_ring(tv), rec_mono_us(), &sr) == 0);
    rec_track_stats sa, sv;
    REQUIRE(rec_writer_remove(w, ta, &sa, err, sizeof err) == 0);
    REQUIRE(rec_writer_remove(w, tv, &sv, err, sizeof err) == 0);
    REQUIRE(rec_writer_stop(w, err, sizeof err) == 0);
    CHECK_INT_EQ(sa.records + sa.drops, 5000);
    CHECK_INT_EQ(sa.records, p1.accepted);
    CHECK_INT_EQ(sv.records, p2.accepted + 1);
    rec_file_info info;
    rec_scan_stats st;
    order ord = {-1, 0, 0};
    REQUIRE(rec_scan_file(pv, &info, check_order, &ord, &st, err, sizeof err) == 0);
    CHECK_INT_EQ(ord.count, p2.accepted);
    CHECK_INT_EQ(ord.out_of_order, 0);
    CHECK_INT_EQ(st.sr, 1);
    CHECK(st.clean_end);
    CHECK_INT_EQ(st.totals.drops, sv.drops);
    CHECK_INT_EQ(st.bad_records, 0);
    printf("# writer: audio %llu records %llu drops, video %llu records, %llu syncs\n",
           (unsigned long long)sa.records, (unsigned long long)sa.drops,
           (unsigned long long)sv.records, (unsigned long long)sv.syncs);
    unlink(pa);
    unlink(pv);
    rmdir(dir);
}

TEST(ring_overflow_counts_drops_and_end_record_reports_them)
{
    char dir[64], path[128], err[256];
    tmpdir(dir);
    snprintf(path, sizeof path, "%s/v.mlrec", dir);
    /* The thread wakes only every 100 s: nothing drains while we push. */
    rec_writer_opts o = {.sync = {.fsync_ms = 1000}, .ring_bytes = 4096, .poll_ms = 100000};
    rec_writer *w = rec_writer_start(&o, err, sizeof err);
    REQUIRE(w != NULL);
    rec_file_info info;
    make_info(&info, REC_KIND_VIDEO);
    rec_track *t = rec_writer_add(w, path, &info, err, sizeof err);
    REQUIRE(t != NULL);
    uint8_t pkt[200] = {0x80};
    int ok = 0;
    for (int i = 0; i < 100; i++)
        ok += rec_tap_rtp(rec_track_ring(t), rec_mono_us(), pkt, sizeof pkt) == 0;
    /* 4096-byte ring, 4 + 216 bytes per record: 18 fit. */
    CHECK_INT_EQ(ok, 18);
    /* A record larger than REC_RECORD_MAX is refused and counted too. */
    static uint8_t huge[REC_RECORD_MAX + 1];
    CHECK(rec_tap_rtp(rec_track_ring(t), 0, huge, sizeof huge) == -1);
    rec_track_stats st;
    rec_track_get_stats(w, t, &st);
    CHECK_INT_EQ(st.drops, 83);
    REQUIRE(rec_writer_remove(w, t, &st, err, sizeof err) == 0);
    CHECK_INT_EQ(st.records, 18);
    CHECK_INT_EQ(st.drops, 83);
    REQUIRE(rec_writer_stop(w, err, sizeof err) == 0);
    rec_scan_stats ss;
    REQUIRE(rec_scan_file(path, &info, NULL, NULL, &ss, err, sizeof err) == 0);
    CHECK_INT_EQ(ss.rtp, 18);
    CHECK_INT_EQ(ss.totals.drops, 83);
    unlink(path);
    rmdir(dir);
}

TEST(writer_killed_with_sigkill_leaves_readable_file)
{
    char dir[64], path[128], err[256];
    tmpdir(dir);
    snprintf(path, sizeof path, "%s/k.mlrec", dir);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        rec_writer_opts o = {.sync = {.fsync_ms = 5}, .ring_bytes = 1 << 20, .poll_ms = 1};
        rec_writer *w = rec_writer_start(&o, err, sizeof err);
        rec_file_info info;
        make_info(&info, REC_KIND_VIDEO);
        rec_track *t = w ? rec_writer_add(w, path, &info, err, sizeof err) : NULL;
        if (!t)
            _exit(1);
        uint8_t pkt[1100];
        for (int i = 0;; i++) {
            memset(pkt, i & 0xff, sizeof pkt);
            memcpy(pkt, &i, 4);
            rec_tap_rtp(rec_track_ring(t), rec_mono_us(), pkt, 100 + (size_t)(i % 1000));
            if (i == 2000 && write(fds[1], "x", 1) != 1)
                _exit(1);
            if (i % 16 == 0)
                usleep(100);
        }
    }
    char c;
    REQUIRE(read(fds[0], &c, 1) == 1);
    usleep(20000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    CHECK(WIFSIGNALED(status));
    rec_file_info info;
    rec_scan_stats st;
    order ord = {-1, 0, 0};
    REQUIRE(rec_scan_file(path, &info, check_order, &ord, &st, err, sizeof err) == 0);
    CHECK(st.records >= 100); /* how many depends on the machine; none may be damaged */
    CHECK_INT_EQ(st.bad_records, 0);
    CHECK(!st.clean_end);
    CHECK_INT_EQ(ord.out_of_order, 0);
    printf("# killed writer: %llu records readable, torn tail %d (%llu bytes)\n",
           (unsigned long long)st.records, st.torn_tail, (unsigned long long)st.torn_bytes);
    unlink(path);
    rmdir(dir);
}
