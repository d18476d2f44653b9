/*
 * Fuzz target for sfu/demux.c: first-byte demultiplexing and the STUN
 * reader (header, attribute iteration, FINGERPRINT, MESSAGE-INTEGRITY,
 * XOR-MAPPED-ADDRESS).
 */
#include "sfu/demux.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sfu_pkt_kind k = sfu_demux(data, size);
    if (!sfu_pkt_kind_name(k))
        abort();
    if (k == SFU_PKT_RTCP && !sfu_demux_is_rtcp(data, size))
        abort();
    (void)sfu_crc32(data, size);

    sfu_stun_msg m;
    if (sfu_stun_parse(data, size, &m) != 0)
        return 0;
    /* RFC 5389 allows first bytes 0..63; RFC 7983 reserves only 0..3 for STUN. */
    if (m.len > size || m.len != 20u + m.length || (m.length % 4) != 0 || data[0] > 63 ||
        (data[0] <= 3 && k != SFU_PKT_STUN))
        abort();
    (void)sfu_stun_method(m.type);
    (void)sfu_stun_class(m.type);
    sfu_stun_attr_iter it;
    sfu_stun_attr a;
    int rc;
    size_t count = 0;
    sfu_stun_attr_iter_init(&it, &m);
    while ((rc = sfu_stun_attr_next(&it, &a)) == 1) {
        if (a.value < data + 24 || a.value + a.len > data + m.len)
            abort();
        sfu_stun_attr f;
        if (sfu_stun_find_attr(&m, a.type, &f) != 0)
            abort();
        sfu_stun_addr addr;
        if (a.type == SFU_STUN_ATTR_XOR_MAPPED_ADDRESS &&
            sfu_stun_xor_address(&m, &a, &addr) == 0 && addr.family != 4 && addr.family != 6)
            abort();
        count++;
    }
    if (rc != 0) /* parse walked the same attributes */
        abort();
    if (m.fingerprint && (m.fingerprint < data + 20 || m.fingerprint + 8 != data + m.len))
        abort();
    (void)sfu_stun_fingerprint_ok(&m);
    (void)sfu_stun_integrity_ok(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBt", 22);
    sfu_stun_addr addr;
    (void)sfu_stun_xor_mapped_address(&m, &addr);
    (void)count;
    return 0;
}
