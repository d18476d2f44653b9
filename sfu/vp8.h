/*
 * VP8 RTP payload descriptor (RFC 7741 section 4.2) and the start of the
 * VP8 payload header (RFC 6386 frame tag and keyframe start code): parse,
 * keyframe detection with width/height/scaling, in-place rewrites of
 * PictureID and TL0PICIDX for forwarding (simulcast switching), and a
 * descriptor writer for packetizers.
 *
 *      0 1 2 3 4 5 6 7
 *     +-+-+-+-+-+-+-+-+
 *     |X|R|N|S|R| PID | (required)
 *     |I|L|T|K| RSV   | (if X)
 *     |M| PictureID   | (if I; second byte if M)
 *     |   TL0PICIDX   | (if L)
 *     |TID|Y| KEYIDX  | (if T or K)
 *
 * Pure code: nothing allocates or logs; returns 0 / length, or -1.
 */
#ifndef ML_SFU_VP8_H
#define ML_SFU_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFU_VP8_DESC_MAX 6

typedef struct sfu_vp8_desc {
    bool non_reference;  /* N */
    bool start;          /* S: first packet of a partition */
    uint8_t partition;   /* PID, 0..7 */
    bool has_picture_id; /* I */
    bool picture_id_15;  /* M: 15-bit PictureID */
    uint16_t picture_id;
    bool has_tl0picidx; /* L */
    uint8_t tl0picidx;
    bool has_tid;    /* T */
    uint8_t tid;     /* 0..3 */
    bool layer_sync; /* Y */
    bool has_keyidx; /* K */
    uint8_t keyidx;  /* 0..31 */

    /* Filled by sfu_vp8_parse() only. */
    size_t size;              /* descriptor length in bytes */
    size_t picture_id_offset; /* 0 when absent */
    size_t tl0picidx_offset;  /* 0 when absent */
    const uint8_t *payload;   /* VP8 payload after the descriptor */
    size_t payload_len;
    bool is_keyframe; /* S, PID 0 and P bit (inverse key frame flag) clear */
    bool has_size;    /* keyframe start code seen: width/height below are valid */
    uint16_t width;   /* 14 bits */
    uint8_t hscale;   /* 2 bits */
    uint16_t height;  /* 14 bits */
    uint8_t vscale;   /* 2 bits */
} sfu_vp8_desc;

/*
 * Parse the descriptor at the start of an RTP payload buf[0..len); at least
 * one payload byte must follow it. For the first packet of a frame (S=1,
 * PID=0) also reads the payload header: is_keyframe, and for keyframes
 * whose first 10 bytes are present, the start code 9d 01 2a and the size
 * (a keyframe with a wrong start code is malformed: -1).
 */
int sfu_vp8_parse(const uint8_t *buf, size_t len, sfu_vp8_desc *d);

/*
 * Rewrite the PictureID in place, keeping the descriptor's existing width
 * (the value wraps to 7 or 15 bits). d comes from sfu_vp8_parse() of this
 * same buffer. Returns -1 when the descriptor has no PictureID.
 */
int sfu_vp8_set_picture_id(uint8_t *buf, const sfu_vp8_desc *d, uint16_t picture_id);
/* Rewrite TL0PICIDX in place. Returns -1 when the descriptor has none. */
int sfu_vp8_set_tl0picidx(uint8_t *buf, const sfu_vp8_desc *d, uint8_t tl0picidx);

/*
 * Write a descriptor from d's flags and values (the X byte is written only
 * when one of I/L/T/K is set; reserved bits are zero). picture_id is
 * masked to 7 or 15 bits by picture_id_15; tid/keyidx to 2/5 bits.
 * Returns the descriptor length (1..6) or -1 when cap is too small.
 */
int sfu_vp8_write_desc(uint8_t *buf, size_t cap, const sfu_vp8_desc *d);

#endif
