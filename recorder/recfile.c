/*
 * Pure codec of raw recording files (see recfile.h and
 * docs/recording-format.md): the file header, record framing with a CRC-32
 * per record, and the payloads of the typed records. Everything reads
 * through explicit bounds and never trusts a length field.
 */
#include "recorder/recfile.h"
#include "common/crc32.h"

#include <stdio.h>
#include <string.h>

/* Header field offsets (see docs/recording-format.md). */
enum {
    H_VERSION = 8,
    H_LEN = 10,
    H_KIND = 12,
    H_PT = 13,
    H_CHANNELS = 14,
    H_LAYERS = 15,
    H_CLOCK = 16,
    H_WALL = 20,
    H_MONO = 28,
    H_CODEC = 36,
    H_ROOM = 52,
    H_SESSION = 116,
    H_TRACK = 180,
    H_LAYER0 = 244, /* REC_MAX_LAYERS x (ssrc:u32 rid[16]) */
    H_CRC = 324,
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

/* Copy a string into a fixed NUL-padded field; -1 if it does not fit with a NUL. */
static int put_str(uint8_t *field, size_t size, const char *s, size_t srcsize, bool need_nul)
{
    size_t n = strnlen(s, srcsize);
    if (n == srcsize || n > size || (need_nul && n == size))
        return -1;
    memset(field, 0, size);
    memcpy(field, s, n);
    return 0;
}

/* Read a NUL-padded field into out (size + 1 bytes); -1 on bytes after a NUL. */
static int get_str(const uint8_t *field, size_t size, char *out, bool need_nul)
{
    size_t n = strnlen((const char *)field, size);
    if (need_nul && n == size)
        return -1;
    for (size_t i = n; i < size; i++)
        if (field[i] != 0)
            return -1;
    memcpy(out, field, n);
    out[n] = '\0';
    return 0;
}

int rec_header_encode(const rec_file_info *info, uint8_t *buf, size_t cap)
{
    if (cap < REC_HEADER_LEN || info->layer_count > REC_MAX_LAYERS)
        return -1;
    memset(buf, 0, REC_HEADER_LEN);
    memcpy(buf, REC_MAGIC, 8);
    put16(buf + H_VERSION, REC_VERSION);
    put16(buf + H_LEN, REC_HEADER_LEN);
    buf[H_KIND] = info->kind;
    buf[H_PT] = info->payload_type;
    buf[H_CHANNELS] = info->channels;
    buf[H_LAYERS] = info->layer_count;
    put32(buf + H_CLOCK, info->clock_rate);
    put64(buf + H_WALL, info->start_wall_us);
    put64(buf + H_MONO, info->start_mono_us);
    if (put_str(buf + H_CODEC, 16, info->codec, sizeof info->codec, true) ||
        put_str(buf + H_ROOM, 64, info->room_id, sizeof info->room_id, true) ||
        put_str(buf + H_SESSION, 64, info->session_id, sizeof info->session_id, true) ||
        put_str(buf + H_TRACK, 64, info->track_id, sizeof info->track_id, true))
        return -1;
    for (unsigned i = 0; i < info->layer_count; i++) {
        uint8_t *l = buf + H_LAYER0 + i * (4 + REC_RID_MAX);
        put32(l, info->layers[i].ssrc);
        if (put_str(l + 4, REC_RID_MAX, info->layers[i].rid, sizeof info->layers[i].rid, false))
            return -1;
    }
    put32(buf + H_CRC, ml_crc32(0, buf, H_CRC));
    return REC_HEADER_LEN;
}

int rec_header_decode(const uint8_t *buf, size_t len, rec_file_info *info, char *err,
                      size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (len < 12 || memcmp(buf, REC_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a raw recording file (bad magic)");
        return -1;
    }
    unsigned version = get16(buf + H_VERSION), hlen = get16(buf + H_LEN);
    if (version != REC_VERSION) {
        snprintf(err, errlen, "unsupported raw file version %u (this build reads %d)", version,
                 REC_VERSION);
        return -1;
    }
    if (hlen != REC_HEADER_LEN) {
        snprintf(err, errlen, "bad header length %u", hlen);
        return -1;
    }
    if (len < hlen) {
        snprintf(err, errlen, "truncated header (%zu of %u bytes)", len, hlen);
        return -1;
    }
    if (get32(buf + H_CRC) != ml_crc32(0, buf, H_CRC)) {
        snprintf(err, errlen, "header CRC mismatch");
        return -1;
    }
    info->kind = buf[H_KIND];
    info->payload_type = buf[H_PT];
    info->channels = buf[H_CHANNELS];
    info->layer_count = buf[H_LAYERS];
    info->clock_rate = get32(buf + H_CLOCK);
    info->start_wall_us = get64(buf + H_WALL);
    info->start_mono_us = get64(buf + H_MONO);
    if ((info->kind != REC_KIND_AUDIO && info->kind != REC_KIND_VIDEO) ||
        info->layer_count > REC_MAX_LAYERS || info->clock_rate == 0 ||
        get_str(buf + H_CODEC, 16, info->codec, true) ||
        get_str(buf + H_ROOM, 64, info->room_id, true) ||
        get_str(buf + H_SESSION, 64, info->session_id, true) ||
        get_str(buf + H_TRACK, 64, info->track_id, true)) {
        snprintf(err, errlen, "header has an invalid field");
        return -1;
    }
    for (size_t i = H_LAYER0 + info->layer_count * (4 + REC_RID_MAX); i < H_CRC; i++)
        if (buf[i] != 0) {
            snprintf(err, errlen, "header has data in unused layer slots");
            return -1;
        }
    for (unsigned i = 0; i < info->layer_count; i++) {
        const uint8_t *l = buf + H_LAYER0 + i * (4 + REC_RID_MAX);
        info->layers[i].ssrc = get32(l);
        if (get_str(l + 4, REC_RID_MAX, info->layers[i].rid, false)) {
            snprintf(err, errlen, "header has an invalid rid");
            return -1;
        }
    }
    return (int)hlen;
}

long rec_record_encode(uint8_t *buf, size_t cap, uint8_t type, uint64_t t_us, const void *payload,
                       size_t len)
{
    if (len > REC_RECORD_MAX || cap < REC_RECORD_OVERHEAD + len)
        return -1;
    put32(buf, REC_SYNC);
    put32(buf + 4, (uint32_t)len);
    buf[8] = type;
    buf[9] = buf[10] = buf[11] = 0;
    put64(buf + 12, t_us);
    if (len)
        memmove(buf + REC_RECORD_HEAD, payload, len);
    put32(buf + REC_RECORD_HEAD + len, ml_crc32(0, buf, REC_RECORD_HEAD + len));
    return (long)(REC_RECORD_OVERHEAD + len);
}

int rec_record_check(const uint8_t *buf, size_t avail, rec_record *rec, size_t *total)
{
    static const uint8_t sync[4] = {0x4D, 0x4C, 0x52, 0x31};
    size_t n = avail < 4 ? avail : 4;
    if (memcmp(buf, sync, n) != 0)
        return -1;
    if (avail < REC_RECORD_HEAD)
        return 0;
    uint32_t len = get32(buf + 4);
    if (len > REC_RECORD_MAX || buf[9] || buf[10] || buf[11])
        return -1; /* reserved bytes are zero in version 1 */
    if (avail < REC_RECORD_OVERHEAD + (size_t)len)
        return 0;
    if (get32(buf + REC_RECORD_HEAD + len) != ml_crc32(0, buf, REC_RECORD_HEAD + len))
        return -1;
    rec->type = buf[8];
    rec->t_us = get64(buf + 12);
    rec->data = buf + REC_RECORD_HEAD;
    rec->len = len;
    rec->offset = 0;
    *total = REC_RECORD_OVERHEAD + len;
    return 1;
}

size_t rec_sr_encode(uint8_t out[24], const rec_sr *sr)
{
    put32(out, sr->ssrc);
    put64(out + 4, sr->ntp);
    put32(out + 12, sr->rtp_ts);
    put32(out + 16, sr->packet_count);
    put32(out + 20, sr->octet_count);
    return 24;
}

int rec_sr_decode(const uint8_t *p, size_t len, rec_sr *sr)
{
    if (len != 24)
        return -1;
    sr->ssrc = get32(p);
    sr->ntp = get64(p + 4);
    sr->rtp_ts = get32(p + 12);
    sr->packet_count = get32(p + 16);
    sr->octet_count = get32(p + 20);
    return 0;
}

size_t rec_layer_encode(uint8_t out[4 + REC_RID_MAX], const rec_layer *l)
{
    put32(out, l->ssrc);
    size_t n = strnlen(l->rid, REC_RID_MAX);
    memcpy(out + 4, l->rid, n);
    return 4 + n;
}

int rec_layer_decode(const uint8_t *p, size_t len, rec_layer *l)
{
    if (len < 4 || len > 4 + REC_RID_MAX)
        return -1;
    l->ssrc = get32(p);
    if (memchr(p + 4, 0, len - 4))
        return -1;
    memcpy(l->rid, p + 4, len - 4);
    l->rid[len - 4] = '\0';
    return 0;
}

size_t rec_end_encode(uint8_t out[16], const rec_end *e)
{
    put64(out, e->records);
    put64(out + 8, e->drops);
    return 16;
}

int rec_end_decode(const uint8_t *p, size_t len, rec_end *e)
{
    if (len != 16)
        return -1;
    e->records = get64(p);
    e->drops = get64(p + 8);
    return 0;
}
