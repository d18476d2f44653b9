/*
 * Fuzz target for the signaling message schema (signaling/ws_proto.c):
 * any bytes go through sig_proto_parse(); valid messages and errors are
 * serialized back as the server would, so builders are exercised too.
 */
#include "signaling/ws_proto.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sig_msg m;
    sig_proto_error e;
    char *out;
    if (sig_proto_parse((const char *)data, size, &m, &e) == 0)
        out = sig_proto_build(sig_msg_type_name(m.type), m.id, NULL);
    else
        out = sig_proto_error_json(e.code, e.message, m.id);
    free(out);
    sig_msg_clear(&m);
    return 0;
}
