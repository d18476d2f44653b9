/*
 * Strict base64url without padding; see b64url.h. Table-free: the
 * alphabet is small enough to map with comparisons, which keeps the code
 * obviously correct for the fuzzer and the reader.
 */
#include "control/b64url.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int ctl_b64url_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
    size_t need = (len / 3) * 4 + (len % 3 ? len % 3 + 1 : 0);
    if (need + 1 > cap)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return (int)o;
}

int ctl_b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t cap)
{
    if (inlen % 4 == 1)
        return -1;
    size_t need = inlen / 4 * 3 + (inlen % 4 ? inlen % 4 - 1 : 0);
    if (need > cap || need > 0x7fffffff)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 4 <= inlen; i += 4) {
        int a = value_of((unsigned char)in[i]), b = value_of((unsigned char)in[i + 1]);
        int c = value_of((unsigned char)in[i + 2]), d = value_of((unsigned char)in[i + 3]);
        if (a < 0 || b < 0 || c < 0 || d < 0)
            return -1;
        unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    size_t rest = inlen - i;
    if (rest == 2) {
        int a = value_of((unsigned char)in[i]), b = value_of((unsigned char)in[i + 1]);
        if (a < 0 || b < 0 || (b & 15) != 0)
            return -1;
        out[o++] = (unsigned char)((unsigned)a << 2 | (unsigned)b >> 4);
    } else if (rest == 3) {
        int a = value_of((unsigned char)in[i]), b = value_of((unsigned char)in[i + 1]);
        int c = value_of((unsigned char)in[i + 2]);
        if (a < 0 || b < 0 || c < 0 || (c & 3) != 0)
            return -1;
        unsigned v = (unsigned)a << 12 | (unsigned)b << 6 | (unsigned)c;
        out[o++] = (unsigned char)(v >> 10);
        out[o++] = (unsigned char)(v >> 2);
    }
    return (int)o;
}
