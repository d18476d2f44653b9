/*
 * DCEP wire code (RFC 8832) and the data-channel PPIDs (RFC 8831).
 *
 * Pure: reads through a bounded cursor, writes only into the caller's
 * buffer, never allocates or logs. The layout is drawn in dcep.h.
 */
#include "sfu/dcep.h"

#include <string.h>

typedef struct {
    const uint8_t *p, *end;
} dcep_cursor;

static int cur_u8(dcep_cursor *c, uint8_t *v)
{
    if (c->end - c->p < 1)
        return -1;
    *v = c->p[0];
    c->p += 1;
    return 0;
}

static int cur_u16(dcep_cursor *c, uint16_t *v)
{
    if (c->end - c->p < 2)
        return -1;
    *v = (uint16_t)((c->p[0] << 8) | c->p[1]);
    c->p += 2;
    return 0;
}

static int cur_u32(dcep_cursor *c, uint32_t *v)
{
    if (c->end - c->p < 4)
        return -1;
    *v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) | ((uint32_t)c->p[2] << 8) |
         (uint32_t)c->p[3];
    c->p += 4;
    return 0;
}

static int cur_bytes(dcep_cursor *c, size_t n, const uint8_t **out)
{
    if ((size_t)(c->end - c->p) < n)
        return -1;
    *out = n ? c->p : NULL;
    c->p += n;
    return 0;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

int sfu_dcep_message_type(const uint8_t *buf, size_t len)
{
    if (!buf || len == 0)
        return -1;
    return buf[0];
}

int sfu_dcep_channel_type_valid(uint8_t channel_type)
{
    switch (channel_type) {
    case SFU_DCEP_RELIABLE:
    case SFU_DCEP_PARTIAL_RELIABLE_REXMIT:
    case SFU_DCEP_PARTIAL_RELIABLE_TIMED:
    case SFU_DCEP_RELIABLE_UNORDERED:
    case SFU_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED:
    case SFU_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED:
        return 1;
    default:
        return 0;
    }
}

int sfu_dcep_channel_type_ordered(uint8_t channel_type)
{
    return (channel_type & SFU_DCEP_UNORDERED_BIT) ? 0 : 1;
}

int sfu_dcep_channel_type_from_options(int ordered, int max_retransmits, int max_lifetime_ms)
{
    int type;
    if (max_retransmits >= 0 && max_lifetime_ms >= 0)
        return -1;
    if (max_retransmits >= 0)
        type = SFU_DCEP_PARTIAL_RELIABLE_REXMIT;
    else if (max_lifetime_ms >= 0)
        type = SFU_DCEP_PARTIAL_RELIABLE_TIMED;
    else
        type = SFU_DCEP_RELIABLE;
    if (!ordered)
        type |= SFU_DCEP_UNORDERED_BIT;
    return type;
}

int sfu_dcep_parse_open(const uint8_t *buf, size_t len, sfu_dcep_open *out)
{
    dcep_cursor c = {buf, buf ? buf + len : NULL};
    uint8_t type;
    sfu_dcep_open o;

    if (!buf || !out)
        return -1;
    memset(&o, 0, sizeof o);
    if (cur_u8(&c, &type) != 0 || type != SFU_DCEP_MSG_OPEN)
        return -1;
    if (cur_u8(&c, &o.channel_type) != 0 || cur_u16(&c, &o.priority) != 0 ||
        cur_u32(&c, &o.reliability) != 0 || cur_u16(&c, &o.label_len) != 0 ||
        cur_u16(&c, &o.protocol_len) != 0)
        return -1;
    if (!sfu_dcep_channel_type_valid(o.channel_type))
        return -1;
    if (cur_bytes(&c, o.label_len, &o.label) != 0 ||
        cur_bytes(&c, o.protocol_len, &o.protocol) != 0)
        return -1;
    /* The reliability parameter is ignored for reliable channels. */
    if ((o.channel_type & ~SFU_DCEP_UNORDERED_BIT) == SFU_DCEP_RELIABLE)
        o.reliability = 0;
    *out = o;
    return 0;
}

int sfu_dcep_parse_ack(const uint8_t *buf, size_t len)
{
    if (!buf || len < 1 || buf[0] != SFU_DCEP_MSG_ACK)
        return -1;
    return 0;
}

size_t sfu_dcep_open_size(uint16_t label_len, uint16_t protocol_len)
{
    return SFU_DCEP_OPEN_HEADER_LEN + (size_t)label_len + (size_t)protocol_len;
}

int sfu_dcep_write_open(const sfu_dcep_open *o, uint8_t *buf, size_t cap)
{
    size_t need;
    uint8_t *p = buf;
    uint32_t reliability;

    if (!o || !buf || !sfu_dcep_channel_type_valid(o->channel_type))
        return -1;
    if ((o->label_len && !o->label) || (o->protocol_len && !o->protocol))
        return -1;
    need = sfu_dcep_open_size(o->label_len, o->protocol_len);
    if (cap < need || need > 0x7fffffff)
        return -1;
    reliability = o->reliability;
    if ((o->channel_type & ~SFU_DCEP_UNORDERED_BIT) == SFU_DCEP_RELIABLE)
        reliability = 0;
    *p++ = SFU_DCEP_MSG_OPEN;
    *p++ = o->channel_type;
    p = put_u16(p, o->priority);
    p = put_u32(p, reliability);
    p = put_u16(p, o->label_len);
    p = put_u16(p, o->protocol_len);
    if (o->label_len)
        memcpy(p, o->label, o->label_len);
    p += o->label_len;
    if (o->protocol_len)
        memcpy(p, o->protocol, o->protocol_len);
    return (int)need;
}

int sfu_dcep_write_ack(uint8_t *buf, size_t cap)
{
    if (!buf || cap < 1)
        return -1;
    buf[0] = SFU_DCEP_MSG_ACK;
    return 1;
}

int sfu_dcep_ppid_classify(uint32_t ppid, int *binary, int *empty)
{
    int b, e;
    switch (ppid) {
    case SFU_PPID_STRING:
        b = 0, e = 0;
        break;
    case SFU_PPID_BINARY:
        b = 1, e = 0;
        break;
    case SFU_PPID_STRING_EMPTY:
        b = 0, e = 1;
        break;
    case SFU_PPID_BINARY_EMPTY:
        b = 1, e = 1;
        break;
    default:
        return -1;
    }
    if (binary)
        *binary = b;
    if (empty)
        *empty = e;
    return 0;
}

uint32_t sfu_dcep_ppid_for(int binary, int empty)
{
    if (binary)
        return empty ? SFU_PPID_BINARY_EMPTY : SFU_PPID_BINARY;
    return empty ? SFU_PPID_STRING_EMPTY : SFU_PPID_STRING;
}
