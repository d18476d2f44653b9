/* Clock helpers; see clock.h. */
#include "sfu/clock.h"

#include <time.h>

#define NTP_UNIX_OFFSET 2208988800ULL /* seconds from 1900-01-01 to 1970-01-01 */

uint64_t sfu_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

uint64_t sfu_ntp_from_unix_us(uint64_t unix_us)
{
    uint64_t sec = unix_us / 1000000ULL + NTP_UNIX_OFFSET;
    uint64_t frac = ((unix_us % 1000000ULL) << 32) / 1000000ULL;
    return (sec << 32) | frac;
}

uint64_t sfu_ntp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return sfu_ntp_from_unix_us((uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL);
}
