/*
 * Fuzz target for the raw recording file reader (recorder/recfile.c,
 * recorder/recfile_scan.c): any byte string either fails with a header
 * error or scans to the end, and the scanner's accounting covers the
 * whole input exactly (header + valid records + skipped + torn bytes).
 * Each valid record is re-encoded and must give the same bytes.
 */
#include "recorder/recfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct ctx {
    const uint8_t *base;
    uint64_t expect_offset_min;
} ctx;

static int check(void *arg, const rec_record *r)
{
    static uint8_t buf[REC_RECORD_OVERHEAD + REC_RECORD_MAX];
    ctx *c = arg;
    if (r->offset < c->expect_offset_min || r->len > REC_RECORD_MAX)
        abort();
    long n = rec_record_encode(buf, sizeof buf, r->type, r->t_us, r->data, r->len);
    if (n != (long)(REC_RECORD_OVERHEAD + r->len) || memcmp(buf, c->base + r->offset, (size_t)n))
        abort();
    c->expect_offset_min = r->offset + (uint64_t)n;
    rec_sr sr;
    rec_layer l;
    rec_end e;
    if (r->type == REC_T_SR)
        (void)rec_sr_decode(r->data, r->len, &sr);
    if (r->type == REC_T_LAYER && rec_layer_decode(r->data, r->len, &l) == 0 &&
        strlen(l.rid) > REC_RID_MAX)
        abort();
    if (r->type == REC_T_END)
        (void)rec_end_decode(r->data, r->len, &e);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rec_file_info info;
    rec_scan_stats st;
    char err[256];
    ctx c = {data, REC_HEADER_LEN};
    if (rec_scan_buffer(data, size, &info, check, &c, &st, err, sizeof err) != 0)
        return 0;
    if (REC_HEADER_LEN + st.bytes + st.skipped_bytes + st.torn_bytes != size)
        abort();
    if (st.rtp + st.sr + st.layer + st.end > st.records)
        abort();
    /* The header re-encodes to the same bytes. */
    uint8_t h[REC_HEADER_LEN];
    if (rec_header_encode(&info, h, sizeof h) != REC_HEADER_LEN || memcmp(h, data, sizeof h))
        abort();
    return 0;
}
