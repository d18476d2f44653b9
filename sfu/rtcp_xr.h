/*
 * RTCP extended reports (XR, RFC 3611), the two blocks a media receiver
 * needs to measure the round trip to a sender it never sends media to:
 * it sends a Receiver Reference Time Report block (RRTR, BT 4) with its
 * NTP time; the sender answers with a DLRR block (BT 5) holding, per
 * receiver SSRC, the middle 32 bits of that NTP time (LRR) and the delay
 * since it arrived (DLRR), so RTT = now - LRR - DLRR (sfu_rtcp_rtt_us()).
 * The SFU uses it towards publishers, whose NACK retries it spaces by RTT.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|reserved |   PT=XR=207   |             length            |
 *  |                              SSRC                             |
 *  |     BT=4      |   reserved    |       block length = 2        |  RRTR
 *  |              NTP timestamp, most significant word             |
 *  |             NTP timestamp, least significant word             |
 *  |     BT=5      |   reserved    |   block length = 3 x n        |  DLRR
 *  |                 SSRC_1, LRR_1, DLRR_1, ...                    |
 *
 * Pure wire-format code: no allocation, no logging.
 */
#ifndef ML_SFU_RTCP_XR_H
#define ML_SFU_RTCP_XR_H

#include <stddef.h>
#include <stdint.h>

#include "sfu/rtcp.h"

#define SFU_RTCP_XR 207

/* Build an XR packet from ssrc with one RRTR block for ntp (64-bit NTP).
 * Returns the length (20) or -1 when cap is too small. */
int sfu_rtcp_build_xr_rrtr(uint8_t *buf, size_t cap, uint32_t ssrc, uint64_t ntp);

/*
 * Look for the DLRR sub-block about `ssrc` in an XR packet (pkt->pt 207).
 * Returns 1 and fills *lrr / *dlrr when found, 0 when the packet has none
 * for ssrc, -1 when the packet is malformed (a block overruns it).
 */
int sfu_rtcp_xr_find_dlrr(const sfu_rtcp_pkt *pkt, uint32_t ssrc, uint32_t *lrr, uint32_t *dlrr);

#endif
