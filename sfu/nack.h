/*
 * NACK generator for one received RTP stream (publisher -> SFU). It tracks
 * extended sequence numbers across the 16-bit wrap, notices gaps, and keeps
 * a bounded, sorted list of missing packets. Each missing packet is NACKed
 * (RFC 4585 generic NACK) when first noticed, then again every RTT until it
 * arrives (late or as RTX, RFC 4588), has been asked for max_retries times,
 * or is so old that an answer (one RTT away) would come after its useful
 * age (max_age_us, or three RTTs when that is longer: a sender keeps its
 * packets that long); it is then "lost for good". When too many
 * packets are missing at once (a burst longer than the list, or a jump in
 * sequence numbers) the list is dropped and a keyframe is asked for instead.
 *
 * A pure state machine: memory is allocated in sfu_nack_create() only, time
 * comes in as a parameter (microseconds, any monotonic origin), nothing
 * logs. One instance per received stream (per SSRC), owned by its producer.
 */
#ifndef ML_SFU_NACK_H
#define ML_SFU_NACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sfu_nack_config {
    uint32_t max_missing;  /* size of the missing list; default 512 */
    uint32_t window;       /* packets older than highest - window are ignored; default 1000 */
    uint32_t max_retries;  /* NACKs per packet before giving up; default 10 */
    uint64_t max_age_us;   /* give up on a packet missing for this long (or 3 RTTs
                              if longer); default 1 s */
    uint64_t rtt_us;       /* initial RTT, the spacing of retries; default 100 ms */
    uint64_t min_retry_us; /* lower bound on retry spacing; default 10 ms */
} sfu_nack_config;

typedef struct sfu_nack_stats {
    uint64_t received;          /* packets seen (original and RTX), duplicates excluded */
    uint64_t missing;           /* gaps noticed (packets that entered the missing list) */
    uint64_t nacked;            /* NACK requests emitted (a packet counts once per retry) */
    uint64_t recovered;         /* missing packets that arrived later (late or RTX) */
    uint64_t recovered_rtx;     /* ... of which arrived as RTX */
    uint64_t lost;              /* given up: retries exhausted, too old, or dropped by overflow */
    uint64_t duplicates;        /* packets already seen, or too old to matter */
    uint64_t keyframe_requests; /* times the keyframe signal was raised */
    uint32_t pending;           /* packets currently in the missing list */
} sfu_nack_stats;

/* What sfu_nack_on_packet() made of a packet. */
enum {
    SFU_NACK_NEW = 0,       /* in order or ahead (gaps before it are now missing) */
    SFU_NACK_RECOVERED = 1, /* filled a known gap */
    SFU_NACK_OLD = 2,       /* duplicate, or older than the window: ignore */
};

typedef struct sfu_nack sfu_nack;

/* Fill *c with the defaults listed in sfu_nack_config. */
void sfu_nack_config_default(sfu_nack_config *c);

/* Create a generator (c NULL = defaults; zero fields take defaults). NULL on OOM. */
sfu_nack *sfu_nack_create(const sfu_nack_config *c);

/* Free a generator (NULL is fine). */
void sfu_nack_destroy(sfu_nack *n);

/* Forget all state (e.g. the stream's SSRC changed); statistics are kept. */
void sfu_nack_reset(sfu_nack *n);

/* Update the RTT used to space retries (from RTCP; 0 is ignored). */
void sfu_nack_set_rtt(sfu_nack *n, uint64_t rtt_us);

/*
 * Account for one received packet with sequence number seq (the original
 * sequence number for RTX, i.e. the OSN). Returns SFU_NACK_NEW,
 * SFU_NACK_RECOVERED or SFU_NACK_OLD.
 */
int sfu_nack_on_packet(sfu_nack *n, uint16_t seq, uint64_t now_us, bool is_rtx);

/*
 * A keyframe starting at seq arrived: missing packets before it are no
 * longer needed for decoding and are dropped from the list (not counted
 * as lost). Clears the keyframe signal.
 */
void sfu_nack_on_keyframe(sfu_nack *n, uint16_t seq);

/*
 * Sequence numbers to NACK now, ascending (wrap-aware), at most max of
 * them; marks them as sent at now_us and expires packets that exceeded
 * their retries or age. Returns how many were written to out. Pack them
 * with sfu_rtcp_build_nack() / sfu_rtcp_nack_pack().
 */
size_t sfu_nack_collect(sfu_nack *n, uint64_t now_us, uint16_t *out, size_t max);

/*
 * Earliest time at which sfu_nack_collect() would return something, or
 * UINT64_MAX when nothing is pending (for timers).
 */
uint64_t sfu_nack_next_due_us(const sfu_nack *n);

/*
 * True once when too many packets went missing to repair by NACK: the
 * caller should request a keyframe (see sfu/keyframe.h). Reading clears it.
 */
bool sfu_nack_take_keyframe_request(sfu_nack *n);

/* Copy the statistics. */
void sfu_nack_get_stats(const sfu_nack *n, sfu_nack_stats *s);

#endif
