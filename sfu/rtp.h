/*
 * RTP wire format (RFC 3550): header parse and write, header extensions
 * (RFC 8285 one-byte and two-byte forms) with typed helpers for the
 * extensions the SFU uses (mid, rid, repaired-rid, abs-send-time,
 * transport-wide sequence number, audio level), in-place rewrites used when
 * forwarding, and RTX (RFC 4588) wrap/unwrap.
 *
 * Everything here is pure: parsed views hold pointers into the caller's
 * buffer (valid as long as that buffer is), nothing allocates, nothing logs.
 * Functions return 0 (or a length) on success and -1 on malformed input or
 * too little room.
 */
#ifndef ML_SFU_RTP_H
#define ML_SFU_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFU_RTP_HEADER_MIN 12
#define SFU_RTP_MAX_CSRC 15
#define SFU_RTP_EXT_ONE_BYTE_PROFILE 0xBEDE
#define SFU_RTP_EXT_TWO_BYTE_PROFILE 0x1000 /* low 4 bits are "appbits" */

/*
 * A parsed RTP packet. `csrc` points at csrc_count big-endian 32-bit words;
 * `ext` points at the extension body (after the 4-byte profile/length word)
 * of ext_len bytes (a multiple of 4); both are NULL when absent.
 * payload/payload_len exclude the padding; padding_len counts the padding
 * bytes including the final count byte (0 when the P bit is clear).
 */
typedef struct sfu_rtp_packet {
    bool padding;
    bool extension;
    bool marker;
    uint8_t csrc_count;
    uint8_t payload_type;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    const uint8_t *csrc;
    uint16_t ext_profile;
    const uint8_t *ext;
    size_t ext_len;
    size_t header_len; /* offset of the payload */
    const uint8_t *payload;
    size_t payload_len;
    uint8_t padding_len;
} sfu_rtp_packet;

/*
 * Parse buf[0..len) as one RTP packet: checks version 2, that the CSRC list
 * and extension fit, and that the padding count is 1..(bytes after the
 * header). Returns 0 and fills *p, or -1.
 */
int sfu_rtp_parse(const uint8_t *buf, size_t len, sfu_rtp_packet *p);

/* The i-th CSRC of a parsed packet (i < csrc_count). */
uint32_t sfu_rtp_csrc(const sfu_rtp_packet *p, unsigned i);

/*
 * Write a packet from the fields of *p into buf (capacity cap): the fixed
 * header, csrc_count CSRCs from p->csrc (raw big-endian bytes), the
 * extension when p->extension (ext_profile + ext_len bytes from p->ext;
 * ext_len must be a multiple of 4 and at most 262140), payload_len bytes
 * from p->payload (may already sit at buf + header length; memmove is
 * used), then padding_len bytes of padding when p->padding (zeros, last
 * byte the count; padding_len must be >= 1). Returns the total length or
 * -1. A parsed packet written back gives the same bytes (padding contents
 * aside).
 */
int sfu_rtp_write(uint8_t *buf, size_t cap, const sfu_rtp_packet *p);

/* ---- Header extensions (RFC 8285) ---- */

/* One extension element: id 1..14 (one-byte form) or 1..255 (two-byte). */
typedef struct sfu_rtp_ext {
    uint8_t id;
    uint8_t len;
    const uint8_t *data;
} sfu_rtp_ext;

typedef struct sfu_rtp_ext_iter {
    const uint8_t *pos;
    const uint8_t *end;
    bool two_byte;
} sfu_rtp_ext_iter;

/*
 * Start iterating the extension elements of a parsed packet. Returns -1
 * when the packet has no extension or its profile is neither 0xBEDE nor
 * 0x100X (the iterator then yields nothing).
 */
int sfu_rtp_ext_iter_init(sfu_rtp_ext_iter *it, const sfu_rtp_packet *p);

/*
 * Next element, skipping padding bytes (id 0). Returns 1 with *e filled,
 * 0 at the end (also when the one-byte form's reserved id 15 stops
 * processing), or -1 when an element runs past the extension block.
 */
int sfu_rtp_ext_next(sfu_rtp_ext_iter *it, sfu_rtp_ext *e);

/* Find the first element with this id. Returns 0 with *e filled, or -1. */
int sfu_rtp_ext_find(const sfu_rtp_packet *p, uint8_t id, sfu_rtp_ext *e);

/*
 * Build the body of an extension block from n elements into buf (capacity
 * cap), zero-padded to a multiple of 4. Uses the one-byte form (profile
 * 0xBEDE) when every id is 1..14 and every length 1..16, otherwise the
 * two-byte form (profile 0x1000; ids 1..255, lengths 0..255). Stores the
 * profile in *profile and returns the body length (0 for n == 0), or -1
 * for id 0, an impossible element, or too little room. The result goes in
 * sfu_rtp_packet.ext / ext_len / ext_profile for sfu_rtp_write().
 */
int sfu_rtp_ext_build(uint8_t *buf, size_t cap, const sfu_rtp_ext *elems, size_t n,
                      uint16_t *profile);

/*
 * Copy a string-valued element (mid, rid, repaired-rid) into out as a
 * NUL-terminated string. Returns its length, or -1 when it does not fit in
 * cap - 1 bytes, is empty or contains a NUL byte.
 */
int sfu_rtp_ext_string(const sfu_rtp_ext *e, char *out, size_t cap);

/* abs-send-time: 24-bit 6.18 fixed-point seconds. Returns 0 or -1 (len != 3). */
int sfu_rtp_ext_abs_send_time(const sfu_rtp_ext *e, uint32_t *abs24);
/* Convert microseconds to the 24-bit abs-send-time value (wraps every 64 s). */
uint32_t sfu_abs_send_time_from_us(uint64_t us);
/* Convert a 24-bit abs-send-time value to microseconds within its 64 s window. */
uint64_t sfu_abs_send_time_to_us(uint32_t abs24);
/* Write a 24-bit abs-send-time value as 3 big-endian bytes. */
void sfu_abs_send_time_put(uint8_t out[3], uint32_t abs24);

/* Transport-wide sequence number (2 bytes). Returns 0 or -1 (len != 2). */
int sfu_rtp_ext_twcc_seq(const sfu_rtp_ext *e, uint16_t *seq);

/*
 * Audio level (RFC 6464): V flag and level 0..127 (-dBov). Returns 0, or -1
 * when the element is empty.
 */
int sfu_rtp_ext_audio_level(const sfu_rtp_ext *e, bool *voice, uint8_t *level);

/* ---- In-place rewrites (pkt must hold at least SFU_RTP_HEADER_MIN bytes) ---- */

/* Overwrite the sequence number. */
void sfu_rtp_set_seq(uint8_t *pkt, uint16_t seq);
/* Overwrite the timestamp. */
void sfu_rtp_set_timestamp(uint8_t *pkt, uint32_t ts);
/* Overwrite the SSRC. */
void sfu_rtp_set_ssrc(uint8_t *pkt, uint32_t ssrc);
/* Set the 7-bit payload type, keeping the marker bit. */
void sfu_rtp_set_pt(uint8_t *pkt, uint8_t pt);
/* Set or clear the marker bit, keeping the payload type. */
void sfu_rtp_set_marker(uint8_t *pkt, bool marker);

/*
 * Overwrite the value of the existing extension element `id` in the packet
 * pkt[0..len) with dlen bytes; dlen must equal the element's length.
 * Returns 0, or -1 (not RTP, no such element, different length).
 */
int sfu_rtp_ext_overwrite(uint8_t *pkt, size_t len, uint8_t id, const uint8_t *data, size_t dlen);

/* Rewrite the transport-wide sequence number element `id`. Returns 0 or -1. */
int sfu_rtp_set_twcc_seq(uint8_t *pkt, size_t len, uint8_t id, uint16_t seq);

/* ---- RTX (RFC 4588) ---- */

/*
 * Build the RTX packet for orig[0..orig_len) into out (capacity cap): the
 * original header (CSRCs and extensions kept, padding dropped) with rtx_pt,
 * rtx_ssrc and rtx_seq, then the original sequence number (OSN), then the
 * original payload. out may equal orig (in place, cap must allow the 2 extra
 * bytes) or must not overlap it. Returns the RTX length or -1.
 */
int sfu_rtx_build(uint8_t *out, size_t cap, const uint8_t *orig, size_t orig_len, uint8_t rtx_pt,
                  uint32_t rtx_ssrc, uint16_t rtx_seq);

/*
 * Recover the original packet from rtx[0..rtx_len) into out (capacity cap):
 * sequence number from the OSN, payload type orig_pt and SSRC orig_ssrc,
 * padding dropped. out may equal rtx (in place) or must not overlap it.
 * Returns the original length, or -1 (payload shorter than the OSN, ...).
 */
int sfu_rtx_recover(uint8_t *out, size_t cap, const uint8_t *rtx, size_t rtx_len, uint8_t orig_pt,
                    uint32_t orig_ssrc);

#endif
