/*
 * What arrived on a media socket: RFC 7983 first-byte demultiplexing
 * (STUN, ZRTP, DTLS, TURN channel, RTP/RTCP), the RFC 5761 RTP-vs-RTCP
 * split, and a minimal STUN (RFC 5389) message reader: header checks, an
 * attribute iterator, FINGERPRINT and MESSAGE-INTEGRITY verification and
 * XOR-MAPPED-ADDRESS decoding. ICE itself lives in libnice; this is what
 * the SFU needs to classify, count and sanity-check packets.
 *
 * Pure code: views point into the caller's buffer; nothing allocates or
 * logs. Functions return 0 on success and -1 on malformed input.
 */
#ifndef ML_SFU_DEMUX_H
#define ML_SFU_DEMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sfu_pkt_kind {
    SFU_PKT_DROP = 0,
    SFU_PKT_STUN,         /* first byte 0..3 */
    SFU_PKT_ZRTP,         /* 16..19 */
    SFU_PKT_DTLS,         /* 20..63 */
    SFU_PKT_TURN_CHANNEL, /* 64..79 */
    SFU_PKT_RTP,          /* 128..191, payload type not 64..95 */
    SFU_PKT_RTCP,         /* 128..191, second byte & 0x7F in 64..95 */
} sfu_pkt_kind;

/*
 * Classify a datagram by its first byte (RFC 7983) and, for RTP/RTCP, its
 * second (RFC 5761). Empty input, first bytes outside the ranges above and
 * RTP/RTCP shorter than 2 bytes are SFU_PKT_DROP.
 */
sfu_pkt_kind sfu_demux(const uint8_t *buf, size_t len);
/* True when the second byte of an RTP/RTCP datagram marks RTCP (PT 64..95 after masking M). */
bool sfu_demux_is_rtcp(const uint8_t *buf, size_t len);
/* Short name of a kind ("stun", "rtp", ...), for counters and debugging. */
const char *sfu_pkt_kind_name(sfu_pkt_kind kind);

/* ---- STUN ---- */

#define SFU_STUN_HEADER_LEN 20
#define SFU_STUN_MAGIC_COOKIE 0x2112A442u
#define SFU_STUN_FINGERPRINT_XOR 0x5354554eu

enum {
    SFU_STUN_BINDING_REQUEST = 0x0001,
    SFU_STUN_BINDING_INDICATION = 0x0011,
    SFU_STUN_BINDING_SUCCESS = 0x0101,
    SFU_STUN_BINDING_ERROR = 0x0111,
};

enum {
    SFU_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
    SFU_STUN_ATTR_USERNAME = 0x0006,
    SFU_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
    SFU_STUN_ATTR_ERROR_CODE = 0x0009,
    SFU_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    SFU_STUN_ATTR_PRIORITY = 0x0024,
    SFU_STUN_ATTR_USE_CANDIDATE = 0x0025,
    SFU_STUN_ATTR_SOFTWARE = 0x8022,
    SFU_STUN_ATTR_FINGERPRINT = 0x8028,
    SFU_STUN_ATTR_ICE_CONTROLLED = 0x8029,
    SFU_STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

/*
 * A parsed STUN message. `data`/`len` cover the header and the attributes
 * (20 + the length field; bytes after that in the datagram are ignored).
 * integrity/fingerprint point at those attributes' headers, or are NULL.
 */
typedef struct sfu_stun_msg {
    uint16_t type;
    uint16_t length;
    const uint8_t *txid; /* 12 bytes */
    const uint8_t *data;
    size_t len;
    const uint8_t *integrity;
    const uint8_t *fingerprint;
} sfu_stun_msg;

/*
 * Parse a STUN message: top two bits zero, length a multiple of 4 that fits
 * the buffer, magic cookie, every attribute inside the message, FINGERPRINT
 * (if any) last and 4 bytes long, MESSAGE-INTEGRITY 20 bytes.
 */
int sfu_stun_parse(const uint8_t *buf, size_t len, sfu_stun_msg *msg);

/* The 12-bit method of a message type (1 for Binding). */
uint16_t sfu_stun_method(uint16_t type);
/* The class of a message type: 0 request, 1 indication, 2 success, 3 error response. */
uint8_t sfu_stun_class(uint16_t type);

typedef struct sfu_stun_attr {
    uint16_t type;
    uint16_t len; /* value length without padding */
    const uint8_t *value;
} sfu_stun_attr;

typedef struct sfu_stun_attr_iter {
    const uint8_t *pos;
    const uint8_t *end;
} sfu_stun_attr_iter;

/* Start iterating the attributes of a parsed message. */
void sfu_stun_attr_iter_init(sfu_stun_attr_iter *it, const sfu_stun_msg *msg);
/* Next attribute (value padded to 4 bytes): 1 with *a, 0 at the end, -1 if malformed. */
int sfu_stun_attr_next(sfu_stun_attr_iter *it, sfu_stun_attr *a);
/* First attribute of this type. Returns 0 with *a filled, or -1. */
int sfu_stun_find_attr(const sfu_stun_msg *msg, uint16_t type, sfu_stun_attr *a);

/* CRC-32 (ISO-HDLC, as zlib's crc32) of buf[0..len). */
uint32_t sfu_crc32(const uint8_t *buf, size_t len);
/* True when the message has a FINGERPRINT and it matches (CRC-32 ^ 0x5354554e). */
bool sfu_stun_fingerprint_ok(const sfu_stun_msg *msg);
/*
 * True when the message has a MESSAGE-INTEGRITY and its HMAC-SHA1 under key
 * (for ICE short-term credentials: the password) matches. Covers the
 * message up to the attribute with the length field adjusted, per RFC 5389
 * section 15.4. Messages above 2048 bytes are refused (false).
 */
bool sfu_stun_integrity_ok(const sfu_stun_msg *msg, const uint8_t *key, size_t key_len);

typedef struct sfu_stun_addr {
    uint8_t family; /* 4 or 6 */
    uint16_t port;
    uint8_t addr[16]; /* network order; IPv4 uses the first 4 bytes */
} sfu_stun_addr;

/* Decode an XOR-MAPPED-ADDRESS attribute value (IPv4 or IPv6). */
int sfu_stun_xor_address(const sfu_stun_msg *msg, const sfu_stun_attr *a, sfu_stun_addr *out);
/* Find and decode the message's XOR-MAPPED-ADDRESS. */
int sfu_stun_xor_mapped_address(const sfu_stun_msg *msg, sfu_stun_addr *out);

#endif
