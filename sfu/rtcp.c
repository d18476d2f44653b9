/*
 * RTCP compound iterator, typed views and builders; see rtcp.h.
 *
 * Every packet starts with the same word:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P| RC/FMT  |      PT       |  length (32-bit words - 1)    |
 *
 * The iterator checks that word against the bytes actually present, so the
 * typed parsers below only ever see a body whose length is true; they still
 * read through a bounded cursor. Builders check capacity before writing.
 */
#include "sfu/rtcp.h"
#include "sfu/wire_internal.h"

#include <string.h>

/* Write the common header for a packet of total length len (multiple of 4). */
static void put_header(uint8_t *b, bool padding, uint8_t count, uint8_t pt, size_t len)
{
    b[0] = (uint8_t)(0x80 | (padding ? 0x20 : 0) | (count & 0x1F));
    b[1] = pt;
    sfu__wr16(b + 2, (uint16_t)(len / 4 - 1));
}

/* ---- Compound iterator ---- */

void sfu_rtcp_iter_init(sfu_rtcp_iter *it, const uint8_t *buf, size_t len)
{
    it->pos = buf;
    it->end = buf ? buf + len : NULL;
}

int sfu_rtcp_next(sfu_rtcp_iter *it, sfu_rtcp_pkt *pkt)
{
    if (!it->pos || it->pos == it->end)
        return 0;
    sfu__cursor c = {it->pos, it->end};
    const uint8_t *start = c.p;
    uint8_t b0, pt;
    uint16_t words;
    if (sfu__cur_u8(&c, &b0) || sfu__cur_u8(&c, &pt) || sfu__cur_u16(&c, &words))
        goto fail;
    if ((b0 >> 6) != 2)
        goto fail;
    size_t len = ((size_t)words + 1) * 4;
    if (len > sfu__cur_left(&c) + 4)
        goto fail;
    pkt->pt = pt;
    pkt->count = b0 & 0x1F;
    pkt->padding = (b0 & 0x20) != 0;
    pkt->data = start;
    pkt->len = len;
    pkt->body = start + 4;
    pkt->body_len = len - 4;
    if (pkt->padding) {
        uint8_t pad = start[len - 1];
        if (len == 4 || pad == 0 || pad > pkt->body_len)
            goto fail;
        pkt->body_len -= pad;
    }
    it->pos = start + len;
    return 1;
fail:
    it->pos = it->end = NULL;
    return -1;
}

int sfu_rtcp_validate(const uint8_t *buf, size_t len)
{
    sfu_rtcp_iter it;
    sfu_rtcp_pkt pkt;
    int n = 0, rc;
    if (!buf || len == 0)
        return -1;
    sfu_rtcp_iter_init(&it, buf, len);
    while ((rc = sfu_rtcp_next(&it, &pkt)) == 1)
        n++;
    return rc < 0 ? -1 : n;
}

/* ---- SR / RR ---- */

int sfu_rtcp_parse_report(const sfu_rtcp_pkt *pkt, sfu_rtcp_report *r)
{
    sfu__cursor c = {pkt->body, pkt->body + pkt->body_len};
    memset(r, 0, sizeof *r);
    if (pkt->pt != SFU_RTCP_SR && pkt->pt != SFU_RTCP_RR)
        return -1;
    r->is_sr = pkt->pt == SFU_RTCP_SR;
    if (sfu__cur_u32(&c, &r->ssrc))
        return -1;
    if (r->is_sr) {
        uint32_t hi, lo;
        if (sfu__cur_u32(&c, &hi) || sfu__cur_u32(&c, &lo) || sfu__cur_u32(&c, &r->rtp_ts) ||
            sfu__cur_u32(&c, &r->packet_count) || sfu__cur_u32(&c, &r->octet_count))
            return -1;
        r->ntp = (uint64_t)hi << 32 | lo;
    }
    r->rb_count = pkt->count;
    if (sfu__cur_skip(&c, (size_t)r->rb_count * 24, &r->blocks))
        return -1;
    /* Anything left is a profile-specific extension; ignored. */
    return 0;
}

int sfu_rtcp_report_block(const sfu_rtcp_report *r, unsigned i, sfu_rtcp_rb *rb)
{
    if (i >= r->rb_count || !r->blocks)
        return -1;
    const uint8_t *b = r->blocks + (size_t)i * 24;
    uint32_t lost = sfu__rd32(b + 4);
    rb->ssrc = sfu__rd32(b);
    rb->fraction_lost = (uint8_t)(lost >> 24);
    lost &= 0xFFFFFF;
    rb->cumulative_lost = (lost & 0x800000) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
    rb->highest_seq = sfu__rd32(b + 8);
    rb->jitter = sfu__rd32(b + 12);
    rb->lsr = sfu__rd32(b + 16);
    rb->dlsr = sfu__rd32(b + 20);
    return 0;
}

int sfu_rtcp_build_report(uint8_t *buf, size_t cap, const sfu_rtcp_report *r,
                          const sfu_rtcp_rb *rbs, unsigned n)
{
    size_t len = (r->is_sr ? 28 : 8) + (size_t)n * 24;
    if (n > SFU_RTCP_MAX_REPORT_BLOCKS || (n && !rbs) || len > cap)
        return -1;
    put_header(buf, false, (uint8_t)n, r->is_sr ? SFU_RTCP_SR : SFU_RTCP_RR, len);
    sfu__wr32(buf + 4, r->ssrc);
    uint8_t *b = buf + 8;
    if (r->is_sr) {
        sfu__wr32(b, (uint32_t)(r->ntp >> 32));
        sfu__wr32(b + 4, (uint32_t)r->ntp);
        sfu__wr32(b + 8, r->rtp_ts);
        sfu__wr32(b + 12, r->packet_count);
        sfu__wr32(b + 16, r->octet_count);
        b += 20;
    }
    for (unsigned i = 0; i < n; i++, b += 24) {
        int32_t lost = rbs[i].cumulative_lost;
        if (lost > 0x7FFFFF)
            lost = 0x7FFFFF;
        if (lost < -0x800000)
            lost = -0x800000;
        sfu__wr32(b, rbs[i].ssrc);
        sfu__wr32(b + 4, (uint32_t)rbs[i].fraction_lost << 24 | ((uint32_t)lost & 0xFFFFFF));
        sfu__wr32(b + 8, rbs[i].highest_seq);
        sfu__wr32(b + 12, rbs[i].jitter);
        sfu__wr32(b + 16, rbs[i].lsr);
        sfu__wr32(b + 20, rbs[i].dlsr);
    }
    return (int)len;
}

/* ---- SDES ---- */

int sfu_rtcp_sdes_iter_init(sfu_rtcp_sdes_iter *it, const sfu_rtcp_pkt *pkt)
{
    memset(it, 0, sizeof *it);
    if (pkt->pt != SFU_RTCP_SDES)
        return -1;
    it->start = it->pos = pkt->body;
    it->end = pkt->body + pkt->body_len;
    it->chunks_left = pkt->count;
    return 0;
}

int sfu_rtcp_sdes_next(sfu_rtcp_sdes_iter *it, sfu_rtcp_sdes_item *item)
{
    sfu__cursor c = {it->pos, it->end};
    if (!c.p)
        return 0;
    for (;;) {
        if (!it->in_chunk) {
            if (it->chunks_left == 0)
                goto done;
            if (sfu__cur_u32(&c, &it->ssrc))
                goto fail;
            it->in_chunk = true;
        }
        uint8_t type, len;
        if (sfu__cur_u8(&c, &type))
            goto fail;
        if (type == 0) {
            /* End of chunk: skip the null octets up to the next 32-bit boundary. */
            size_t off = (size_t)(c.p - it->start);
            size_t pad = (4 - off % 4) % 4;
            if (sfu__cur_skip(&c, pad, NULL))
                goto fail;
            it->in_chunk = false;
            it->chunks_left--;
            continue;
        }
        if (sfu__cur_u8(&c, &len) || sfu__cur_skip(&c, len, &item->text))
            goto fail;
        item->ssrc = it->ssrc;
        item->type = type;
        item->len = len;
        it->pos = c.p;
        return 1;
    }
done:
    it->pos = it->end = NULL;
    return 0;
fail:
    it->pos = it->end = NULL;
    return -1;
}

int sfu_rtcp_sdes_cname(const sfu_rtcp_pkt *pkt, uint32_t *ssrc, char *out, size_t cap)
{
    sfu_rtcp_sdes_iter it;
    sfu_rtcp_sdes_item item;
    if (sfu_rtcp_sdes_iter_init(&it, pkt))
        return -1;
    while (sfu_rtcp_sdes_next(&it, &item) == 1) {
        if (item.type != SFU_RTCP_SDES_CNAME)
            continue;
        if (cap == 0 || (size_t)item.len > cap - 1 || memchr(item.text, 0, item.len))
            return -1;
        memcpy(out, item.text, item.len);
        out[item.len] = '\0';
        *ssrc = item.ssrc;
        return item.len;
    }
    return -1;
}

int sfu_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname)
{
    size_t n = cname ? strlen(cname) : 0;
    if (n == 0 || n > 255)
        return -1;
    size_t items = (2 + n + 1 + 3) & ~(size_t)3; /* item + at least one null octet */
    size_t len = 8 + items;
    if (len > cap)
        return -1;
    put_header(buf, false, 1, SFU_RTCP_SDES, len);
    sfu__wr32(buf + 4, ssrc);
    buf[8] = SFU_RTCP_SDES_CNAME;
    buf[9] = (uint8_t)n;
    memcpy(buf + 10, cname, n);
    memset(buf + 10 + n, 0, len - 10 - n);
    return (int)len;
}

/* ---- BYE ---- */

int sfu_rtcp_parse_bye(const sfu_rtcp_pkt *pkt, sfu_rtcp_bye *bye)
{
    sfu__cursor c = {pkt->body, pkt->body + pkt->body_len};
    memset(bye, 0, sizeof *bye);
    if (pkt->pt != SFU_RTCP_BYE)
        return -1;
    bye->ssrc_count = pkt->count;
    if (sfu__cur_skip(&c, (size_t)bye->ssrc_count * 4, &bye->ssrcs))
        return -1;
    if (sfu__cur_left(&c) > 0) {
        uint8_t n;
        if (sfu__cur_u8(&c, &n) || sfu__cur_skip(&c, n, &bye->reason))
            return -1;
        bye->reason_len = n;
        if (n == 0)
            bye->reason = NULL;
    }
    return 0;
}

uint32_t sfu_rtcp_bye_ssrc(const sfu_rtcp_bye *bye, unsigned i)
{
    if (i >= bye->ssrc_count || !bye->ssrcs)
        return 0;
    return sfu__rd32(bye->ssrcs + (size_t)i * 4);
}

int sfu_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, unsigned n,
                       const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    if (n > 31 || (n && !ssrcs) || rlen > 255)
        return -1;
    size_t len = 4 + (size_t)n * 4 + (rlen ? (1 + rlen + 3) & ~(size_t)3 : 0);
    if (len > cap)
        return -1;
    put_header(buf, false, (uint8_t)n, SFU_RTCP_BYE, len);
    uint8_t *b = buf + 4;
    for (unsigned i = 0; i < n; i++, b += 4)
        sfu__wr32(b, ssrcs[i]);
    if (rlen) {
        b[0] = (uint8_t)rlen;
        memcpy(b + 1, reason, rlen);
        memset(b + 1 + rlen, 0, (size_t)(buf + len - (b + 1 + rlen)));
    }
    return (int)len;
}

/* ---- Feedback ---- */

int sfu_rtcp_parse_fb(const sfu_rtcp_pkt *pkt, sfu_rtcp_fb *fb)
{
    sfu__cursor c = {pkt->body, pkt->body + pkt->body_len};
    memset(fb, 0, sizeof *fb);
    if (pkt->pt != SFU_RTCP_RTPFB && pkt->pt != SFU_RTCP_PSFB)
        return -1;
    if (sfu__cur_u32(&c, &fb->sender_ssrc) || sfu__cur_u32(&c, &fb->media_ssrc))
        return -1;
    fb->pt = pkt->pt;
    fb->fmt = pkt->count;
    fb->fci = c.p;
    fb->fci_len = sfu__cur_left(&c);
    return 0;
}

/* Header + sender + media SSRC for a feedback packet of total length len. */
static void put_fb_header(uint8_t *buf, uint8_t pt, uint8_t fmt, size_t len, uint32_t sender,
                          uint32_t media)
{
    put_header(buf, false, fmt, pt, len);
    sfu__wr32(buf + 4, sender);
    sfu__wr32(buf + 8, media);
}

int sfu_rtcp_nack_expand(const sfu_rtcp_fb *fb, uint16_t *seqs, size_t cap)
{
    if (fb->pt != SFU_RTCP_RTPFB || fb->fmt != SFU_RTCP_FMT_NACK || fb->fci_len % 4)
        return -1;
    size_t n = 0;
    for (size_t off = 0; off + 4 <= fb->fci_len; off += 4) {
        uint16_t pid = sfu__rd16(fb->fci + off), blp = sfu__rd16(fb->fci + off + 2);
        if (n < cap)
            seqs[n++] = pid;
        for (unsigned bit = 0; bit < 16; bit++)
            if ((blp >> bit) & 1 && n < cap)
                seqs[n++] = (uint16_t)(pid + bit + 1);
    }
    return (int)n;
}

int sfu_rtcp_nack_pack(const uint16_t *seqs, size_t n, sfu_rtcp_nack_item *items, size_t cap)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (count) {
            sfu_rtcp_nack_item *it = &items[count - 1];
            uint16_t d = (uint16_t)(seqs[i] - it->pid);
            if (d == 0)
                continue;
            if (d <= 16) {
                it->blp |= (uint16_t)(1u << (d - 1));
                continue;
            }
        }
        if (count == cap)
            return -1;
        items[count].pid = seqs[i];
        items[count].blp = 0;
        count++;
    }
    return (int)count;
}

int sfu_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                        const uint16_t *seqs, size_t n)
{
    if (cap < 12 || n == 0 || !seqs)
        return -1;
    /* Pack straight into the FCI area, item by item, capacity-checked. */
    size_t max_items = (cap - 12) / 4;
    if (max_items > 16383)
        max_items = 16383; /* length field limit */
    size_t count = 0;
    uint8_t *fci = buf + 12;
    for (size_t i = 0; i < n; i++) {
        if (count) {
            uint8_t *last = fci + (count - 1) * 4;
            uint16_t d = (uint16_t)(seqs[i] - sfu__rd16(last));
            if (d == 0)
                continue;
            if (d <= 16) {
                sfu__wr16(last + 2, (uint16_t)(sfu__rd16(last + 2) | 1u << (d - 1)));
                continue;
            }
        }
        if (count == max_items)
            return -1;
        sfu__wr16(fci + count * 4, seqs[i]);
        sfu__wr16(fci + count * 4 + 2, 0);
        count++;
    }
    size_t len = 12 + count * 4;
    put_fb_header(buf, SFU_RTCP_RTPFB, SFU_RTCP_FMT_NACK, len, sender_ssrc, media_ssrc);
    return (int)len;
}

int sfu_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    if (cap < 12)
        return -1;
    put_fb_header(buf, SFU_RTCP_PSFB, SFU_RTCP_FMT_PLI, 12, sender_ssrc, media_ssrc);
    return 12;
}

int sfu_rtcp_fir_count(const sfu_rtcp_fb *fb)
{
    if (fb->pt != SFU_RTCP_PSFB || fb->fmt != SFU_RTCP_FMT_FIR || fb->fci_len == 0 ||
        fb->fci_len % 8)
        return -1;
    return (int)(fb->fci_len / 8);
}

int sfu_rtcp_fir_entry(const sfu_rtcp_fb *fb, unsigned i, uint32_t *ssrc, uint8_t *seq_nr)
{
    int n = sfu_rtcp_fir_count(fb);
    if (n < 0 || i >= (unsigned)n)
        return -1;
    *ssrc = sfu__rd32(fb->fci + (size_t)i * 8);
    *seq_nr = fb->fci[(size_t)i * 8 + 4];
    return 0;
}

int sfu_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                       uint8_t seq_nr)
{
    if (cap < 20)
        return -1;
    put_fb_header(buf, SFU_RTCP_PSFB, SFU_RTCP_FMT_FIR, 20, sender_ssrc, 0);
    sfu__wr32(buf + 12, media_ssrc);
    buf[16] = seq_nr;
    buf[17] = buf[18] = buf[19] = 0;
    return 20;
}

int sfu_rtcp_parse_remb(const sfu_rtcp_fb *fb, sfu_rtcp_remb *remb)
{
    sfu__cursor c = {fb->fci, fb->fci + fb->fci_len};
    const uint8_t *id;
    uint8_t num, b1, b2, b3;
    memset(remb, 0, sizeof *remb);
    if (fb->pt != SFU_RTCP_PSFB || fb->fmt != SFU_RTCP_FMT_AFB || !c.p)
        return -1;
    if (sfu__cur_skip(&c, 4, &id) || memcmp(id, "REMB", 4) != 0)
        return -1;
    if (sfu__cur_u8(&c, &num) || sfu__cur_u8(&c, &b1) || sfu__cur_u8(&c, &b2) || sfu__cur_u8(&c, &b3))
        return -1;
    unsigned exp = b1 >> 2;
    uint64_t mantissa = (uint64_t)(b1 & 3) << 16 | (uint64_t)b2 << 8 | b3;
    if (sfu__cur_skip(&c, (size_t)num * 4, &remb->ssrcs))
        return -1;
    remb->ssrc_count = num;
    if (exp > 0 && mantissa > (UINT64_MAX >> exp))
        remb->bitrate = UINT64_MAX;
    else
        remb->bitrate = mantissa << exp;
    return 0;
}

uint32_t sfu_rtcp_remb_ssrc(const sfu_rtcp_remb *remb, unsigned i)
{
    if (i >= remb->ssrc_count || !remb->ssrcs)
        return 0;
    return sfu__rd32(remb->ssrcs + (size_t)i * 4);
}

int sfu_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                        const uint32_t *ssrcs, unsigned n)
{
    size_t len = 20 + (size_t)n * 4;
    if (n > 255 || (n && !ssrcs) || len > cap)
        return -1;
    unsigned exp = 0;
    while ((bitrate >> exp) > 0x3FFFF)
        exp++;
    uint32_t mantissa = (uint32_t)(bitrate >> exp);
    put_fb_header(buf, SFU_RTCP_PSFB, SFU_RTCP_FMT_AFB, len, sender_ssrc, 0);
    memcpy(buf + 12, "REMB", 4);
    buf[16] = (uint8_t)n;
    buf[17] = (uint8_t)(exp << 2 | mantissa >> 16);
    sfu__wr16(buf + 18, (uint16_t)mantissa);
    for (unsigned i = 0; i < n; i++)
        sfu__wr32(buf + 20 + (size_t)i * 4, ssrcs[i]);
    return (int)len;
}
