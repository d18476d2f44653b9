/* Unit tests for common/hex.c: encoding bytes and reading one digit. */
#include "common/hex.h"
#include "tests/unit/harness.h"

#include <string.h>

TEST(hex_encode_lowercase_and_terminated)
{
    const unsigned char b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof b + 2];
    memset(out, 'x', sizeof out);
    ml_hex_encode(b, sizeof b, out);
    CHECK_STR_EQ(out, "00017f80abff");
    CHECK(out[sizeof out - 1] == 'x'); /* nothing written past the NUL */
    ml_hex_encode(b, 0, out);
    CHECK_STR_EQ(out, "");
}

TEST(hex_digit_both_cases_and_rejects)
{
    CHECK_INT_EQ(ml_hex_digit('0'), 0);
    CHECK_INT_EQ(ml_hex_digit('9'), 9);
    CHECK_INT_EQ(ml_hex_digit('a'), 10);
    CHECK_INT_EQ(ml_hex_digit('F'), 15);
    CHECK_INT_EQ(ml_hex_digit('g'), -1);
    CHECK_INT_EQ(ml_hex_digit('G'), -1);
    CHECK_INT_EQ(ml_hex_digit('/'), -1);
    CHECK_INT_EQ(ml_hex_digit(':'), -1);
    CHECK_INT_EQ(ml_hex_digit(0), -1);
    CHECK_INT_EQ(ml_hex_digit(0xe9), -1);
}
