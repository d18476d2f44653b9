/*
 * CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, initial value and
 * final XOR all ones — the one zlib, PNG and the STUN FINGERPRINT use).
 * Shared by the STUN parser (sfu/demux.c) and the raw recording files
 * (recorder/recfile.c). Pure: a constant table, no state.
 */
#ifndef ML_COMMON_CRC32_H
#define ML_COMMON_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over buf[0..len): pass 0 for the first chunk and the
 * previous result for the next ones. ml_crc32(0, "123456789", 9) is
 * 0xCBF43926. */
uint32_t ml_crc32(uint32_t crc, const void *buf, size_t len);

#endif
