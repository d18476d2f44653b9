/*
 * Clocks and random identifiers for mlfakepay.
 */
#include "tools/fakepay/fakepay.h"

#include <stdio.h>
#include <sys/random.h>
#include <time.h>

long long fp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long fp_now_s(void)
{
    return (long long)time(NULL);
}

void fp_new_id(const char *prefix, int n, char *out, size_t cap)
{
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char rnd[64];
    if (n > (int)sizeof rnd)
        n = (int)sizeof rnd;
    if (getrandom(rnd, (size_t)n, 0) != (ssize_t)n)
        for (int i = 0; i < n; i++)
            rnd[i] = (unsigned char)(fp_now_ms() * 31 + i * 17);
    int o = snprintf(out, cap, "%s", prefix);
    for (int i = 0; i < n && (size_t)o + 1 < cap; i++)
        out[o++] = alnum[rnd[i] % 62];
    out[o] = '\0';
}
