/*
 * RTCP wire format: an iterator over compound (RFC 3550) and reduced-size
 * (RFC 5506) packets that validates every header, typed views and builders
 * for SR/RR with report blocks, SDES CNAME, BYE, and the feedback messages
 * the SFU speaks: generic NACK and PLI (RFC 4585), FIR (RFC 5104), REMB
 * (draft-alvestrand-rmcat-remb) and transport-wide congestion control
 * feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01).
 *
 * Pure code: views point into the caller's buffer, builders write into a
 * caller buffer with a capacity and return the number of bytes written or
 * -1, nothing allocates or logs. Parsers return 0 / -1 unless noted.
 */
#ifndef ML_SFU_RTCP_H
#define ML_SFU_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SFU_RTCP_SR = 200,
    SFU_RTCP_RR = 201,
    SFU_RTCP_SDES = 202,
    SFU_RTCP_BYE = 203,
    SFU_RTCP_APP = 204,
    SFU_RTCP_RTPFB = 205,
    SFU_RTCP_PSFB = 206,
};

/* Feedback message types (the FMT field). */
enum {
    SFU_RTCP_FMT_NACK = 1,  /* RTPFB */
    SFU_RTCP_FMT_TWCC = 15, /* RTPFB */
    SFU_RTCP_FMT_PLI = 1,   /* PSFB */
    SFU_RTCP_FMT_FIR = 4,   /* PSFB */
    SFU_RTCP_FMT_AFB = 15,  /* PSFB, application layer: REMB */
};

#define SFU_RTCP_SDES_CNAME 1
#define SFU_RTCP_MAX_REPORT_BLOCKS 31

/* ---- Compound iterator ---- */

/*
 * One RTCP packet inside a compound packet. `data`/`len` cover the whole
 * packet including its 4-byte header and padding; `body`/`body_len` the
 * part after the header without padding. `count` is the 5-bit RC/SC/FMT.
 */
typedef struct sfu_rtcp_pkt {
    uint8_t pt;
    uint8_t count;
    bool padding;
    const uint8_t *data;
    size_t len;
    const uint8_t *body;
    size_t body_len;
} sfu_rtcp_pkt;

typedef struct sfu_rtcp_iter {
    const uint8_t *pos;
    const uint8_t *end;
} sfu_rtcp_iter;

/* Start iterating the packets of buf[0..len) (a NULL buf yields nothing). */
void sfu_rtcp_iter_init(sfu_rtcp_iter *it, const uint8_t *buf, size_t len);
/*
 * Next packet: checks version 2, that the length field (32-bit words minus
 * one) stays inside the buffer, and a padding count of 1..body size.
 * Returns 1 with *pkt filled, 0 at the end, -1 on a malformed header (the
 * iterator then stays at the end).
 */
int sfu_rtcp_next(sfu_rtcp_iter *it, sfu_rtcp_pkt *pkt);
/*
 * Validate a whole compound or reduced-size packet: every header valid and
 * the packets exactly fill len. Returns the number of packets or -1.
 */
int sfu_rtcp_validate(const uint8_t *buf, size_t len);

/* ---- Sender / receiver reports ---- */

typedef struct sfu_rtcp_rb {
    uint32_t ssrc;
    uint8_t fraction_lost;
    int32_t cumulative_lost; /* 24-bit signed */
    uint32_t highest_seq;    /* extended highest sequence number */
    uint32_t jitter;
    uint32_t lsr;
    uint32_t dlsr;
} sfu_rtcp_rb;

/*
 * An SR or RR. Sender info fields are set only when is_sr. `blocks` points
 * at rb_count raw 24-byte report blocks (read them with
 * sfu_rtcp_report_block()).
 */
typedef struct sfu_rtcp_report {
    bool is_sr;
    uint32_t ssrc;
    uint64_t ntp;
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
    uint8_t rb_count;
    const uint8_t *blocks;
} sfu_rtcp_report;

/* Parse an SR (PT 200) or RR (PT 201); report blocks must fit the packet. */
int sfu_rtcp_parse_report(const sfu_rtcp_pkt *pkt, sfu_rtcp_report *r);
/* Decode report block i (< rb_count). */
int sfu_rtcp_report_block(const sfu_rtcp_report *r, unsigned i, sfu_rtcp_rb *rb);
/*
 * Build an SR (r->is_sr) or RR from *r and n (<= 31) report blocks; r's
 * blocks/rb_count are ignored.
 */
int sfu_rtcp_build_report(uint8_t *buf, size_t cap, const sfu_rtcp_report *r,
                          const sfu_rtcp_rb *rbs, unsigned n);

/* ---- SDES ---- */

typedef struct sfu_rtcp_sdes_item {
    uint32_t ssrc; /* of the chunk holding the item */
    uint8_t type;
    uint8_t len;
    const uint8_t *text;
} sfu_rtcp_sdes_item;

typedef struct sfu_rtcp_sdes_iter {
    const uint8_t *start; /* of the body, for 32-bit alignment */
    const uint8_t *pos;
    const uint8_t *end;
    unsigned chunks_left;
    bool in_chunk;
    uint32_t ssrc;
} sfu_rtcp_sdes_iter;

/* Iterate the items of every chunk of an SDES packet. Returns -1 if not SDES. */
int sfu_rtcp_sdes_iter_init(sfu_rtcp_sdes_iter *it, const sfu_rtcp_pkt *pkt);
/* Next item: 1 with *item filled, 0 at the end, -1 when malformed. */
int sfu_rtcp_sdes_next(sfu_rtcp_sdes_iter *it, sfu_rtcp_sdes_item *item);
/*
 * The first CNAME in an SDES packet as a NUL-terminated string, with its
 * chunk's SSRC. Returns its length, or -1 (none, malformed, cap too small).
 */
int sfu_rtcp_sdes_cname(const sfu_rtcp_pkt *pkt, uint32_t *ssrc, char *out, size_t cap);
/* Build an SDES packet with one chunk holding one CNAME (1..255 bytes). */
int sfu_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname);

/* ---- BYE ---- */

typedef struct sfu_rtcp_bye {
    uint8_t ssrc_count;
    const uint8_t *ssrcs;  /* ssrc_count big-endian words */
    const uint8_t *reason; /* NULL when absent; not NUL-terminated */
    uint8_t reason_len;
} sfu_rtcp_bye;

/* Parse a BYE: SC SSRCs, then an optional length-prefixed reason inside the packet. */
int sfu_rtcp_parse_bye(const sfu_rtcp_pkt *pkt, sfu_rtcp_bye *bye);
/* SSRC i (< ssrc_count) of a parsed BYE. */
uint32_t sfu_rtcp_bye_ssrc(const sfu_rtcp_bye *bye, unsigned i);
/* Build a BYE for n (<= 31) SSRCs with an optional reason (NULL or <= 255 bytes). */
int sfu_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, unsigned n,
                       const char *reason);

/* ---- Feedback (RTPFB / PSFB) ---- */

typedef struct sfu_rtcp_fb {
    uint8_t pt;  /* SFU_RTCP_RTPFB or SFU_RTCP_PSFB */
    uint8_t fmt; /* message type */
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    const uint8_t *fci;
    size_t fci_len;
} sfu_rtcp_fb;

/* Parse the common feedback header of an RTPFB or PSFB packet. */
int sfu_rtcp_parse_fb(const sfu_rtcp_pkt *pkt, sfu_rtcp_fb *fb);

/* Generic NACK FCI item: packet id and bitmask of the 16 following losses. */
typedef struct sfu_rtcp_nack_item {
    uint16_t pid;
    uint16_t blp;
} sfu_rtcp_nack_item;

/*
 * Expand a generic NACK (RTPFB FMT 1) into lost sequence numbers, in FCI
 * order, writing at most cap. Returns how many were written, or -1 when fb
 * is not a NACK or its FCI is not a whole number of items.
 */
int sfu_rtcp_nack_expand(const sfu_rtcp_fb *fb, uint16_t *seqs, size_t cap);
/*
 * Pack n sequence numbers (ascending, wrap-aware; duplicates ignored) into
 * NACK items. Returns the number of items, or -1 if more than cap needed.
 */
int sfu_rtcp_nack_pack(const uint16_t *seqs, size_t n, sfu_rtcp_nack_item *items, size_t cap);
/* Build a generic NACK for the given lost sequence numbers (packed as above). */
int sfu_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                        const uint16_t *seqs, size_t n);

/* Build a PLI (PSFB FMT 1). */
int sfu_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);

/* Number of FIR entries (PSFB FMT 4), or -1 if fb is not a valid FIR. */
int sfu_rtcp_fir_count(const sfu_rtcp_fb *fb);
/* FIR entry i: target SSRC and command sequence number. */
int sfu_rtcp_fir_entry(const sfu_rtcp_fb *fb, unsigned i, uint32_t *ssrc, uint8_t *seq_nr);
/* Build a FIR with one entry (media SSRC field 0, as RFC 5104 requires). */
int sfu_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                       uint8_t seq_nr);

/* REMB: bitrate in bits per second and the SSRCs it applies to. */
typedef struct sfu_rtcp_remb {
    uint64_t bitrate; /* saturates at UINT64_MAX for absurd exponents */
    uint8_t ssrc_count;
    const uint8_t *ssrcs;
} sfu_rtcp_remb;

/* Parse a REMB (PSFB FMT 15 with the "REMB" identifier). */
int sfu_rtcp_parse_remb(const sfu_rtcp_fb *fb, sfu_rtcp_remb *remb);
/* SSRC i (< ssrc_count) of a parsed REMB. */
uint32_t sfu_rtcp_remb_ssrc(const sfu_rtcp_remb *remb, unsigned i);
/*
 * Build a REMB for n (<= 255) SSRCs. The bitrate is encoded as an 18-bit
 * mantissa and 6-bit exponent, rounded down.
 */
int sfu_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                        const uint32_t *ssrcs, unsigned n);

/* ---- Transport-wide congestion control feedback ---- */

#define SFU_TWCC_LOST INT64_MIN
#define SFU_TWCC_TICK_US 250
#define SFU_TWCC_REF_US 64000

/* One packet reported by a TWCC feedback. */
typedef struct sfu_twcc_packet {
    uint16_t seq;
    bool received;
    int64_t delta_us;   /* receive delta from the previous received packet */
    int64_t arrival_us; /* reference_time * 64 ms + sum of deltas so far */
} sfu_twcc_packet;

typedef struct sfu_twcc_iter {
    uint16_t base_seq;
    uint16_t status_count;
    int32_t reference_time; /* 24-bit signed, 64 ms units */
    uint8_t fb_count;
    /* private */
    const uint8_t *chunk;
    const uint8_t *delta;
    const uint8_t *delta_end;
    unsigned index;      /* packets yielded */
    unsigned chunk_used; /* symbols consumed from the current chunk */
    int64_t arrival_us;
} sfu_twcc_iter;

/*
 * Start reading a TWCC feedback (RTPFB FMT 15). Validates the whole FCI up
 * front: chunks covering status_count packets, no reserved symbols, and
 * every receive delta inside the packet. Returns 0 or -1.
 */
int sfu_twcc_iter_init(sfu_twcc_iter *it, const sfu_rtcp_fb *fb);
/* Next packet: 1 with *out filled, 0 after status_count packets. */
int sfu_twcc_next(sfu_twcc_iter *it, sfu_twcc_packet *out);
/*
 * Parse a TWCC feedback into out[0..cap). Returns the packet count, or -1
 * when malformed or cap < status_count. Header fields go to *hdr if not NULL.
 */
int sfu_rtcp_parse_twcc(const sfu_rtcp_fb *fb, sfu_twcc_iter *hdr, sfu_twcc_packet *out,
                        size_t cap);

/* Builder input: a sequence number and its arrival time, or SFU_TWCC_LOST. */
typedef struct sfu_twcc_arrival {
    uint16_t seq;
    int64_t arrival_us; /* >= 0, or SFU_TWCC_LOST */
} sfu_twcc_arrival;

/*
 * Build a TWCC feedback from n (>= 1) entries in ascending sequence order
 * (wrap-aware; gaps are reported as lost). The reference time is the first
 * received packet's arrival in 64 ms units; deltas are in 250 us ticks and
 * must fit a signed 16-bit value (split the feedback otherwise). Run-length
 * chunks are used for runs, status vectors otherwise. Returns the length or
 * -1 (bad order, delta overflow, too little room).
 */
int sfu_rtcp_build_twcc(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                        uint8_t fb_count, const sfu_twcc_arrival *pkts, size_t n);

#endif
