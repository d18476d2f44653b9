/*
 * The recording tap: what a media worker calls to hand a copy of a packet
 * (or sender-report timing, or a late-learned simulcast layer) to the
 * recorder writer through the track's rec_ring. Each call is one
 * wait-free ring push: it copies and returns; when the ring is full the
 * record is dropped and counted in the ring (reported in the file's END
 * record and by rec_writer_remove()).
 *
 * Ring message layout (private to tap.c and writer.c): type:u8, 7 zero
 * bytes, t_us:u64 in host order, then the record payload.
 */
#ifndef ML_RECORDER_TAP_H
#define ML_RECORDER_TAP_H

#include "recorder/recfile.h"
#include "recorder/ring.h"

#include <stddef.h>
#include <stdint.h>

#define REC_TAP_PREFIX 16

/* Hand over one decrypted RTP packet received at t_us (CLOCK_MONOTONIC µs). 0 or -1 (dropped). */
int rec_tap_rtp(rec_ring *r, uint64_t t_us, const uint8_t *pkt, size_t len);
/* Hand over the timing of a received RTCP sender report. 0 or -1 (dropped). */
int rec_tap_sr(rec_ring *r, uint64_t t_us, const rec_sr *sr);
/* Announce a simulcast layer (SSRC <-> rid) learned after the file was opened. 0 or -1. */
int rec_tap_layer(rec_ring *r, uint64_t t_us, const rec_layer *l);

/*
 * Writer side: split a popped ring message into type, time and payload.
 * Returns 0, or -1 when msg is shorter than the prefix.
 */
int rec_tap_decode(const uint8_t *msg, size_t len, uint8_t *type, uint64_t *t_us,
                   const uint8_t **payload, size_t *plen);

#endif
