/*
 * RTCP XR RRTR / DLRR (see rtcp_xr.h). Blocks are walked with a bounded
 * cursor: every block header's length is checked against what is left of
 * the packet before its body is read; unknown block types are skipped.
 */
#include "sfu/rtcp_xr.h"
#include "sfu/wire_internal.h"

#define BT_RRTR 4
#define BT_DLRR 5

int sfu_rtcp_build_xr_rrtr(uint8_t *buf, size_t cap, uint32_t ssrc, uint64_t ntp)
{
    if (!buf || cap < 20)
        return -1;
    buf[0] = 0x80;
    buf[1] = SFU_RTCP_XR;
    sfu__wr16(buf + 2, 4); /* 20 bytes = 5 words, minus one */
    sfu__wr32(buf + 4, ssrc);
    buf[8] = BT_RRTR;
    buf[9] = 0;
    sfu__wr16(buf + 10, 2);
    sfu__wr32(buf + 12, (uint32_t)(ntp >> 32));
    sfu__wr32(buf + 16, (uint32_t)ntp);
    return 20;
}

int sfu_rtcp_xr_find_dlrr(const sfu_rtcp_pkt *pkt, uint32_t ssrc, uint32_t *lrr, uint32_t *dlrr)
{
    if (pkt->pt != SFU_RTCP_XR || pkt->body_len < 4)
        return -1;
    const uint8_t *p = pkt->body + 4; /* after the sender SSRC */
    const uint8_t *end = pkt->body + pkt->body_len;
    while (end - p >= 4) {
        uint8_t bt = p[0];
        size_t words = sfu__rd16(p + 2);
        p += 4;
        if ((size_t)(end - p) < words * 4)
            return -1;
        if (bt == BT_DLRR) {
            if (words % 3)
                return -1;
            for (size_t i = 0; i < words; i += 3) {
                const uint8_t *s = p + i * 4;
                if (sfu__rd32(s) == ssrc) {
                    *lrr = sfu__rd32(s + 4);
                    *dlrr = sfu__rd32(s + 8);
                    return 1;
                }
            }
        }
        p += words * 4;
    }
    return p == end ? 0 : -1;
}
