/*
 * DCEP, the Data Channel Establishment Protocol (RFC 8832), and the SCTP
 * payload protocol identifiers of WebRTC data channels (RFC 8831).
 *
 * Pure wire code: parse and build DATA_CHANNEL_OPEN and DATA_CHANNEL_ACK.
 * No allocation, no logging, no globals. The parser reads through a bounded
 * cursor and never trusts the label/protocol length fields; a parsed OPEN
 * points into the caller's buffer (label and protocol are NOT terminated).
 *
 * DATA_CHANNEL_OPEN (RFC 8832 section 5.1), network byte order:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Message Type |  Channel Type |            Priority           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Reliability Parameter                      |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |         Label Length          |       Protocol Length         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                     Label (Label Length bytes)                |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                  Protocol (Protocol Length bytes)             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * DATA_CHANNEL_ACK is the single byte 0x02.
 *
 * Policy on extra bytes: an OPEN longer than 12 + label + protocol, or an
 * ACK longer than one byte, is accepted and the tail ignored (RFC 8832 does
 * not define trailing data); a message shorter than its length fields say
 * is rejected.
 */
#ifndef ML_SFU_DCEP_H
#define ML_SFU_DCEP_H

#include <stddef.h>
#include <stdint.h>

/* SCTP payload protocol identifiers (RFC 8831 section 8, IANA). */
#define SFU_PPID_DCEP 50
#define SFU_PPID_STRING 51
#define SFU_PPID_BINARY_PARTIAL 52 /* deprecated: rejected */
#define SFU_PPID_BINARY 53
#define SFU_PPID_STRING_PARTIAL 54 /* deprecated: rejected */
#define SFU_PPID_STRING_EMPTY 56
#define SFU_PPID_BINARY_EMPTY 57

/* DCEP message types. */
#define SFU_DCEP_MSG_ACK 0x02
#define SFU_DCEP_MSG_OPEN 0x03

/* Channel types (RFC 8832 section 5.1); 0x80 set means unordered. */
#define SFU_DCEP_RELIABLE 0x00
#define SFU_DCEP_PARTIAL_RELIABLE_REXMIT 0x01
#define SFU_DCEP_PARTIAL_RELIABLE_TIMED 0x02
#define SFU_DCEP_RELIABLE_UNORDERED 0x80
#define SFU_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED 0x81
#define SFU_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED 0x82
#define SFU_DCEP_UNORDERED_BIT 0x80

/* Fixed part of DATA_CHANNEL_OPEN. */
#define SFU_DCEP_OPEN_HEADER_LEN 12

/* A DATA_CHANNEL_OPEN. After parsing, label/protocol point into the input
 * buffer and are not NUL-terminated; they may be NULL when the length is 0. */
typedef struct sfu_dcep_open {
    uint8_t channel_type; /* one of SFU_DCEP_* above */
    uint16_t priority;    /* RFC 8832 section 5.1 priority */
    uint32_t reliability; /* retransmissions or lifetime in ms; 0 if reliable */
    const uint8_t *label;
    uint16_t label_len;
    const uint8_t *protocol;
    uint16_t protocol_len;
} sfu_dcep_open;

/* Message type of a DCEP message (first byte), or -1 if `len` is 0. */
int sfu_dcep_message_type(const uint8_t *buf, size_t len);

/* Parse a DATA_CHANNEL_OPEN. Returns 0, or -1 when the buffer is truncated,
 * the lengths lie, the message type is not OPEN or the channel type is
 * unknown. `out` is only meaningful on success. */
int sfu_dcep_parse_open(const uint8_t *buf, size_t len, sfu_dcep_open *out);

/* Check a DATA_CHANNEL_ACK. Returns 0 if `buf` is an ACK, -1 otherwise. */
int sfu_dcep_parse_ack(const uint8_t *buf, size_t len);

/* Size a DATA_CHANNEL_OPEN with these label and protocol lengths needs. */
size_t sfu_dcep_open_size(uint16_t label_len, uint16_t protocol_len);

/* Write a DATA_CHANNEL_OPEN into buf[0..cap). Returns the number of bytes
 * written (> 0), or -1 if `cap` is too small or the channel type unknown.
 * A reliable channel type writes reliability 0 whatever `o` holds. */
int sfu_dcep_write_open(const sfu_dcep_open *o, uint8_t *buf, size_t cap);

/* Write a DATA_CHANNEL_ACK. Returns 1, or -1 if `cap` is 0. */
int sfu_dcep_write_ack(uint8_t *buf, size_t cap);

/* Is this channel type known to RFC 8832? 1 yes, 0 no. */
int sfu_dcep_channel_type_valid(uint8_t channel_type);

/* Ordered delivery for this channel type? 1 ordered, 0 unordered. */
int sfu_dcep_channel_type_ordered(uint8_t channel_type);

/* The channel type for the given WebRTC options: max_retransmits and
 * max_lifetime_ms are -1 for "not set"; setting both is an error (-1). */
int sfu_dcep_channel_type_from_options(int ordered, int max_retransmits, int max_lifetime_ms);

/* Classify a data PPID: returns 0 and sets *binary (1 binary, 0 string) and
 * *empty (1 for the empty-message PPIDs 56/57, whose single payload byte is
 * to be ignored); returns -1 for DCEP (50), the deprecated partial PPIDs
 * (52, 54) and anything unknown. */
int sfu_dcep_ppid_classify(uint32_t ppid, int *binary, int *empty);

/* The PPID to send a message with: string/binary, empty or not. */
uint32_t sfu_dcep_ppid_for(int binary, int empty);

#endif
