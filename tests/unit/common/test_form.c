/* Unit tests for common/form.c: the strict form-urlencoded parser. */
#include "common/form.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *s, ml_form *f)
{
    char err[128];
    return ml_form_parse(s, strlen(s), f, err, sizeof err);
}

TEST(form_parses_pairs_plus_and_escapes)
{
    ml_form f;
    REQUIRE(parse("amount=1000&currency=usd&description=a+b%20c%2Bd&metadata%5Bplan%5D=x%26y",
                  &f) == 0);
    CHECK_INT_EQ(f.n, 4);
    CHECK_STR_EQ(ml_form_get(&f, "amount"), "1000");
    CHECK_STR_EQ(ml_form_get(&f, "description"), "a b c+d");
    CHECK_STR_EQ(ml_form_get(&f, "metadata[plan]"), "x&y");
    CHECK(ml_form_get(&f, "missing") == NULL);
    ml_form_free(&f);
    CHECK(f.n == 0 && f.pairs == NULL);
}

TEST(form_empty_values_segments_and_input)
{
    ml_form f;
    REQUIRE(parse("", &f) == 0);
    CHECK_INT_EQ(f.n, 0);
    ml_form_free(&f);
    REQUIRE(parse("a=&&b&", &f) == 0);
    CHECK_INT_EQ(f.n, 2);
    CHECK_STR_EQ(ml_form_get(&f, "a"), "");
    CHECK_STR_EQ(ml_form_get(&f, "b"), "");
    ml_form_free(&f);
    REQUIRE(parse("k=a=b", &f) == 0); /* only the first '=' splits */
    CHECK_STR_EQ(ml_form_get(&f, "k"), "a=b");
    ml_form_free(&f);
}

TEST(form_utf8_is_kept)
{
    ml_form f;
    REQUIRE(parse("name=%C3%A9t%C3%A9&emoji=%F0%9F%98%80", &f) == 0);
    CHECK_STR_EQ(ml_form_get(&f, "name"), "\xC3\xA9t\xC3\xA9");
    CHECK_STR_EQ(ml_form_get(&f, "emoji"), "\xF0\x9F\x98\x80");
    ml_form_free(&f);
}

TEST(form_rejects_bad_input)
{
    static const char *const bad[] = {
        "a=%",      "a=%4",        "a=%zz",          "a=%00", "%00=1",   "=1",      "a=%C3",
        "a=%C0%AF", "a=%ED%A0%80", "a=%F5%80%80%80", "a=%FF", "a=1&a=2", "a=\xC3(", "%=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ml_form f;
        char err[128] = "";
        int rc = ml_form_parse(bad[i], strlen(bad[i]), &f, err, sizeof err);
        if (rc != -1)
            th_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
        CHECK(err[0] != '\0');
        CHECK(f.n == 0 && f.pairs == NULL);
    }
}

TEST(form_array_keys_repeat)
{
    ml_form f;
    REQUIRE(parse("expand[]=a&expand[]=b", &f) == 0);
    CHECK_INT_EQ(f.n, 2);
    ml_form_free(&f);
}

TEST(form_limits_pairs_and_key_length)
{
    char *big = malloc(ML_FORM_MAX_PAIRS * 8 + 64);
    REQUIRE(big);
    size_t o = 0;
    for (int i = 0; i <= ML_FORM_MAX_PAIRS; i++)
        o += (size_t)sprintf(big + o, "%sk%d=1", i ? "&" : "", i);
    ml_form f;
    CHECK(parse(big, &f) == -1);
    memset(big, 'k', ML_FORM_MAX_KEY + 1);
    big[ML_FORM_MAX_KEY + 1] = '\0';
    CHECK(parse(big, &f) == -1);
    big[ML_FORM_MAX_KEY] = '\0';
    CHECK(parse(big, &f) == 0);
    ml_form_free(&f);
    free(big);
}

TEST(form_not_nul_terminated_input)
{
    const char buf[] = {'a', '=', '%', '4', '1'}; /* no NUL; "%41" ends exactly at the end */
    ml_form f;
    char err[64];
    REQUIRE(ml_form_parse(buf, sizeof buf, &f, err, sizeof err) == 0);
    CHECK_STR_EQ(ml_form_get(&f, "a"), "A");
    ml_form_free(&f);
    CHECK(ml_form_parse(buf, 4, &f, err, sizeof err) == -1); /* "a=%4" */
}

TEST(form_subkey)
{
    const char *sub;
    size_t n;
    REQUIRE(ml_form_subkey("metadata[order_id]", "metadata", &sub, &n));
    CHECK_INT_EQ(n, 8);
    CHECK(strncmp(sub, "order_id", n) == 0);
    CHECK(!ml_form_subkey("metadata[]", "metadata", &sub, &n));
    CHECK(!ml_form_subkey("metadata[a][b]", "metadata", &sub, &n));
    CHECK(!ml_form_subkey("metadatax[a]", "metadata", &sub, &n));
    CHECK(!ml_form_subkey("metadata", "metadata", &sub, &n));
    CHECK(!ml_form_subkey("metadata[a", "metadata", &sub, &n));
}

TEST(form_append_arg_reencodes_and_bounds)
{
    char out[64];
    size_t n = 0;
    out[0] = '\0';
    REQUIRE(ml_form_append_arg(out, sizeof out, &n, "q=a b&c=d") == 0);
    CHECK_STR_EQ(out, "q=a%20b%26c%3Dd"); /* only the first '=' stays */
    REQUIRE(ml_form_append_arg(out, sizeof out, &n, "x~._-=\xc3\xa9") == 0);
    CHECK_STR_EQ(out, "q=a%20b%26c%3Dd&x~._-=%C3%A9");
    CHECK_INT_EQ(n, strlen(out));
    ml_form f;
    REQUIRE(parse(out, &f) == 0); /* round trip through the parser */
    CHECK_STR_EQ(ml_form_get(&f, "q"), "a b&c=d");
    CHECK_STR_EQ(ml_form_get(&f, "x~._-"), "\xc3\xa9");
    ml_form_free(&f);
    char small[6];
    size_t m = 0;
    CHECK(ml_form_append_arg(small, sizeof small, &m, "abcdef") == -1); /* no room for NUL */
    CHECK(ml_form_append_arg(small, sizeof small, &m, "abc%") == -1);   /* escape does not fit */
    REQUIRE(ml_form_append_arg(small, sizeof small, &m, "abcd") == 0);
    CHECK_STR_EQ(small, "abcd");
    CHECK(ml_form_append_arg(small, sizeof small, &m, "x") == -1); /* '&x' + NUL do not fit */
    CHECK_INT_EQ(m, 4);
}
