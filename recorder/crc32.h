/*
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, the one zlib and
 * PNG use) for the per-record and header checksums of raw recording files.
 * Table-driven, pure, thread-safe (the table is a compile-time constant
 * built once on first use behind a pthread_once).
 */
#ifndef ML_RECORDER_CRC32_H
#define ML_RECORDER_CRC32_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue a CRC over buf[0..len): pass 0 for the first chunk and the
 * previous result for the next ones. rec_crc32(0, "123456789", 9) is
 * 0xCBF43926.
 */
uint32_t rec_crc32(uint32_t crc, const void *buf, size_t len);

#endif
