/*
 * Fuzz the DCEP parser (RFC 8832) with arbitrary DCEP message bodies.
 * Every accepted OPEN must stay inside the input and must re-encode to the
 * same leading bytes; the ACK check and PPID classification must not crash.
 */
#include "sfu/dcep.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sfu_dcep_open o;
    int binary, empty;

    (void)sfu_dcep_message_type(data, size);
    (void)sfu_dcep_parse_ack(data, size);
    if (size >= 4) {
        uint32_t ppid = ((uint32_t)data[0] << 24) | ((uint32_t)data[1] << 16) |
                        ((uint32_t)data[2] << 8) | data[3];
        (void)sfu_dcep_ppid_classify(ppid, &binary, &empty);
    }
    if (sfu_dcep_parse_open(data, size, &o) != 0)
        return 0;
    size_t need = sfu_dcep_open_size(o.label_len, o.protocol_len);
    if (need > size)
        abort(); /* the parser accepted lengths that lie */
    if (o.label_len && (o.label < data || o.label + o.label_len > data + size))
        abort();
    if (o.protocol_len && (o.protocol < data || o.protocol + o.protocol_len > data + size))
        abort();
    uint8_t *out = malloc(need);
    if (!out)
        return 0;
    int n = sfu_dcep_write_open(&o, out, need);
    if (n != (int)need)
        abort();
    /* Same bytes, except the reliability of reliable channels reads as 0. */
    if (memcmp(out + 8, data + 8, need - 8) != 0 || memcmp(out, data, 4) != 0)
        abort();
    free(out);
    return 0;
}
