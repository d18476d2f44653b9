/*
 * A very small unit-test harness. Each test file defines tests with TEST()
 * and links harness.c, which provides main(): it runs every registered test
 * (or those named on the command line) and prints TAP, so `meson test`
 * and tools/test count each case.
 *
 *   TEST(rtp_parses_minimal_header) {
 *       CHECK(x == 1);
 *       CHECK_INT_EQ(len, 12);
 *   }
 *
 * A failed CHECK records the failure and continues; REQUIRE stops the test.
 */
#ifndef ML_TEST_HARNESS_H
#define ML_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef void (*th_fn)(void);
void th_register(const char *name, th_fn fn);
void th_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void th_abort_test(void) __attribute__((noreturn));
/* Directory of test data (tests/unit/data), set from the build. */
const char *th_data_dir(void);

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void th_reg_##name(void)                                   \
    {                                                                                              \
        th_register(#name, name);                                                                  \
    }                                                                                              \
    static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            th_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                       \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            th_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                                     \
            th_abort_test();                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long th_a_ = (long long)(a), th_b_ = (long long)(b);                                  \
        if (th_a_ != th_b_)                                                                        \
            th_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, th_a_, th_b_);           \
    } while (0)

#define CHECK_UINT_EQ(a, b)                                                                        \
    do {                                                                                           \
        unsigned long long th_a_ = (unsigned long long)(a), th_b_ = (unsigned long long)(b);       \
        if (th_a_ != th_b_)                                                                        \
            th_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu", #a, #b, th_a_, th_b_);           \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *th_a_ = (a), *th_b_ = (b);                                                     \
        if (!th_a_ || !th_b_ || strcmp(th_a_, th_b_) != 0)                                         \
            th_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                      \
                    th_a_ ? th_a_ : "(null)", th_b_ ? th_b_ : "(null)");                           \
    } while (0)

#define CHECK_MEM_EQ(a, b, n)                                                                      \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            th_fail(__FILE__, __LINE__, "memcmp(%s, %s, %s) != 0", #a, #b, #n);                    \
    } while (0)

#endif
