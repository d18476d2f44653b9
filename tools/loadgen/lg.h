/*
 * mlload internals shared by the peer engine (peer.c) and the command line
 * and report (mlload.c).
 */
#ifndef ML_LOADGEN_LG_H
#define ML_LOADGEN_LG_H

#include <glib.h>
#include <stdint.h>

#include "sfu/dtls.h"
#include "sfu/ice.h"
#include "tools/loadgen/mlload.h"

/* Period of each thread's tick (pacing, timers, feedback), ms. */
#define LG_TICK_MS 5

/* Most participants of a meeting (MentorLink: 16 m-lines per peer). */
#define LG_MAX_MEETING 8

/* Delay histogram: 10 us buckets below 20 ms, 1 ms buckets up to 2 s. */
#define LG_HIST_FINE 2000
#define LG_HIST_COARSE 1980
#define LG_HIST_N (LG_HIST_FINE + LG_HIST_COARSE + 1)

typedef struct lg_hist {
    uint64_t n;
    uint64_t max_us;
    uint64_t b[LG_HIST_N];
} lg_hist;

void lg_hist_add(lg_hist *h, uint64_t us);
void lg_hist_merge(lg_hist *into, const lg_hist *from);
/* Value (us) at quantile q in 0..1; 0 when empty. */
uint64_t lg_hist_quantile(const lg_hist *h, double q);

/* Totals over peers. Counters written by one thread, read racily by the
 * progress line (64-bit loads on the platforms we run on). */
typedef struct lg_totals {
    uint64_t peers_started, peers_connected, peers_failed, peers_closed, peers_left;
    uint64_t tx_packets, tx_bytes, tx_audio, tx_video;
    uint64_t rx_packets, rx_bytes, rx_audio, rx_video;
    uint64_t rx_expected, rx_lost, rx_reordered;
    uint64_t rx_duplicates, rx_repaired; /* late copies of packets held / of NACKed ones */
    uint64_t rx_rtx;                     /* resends on the RTX stream (counted as their originals) */
    uint64_t rx_decrypted, rx_decrypt_failed;
    uint64_t rx_coalesced;    /* --gro: datagrams that carried several packets */
    uint64_t rx_split_failed; /* --gro: datagrams that looked coalesced but did not split */
    uint64_t rtcp_in, rtcp_out, nack_out, pli_out, twcc_out, rr_out, pli_in, nack_in;
    uint64_t frames, keyframes, freezes, freeze_ms;
    /* meeting: per participant at close, the others heard (audio) and seen
     * (complete video frames), identified by the sender index in the
     * trailer; participants that got media from all M - 1 others */
    uint64_t meet_pairs_audio, meet_pairs_video, meet_full;
    double jitter_ms_sum; /* sum over streams of the final jitter */
    uint64_t jitter_streams;
    uint64_t res_counts[4]; /* keyframes seen at 180p/360p/720p/other */
    lg_hist delay;          /* one-way delay of media packets, to when mlload reads them */
    lg_hist delay_arrival;  /* the same packets, to when they reached the socket (kernel
                             * stamp): the load side's own queueing left out */
    lg_hist setup;          /* join -> DTLS connected, in us */
    lg_hist first_frame;    /* DTLS connected -> first complete video frame */
    lg_hist tick_late;      /* how late the 5 ms thread tick ran: load-side saturation */
} lg_totals;

typedef struct lg_run lg_run;
typedef struct lg_thread lg_thread;

struct lg_run {
    /* options */
    char host[256];
    int port;
    char path[256];
    char scenario[32];
    char room[64];
    int layer; /* sent video layer: 0 = 180p, 1 = 360p, 2 = 720p */
    int audio, video;
    int decrypt_every; /* decrypt 1 in N media packets (plus frame starts) */
    int connect_timeout_ms;
    int debug; /* MLLOAD_DEBUG=1: log signaling */
    int janus; /* --api janus: Janus WebSocket API instead of MentorLink's */
    char janus_plugin[64];
    int64_t janus_room;
    gpointer janus_feed; /* the mentor's publisher id once joined (atomic) */
    int fanout;          /* scenario fanout: peer 0 is the mentor, the others mentees */
    int meeting;         /* scenario meeting: every peer publishes and subscribes to all */
    int meeting_size;    /* M: participants of the meeting (all processes together) */
    int mentees_only;    /* fanout: no mentor here (another mlload process runs it) */
    int index_base;      /* first peer index of this process (--index-base) */
    uint32_t mark;       /* --mark: SO_MARK for the peers' sockets, 0 = none */
    int gro;             /* --gro: take segmented sends whole (UDP_GRO), split here */
    long long janus_feed_id; /* --janus-feed: the mentor publishes with this id */
    gint meet_pubs_up;       /* Janus meeting: publishers with media up (atomic) */
    gint mentor_up;          /* fanout: 1 once the mentor's media is up, 2 once told */
    int churn;           /* scenario churn: echo peers leave after ~lifetime_s, others join */
    double lifetime_s;
    int max_peers;
    gint next_index;                /* next peer index (atomic) */
    char pin[4];                    /* fanout: mentees pin this layer (l, m, h); "" = automatic */
    sfu_ice_options ice;            /* controlling: we offer */
    sfu_ice_options ice_controlled; /* Janus subscribers: the server offers */
    sfu_dtls_cert *cert;
    lg_media media;
    /* state */
    uint64_t t0_us, t_end_us;
    volatile uint64_t t_steady_us; /* every peer started + 2 s: tick lateness counts from here */
    volatile int stop_sending;
    volatile int abort_run; /* set by a fatal error (server gone) */
    GMutex err_lock;
    uint64_t errors;
    char err_msgs[8][256];
    int n_err_msgs;
    int n_threads;
    lg_thread **threads;
};

/* Record an error (thread-safe); fatal sets abort_run. */
void lg_error(lg_run *run, int fatal, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Threads and peers (peer.c). */
lg_thread *lg_thread_start(lg_run *run, int index);
/* Start one echo peer on the thread (any thread may call). */
void lg_thread_add_peer(lg_thread *t, int peer_index);
/* Close all peers, fold their measurements into the totals, stop and join
 * the thread. */
void lg_thread_finish(lg_thread *t);
const lg_totals *lg_thread_totals(const lg_thread *t);
/* Live view for the progress line: connected peers and lost so far. */
void lg_thread_live(const lg_thread *t, uint64_t *connected, uint64_t *lost, uint64_t *expected);
void lg_thread_free(lg_thread *t);

#endif
