/*
 * Fuzz the room join token verifier (control/room_token.c), which runs on
 * the libwebsockets thread over tokens from any client. The first byte
 * picks a mode:
 *   even: the rest is a token string, verified as is;
 *   odd:  the rest is a payload JSON, encoded under the fixed header and
 *         correctly signed with the test key, so the fuzzer reaches the
 *         claim checks behind the signature.
 */
#include "control/b64url.h"
#include "control/room_token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[32] = "fuzz-room-token-key-0123456789ab";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        ctl_room_token_set_key(key, sizeof key);
        init = 1;
    }
    if (size < 1 || size > 2048)
        return 0;
    char tok[4096], err[128];
    ctl_room_claims c = {.session_id = (data[0] & 2) ? 7 : 0};
    if ((data[0] & 1) == 0) {
        memcpy(tok, data + 1, size - 1);
        tok[size - 1] = '\0';
    } else {
        const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        int a = ctl_b64url_encode((const unsigned char *)hdr, strlen(hdr), tok, sizeof tok);
        if (a < 0)
            return 0;
        tok[a] = '.';
        int b = ctl_b64url_encode(data + 1, size - 1, tok + a + 1, sizeof tok - (size_t)a - 1);
        if (b < 0)
            return 0;
        size_t n = (size_t)a + 1 + (size_t)b;
        unsigned char mac[32];
        unsigned int ml = 0;
        HMAC(EVP_sha256(), key, sizeof key, (const unsigned char *)tok, n, mac, &ml);
        tok[n] = '.';
        if (ctl_b64url_encode(mac, sizeof mac, tok + n + 1, sizeof tok - n - 1) < 0)
            return 0;
    }
    if (ctl_room_token_verify(tok, &c, err, sizeof err) == 0 && (c.session_id <= 0 || c.user_id <= 0))
        abort(); /* accepted claims are always sane */
    return 0;
}
