/*
 * Signaling message schema: valid messages of every type, the envelope
 * checks (JSON, object, type, id) and the per-type field tables, and the
 * builders' output.
 */
#include "signaling/ws_proto.h"
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *s, sig_msg *m, sig_proto_error *e)
{
    return sig_proto_parse(s, strlen(s), m, e);
}

TEST(ws_proto_join_ok)
{
    sig_msg m;
    sig_proto_error e;
    REQUIRE(parse("{\"type\":\"join\",\"id\":7,\"room\":\"r1\",\"mode\":\"echo\"}", &m, &e) == 0);
    CHECK_INT_EQ(m.type, SIG_MSG_JOIN);
    CHECK_STR_EQ(m.room, "r1");
    CHECK_STR_EQ(m.mode, "echo");
    REQUIRE(m.id != NULL);
    CHECK_INT_EQ(json_integer_value(m.id), 7);
    sig_msg_clear(&m);
}

TEST(ws_proto_offer_and_candidate)
{
    sig_msg m;
    sig_proto_error e;
    REQUIRE(parse("{\"type\":\"offer\",\"id\":\"a\",\"sdp\":\"v=0\\r\\n\"}", &m, &e) == 0);
    CHECK_INT_EQ(m.type, SIG_MSG_OFFER);
    CHECK_INT_EQ(m.sdp_len, 5);
    CHECK_STR_EQ(json_string_value(m.id), "a");
    sig_msg_clear(&m);
    REQUIRE(parse("{\"type\":\"candidate\",\"candidate\":\"candidate:1 1 udp 1 127.0.0.1 9 typ "
                  "host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}",
                  &m, &e) == 0);
    CHECK_INT_EQ(m.type, SIG_MSG_CANDIDATE);
    CHECK_STR_EQ(m.sdp_mid, "0");
    CHECK_INT_EQ(m.mline, 0);
    sig_msg_clear(&m);
    REQUIRE(parse("{\"type\":\"candidate\",\"candidate\":\"candidate:x\"}", &m, &e) == 0);
    CHECK(m.sdp_mid == NULL);
    CHECK_INT_EQ(m.mline, -1);
    sig_msg_clear(&m);
}

TEST(ws_proto_simple_types)
{
    const char *types[] = {"end-of-candidates", "leave", "ping", "stats"};
    sig_msg_type want[] = {SIG_MSG_END_OF_CANDIDATES, SIG_MSG_LEAVE, SIG_MSG_PING, SIG_MSG_STATS};
    for (int i = 0; i < 4; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"extra\":[1,2]}", types[i]);
        sig_msg m;
        sig_proto_error e;
        CHECK(parse(buf, &m, &e) == 0);
        CHECK_INT_EQ(m.type, want[i]);
        CHECK_STR_EQ(sig_msg_type_name(m.type), types[i]);
        sig_msg_clear(&m);
    }
}

static void expect_error(const char *input, const char *code, const char *needle)
{
    sig_msg m;
    sig_proto_error e;
    int rc = parse(input, &m, &e);
    CHECK(rc == -1);
    if (rc == -1) {
        CHECK_STR_EQ(e.code, code);
        if (needle && !strstr(e.message, needle))
            th_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", e.message, needle);
    }
    sig_msg_clear(&m);
}

TEST(ws_proto_errors)
{
    expect_error("{not json", SIG_ERR_BAD_JSON, "invalid JSON");
    expect_error("", SIG_ERR_BAD_JSON, NULL);
    expect_error("[1,2]", SIG_ERR_BAD_JSON, "object");
    expect_error("\"join\"", SIG_ERR_BAD_JSON, NULL);
    expect_error("{\"type\":\"join\",\"type\":\"ping\"}", SIG_ERR_BAD_JSON, NULL);
    expect_error("{}", SIG_ERR_UNKNOWN_TYPE, "type");
    expect_error("{\"type\":5}", SIG_ERR_UNKNOWN_TYPE, NULL);
    expect_error("{\"type\":\"dance\"}", SIG_ERR_UNKNOWN_TYPE, "dance");
    expect_error("{\"type\":\"join\",\"mode\":\"echo\"}", SIG_ERR_BAD_REQUEST, "room");
    expect_error("{\"type\":\"join\",\"room\":\"\",\"mode\":\"echo\"}", SIG_ERR_BAD_REQUEST,
                 "empty");
    expect_error("{\"type\":\"join\",\"room\":\"r\",\"mode\":\"sfu\"}", SIG_ERR_BAD_REQUEST,
                 "mode");
    expect_error("{\"type\":\"join\",\"room\":7,\"mode\":\"echo\"}", SIG_ERR_BAD_REQUEST, "string");
    expect_error("{\"type\":\"offer\"}", SIG_ERR_BAD_REQUEST, "sdp");
    expect_error("{\"type\":\"offer\",\"sdp\":null}", SIG_ERR_BAD_REQUEST, "sdp");
    expect_error("{\"type\":\"candidate\",\"candidate\":\"c\",\"sdpMLineIndex\":-1}",
                 SIG_ERR_BAD_REQUEST, "sdpMLineIndex");
    expect_error("{\"type\":\"candidate\",\"candidate\":\"c\",\"sdpMLineIndex\":\"0\"}",
                 SIG_ERR_BAD_REQUEST, "integer");
    expect_error("{\"type\":\"ping\",\"id\":[1]}", SIG_ERR_BAD_REQUEST, "id");
    expect_error("{\"type\":\"ping\",\"id\":1.5}", SIG_ERR_BAD_REQUEST, "id");
    /* A string with a NUL escape is refused by jansson. */
    expect_error("{\"type\":\"join\",\"room\":\"a\\u0000b\",\"mode\":\"echo\"}", SIG_ERR_BAD_JSON,
                 NULL);
}

TEST(ws_proto_error_keeps_id)
{
    sig_msg m;
    sig_proto_error e;
    CHECK(parse("{\"type\":\"nope\",\"id\":\"x1\"}", &m, &e) == -1);
    REQUIRE(m.id != NULL);
    CHECK_STR_EQ(json_string_value(m.id), "x1");
    char *s = sig_proto_error_json(e.code, e.message, m.id);
    REQUIRE(s != NULL);
    json_t *o = json_loads(s, 0, NULL);
    REQUIRE(o != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(o, "type")), "error");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "code")), "unknown_type");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "id")), "x1");
    json_decref(o);
    free(s);
    sig_msg_clear(&m);
}

TEST(ws_proto_builders)
{
    json_t *id = json_integer(3);
    json_t *f = json_pack("{s:s,s:s}", "sdp", "v=0", "type", "ignored");
    char *s = sig_proto_build("answer", id, f);
    REQUIRE(s != NULL);
    CHECK_STR_EQ(s, "{\"type\":\"answer\",\"id\":3,\"sdp\":\"v=0\"}");
    free(s);
    s = sig_proto_build("pong", NULL, NULL);
    CHECK_STR_EQ(s, "{\"type\":\"pong\"}");
    free(s);
    /* Non-printable bytes in messages are masked. */
    s = sig_proto_error_json("bad_sdp", "line 1: \x01\xff", NULL);
    REQUIRE(s != NULL);
    CHECK(strstr(s, "line 1: ??") != NULL);
    free(s);
    json_decref(f);
    json_decref(id);
}

TEST(ws_proto_room_messages)
{
    sig_msg m;
    sig_proto_error e;
    REQUIRE(parse("{\"type\":\"join\",\"room\":\"r\",\"mode\":\"room\",\"role\":\"mentee\","
                  "\"name\":\"Bob\"}",
                  &m, &e) == 0);
    CHECK_STR_EQ(m.mode, "room");
    CHECK_STR_EQ(m.role, "mentee");
    CHECK_STR_EQ(m.name, "Bob");
    sig_msg_clear(&m);
    CHECK(parse("{\"type\":\"join\",\"room\":\"r\",\"mode\":\"room\",\"role\":\"boss\"}", &m, &e) ==
          -1);
    CHECK_STR_EQ(e.code, SIG_ERR_BAD_REQUEST);
    sig_msg_clear(&m);
    REQUIRE(parse("{\"type\":\"layer\",\"track\":\"7:0\",\"pin\":\"l\"}", &m, &e) == 0);
    CHECK_INT_EQ(m.type, SIG_MSG_LAYER);
    CHECK_STR_EQ(m.track, "7:0");
    CHECK_STR_EQ(m.pin, "l");
    CHECK_INT_EQ(m.max_height, 0);
    sig_msg_clear(&m);
    REQUIRE(parse("{\"type\":\"layer\",\"track\":\"7:0\",\"max_height\":360}", &m, &e) == 0);
    CHECK(m.pin == NULL);
    CHECK_INT_EQ(m.max_height, 360);
    sig_msg_clear(&m);
    CHECK(parse("{\"type\":\"layer\",\"track\":\"7:0\",\"pin\":\"x\"}", &m, &e) == -1);
    sig_msg_clear(&m);
    REQUIRE(parse("{\"type\":\"floor\",\"participant\":9,\"grant\":true}", &m, &e) == 0);
    CHECK_INT_EQ(m.type, SIG_MSG_FLOOR);
    CHECK_INT_EQ(m.participant, 9);
    CHECK_INT_EQ(m.flag, 1);
    sig_msg_clear(&m);
    CHECK(parse("{\"type\":\"floor\",\"participant\":9,\"grant\":1}", &m, &e) == -1);
    CHECK_STR_EQ(e.code, SIG_ERR_BAD_REQUEST);
    sig_msg_clear(&m);
    REQUIRE(parse("{\"type\":\"mute\",\"track\":\"3:1\",\"muted\":false}", &m, &e) == 0);
    CHECK_INT_EQ(m.type, SIG_MSG_MUTE);
    CHECK_INT_EQ(m.flag, 0);
    sig_msg_clear(&m);
}
