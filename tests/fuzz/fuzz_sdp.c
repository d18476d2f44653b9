/*
 * Fuzz target for the SDP code: parse the input; when it parses, write it
 * and parse the written text again (which must succeed and give the same
 * m-line count), negotiate an answer as the SFU and write/parse that too.
 * The input is also fed to the trickle candidate parser, whose output must
 * survive write -> parse. Any inconsistency aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/negotiate.h"
#include "sfu/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct state {
    sfu_sdp a, b;
    sfu_neg_local local;
    sfu_neg_result res;
    char text[1024 * 1024];
} state;

static void check_candidate(const uint8_t *data, size_t size)
{
    sfu_sdp_candidate c, d;
    char buf[SFU_SDP_MAX_LINE];
    if (sfu_sdp_candidate_parse_n((const char *)data, size, &c) != 0)
        return;
    int n = sfu_sdp_candidate_write(&c, buf, sizeof buf);
    if (n < 0)
        abort();
    if (sfu_sdp_candidate_parse(buf, &d) != 0)
        abort();
    if (d.port != c.port || d.priority != c.priority || strcmp(d.address, c.address) != 0 ||
        d.type != c.type || d.generation != c.generation)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static state *st;
    char err[256];
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return 0;
    }
    check_candidate(data, size);
    if (sfu_sdp_parse((const char *)data, size, &st->a, err, sizeof err) != 0)
        return 0;
    int n = sfu_sdp_write(&st->a, st->text, sizeof st->text);
    if (n < 0)
        abort(); /* everything we parse must be writable */
    if (sfu_sdp_parse(st->text, (size_t)n, &st->b, err, sizeof err) != 0)
        abort();
    if (st->b.media_count != st->a.media_count || st->b.candidate_count != st->a.candidate_count)
        abort();
    for (int i = 0; i < st->a.media_count; i++)
        if (st->a.media[i].codec_count != st->b.media[i].codec_count ||
            st->a.media[i].pt_count != st->b.media[i].pt_count ||
            strcmp(st->a.media[i].mid, st->b.media[i].mid) != 0)
            abort();

    sfu_neg_local_init(&st->local);
    strcpy(st->local.ice_ufrag, "fuzz");
    strcpy(st->local.ice_pwd, "0123456789012345678901");
    strcpy(st->local.fingerprint, "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
                                  "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99");
    st->local.enable_h264 = st->local.enable_vp9 = 1;
    st->local.action[0] = SFU_NEG_SENDRECV;
    st->local.track[0].ssrc = 1;
    st->local.track[0].rtx_ssrc = 2;
    if (sfu_negotiate_answer(&st->a, &st->local, &st->b, &st->res, err, sizeof err) != 0)
        return 0;
    n = sfu_sdp_write(&st->b, st->text, sizeof st->text);
    if (n < 0)
        abort(); /* our answers must always be writable */
    if (sfu_sdp_parse(st->text, (size_t)n, &st->a, err, sizeof err) != 0)
        abort();
    if (st->a.media_count != st->res.media_count)
        abort();
    return 0;
}
