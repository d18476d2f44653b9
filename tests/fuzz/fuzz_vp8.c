/*
 * Fuzz target for sfu/vp8.c: descriptor parse, the writer (parse -> write
 * -> parse gives the same fields) and the in-place rewrites.
 */
#include "sfu/vp8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_fields(const sfu_vp8_desc *a, const sfu_vp8_desc *b)
{
    return a->non_reference == b->non_reference && a->start == b->start &&
           a->partition == b->partition && a->has_picture_id == b->has_picture_id &&
           (!a->has_picture_id ||
            (a->picture_id_15 == b->picture_id_15 && a->picture_id == b->picture_id)) &&
           a->has_tl0picidx == b->has_tl0picidx && a->tl0picidx == b->tl0picidx &&
           a->has_tid == b->has_tid && a->tid == b->tid && a->layer_sync == b->layer_sync &&
           a->has_keyidx == b->has_keyidx && a->keyidx == b->keyidx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[8192];
    sfu_vp8_desc d, e;
    if (sfu_vp8_parse(data, size, &d) != 0)
        return 0;
    if (d.size < 1 || d.size > SFU_VP8_DESC_MAX || d.size + d.payload_len != size ||
        d.payload != data + d.size)
        abort();
    if (d.has_size && !d.is_keyframe)
        abort();
    if (size > sizeof buf)
        return 0;

    /* Writer round trip: a descriptor followed by the same payload. */
    int n = sfu_vp8_write_desc(buf, sizeof buf, &d);
    if (n < 1 || (size_t)n > d.size)
        abort();
    memcpy(buf + n, d.payload, d.payload_len);
    if (sfu_vp8_parse(buf, (size_t)n + d.payload_len, &e) != 0 || !same_fields(&d, &e) ||
        e.is_keyframe != d.is_keyframe || e.width != d.width || e.height != d.height)
        abort();

    /* Rewrites keep the width of the PictureID and touch nothing else. */
    memcpy(buf, data, size);
    uint16_t pid = (uint16_t)(d.picture_id + 1);
    int rc = sfu_vp8_set_picture_id(buf, &d, pid);
    if ((rc == 0) != d.has_picture_id)
        abort();
    rc = sfu_vp8_set_tl0picidx(buf, &d, (uint8_t)(d.tl0picidx + 1));
    if ((rc == 0) != d.has_tl0picidx)
        abort();
    if (sfu_vp8_parse(buf, size, &e) != 0 || e.size != d.size)
        abort();
    if (d.has_picture_id && e.picture_id != (pid & (d.picture_id_15 ? 0x7FFF : 0x7F)))
        abort();
    if (d.has_tl0picidx && e.tl0picidx != (uint8_t)(d.tl0picidx + 1))
        abort();
    if (memcmp(buf + d.size, data + d.size, size - d.size) != 0)
        abort();
    return 0;
}
