/*
 * Retransmission buffer for one outgoing RTP stream (SFU -> viewer). The
 * last `capacity` packets sent (as far as they fit in `ring_bytes`) are
 * copied into a preallocated byte ring and indexed by sequence number; a
 * NACKed sequence number is looked up
 * and resent as an RTX packet (RFC 4588: RTX SSRC, RTX payload type, own
 * sequence counter, original sequence number in front of the payload), or
 * as the original packet when no RTX stream was negotiated.
 *
 * A packet is not resent when it would reach the viewer (half an RTT
 * after the resend) older than its useful age: max_age, or three RTTs
 * when that is longer (a viewer behind a deep queue NACKs late and waits
 * as long again for the resend; its decoder is stuck until the packet or
 * a keyframe arrives).
 *
 * Retransmission is rate-limited so a viewer flooding NACKs cannot amplify
 * traffic: one packet is resent at most once per max(RTT, min interval),
 * and all resends share a byte budget (a token bucket filled by
 * budget_percent of the bytes sent, capped at budget_burst bytes) and a
 * packet cap per 100 ms. Refusals are counted.
 *
 * The byte ring starts small (initial_ring_bytes) and doubles, up to
 * ring_bytes, whenever a lap of it was written in less than the useful
 * age: it holds that much of the stream's own bitrate instead of the
 * worst case (a 180p viewer keeps 32 KiB, 64 KiB behind a 0.6 s RTT; a
 * 2.5 Mbit/s one grows to 256 KiB in its first second). A doubling
 * allocates and moves the packets still held; it happens at most log2(ring_bytes /
 * initial_ring_bytes) times per stream, never per packet in steady state (a failed allocation keeps
 * the current ring).
 *
 * A pure state machine; the packet bytes stored are the plain
 * (unprotected) RTP packets as forwarded, before SRTP. Time is passed in
 * (microseconds).
 *
 * Ledger mode (config.ledger) keeps no packet bytes: the caller notes each
 * packet sent with a small reference of its own (SFU_RTX_REF_SIZE bytes,
 * e.g. where a shared copy of the packet is and how it was rewritten) and
 * rebuilds the packet from it when a resend is admitted. The resend rules
 * above are the same, as long as the caller still has the packet
 * (router_rtx.c keeps it for three of the longest viewer RTT, RTTs up to
 * about 2 s at 2.5 Mbit/s). A viewer's ledger is 52 bytes per packet (26 KiB
 * for 512) instead of a ring of its own copies (router_rtx.c keeps one
 * copy per publisher layer).
 */
#ifndef ML_SFU_RTX_BUFFER_H
#define ML_SFU_RTX_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFU_RTX_SLOT_DEFAULT 1500
#define SFU_RTX_RING_DEFAULT (256u * 1024u)
#define SFU_RTX_RING_INITIAL (32u * 1024u)
#define SFU_RTX_REF_SIZE 20 /* ledger mode: the caller's reference per packet */

typedef struct sfu_rtx_buffer_config {
    uint32_t capacity;           /* packets kept; power of two; default 512 */
    uint32_t slot_size;          /* bytes per slot (longest packet); default 1500 */
    uint64_t min_interval_us;    /* per-packet resend spacing floor; default 10 ms */
    uint64_t max_age_us;         /* never resend packets sent longer ago (or 3 RTTs
                                    if longer); default 1 s */
    uint32_t budget_percent;     /* resend bytes allowed per byte sent; default 50 */
    uint32_t budget_burst;       /* token bucket size in bytes; default 64000 */
    uint32_t max_per_100ms;      /* resends per 100 ms window; default 100 */
    uint32_t ring_bytes;         /* packet bytes kept (rounded up to a power of two, at
                                    most capacity x slot_size); default 256 KiB:
                                    ~0.8 s of 2.5 Mbit/s video */
    uint32_t initial_ring_bytes; /* ring allocated at creation (power of two, at
                                    most ring_bytes); default 32 KiB */
    bool ledger;                 /* keep references instead of bytes (see above) */
} sfu_rtx_buffer_config;

typedef struct sfu_rtx_buffer_stats {
    uint64_t stored;       /* packets stored */
    uint64_t requests;     /* resend requests */
    uint64_t resent;       /* packets resent */
    uint64_t resent_bytes; /* bytes resent (RTX packet lengths) */
    uint64_t missing;      /* refused: not (or no longer) in the buffer, or too old */
    uint64_t too_late;     /* ... of which: would arrive (half an RTT) past the useful age */
    uint64_t too_soon;     /* refused: same packet resent less than an RTT ago */
    uint64_t over_budget;  /* refused: byte budget or packet cap exhausted */
    uint32_t ring_bytes;   /* current size of the byte ring */
    uint32_t grown;        /* doublings of the ring so far */
} sfu_rtx_buffer_stats;

/* sfu_rtx_buffer_resend() results besides a length. */
enum {
    SFU_RTX_MISSING = -1,
    SFU_RTX_TOO_SOON = -2,
    SFU_RTX_OVER_BUDGET = -3,
    SFU_RTX_ERROR = -4, /* out buffer too small or packet malformed */
};

typedef struct sfu_rtx_buffer sfu_rtx_buffer;

/* Fill *c with the defaults listed in sfu_rtx_buffer_config. */
void sfu_rtx_buffer_config_default(sfu_rtx_buffer_config *c);

/*
 * Create a buffer (c NULL = defaults; zero fields take defaults; capacity
 * is rounded up to a power of two). NULL on OOM.
 */
sfu_rtx_buffer *sfu_rtx_buffer_create(const sfu_rtx_buffer_config *c);

/* Free a buffer (NULL is fine). */
void sfu_rtx_buffer_destroy(sfu_rtx_buffer *b);

/*
 * Use RTX: resends go out on rtx_ssrc with payload type rtx_pt and
 * sequence numbers counting up from first_seq. Without this call resends
 * are the original packets.
 */
void sfu_rtx_buffer_set_rtx(sfu_rtx_buffer *b, uint8_t rtx_pt, uint32_t rtx_ssrc,
                            uint16_t first_seq);

/* The sequence number the next RTX packet will carry (to go on from it
 * when the buffer is replaced while the RTX SSRC and SRTP session stay:
 * a number reused under the same SRTP index would repeat a keystream). */
uint16_t sfu_rtx_buffer_next_rtx_seq(const sfu_rtx_buffer *b);

/* Update the RTT used for per-packet spacing (0 is ignored). */
void sfu_rtx_buffer_set_rtt(sfu_rtx_buffer *b, uint64_t rtt_us);

/*
 * Store a copy of the RTP packet pkt[0..len) (its sequence number is read
 * from the header) sent at now_us; replaces whatever the slot held.
 * Returns 0, or -1 when len exceeds the slot size or is shorter than an
 * RTP header.
 */
int sfu_rtx_buffer_store(sfu_rtx_buffer *b, const uint8_t *pkt, size_t len, uint64_t now_us);

/*
 * Look up the stored packet with sequence number seq. Returns a pointer
 * into the buffer (valid until the next store) and its length and send
 * time, or NULL.
 */
const uint8_t *sfu_rtx_buffer_get(const sfu_rtx_buffer *b, uint16_t seq, size_t *len,
                                  uint64_t *sent_us);

/*
 * Handle a NACK for seq: when allowed, write the packet to resend into out
 * (capacity cap; RTX form when configured) and return its length;
 * otherwise return SFU_RTX_MISSING, SFU_RTX_TOO_SOON, SFU_RTX_OVER_BUDGET
 * or SFU_RTX_ERROR. Feed each sequence number of an expanded NACK
 * (sfu_rtcp_nack_expand) through this.
 */
int sfu_rtx_buffer_resend(sfu_rtx_buffer *b, uint16_t seq, uint64_t now_us, uint8_t *out,
                          size_t cap);

/*
 * Ledger mode: note that the packet with sequence number seq, len bytes,
 * was sent at now_us; ref (SFU_RTX_REF_SIZE bytes) is kept with it.
 * Returns 0, or -1 when len is out of range or the buffer keeps bytes.
 */
int sfu_rtx_buffer_note(sfu_rtx_buffer *b, uint16_t seq, size_t len, uint64_t now_us,
                        const void *ref);

/*
 * Ledger mode, a NACK for seq, first step: when a resend is allowed now,
 * copy the packet's reference to ref and return its length; otherwise
 * return SFU_RTX_MISSING, SFU_RTX_TOO_SOON or SFU_RTX_OVER_BUDGET (counted
 * as sfu_rtx_buffer_resend counts them). Nothing is charged yet.
 */
int sfu_rtx_buffer_admit(sfu_rtx_buffer *b, uint16_t seq, uint64_t now_us, void *ref);

/*
 * Ledger mode, second step: pkt[0..len) is the packet rebuilt from the
 * reference, as it was first sent. Write the resend into out (capacity
 * cap; RTX form when configured), charge the budget, mark seq resent and
 * return the length; SFU_RTX_ERROR when it does not fit or seq is no
 * longer noted. A caller that cannot rebuild the packet calls
 * sfu_rtx_buffer_gone instead.
 */
int sfu_rtx_buffer_finish(sfu_rtx_buffer *b, uint16_t seq, uint64_t now_us, const uint8_t *pkt,
                          size_t len, uint8_t *out, size_t cap);

/* Ledger mode: the admitted packet could not be rebuilt (counted as missing). */
void sfu_rtx_buffer_gone(sfu_rtx_buffer *b);

/* Copy the statistics. */
void sfu_rtx_buffer_get_stats(const sfu_rtx_buffer *b, sfu_rtx_buffer_stats *s);

#endif
