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

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u,
    0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu,
    0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu, 0x1adad47du,
    0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
    0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u,
    0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu,
    0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
    0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu,
    0x9fbfe4a5u, 0xe8b8d433u, 0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu,
    0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau,
    0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu,
    0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au,
    0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
    0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u,
    0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u,
    0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u, 0xf00f9344u, 0x8708a3d2u, 0x1e01f268u,
    0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u,
    0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u,
    0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu,
    0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u, 0xcc0c7795u, 0xbb0b4703u,
    0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
    0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu,
    0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u, 0x88085ae6u,
    0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
    0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du,
    0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u,
    0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u,
    0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t sfu_crc32(const uint8_t *buf, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
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
