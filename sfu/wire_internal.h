/*
 * Byte-cursor helpers shared by the pure wire-format files (rtp.c, rtcp.c,
 * rtcp_twcc.c, demux.c, vp8.c). A cursor walks the caller's bytes between
 * p and end; every read checks what is left first and returns -1 instead
 * of reading past the end, so a length field from the network is never
 * trusted. Big-endian (network order) loads and stores for builders.
 * Internal to sfu/: not a public API.
 */
#ifndef ML_SFU_WIRE_INTERNAL_H
#define ML_SFU_WIRE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct sfu__cursor {
    const uint8_t *p;
    const uint8_t *end;
} sfu__cursor;

static inline size_t sfu__cur_left(const sfu__cursor *c)
{
    return (size_t)(c->end - c->p);
}

static inline uint16_t sfu__rd16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t sfu__rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline void sfu__wr16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static inline void sfu__wr32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static inline int sfu__cur_u8(sfu__cursor *c, uint8_t *v)
{
    if (sfu__cur_left(c) < 1)
        return -1;
    *v = *c->p++;
    return 0;
}

static inline int sfu__cur_u16(sfu__cursor *c, uint16_t *v)
{
    if (sfu__cur_left(c) < 2)
        return -1;
    *v = sfu__rd16(c->p);
    c->p += 2;
    return 0;
}

static inline int sfu__cur_u32(sfu__cursor *c, uint32_t *v)
{
    if (sfu__cur_left(c) < 4)
        return -1;
    *v = sfu__rd32(c->p);
    c->p += 4;
    return 0;
}

/* Skip n bytes; *start (if given) points at the first skipped byte. */
static inline int sfu__cur_skip(sfu__cursor *c, size_t n, const uint8_t **start)
{
    if (sfu__cur_left(c) < n)
        return -1;
    if (start)
        *start = c->p;
    c->p += n;
    return 0;
}

#endif
