/* Unit tests for common/log.c: level parsing and JSON line format. */
#include "common/log.h"
#include "tests/unit/harness.h"

#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

TEST(log_levels_parse)
{
    ml_log_level l;
    CHECK(ml_log_level_parse("debug", &l) == 0 && l == ML_LOG_DEBUG);
    CHECK(ml_log_level_parse("warn", &l) == 0 && l == ML_LOG_WARN);
    CHECK(ml_log_level_parse("warning", &l) == 0 && l == ML_LOG_WARN);
    CHECK(ml_log_level_parse("error", &l) == 0 && l == ML_LOG_ERROR);
    CHECK(ml_log_level_parse("verbose", &l) != 0);
}

/* Capture stderr through a pipe while logging. */
static size_t capture(int json, ml_log_level lvl, const char *msg, char *out, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    int saved = dup(2);
    dup2(fds[1], 2);
    ml_log_setup(ML_LOG_INFO, json);
    ml_log(lvl, "test", "%s", msg);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], out, cap - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    ml_log_setup(ML_LOG_INFO, 0);
    return n > 0 ? (size_t)n : 0;
}

TEST(log_json_lines_are_valid_json_even_with_quotes_and_newlines)
{
    char out[8192];
    REQUIRE(capture(1, ML_LOG_WARN, "he said \"hi\"\nand\tleft \\", out, sizeof out) > 0);
    json_error_t e;
    json_t *o = json_loads(out, 0, &e);
    REQUIRE(o != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(o, "level")), "warn");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "comp")), "test");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "msg")), "he said \"hi\"\nand\tleft \\");
    json_decref(o);
}

TEST(log_below_level_is_silent)
{
    char out[512];
    CHECK_INT_EQ(capture(0, ML_LOG_DEBUG, "hidden", out, sizeof out), 0);
    CHECK(capture(0, ML_LOG_ERROR, "shown", out, sizeof out) > 0);
    CHECK(strstr(out, "error") != NULL && strstr(out, "shown") != NULL);
}
