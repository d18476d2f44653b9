/*
 * A bounded single-producer / single-consumer ring of variable-length
 * records, the hand-off between a media worker (producer, never waits) and a
 * recorder writer thread (consumer). A push that does not fit is refused and
 * counted as a drop; nothing blocks on either side.
 *
 * Each record is stored as a 4-byte length followed by the bytes, padded to
 * 4 bytes. Capacity must be a power of two.
 */
#ifndef ML_RECORDER_RING_H
#define ML_RECORDER_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rec_ring {
    uint8_t *buf;
    size_t cap;              /* power of two */
    _Atomic size_t head;     /* written by the producer */
    _Atomic size_t tail;     /* written by the consumer */
    _Atomic uint64_t drops;  /* records refused because the ring was full */
    _Atomic uint64_t pushed; /* records accepted */
} rec_ring;

/* Allocate a ring of `cap` bytes (rounded up to a power of two, >= 64). */
int rec_ring_init(rec_ring *r, size_t cap);
void rec_ring_free(rec_ring *r);
/* Producer: copy one record in. Returns 0, or -1 when it does not fit (counted). */
int rec_ring_push(rec_ring *r, const void *data, size_t len);
/* Producer: like rec_ring_push() for one record made of two pieces
 * (a small header and a body), copied in without an intermediate buffer. */
int rec_ring_push2(rec_ring *r, const void *pre, size_t hlen, const void *body, size_t blen);
/* Consumer: copy the oldest record into out (capacity outcap). Returns its
 * length, 0 when empty, or -1 when outcap is too small (record kept). */
long rec_ring_pop(rec_ring *r, void *out, size_t outcap);

#endif
