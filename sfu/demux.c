/*
 * RFC 7983 demultiplexing and the minimal STUN reader; see demux.h.
 *
 * STUN header (RFC 5389 section 6):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0 0|     STUN Message Type     |         Message Length        |
 * |                         Magic Cookie                          |
 * |                     Transaction ID (96 bits)                  |
 *
 * then attributes: | type (16) | length (16) | value, padded to 4 bytes |.
 * The CRC-32 table is a constant (the reflected 0xEDB88320 polynomial).
 */
#include "sfu/demux.h"
#include "sfu/wire_internal.h"
#include "common/crc32.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define STUN_INTEGRITY_MAX 2048

/* ---- Demultiplexing ---- */

bool sfu_demux_is_rtcp(const uint8_t *buf, size_t len)
{
    if (!buf || len < 2)
        return false;
    uint8_t pt = buf[1] & 0x7F;
    return pt >= 64 && pt <= 95;
}

sfu_pkt_kind sfu_demux(const uint8_t *buf, size_t len)
{
    if (!buf || len == 0)
        return SFU_PKT_DROP;
    uint8_t b = buf[0];
    if (b <= 3)
        return SFU_PKT_STUN;
    if (b >= 16 && b <= 19)
        return SFU_PKT_ZRTP;
    if (b >= 20 && b <= 63)
        return SFU_PKT_DTLS;
    if (b >= 64 && b <= 79)
        return SFU_PKT_TURN_CHANNEL;
    if (b >= 128 && b <= 191) {
        if (len < 2)
            return SFU_PKT_DROP;
        return sfu_demux_is_rtcp(buf, len) ? SFU_PKT_RTCP : SFU_PKT_RTP;
    }
    return SFU_PKT_DROP;
}

const char *sfu_pkt_kind_name(sfu_pkt_kind kind)
{
    switch (kind) {
    case SFU_PKT_STUN:
        return "stun";
    case SFU_PKT_ZRTP:
        return "zrtp";
    case SFU_PKT_DTLS:
        return "dtls";
    case SFU_PKT_TURN_CHANNEL:
        return "turn-channel";
    case SFU_PKT_RTP:
        return "rtp";
    case SFU_PKT_RTCP:
        return "rtcp";
    case SFU_PKT_DROP:
        break;
    }
    return "drop";
}

/* ---- STUN ---- */

uint16_t sfu_stun_method(uint16_t type)
{
    return (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}

uint8_t sfu_stun_class(uint16_t type)
{
    return (uint8_t)(((type >> 4) & 1) | ((type >> 7) & 2));
}

void sfu_stun_attr_iter_init(sfu_stun_attr_iter *it, const sfu_stun_msg *msg)
{
    if (!msg->data || msg->len < SFU_STUN_HEADER_LEN) {
        it->pos = it->end = NULL;
        return;
    }
    it->pos = msg->data + SFU_STUN_HEADER_LEN;
    it->end = msg->data + msg->len;
}

int sfu_stun_attr_next(sfu_stun_attr_iter *it, sfu_stun_attr *a)
{
    sfu__cursor c = {it->pos, it->end};
    if (!c.p || c.p == c.end)
        return 0;
    if (sfu__cur_u16(&c, &a->type) || sfu__cur_u16(&c, &a->len) || sfu__cur_skip(&c, a->len, &a->value) ||
        sfu__cur_skip(&c, (4 - a->len % 4) % 4, NULL)) {
        it->pos = it->end = NULL;
        return -1;
    }
    it->pos = c.p;
    return 1;
}

int sfu_stun_find_attr(const sfu_stun_msg *msg, uint16_t type, sfu_stun_attr *a)
{
    sfu_stun_attr_iter it;
    sfu_stun_attr_iter_init(&it, msg);
    while (sfu_stun_attr_next(&it, a) == 1)
        if (a->type == type)
            return 0;
    return -1;
}

int sfu_stun_parse(const uint8_t *buf, size_t len, sfu_stun_msg *msg)
{
    sfu__cursor c = {buf, buf ? buf + len : buf};
    memset(msg, 0, sizeof *msg);
    if (!buf || len < SFU_STUN_HEADER_LEN)
        return -1;
    if (sfu__cur_u16(&c, &msg->type) || sfu__cur_u16(&c, &msg->length))
        return -1;
    if ((msg->type & 0xC000) || (msg->length % 4) != 0)
        return -1;
    if (sfu__rd32(c.p) != SFU_STUN_MAGIC_COOKIE)
        return -1;
    msg->txid = buf + 8;
    if ((size_t)msg->length > len - SFU_STUN_HEADER_LEN)
        return -1;
    msg->data = buf;
    msg->len = SFU_STUN_HEADER_LEN + (size_t)msg->length;

    sfu_stun_attr_iter it;
    sfu_stun_attr a;
    int rc;
    sfu_stun_attr_iter_init(&it, msg);
    while ((rc = sfu_stun_attr_next(&it, &a)) == 1) {
        if (msg->fingerprint)
            return -1; /* FINGERPRINT must be last */
        if (a.type == SFU_STUN_ATTR_FINGERPRINT) {
            if (a.len != 4)
                return -1;
            msg->fingerprint = a.value - 4;
        } else if (a.type == SFU_STUN_ATTR_MESSAGE_INTEGRITY && !msg->integrity) {
            if (a.len != 20)
                return -1;
            msg->integrity = a.value - 4;
        }
    }
    return rc < 0 ? -1 : 0;
}

uint32_t sfu_crc32(const uint8_t *buf, size_t len)
{
    return ml_crc32(0, buf, len);
}

bool sfu_stun_fingerprint_ok(const sfu_stun_msg *msg)
{
    if (!msg->fingerprint)
        return false;
    size_t covered = (size_t)(msg->fingerprint - msg->data);
    uint32_t want = sfu__rd32(msg->fingerprint + 4);
    return (sfu_crc32(msg->data, covered) ^ SFU_STUN_FINGERPRINT_XOR) == want;
}

bool sfu_stun_integrity_ok(const sfu_stun_msg *msg, const uint8_t *key, size_t key_len)
{
    uint8_t copy[STUN_INTEGRITY_MAX];
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (!msg->integrity || key_len > INT32_MAX || (key_len && !key))
        return false;
    size_t covered = (size_t)(msg->integrity - msg->data);
    if (covered > sizeof copy)
        return false;
    /* The length field counts up to the end of MESSAGE-INTEGRITY itself. */
    memcpy(copy, msg->data, covered);
    size_t adjusted = covered + 24 - SFU_STUN_HEADER_LEN;
    copy[2] = (uint8_t)(adjusted >> 8);
    copy[3] = (uint8_t)adjusted;
    static const uint8_t empty = 0;
    if (!HMAC(EVP_sha1(), key_len ? (const void *)key : &empty, (int)key_len, copy, covered, mac,
              &mac_len) ||
        mac_len != 20)
        return false;
    return CRYPTO_memcmp(mac, msg->integrity + 4, 20) == 0;
}

int sfu_stun_xor_address(const sfu_stun_msg *msg, const sfu_stun_attr *a, sfu_stun_addr *out)
{
    memset(out, 0, sizeof *out);
    if (!msg->data || a->len < 4)
        return -1;
    const uint8_t *v = a->value;
    /* XOR key: magic cookie then transaction id, as they sit in the header. */
    const uint8_t *key = msg->data + 4;
    out->port = (uint16_t)(sfu__rd16(v + 2) ^ (SFU_STUN_MAGIC_COOKIE >> 16));
    size_t n;
    if (v[1] == 0x01 && a->len == 8) {
        out->family = 4;
        n = 4;
    } else if (v[1] == 0x02 && a->len == 20) {
        out->family = 6;
        n = 16;
    } else {
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out->addr[i] = v[4 + i] ^ key[i];
    return 0;
}

int sfu_stun_xor_mapped_address(const sfu_stun_msg *msg, sfu_stun_addr *out)
{
    sfu_stun_attr a;
    if (sfu_stun_find_attr(msg, SFU_STUN_ATTR_XOR_MAPPED_ADDRESS, &a))
        return -1;
    return sfu_stun_xor_address(msg, &a, out);
}
