/*
 * VP8 payload descriptor and keyframe header; see vp8.h.
 *
 * The payload header that follows the descriptor in the first packet of a
 * frame is the VP8 frame tag (RFC 6386 section 9.1), 3 bytes little-endian:
 * bit 0 is the inverse key frame flag P, bits 1-3 the version, bit 4
 * show_frame, bits 5-23 the first partition size. A keyframe continues
 * with the start code 9d 01 2a and two little-endian 16-bit words: 14 bits
 * of width/height and 2 bits of scaling each.
 */
#include "sfu/vp8.h"
#include "sfu/wire_internal.h"

#include <string.h>

/* Frame tag and keyframe header of the first packet of a frame. */
static int parse_payload_header(sfu_vp8_desc *d)
{
    const uint8_t *p = d->payload;
    if (d->payload_len < 3)
        return 0; /* too short to tell; not a keyframe */
    if (p[0] & 0x01)
        return 0; /* P = 1: interframe */
    d->is_keyframe = true;
    if (d->payload_len < 10)
        return 0;
    if (p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a)
        return -1;
    uint16_t w = (uint16_t)(p[6] | p[7] << 8), h = (uint16_t)(p[8] | p[9] << 8);
    d->has_size = true;
    d->width = w & 0x3FFF;
    d->hscale = (uint8_t)(w >> 14);
    d->height = h & 0x3FFF;
    d->vscale = (uint8_t)(h >> 14);
    return 0;
}

int sfu_vp8_parse(const uint8_t *buf, size_t len, sfu_vp8_desc *d)
{
    sfu__cursor c = {buf, buf ? buf + len : buf};
    uint8_t b, x = 0;
    memset(d, 0, sizeof *d);
    if (!buf || sfu__cur_u8(&c, &b))
        return -1;
    d->non_reference = (b & 0x20) != 0;
    d->start = (b & 0x10) != 0;
    d->partition = b & 0x07;
    if (b & 0x80) {
        if (sfu__cur_u8(&c, &x))
            return -1;
        d->has_picture_id = (x & 0x80) != 0;
        d->has_tl0picidx = (x & 0x40) != 0;
        d->has_tid = (x & 0x20) != 0;
        d->has_keyidx = (x & 0x10) != 0;
    }
    if (d->has_picture_id) {
        d->picture_id_offset = (size_t)(c.p - buf);
        if (sfu__cur_u8(&c, &b))
            return -1;
        d->picture_id = b & 0x7F;
        if (b & 0x80) {
            d->picture_id_15 = true;
            if (sfu__cur_u8(&c, &b))
                return -1;
            d->picture_id = (uint16_t)(d->picture_id << 8 | b);
        }
    }
    if (d->has_tl0picidx) {
        d->tl0picidx_offset = (size_t)(c.p - buf);
        if (sfu__cur_u8(&c, &d->tl0picidx))
            return -1;
    }
    if (d->has_tid || d->has_keyidx) {
        if (sfu__cur_u8(&c, &b))
            return -1;
        if (d->has_tid) {
            d->tid = b >> 6;
            d->layer_sync = (b & 0x20) != 0;
        }
        if (d->has_keyidx)
            d->keyidx = b & 0x1F;
    }
    d->size = (size_t)(c.p - buf);
    d->payload = c.p;
    d->payload_len = (size_t)(c.end - c.p);
    if (d->payload_len == 0)
        return -1;
    if (d->start && d->partition == 0)
        return parse_payload_header(d);
    return 0;
}

int sfu_vp8_set_picture_id(uint8_t *buf, const sfu_vp8_desc *d, uint16_t picture_id)
{
    if (!d->has_picture_id || d->picture_id_offset == 0)
        return -1;
    uint8_t *p = buf + d->picture_id_offset;
    if (d->picture_id_15) {
        p[0] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7F));
        p[1] = (uint8_t)picture_id;
    } else {
        p[0] = picture_id & 0x7F;
    }
    return 0;
}

int sfu_vp8_set_tl0picidx(uint8_t *buf, const sfu_vp8_desc *d, uint8_t tl0picidx)
{
    if (!d->has_tl0picidx || d->tl0picidx_offset == 0)
        return -1;
    buf[d->tl0picidx_offset] = tl0picidx;
    return 0;
}

int sfu_vp8_write_desc(uint8_t *buf, size_t cap, const sfu_vp8_desc *d)
{
    bool x = d->has_picture_id || d->has_tl0picidx || d->has_tid || d->has_keyidx;
    size_t n = 1 + (x ? 1 : 0) + (d->has_picture_id ? (d->picture_id_15 ? 2 : 1) : 0) +
               (d->has_tl0picidx ? 1 : 0) + (d->has_tid || d->has_keyidx ? 1 : 0);
    if (n > cap)
        return -1;
    size_t off = 0;
    buf[off++] = (uint8_t)((x ? 0x80 : 0) | (d->non_reference ? 0x20 : 0) | (d->start ? 0x10 : 0) |
                           (d->partition & 0x07));
    if (x)
        buf[off++] = (uint8_t)((d->has_picture_id ? 0x80 : 0) | (d->has_tl0picidx ? 0x40 : 0) |
                               (d->has_tid ? 0x20 : 0) | (d->has_keyidx ? 0x10 : 0));
    if (d->has_picture_id) {
        if (d->picture_id_15) {
            buf[off++] = (uint8_t)(0x80 | ((d->picture_id >> 8) & 0x7F));
            buf[off++] = (uint8_t)d->picture_id;
        } else {
            buf[off++] = d->picture_id & 0x7F;
        }
    }
    if (d->has_tl0picidx)
        buf[off++] = d->tl0picidx;
    if (d->has_tid || d->has_keyidx)
        buf[off++] = (uint8_t)((d->has_tid ? (d->tid & 3) << 6 | (d->layer_sync ? 0x20 : 0) : 0) |
                               (d->has_keyidx ? d->keyidx & 0x1F : 0));
    return (int)off;
}
