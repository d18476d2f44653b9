/*
 * RTP header, header extensions and RTX; see rtp.h.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * |                           timestamp                           |
 * |           synchronization source (SSRC) identifier            |
 * |            contributing source (CSRC) identifiers ...         |
 * |      defined by profile       |           length              |  (if X)
 * |                        header extension ...                   |
 *
 * Parsing walks a bounded cursor over the caller's bytes; every length
 * field is checked against what is left before it is used.
 */
#include "sfu/rtp.h"
#include "sfu/wire_internal.h"

#include <string.h>

int sfu_rtp_parse(const uint8_t *buf, size_t len, sfu_rtp_packet *p)
{
    sfu__cursor c = {buf, buf ? buf + len : buf};
    uint8_t b0, b1;
    memset(p, 0, sizeof *p);
    if (!buf || sfu__cur_u8(&c, &b0) || sfu__cur_u8(&c, &b1) || sfu__cur_u16(&c, &p->seq) ||
        sfu__cur_u32(&c, &p->timestamp) || sfu__cur_u32(&c, &p->ssrc))
        return -1;
    if ((b0 >> 6) != 2)
        return -1;
    p->padding = (b0 & 0x20) != 0;
    p->extension = (b0 & 0x10) != 0;
    p->csrc_count = b0 & 0x0F;
    p->marker = (b1 & 0x80) != 0;
    p->payload_type = b1 & 0x7F;
    if (p->csrc_count && sfu__cur_skip(&c, (size_t)p->csrc_count * 4, &p->csrc))
        return -1;
    if (p->extension) {
        uint16_t words;
        if (sfu__cur_u16(&c, &p->ext_profile) || sfu__cur_u16(&c, &words))
            return -1;
        p->ext_len = (size_t)words * 4;
        if (sfu__cur_skip(&c, p->ext_len, &p->ext))
            return -1;
        if (p->ext_len == 0)
            p->ext = c.p; /* empty but present */
    }
    p->header_len = (size_t)(c.p - buf);
    p->payload = c.p;
    p->payload_len = sfu__cur_left(&c);
    if (p->padding) {
        if (p->payload_len == 0)
            return -1;
        uint8_t n = buf[len - 1];
        if (n == 0 || n > p->payload_len)
            return -1;
        p->padding_len = n;
        p->payload_len -= n;
    }
    return 0;
}

uint32_t sfu_rtp_csrc(const sfu_rtp_packet *p, unsigned i)
{
    if (i >= p->csrc_count || !p->csrc)
        return 0;
    const uint8_t *b = p->csrc + 4 * i;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int sfu_rtp_write(uint8_t *buf, size_t cap, const sfu_rtp_packet *p)
{
    size_t hlen = SFU_RTP_HEADER_MIN + (size_t)p->csrc_count * 4;
    if (p->csrc_count > SFU_RTP_MAX_CSRC || p->payload_type > 127)
        return -1;
    if (p->csrc_count && !p->csrc)
        return -1;
    if (p->extension) {
        if (p->ext_len % 4 || p->ext_len / 4 > 0xFFFF || (p->ext_len && !p->ext))
            return -1;
        hlen += 4 + p->ext_len;
    }
    if (p->padding && p->padding_len == 0)
        return -1;
    if (p->payload_len && !p->payload)
        return -1;
    size_t pad = p->padding ? p->padding_len : 0;
    size_t total = hlen + p->payload_len + pad;
    if (total > cap || total > INT32_MAX)
        return -1;
    /* Payload first: it may already live inside buf. */
    if (p->payload_len)
        memmove(buf + hlen, p->payload, p->payload_len);
    size_t off = SFU_RTP_HEADER_MIN;
    if (p->csrc_count) {
        memmove(buf + off, p->csrc, (size_t)p->csrc_count * 4);
        off += (size_t)p->csrc_count * 4;
    }
    if (p->extension) {
        if (p->ext_len)
            memmove(buf + off + 4, p->ext, p->ext_len);
        sfu__wr16(buf + off, p->ext_profile);
        sfu__wr16(buf + off + 2, (uint16_t)(p->ext_len / 4));
    }
    buf[0] = (uint8_t)(0x80 | (p->padding ? 0x20 : 0) | (p->extension ? 0x10 : 0) | p->csrc_count);
    buf[1] = (uint8_t)((p->marker ? 0x80 : 0) | p->payload_type);
    sfu__wr16(buf + 2, p->seq);
    sfu__wr32(buf + 4, p->timestamp);
    sfu__wr32(buf + 8, p->ssrc);
    if (pad) {
        memset(buf + hlen + p->payload_len, 0, pad - 1);
        buf[total - 1] = (uint8_t)pad;
    }
    return (int)total;
}

/* ---- Header extensions ---- */

int sfu_rtp_ext_iter_init(sfu_rtp_ext_iter *it, const sfu_rtp_packet *p)
{
    it->pos = it->end = NULL;
    it->two_byte = false;
    if (!p->extension || !p->ext)
        return -1;
    if (p->ext_profile == SFU_RTP_EXT_ONE_BYTE_PROFILE)
        it->two_byte = false;
    else if ((p->ext_profile & 0xFFF0) == SFU_RTP_EXT_TWO_BYTE_PROFILE)
        it->two_byte = true;
    else
        return -1;
    it->pos = p->ext;
    it->end = p->ext + p->ext_len;
    return 0;
}

int sfu_rtp_ext_next(sfu_rtp_ext_iter *it, sfu_rtp_ext *e)
{
    sfu__cursor c = {it->pos, it->end};
    if (!c.p)
        return 0;
    for (;;) {
        uint8_t b, len;
        if (sfu__cur_u8(&c, &b))
            goto end;
        if (b == 0)
            continue; /* padding byte */
        if (!it->two_byte) {
            if ((b >> 4) == 15)
                goto end; /* reserved id: stop processing */
            if ((b >> 4) == 0)
                continue; /* id 0 is padding whatever its length bits */
            e->id = b >> 4;
            len = (uint8_t)((b & 0x0F) + 1);
        } else {
            e->id = b;
            if (sfu__cur_u8(&c, &len))
                return -1;
        }
        e->len = len;
        if (sfu__cur_skip(&c, len, &e->data))
            return -1;
        it->pos = c.p;
        return 1;
    }
end:
    it->pos = it->end = NULL;
    return 0;
}

int sfu_rtp_ext_find(const sfu_rtp_packet *p, uint8_t id, sfu_rtp_ext *e)
{
    sfu_rtp_ext_iter it;
    sfu_rtp_ext cur;
    if (id == 0 || sfu_rtp_ext_iter_init(&it, p))
        return -1;
    while (sfu_rtp_ext_next(&it, &cur) == 1) {
        if (cur.id == id) {
            *e = cur;
            return 0;
        }
    }
    return -1;
}

int sfu_rtp_ext_build(uint8_t *buf, size_t cap, const sfu_rtp_ext *elems, size_t n,
                      uint16_t *profile)
{
    bool one_byte = true;
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (elems[i].id == 0 || (elems[i].len && !elems[i].data))
            return -1;
        if (elems[i].id > 14 || elems[i].len < 1 || elems[i].len > 16)
            one_byte = false;
    }
    for (size_t i = 0; i < n; i++)
        need += (one_byte ? 1u : 2u) + elems[i].len;
    size_t padded = (need + 3) & ~(size_t)3;
    if (padded > cap || padded / 4 > 0xFFFF)
        return -1;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (one_byte) {
            buf[off++] = (uint8_t)(elems[i].id << 4 | (elems[i].len - 1));
        } else {
            buf[off++] = elems[i].id;
            buf[off++] = elems[i].len;
        }
        if (elems[i].len)
            memcpy(buf + off, elems[i].data, elems[i].len);
        off += elems[i].len;
    }
    memset(buf + off, 0, padded - off);
    *profile = one_byte ? SFU_RTP_EXT_ONE_BYTE_PROFILE : SFU_RTP_EXT_TWO_BYTE_PROFILE;
    return (int)padded;
}

int sfu_rtp_ext_string(const sfu_rtp_ext *e, char *out, size_t cap)
{
    if (e->len == 0 || !e->data || cap == 0 || (size_t)e->len > cap - 1)
        return -1;
    if (memchr(e->data, 0, e->len))
        return -1;
    memcpy(out, e->data, e->len);
    out[e->len] = '\0';
    return e->len;
}

int sfu_rtp_ext_abs_send_time(const sfu_rtp_ext *e, uint32_t *abs24)
{
    if (e->len != 3)
        return -1;
    *abs24 = (uint32_t)e->data[0] << 16 | (uint32_t)e->data[1] << 8 | e->data[2];
    return 0;
}

uint32_t sfu_abs_send_time_from_us(uint64_t us)
{
    /* 6.18 fixed point seconds: value = seconds * 2^18, keep 24 bits. */
    uint64_t secs = us / 1000000u, frac_us = us % 1000000u;
    uint64_t v = (secs << 18) + ((frac_us << 18) + 500000u) / 1000000u;
    return (uint32_t)(v & 0xFFFFFF);
}

uint64_t sfu_abs_send_time_to_us(uint32_t abs24)
{
    uint64_t v = abs24 & 0xFFFFFF;
    return (v * 1000000u + (1u << 17)) >> 18;
}

void sfu_abs_send_time_put(uint8_t out[3], uint32_t abs24)
{
    out[0] = (uint8_t)(abs24 >> 16);
    out[1] = (uint8_t)(abs24 >> 8);
    out[2] = (uint8_t)abs24;
}

int sfu_rtp_ext_twcc_seq(const sfu_rtp_ext *e, uint16_t *seq)
{
    if (e->len != 2)
        return -1;
    *seq = (uint16_t)(e->data[0] << 8 | e->data[1]);
    return 0;
}

int sfu_rtp_ext_audio_level(const sfu_rtp_ext *e, bool *voice, uint8_t *level)
{
    if (e->len < 1)
        return -1;
    *voice = (e->data[0] & 0x80) != 0;
    *level = e->data[0] & 0x7F;
    return 0;
}

/* ---- In-place rewrites ---- */

void sfu_rtp_set_seq(uint8_t *pkt, uint16_t seq)
{
    sfu__wr16(pkt + 2, seq);
}

void sfu_rtp_set_timestamp(uint8_t *pkt, uint32_t ts)
{
    sfu__wr32(pkt + 4, ts);
}

void sfu_rtp_set_ssrc(uint8_t *pkt, uint32_t ssrc)
{
    sfu__wr32(pkt + 8, ssrc);
}

void sfu_rtp_set_pt(uint8_t *pkt, uint8_t pt)
{
    pkt[1] = (uint8_t)((pkt[1] & 0x80) | (pt & 0x7F));
}

void sfu_rtp_set_marker(uint8_t *pkt, bool marker)
{
    pkt[1] = (uint8_t)((pkt[1] & 0x7F) | (marker ? 0x80 : 0));
}

int sfu_rtp_ext_overwrite(uint8_t *pkt, size_t len, uint8_t id, const uint8_t *data, size_t dlen)
{
    sfu_rtp_packet p;
    sfu_rtp_ext e;
    if (sfu_rtp_parse(pkt, len, &p) || sfu_rtp_ext_find(&p, id, &e))
        return -1;
    if (e.len != dlen)
        return -1;
    if (dlen)
        memmove(pkt + (e.data - pkt), data, dlen);
    return 0;
}

int sfu_rtp_set_twcc_seq(uint8_t *pkt, size_t len, uint8_t id, uint16_t seq)
{
    uint8_t v[2];
    sfu__wr16(v, seq);
    return sfu_rtp_ext_overwrite(pkt, len, id, v, sizeof v);
}

/* ---- RTX ---- */

int sfu_rtx_build(uint8_t *out, size_t cap, const uint8_t *orig, size_t orig_len, uint8_t rtx_pt,
                  uint32_t rtx_ssrc, uint16_t rtx_seq)
{
    sfu_rtp_packet p;
    if (sfu_rtp_parse(orig, orig_len, &p))
        return -1;
    size_t total = p.header_len + 2 + p.payload_len;
    if (total > cap || total > INT32_MAX)
        return -1;
    uint16_t osn = p.seq;
    /* Move the payload first (right by 2 when in place), then the header. */
    if (p.payload_len)
        memmove(out + p.header_len + 2, p.payload, p.payload_len);
    if (out != orig)
        memcpy(out, orig, p.header_len);
    sfu__wr16(out + p.header_len, osn);
    out[0] &= (uint8_t)~0x20; /* padding dropped */
    sfu_rtp_set_pt(out, rtx_pt);
    sfu_rtp_set_seq(out, rtx_seq);
    sfu_rtp_set_ssrc(out, rtx_ssrc);
    return (int)total;
}

int sfu_rtx_recover(uint8_t *out, size_t cap, const uint8_t *rtx, size_t rtx_len, uint8_t orig_pt,
                    uint32_t orig_ssrc)
{
    sfu_rtp_packet p;
    if (sfu_rtp_parse(rtx, rtx_len, &p) || p.payload_len < 2)
        return -1;
    size_t total = p.header_len + p.payload_len - 2;
    if (total > cap)
        return -1;
    uint16_t osn = (uint16_t)(p.payload[0] << 8 | p.payload[1]);
    if (out != rtx)
        memcpy(out, rtx, p.header_len);
    /* Shifts left by 2 when in place. */
    if (p.payload_len > 2)
        memmove(out + p.header_len, p.payload + 2, p.payload_len - 2);
    out[0] &= (uint8_t)~0x20;
    sfu_rtp_set_pt(out, orig_pt);
    sfu_rtp_set_seq(out, osn);
    sfu_rtp_set_ssrc(out, orig_ssrc);
    return (int)total;
}
