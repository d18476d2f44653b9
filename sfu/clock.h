/*
 * Clocks for the media path: a monotonic microsecond clock for timers and
 * statistics, and wall-clock NTP time for RTCP sender reports.
 */
#ifndef ML_SFU_CLOCK_H
#define ML_SFU_CLOCK_H

#include <stdint.h>

/* Monotonic time in microseconds. */
uint64_t sfu_now_us(void);
/* Wall-clock time as a 64-bit NTP timestamp (seconds since 1900 << 32 | fraction). */
uint64_t sfu_ntp_now(void);
/* Convert a Unix time in microseconds to a 64-bit NTP timestamp. */
uint64_t sfu_ntp_from_unix_us(uint64_t unix_us);

#endif
