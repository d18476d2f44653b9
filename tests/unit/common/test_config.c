/* Unit tests for common/config.c: defaults, file parsing, env, validation. */
#include "common/config.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>

static const char *parse(ml_config *c, const char *text)
{
    static char err[512];
    err[0] = '\0';
    ml_config_defaults(c);
    if (ml_config_parse_buffer(c, text, strlen(text), "test.conf", err, sizeof err) != 0)
        return err;
    return NULL;
}

TEST(config_defaults_are_sane)
{
    ml_config c;
    ml_config_defaults(&c);
    CHECK_STR_EQ(c.listen_host, "127.0.0.1");
    CHECK_INT_EQ(c.listen_port, 8080);
    CHECK_STR_EQ(c.data_dir, "./var");
    CHECK_INT_EQ(c.auto_migrate, 1);
    char err[256];
    CHECK(ml_config_validate(&c, err, sizeof err) == 0);
}

TEST(config_file_sets_keys_with_comments_quotes_and_spaces)
{
    ml_config c;
    const char *e = parse(&c, "# comment\n\n  listen_port = 9090  \nlog_level=debug\n"
                              "data_dir = \"/tmp/x y\"\nauto_migrate = off\r\n");
    REQUIRE(e == NULL);
    CHECK_INT_EQ(c.listen_port, 9090);
    CHECK_STR_EQ(c.log_level, "debug");
    CHECK_STR_EQ(c.data_dir, "/tmp/x y");
    CHECK_INT_EQ(c.auto_migrate, 0);
}

TEST(config_unknown_key_is_rejected_by_name_and_line)
{
    ml_config c;
    const char *e = parse(&c, "listen_port = 1\nlisten_prot = 2\n");
    REQUIRE(e != NULL);
    CHECK(strstr(e, "test.conf:2") != NULL);
    CHECK(strstr(e, "listen_prot") != NULL);
}

TEST(config_bad_values_are_rejected)
{
    ml_config c;
    const char *e = parse(&c, "listen_port = 70000\n");
    REQUIRE(e != NULL);
    CHECK(strstr(e, "out of range") != NULL);
    e = parse(&c, "listen_port = 80x\n");
    REQUIRE(e != NULL);
    CHECK(strstr(e, "not an integer") != NULL);
    e = parse(&c, "auto_migrate = maybe\n");
    REQUIRE(e != NULL);
    CHECK(strstr(e, "boolean") != NULL);
    e = parse(&c, "just words\n");
    REQUIRE(e != NULL);
    CHECK(strstr(e, "expected 'key = value'") != NULL);
    e = parse(&c, " = 3\n");
    REQUIRE(e != NULL);
    char big[4000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char text[4100];
    snprintf(text, sizeof text, "listen_host = %s\n", big);
    e = parse(&c, text);
    REQUIRE(e != NULL);
}

TEST(config_env_overrides_and_rejects_unknown)
{
    ml_config c;
    ml_config_defaults(&c);
    char err[512];
    char *env1[] = {"PATH=/bin", "MENTORLINK_LISTEN_PORT=7000", "DATABASE_URL=postgres://x/y",
                    "REDIS_URL=redis://localhost:6380/2", "MENTORLINK_CONFIG=/etc/x", NULL};
    REQUIRE(ml_config_load_env(&c, env1, err, sizeof err) == 0);
    CHECK_INT_EQ(c.listen_port, 7000);
    CHECK_STR_EQ(c.database_url, "postgres://x/y");
    CHECK_STR_EQ(c.redis_url, "redis://localhost:6380/2");
    char *env2[] = {"MENTORLINK_NO_SUCH_KEY=1", NULL};
    CHECK(ml_config_load_env(&c, env2, err, sizeof err) != 0);
    CHECK(strstr(err, "MENTORLINK_NO_SUCH_KEY") != NULL);
    char *env3[] = {"MENTORLINK_LISTEN_PORT=0", NULL};
    CHECK(ml_config_load_env(&c, env3, err, sizeof err) != 0);
}

TEST(config_validate_catches_cross_key_errors)
{
    ml_config c;
    char err[512];
    ml_config_defaults(&c);
    strcpy(c.log_level, "loud");
    CHECK(ml_config_validate(&c, err, sizeof err) != 0);
    ml_config_defaults(&c);
    c.ice_port_min = 5000;
    c.ice_port_max = 4000;
    CHECK(ml_config_validate(&c, err, sizeof err) != 0);
    ml_config_defaults(&c);
    strcpy(c.turn_uri, "turn:127.0.0.1:3478");
    CHECK(ml_config_validate(&c, err, sizeof err) != 0);
    strcpy(c.turn_secret, "s");
    CHECK(ml_config_validate(&c, err, sizeof err) == 0);
}

TEST(config_missing_file_is_a_clear_error)
{
    ml_config c;
    ml_config_defaults(&c);
    char err[512];
    CHECK(ml_config_load_file(&c, "/nonexistent/mentorlink.conf", err, sizeof err) != 0);
    CHECK(strstr(err, "/nonexistent/mentorlink.conf") != NULL);
}

/* Every key must be documented in docs/configuration.md. */
TEST(config_every_key_is_documented)
{
    const char *root = getenv("ML_SOURCE_ROOT");
    REQUIRE(root != NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/configuration.md", root);
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL);
    static char doc[200000];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    size_t nk;
    const ml_config_key *keys = ml_config_keys(&nk);
    for (size_t i = 0; i < nk; i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "`%s`", keys[i].name);
        if (!strstr(doc, needle))
            th_fail(__FILE__, __LINE__, "key %s is not documented in docs/configuration.md",
                    keys[i].name);
    }
}
