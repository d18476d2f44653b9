/*
 * A bounded, allocation-free sanity check of one received DTLS datagram,
 * run before OpenSSL sees it (see sfu__dtls_datagram_well_formed in
 * dtls_internal.h). It walks the record headers (content type, DTLS
 * version, length inside the datagram) and, for plaintext epoch-0 records,
 * the content: a change_cipher_spec of one byte 1, a two-byte alert,
 * handshake fragments of known types that fit their message and record.
 * OpenSSL answers a malformed plaintext handshake record with a fatal
 * alert, so filtering them here keeps a handshake alive against junk.
 * Pure: no logging, no globals; a fuzz target can link it alone.
 */
#include "sfu/dtls_internal.h"

#define RECORD_HEADER_LEN 13
#define RECORD_MAX_LEN (16384 + 2048)

static size_t be24(const uint8_t *p)
{
    return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
}

/* The plaintext (epoch 0) handshake fragments of one record: header
 * msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3),
 * a known type, and a fragment inside both the message and the record. */
static int handshake_fragments_ok(const uint8_t *p, size_t len)
{
    if (len == 0)
        return 0;
    while (len > 0) {
        size_t mlen, off, flen;

        if (len < 12)
            return 0;
        switch (p[0]) {
        case 1:  /* client_hello */
        case 2:  /* server_hello */
        case 3:  /* hello_verify_request */
        case 4:  /* new_session_ticket */
        case 11: /* certificate */
        case 12: /* server_key_exchange */
        case 13: /* certificate_request */
        case 14: /* server_hello_done */
        case 15: /* certificate_verify */
        case 16: /* client_key_exchange */
        case 20: /* finished */
            break;
        default:
            return 0;
        }
        mlen = be24(p + 1);
        off = be24(p + 6);
        flen = be24(p + 9);
        if (off > mlen || flen > mlen - off || flen > len - 12)
            return 0;
        p += 12 + flen;
        len -= 12 + flen;
    }
    return 1;
}

/* Bounded walk over the record headers of one datagram. Plaintext (epoch
 * 0) records are checked further, since OpenSSL ends a handshake on a
 * malformed one; encrypted records that fail authentication are dropped by
 * OpenSSL silently (RFC 6347 4.1.2.7). */
int sfu__dtls_datagram_well_formed(const uint8_t *p, size_t len)
{
    if (len < RECORD_HEADER_LEN)
        return 0;
    while (len > 0) {
        const uint8_t *body;
        size_t rl;
        int epoch0;

        if (len < RECORD_HEADER_LEN)
            return 0;
        if (p[0] < 20 || p[0] > 23) /* ccs, alert, handshake, application_data */
            return 0;
        if (p[1] != 0xfe || (p[2] != 0xff && p[2] != 0xfd)) /* DTLS 1.0 / 1.2 */
            return 0;
        rl = (size_t)p[11] << 8 | p[12];
        if (rl > RECORD_MAX_LEN || rl > len - RECORD_HEADER_LEN)
            return 0;
        body = p + RECORD_HEADER_LEN;
        epoch0 = p[3] == 0 && p[4] == 0;
        if (epoch0) {
            if (p[0] == 20 && (rl != 1 || body[0] != 1))
                return 0;
            if (p[0] == 21 && (rl != 2 || (body[0] != 1 && body[0] != 2)))
                return 0;
            if (p[0] == 22 && !handshake_fragments_ok(body, rl))
                return 0;
            if (p[0] == 23)
                return 0;
        }
        p += RECORD_HEADER_LEN + rl;
        len -= RECORD_HEADER_LEN + rl;
    }
    return 1;
}
