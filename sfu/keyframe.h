/*
 * Keyframe request aggregator for one published video stream. Viewers ask
 * for keyframes (their PLI or FIR, a new subscription, a layer switch, the
 * NACK generator giving up); the publisher must see at most one request
 * (PLI, or FIR per RFC 5104) per min_interval_us. A request while one is
 * outstanding is merged into it; one that arrives too soon after the last
 * send is deferred and sent by sfu_keyframe_poll() when the interval has
 * passed. If no keyframe arrives within retry_us of a send, the request is
 * repeated (a FIR repetition keeps its command sequence number; a new
 * request increments it). A single viewer asking more often than
 * viewer_interval_us is refused and counted, so one flooding viewer cannot
 * keep the publisher busy.
 *
 * An embeddable state machine with no allocation: time is passed in
 * (microseconds). One per published video stream (per SSRC).
 */
#ifndef ML_SFU_KEYFRAME_H
#define ML_SFU_KEYFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFU_KEYFRAME_VIEWERS 32 /* viewers tracked for flood control */
#define SFU_KEYFRAME_INTERNAL 0 /* viewer id for the SFU's own requests: never refused */

typedef struct sfu_keyframe_config {
    uint64_t min_interval_us;    /* between requests to the publisher; default 500 ms */
    uint64_t retry_us;           /* repeat when no keyframe within this; default 1 s */
    uint64_t viewer_interval_us; /* one viewer's closer requests are refused; default 250 ms */
    uint32_t max_retries;        /* give up repeating after this many; default 5 */
} sfu_keyframe_config;

typedef struct sfu_keyframe_stats {
    uint64_t requests;  /* requests received (all viewers) */
    uint64_t merged;    /* absorbed by an outstanding or deferred request */
    uint64_t refused;   /* flood control: one viewer asking too often */
    uint64_t sent;      /* requests sent to the publisher (including retries) */
    uint64_t retries;   /* ... of which were repetitions */
    uint64_t keyframes; /* keyframes seen */
    uint64_t gave_up;   /* outstanding requests abandoned after max_retries */
} sfu_keyframe_stats;

typedef struct sfu_keyframe {
    sfu_keyframe_config cfg;
    bool outstanding; /* sent, no keyframe yet */
    bool deferred;    /* wanted, waiting for min_interval */
    bool ever_sent;
    uint64_t last_sent_us;
    uint32_t retries_done;
    uint8_t fir_seq; /* command sequence number of the current/last request */
    struct {
        uint32_t id;
        uint64_t last_us;
    } viewers[SFU_KEYFRAME_VIEWERS];
    sfu_keyframe_stats stats;
} sfu_keyframe;

/* Fill *c with the defaults listed in sfu_keyframe_config. */
void sfu_keyframe_config_default(sfu_keyframe_config *c);

/* Initialise (c NULL = defaults; zero fields take defaults). */
void sfu_keyframe_init(sfu_keyframe *k, const sfu_keyframe_config *c);

/*
 * A keyframe request from viewer_id (SFU_KEYFRAME_INTERNAL for the SFU
 * itself). Returns 1 when the caller must send a PLI/FIR to the publisher
 * now (*fir_seq, if not NULL, gets the FIR command sequence number to
 * use), 0 when merged or deferred (call sfu_keyframe_poll() later), or -1
 * when refused by flood control.
 */
int sfu_keyframe_request(sfu_keyframe *k, uint32_t viewer_id, uint64_t now_us, uint8_t *fir_seq);

/*
 * Timer tick: returns 1 when a deferred request or a repetition is due now
 * (same contract as sfu_keyframe_request's 1), else 0.
 */
int sfu_keyframe_poll(sfu_keyframe *k, uint64_t now_us, uint8_t *fir_seq);

/* Earliest time sfu_keyframe_poll() may return 1, or UINT64_MAX. */
uint64_t sfu_keyframe_next_due_us(const sfu_keyframe *k);

/* A keyframe arrived from the publisher: the request is satisfied. */
void sfu_keyframe_on_keyframe(sfu_keyframe *k, uint64_t now_us);

/* True while a request is outstanding or deferred. */
bool sfu_keyframe_pending(const sfu_keyframe *k);

#endif
