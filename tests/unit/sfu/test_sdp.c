/* Unit tests for sfu/sdp_*.c: parsing real browser offers, writing,
 * round trips, trickle candidates, lookups and malformed input. */
#include "sfu/sdp.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>

static size_t read_data(const char *name, char *buf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sdp/%s", th_data_dir(), name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

/* Parse a data file into a fresh heap sfu_sdp (the struct is large). */
static sfu_sdp *parse_file(const char *name)
{
    static char text[65536];
    char err[256];
    size_t n = read_data(name, text, sizeof text);
    if (n == 0)
        return NULL;
    sfu_sdp *s = calloc(1, sizeof *s);
    if (sfu_sdp_parse(text, n, s, err, sizeof err) != 0) {
        printf("# parse %s: %s\n", name, err);
        free(s);
        return NULL;
    }
    return s;
}

/* Parse a string; returns 0/-1 and leaves the message in err. */
static int parse_str(const char *text, sfu_sdp *s, char *err, size_t errlen)
{
    return sfu_sdp_parse(text, strlen(text), s, err, errlen);
}

#define HEAD "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
#define AUDIO_M "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"

TEST(sdp_parses_chromium_offer)
{
    sfu_sdp *s = parse_file("chrome_offer.sdp");
    REQUIRE(s != NULL);
    CHECK_UINT_EQ(s->session_id, 4215775240449105457ULL);
    CHECK_UINT_EQ(s->session_version, 2);
    CHECK_STR_EQ(s->origin_addr, "127.0.0.1");
    CHECK_INT_EQ(s->media_count, 3);
    CHECK(s->extmap_allow_mixed);
    const sfu_sdp_group *g = sfu_sdp_group_find(s, "BUNDLE");
    REQUIRE(g != NULL);
    CHECK_INT_EQ(g->count, 3);
    CHECK_STR_EQ(g->mids[2], "2");
    CHECK_STR_EQ(s->msid_semantic, "WMS 7a1d5e2c-9f0b-4b8e-8d0a-3c2f1e6b5a4d");

    const sfu_sdp_media *a = &s->media[0];
    CHECK_INT_EQ(a->kind, SFU_SDP_KIND_AUDIO);
    CHECK_INT_EQ(a->proto, SFU_SDP_PROTO_UDP_TLS_RTP_SAVPF);
    CHECK_INT_EQ(a->port, 9);
    CHECK_INT_EQ(a->pt_count, 8);
    CHECK_STR_EQ(a->mid, "0");
    CHECK_INT_EQ(a->direction, SFU_SDP_DIR_SENDRECV);
    CHECK(a->rtcp_mux && a->rtcp_rsize);
    CHECK_STR_EQ(a->ice_ufrag, "Jpbd");
    CHECK_STR_EQ(a->ice_pwd, "Fus4hRjMrpP46HRkXRz+RPdL");
    CHECK(a->ice_trickle);
    CHECK_STR_EQ(a->fingerprint.hash, "sha-256");
    CHECK_INT_EQ(strlen(a->fingerprint.value), 95);
    CHECK_INT_EQ(a->setup, SFU_SDP_SETUP_ACTPASS);
    const sfu_sdp_codec *opus = sfu_sdp_codec_find(a, 111);
    REQUIRE(opus != NULL);
    CHECK_STR_EQ(opus->name, "opus");
    CHECK_UINT_EQ(opus->clock_rate, 48000);
    CHECK_INT_EQ(opus->channels, 2);
    CHECK_STR_EQ(opus->fmtp, "minptime=10;useinbandfec=1");
    char v[32];
    CHECK_INT_EQ(sfu_sdp_param_get(opus->fmtp, "useinbandfec", v, sizeof v), 1);
    CHECK_STR_EQ(v, "1");
    CHECK(sfu_sdp_has_fb(a, 111, "transport-cc", NULL));
    CHECK(!sfu_sdp_has_fb(a, 111, "nack", NULL));
    CHECK_INT_EQ(sfu_sdp_extmap_id(a, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"), 1);
    CHECK_INT_EQ(sfu_sdp_extmap_id(a, "urn:ietf:params:rtp-hdrext:sdes:mid"), 4);
    CHECK(sfu_sdp_codec_find(a, 0) && strcmp(sfu_sdp_codec_find(a, 0)->name, "PCMU") == 0);
    CHECK_INT_EQ(a->ssrc_count, 2);
    CHECK_UINT_EQ(a->ssrcs[0].ssrc, 3735928559u);
    CHECK_STR_EQ(a->ssrcs[0].attr, "cname");
    CHECK_STR_EQ(a->ssrcs[1].value,
                 "7a1d5e2c-9f0b-4b8e-8d0a-3c2f1e6b5a4d 2e8f4c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b");
    CHECK(a->has_msid);
    CHECK_STR_EQ(a->msid_track, "2e8f4c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b");

    const sfu_sdp_media *vm = &s->media[1];
    CHECK_INT_EQ(vm->kind, SFU_SDP_KIND_VIDEO);
    CHECK_INT_EQ(vm->pt_count, 25);
    CHECK_INT_EQ(vm->codec_count, 25);
    CHECK_INT_EQ(vm->fb_count, 55); /* 11 codecs x 5 */
    CHECK_INT_EQ(vm->extmap_count, 11);
    CHECK_INT_EQ(vm->direction, SFU_SDP_DIR_SENDONLY);
    CHECK_INT_EQ(sfu_sdp_rtx_pt(vm, 96), 97);
    CHECK_INT_EQ(sfu_sdp_rtx_pt(vm, 45), 46);
    CHECK_INT_EQ(sfu_sdp_rtx_pt(vm, 118), -1);
    const sfu_sdp_codec *h = sfu_sdp_codec_find(vm, 106);
    REQUIRE(h != NULL);
    uint32_t pm = 9;
    CHECK_INT_EQ(sfu_sdp_param_u32(h->fmtp, "packetization-mode", &pm), 0);
    CHECK_UINT_EQ(pm, 1);
    CHECK_INT_EQ(sfu_sdp_param_get(h->fmtp, "profile-level-id", v, sizeof v), 6);
    CHECK_STR_EQ(v, "42e01f");
    CHECK(sfu_sdp_codec_find_name(vm, "av1", 90000) != NULL);
    CHECK(sfu_sdp_has_fb(vm, 96, "nack", "pli"));
    CHECK(sfu_sdp_has_fb(vm, 96, "ccm", "fir"));
    CHECK_INT_EQ(vm->rid_count, 3);
    CHECK_STR_EQ(vm->rids[0].id, "h");
    CHECK_INT_EQ(vm->rids[2].dir, SFU_SDP_RID_SEND);
    CHECK(vm->simulcast.present);
    CHECK_INT_EQ(vm->simulcast.send.count, 3);
    CHECK_INT_EQ(vm->simulcast.recv.count, 0);
    CHECK_STR_EQ(vm->simulcast.send.streams[1].alts[0].rid, "m");

    const sfu_sdp_media *d = &s->media[2];
    CHECK_INT_EQ(d->kind, SFU_SDP_KIND_APPLICATION);
    CHECK_INT_EQ(d->proto, SFU_SDP_PROTO_UDP_DTLS_SCTP);
    CHECK_STR_EQ(d->fmt_raw, "webrtc-datachannel");
    CHECK_INT_EQ(d->sctp_port, 5000);
    CHECK_UINT_EQ(d->max_message_size, 262144);

    CHECK_INT_EQ(s->candidate_count, 2);
    CHECK_INT_EQ(s->candidates[1].mline, 0);
    CHECK_INT_EQ(s->candidates[1].tcp, 1);
    CHECK_INT_EQ(s->candidates[1].tcptype, SFU_SDP_TCPTYPE_ACTIVE);
    CHECK_INT_EQ(sfu_sdp_find_mid(s, "2"), 2);
    CHECK_INT_EQ(sfu_sdp_find_mid(s, "9"), -1);
    free(s);
}

TEST(sdp_parses_firefox_offer_with_session_fingerprint_and_lf)
{
    sfu_sdp *s = parse_file("firefox_offer.sdp");
    REQUIRE(s != NULL);
    CHECK_STR_EQ(s->origin_user, "mozilla...THIS_IS_SDPARTA-99.0");
    CHECK_STR_EQ(s->fingerprint.hash, "sha-256");
    CHECK_STR_EQ(s->ice_options, "trickle");
    REQUIRE(s->media_count == 2);
    for (int i = 0; i < 2; i++) {
        /* inherited from session level */
        CHECK_STR_EQ(s->media[i].fingerprint.value, s->fingerprint.value);
        CHECK(s->media[i].ice_trickle);
        CHECK_STR_EQ(s->media[i].ice_ufrag, "a1b2c3d4");
    }
    const sfu_sdp_media *a = &s->media[0];
    /* fmtp before rtpmap */
    const sfu_sdp_codec *opus = sfu_sdp_codec_find(a, 109);
    REQUIRE(opus != NULL);
    CHECK_STR_EQ(opus->name, "opus");
    CHECK_STR_EQ(opus->fmtp, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
    CHECK_INT_EQ(a->extmaps[1].dir, SFU_SDP_EXT_DIR_RECVONLY);
    const sfu_sdp_media *vm = &s->media[1];
    CHECK_INT_EQ(sfu_sdp_rtx_pt(vm, 120), 124);
    CHECK_INT_EQ(vm->ssrc_group_count, 1);
    CHECK_STR_EQ(vm->ssrc_groups[0].semantics, "FID");
    CHECK_UINT_EQ(vm->ssrc_groups[0].ssrcs[1], 1795423386u);
    CHECK_STR_EQ(vm->msid_stream, "{5d4e3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c}");
    free(s);
}

/* Compare the fields that matter after write -> parse. */
static void check_same(const sfu_sdp *x, const sfu_sdp *y)
{
    CHECK_UINT_EQ(x->session_id, y->session_id);
    CHECK_INT_EQ(x->group_count, y->group_count);
    CHECK_INT_EQ(x->media_count, y->media_count);
    CHECK_INT_EQ(x->candidate_count, y->candidate_count);
    for (int i = 0; i < x->candidate_count; i++)
        CHECK_MEM_EQ(&x->candidates[i], &y->candidates[i], sizeof x->candidates[i]);
    for (int i = 0; i < x->media_count && i < y->media_count; i++) {
        const sfu_sdp_media *a = &x->media[i], *b = &y->media[i];
        CHECK_INT_EQ(a->kind, b->kind);
        CHECK_INT_EQ(a->port, b->port);
        CHECK_INT_EQ(a->proto, b->proto);
        CHECK_INT_EQ(a->pt_count, b->pt_count);
        CHECK_MEM_EQ(a->pts, b->pts, a->pt_count);
        CHECK_STR_EQ(a->mid, b->mid);
        CHECK_INT_EQ(a->direction, b->direction);
        CHECK_STR_EQ(a->ice_ufrag, b->ice_ufrag);
        CHECK_STR_EQ(a->ice_pwd, b->ice_pwd);
        CHECK_STR_EQ(a->fingerprint.value, b->fingerprint.value);
        CHECK_INT_EQ(a->setup, b->setup);
        CHECK_INT_EQ(a->codec_count, b->codec_count);
        for (int j = 0; j < a->codec_count; j++) {
            const sfu_sdp_codec *cb = sfu_sdp_codec_find(b, a->codecs[j].pt);
            REQUIRE(cb != NULL);
            CHECK_MEM_EQ(&a->codecs[j], cb, sizeof *cb);
            for (int k = 0; k < a->fb_count; k++)
                if (a->fbs[k].pt == a->codecs[j].pt)
                    CHECK(
                        sfu_sdp_has_fb(b, (uint8_t)a->fbs[k].pt, a->fbs[k].type, a->fbs[k].param));
        }
        CHECK_INT_EQ(a->fb_count, b->fb_count);
        CHECK_INT_EQ(a->extmap_count, b->extmap_count);
        CHECK_MEM_EQ(a->extmaps, b->extmaps, sizeof a->extmaps[0] * a->extmap_count);
        CHECK_INT_EQ(a->ssrc_count, b->ssrc_count);
        CHECK_MEM_EQ(a->ssrcs, b->ssrcs, sizeof a->ssrcs[0] * a->ssrc_count);
        CHECK_MEM_EQ(a->ssrc_groups, b->ssrc_groups, sizeof a->ssrc_groups);
        CHECK_MEM_EQ(a->rids, b->rids, sizeof a->rids);
        CHECK_MEM_EQ(&a->simulcast, &b->simulcast, sizeof a->simulcast);
        CHECK_INT_EQ(a->sctp_port, b->sctp_port);
        CHECK_UINT_EQ(a->max_message_size, b->max_message_size);
        CHECK_STR_EQ(a->msid_stream, b->msid_stream);
        CHECK_STR_EQ(a->msid_track, b->msid_track);
        CHECK_INT_EQ(a->rtcp_mux, b->rtcp_mux);
        CHECK_INT_EQ(a->rtcp_rsize, b->rtcp_rsize);
    }
}

static void round_trip(const char *file)
{
    sfu_sdp *s = parse_file(file);
    REQUIRE(s != NULL);
    static char buf[65536];
    int n = sfu_sdp_write(s, buf, sizeof buf);
    REQUIRE(n > 0);
    CHECK_INT_EQ(strlen(buf), n);
    /* every line ends in CRLF, no bare LF */
    for (int i = 0; i < n; i++)
        if (buf[i] == '\n')
            CHECK(i > 0 && buf[i - 1] == '\r');
    CHECK(strncmp(buf, "v=0\r\no=", 7) == 0);
    sfu_sdp *t = calloc(1, sizeof *t);
    char err[256];
    int rc = sfu_sdp_parse(buf, (size_t)n, t, err, sizeof err);
    if (rc != 0)
        printf("# reparse: %s\n", err);
    REQUIRE(rc == 0);
    check_same(s, t);
    /* too small a buffer fails instead of truncating */
    CHECK_INT_EQ(sfu_sdp_write(s, buf, (size_t)n), -1);
    CHECK_INT_EQ(sfu_sdp_write(s, buf, (size_t)n + 1), n);
    free(s);
    free(t);
}

TEST(sdp_round_trip_chromium)
{
    round_trip("chrome_offer.sdp");
}

TEST(sdp_round_trip_firefox)
{
    round_trip("firefox_offer.sdp");
}

TEST(sdp_simulcast_alternatives_and_paused)
{
    sfu_sdp *s = calloc(1, sizeof *s);
    char err[256];
    int rc = parse_str(HEAD "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:v\r\na=rtpmap:96 VP8/90000\r\n"
                            "a=rid:a send pt=96;max-width=1280;max-height=720\r\na=rid:b send\r\n"
                            "a=rid:c send\r\na=rid:d recv\r\n"
                            "a=simulcast:send a;~b,c recv d\r\n",
                       s, err, sizeof err);
    if (rc)
        printf("# %s\n", err);
    REQUIRE(rc == 0);
    const sfu_sdp_media *m = &s->media[0];
    CHECK_INT_EQ(m->rids[0].pt_count, 1);
    CHECK_INT_EQ(m->rids[0].pts[0], 96);
    uint32_t w = 0;
    CHECK_INT_EQ(sfu_sdp_param_u32(m->rids[0].params, "max-width", &w), 0);
    CHECK_UINT_EQ(w, 1280);
    CHECK_INT_EQ(m->rids[3].dir, SFU_SDP_RID_RECV);
    CHECK_INT_EQ(m->simulcast.send.count, 2);
    CHECK_INT_EQ(m->simulcast.send.streams[1].alt_count, 2);
    CHECK(m->simulcast.send.streams[1].alts[0].paused);
    CHECK_STR_EQ(m->simulcast.send.streams[1].alts[0].rid, "b");
    CHECK(!m->simulcast.send.streams[1].alts[1].paused);
    CHECK_INT_EQ(m->simulcast.recv.count, 1);
    static char buf[8192];
    int n = sfu_sdp_write(s, buf, sizeof buf);
    REQUIRE(n > 0);
    CHECK(strstr(buf, "a=simulcast:send a;~b,c recv d\r\n") != NULL);
    CHECK(strstr(buf, "a=rid:a send pt=96;max-width=1280;max-height=720\r\n") != NULL);
    free(s);
}

TEST(sdp_trickle_candidates)
{
    sfu_sdp_candidate c;
    char buf[512];
    REQUIRE(
        sfu_sdp_candidate_parse("candidate:842163049 1 udp 1677729535 192.0.2.1 46154 typ srflx "
                                "raddr 10.0.0.1 rport 9 generation 0 ufrag abc network-cost 999",
                                &c) == 0);
    CHECK_STR_EQ(c.foundation, "842163049");
    CHECK_INT_EQ(c.component, 1);
    CHECK_INT_EQ(c.tcp, 0);
    CHECK_UINT_EQ(c.priority, 1677729535u);
    CHECK_STR_EQ(c.address, "192.0.2.1");
    CHECK_INT_EQ(c.port, 46154);
    CHECK_INT_EQ(c.type, SFU_SDP_CAND_SRFLX);
    CHECK(c.has_raddr);
    CHECK_STR_EQ(c.raddr, "10.0.0.1");
    CHECK_INT_EQ(c.rport, 9);
    CHECK_INT_EQ(c.generation, 0);
    CHECK_STR_EQ(c.ufrag, "abc");
    CHECK_INT_EQ(c.network_cost, 999);
    CHECK_INT_EQ(c.network_id, -1);
    int n = sfu_sdp_candidate_write(&c, buf, sizeof buf);
    CHECK(n > 0);
    CHECK_STR_EQ(buf, "candidate:842163049 1 udp 1677729535 192.0.2.1 46154 typ srflx raddr "
                      "10.0.0.1 rport 9 generation 0 ufrag abc network-cost 999");
    CHECK_INT_EQ(sfu_sdp_candidate_write(&c, buf, (size_t)n), -1);

    /* host udp with a=, CRLF */
    REQUIRE(sfu_sdp_candidate_parse("a=candidate:1 1 UDP 2122260223 10.1.2.3 5000 typ host\r\n",
                                    &c) == 0);
    CHECK_INT_EQ(c.type, SFU_SDP_CAND_HOST);
    CHECK_INT_EQ(c.generation, -1);
    CHECK(!c.has_raddr);
    /* tcp passive */
    REQUIRE(sfu_sdp_candidate_parse(
                "candidate:3 1 tcp 1518280447 192.168.1.2 9 typ host tcptype passive generation 0",
                &c) == 0);
    CHECK_INT_EQ(c.tcp, 1);
    CHECK_INT_EQ(c.tcptype, SFU_SDP_TCPTYPE_PASSIVE);
    /* IPv6 and relay */
    REQUIRE(sfu_sdp_candidate_parse("candidate:4 1 udp 41885439 2001:db8::1 3478 typ relay raddr "
                                    "2001:db8::2 rport 55000",
                                    &c) == 0);
    CHECK_STR_EQ(c.address, "2001:db8::1");
    CHECK_INT_EQ(c.type, SFU_SDP_CAND_RELAY);
    /* mDNS host name; unknown extension kept verbatim and written back */
    const char *mdns = "candidate:1560499547 1 udp 2113937151 "
                       "2cf0b2c0-0842-4fe3-aaa0-4556a2dfbadc.local 33192 typ host generation 0 "
                       "network-cost 999 x-foo bar";
    REQUIRE(sfu_sdp_candidate_parse(mdns, &c) == 0);
    CHECK_STR_EQ(c.address, "2cf0b2c0-0842-4fe3-aaa0-4556a2dfbadc.local");
    CHECK_STR_EQ(c.ext, "x-foo bar");
    CHECK(sfu_sdp_candidate_write(&c, buf, sizeof buf) > 0);
    CHECK_STR_EQ(buf, mdns);
    /* length-bounded variant does not read past len */
    const char *two = "candidate:5 1 udp 1 10.0.0.5 1 typ hostXXXX";
    CHECK_INT_EQ(sfu_sdp_candidate_parse_n(two, strlen(two) - 4, &c), 0);

    /* malformed */
    CHECK_INT_EQ(sfu_sdp_candidate_parse("", &c), -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 1 sctp 1 1.2.3.4 5 typ host", &c), -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4 70000 typ host", &c), -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4 5 type host", &c), -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4 5 typ bogus", &c), -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4 5 typ host raddr", &c), -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 0 udp 1 1.2.3.4 5 typ host", &c), -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 1 udp 99999999999 1.2.3.4 5 typ host", &c),
                 -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4 5 typ host\r\nx=1", &c), -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4 5", &c), -1);
    CHECK_INT_EQ(sfu_sdp_candidate_parse("candidate:1 1 udp 1 bad/addr 5 typ host", &c), -1);
}

/* Expect a parse error whose message contains `want`. */
static void expect_error(const char *text, size_t len, const char *want)
{
    sfu_sdp *s = calloc(1, sizeof *s);
    char err[256] = "";
    int rc = sfu_sdp_parse(text, len, s, err, sizeof err);
    CHECK_INT_EQ(rc, -1);
    if (!strstr(err, want))
        printf("# error \"%s\" lacks \"%s\"\n", err, want);
    CHECK(strstr(err, want) != NULL);
    free(s);
}

#define EXPECT_ERROR(text, want) expect_error(text, strlen(text), want)

TEST(sdp_rejects_malformed_input)
{
    EXPECT_ERROR("", "empty");
    EXPECT_ERROR("o=- 1 2 IN IP4 1.2.3.4\r\n", "line 1: SDP must start with v=0");
    EXPECT_ERROR("v=0\r\ns=-\r\n", "missing o=");
    EXPECT_ERROR(HEAD "m=audio UDP/TLS/RTP/SAVPF 111\r\n", "line 5: m=: port");
    EXPECT_ERROR(HEAD "m=audio 9 UDP/TLS/RTP/SAVPF\r\n", "m=: no formats");
    EXPECT_ERROR(HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 128\r\n", "payload type");
    EXPECT_ERROR(HEAD AUDIO_M "a=rtpmap:abc opus/48000/2\r\n", "line 6: a=rtpmap: payload type");
    EXPECT_ERROR(HEAD AUDIO_M "a=rtpmap:300 opus/48000/2\r\n", "a=rtpmap: payload type");
    EXPECT_ERROR(HEAD AUDIO_M "a=rtpmap:111 opus\r\n", "a=rtpmap:");
    EXPECT_ERROR(HEAD AUDIO_M "a=rtpmap:111 opus/48000/2\r\na=rtpmap:111 opus/48000/2\r\n",
                 "duplicate rtpmap");
    EXPECT_ERROR(HEAD AUDIO_M "a=fingerprint:sha-256 AB:CD\r\n", "line 6: a=fingerprint: ");
    EXPECT_ERROR(HEAD AUDIO_M "a=fingerprint:sha-256\r\n", "a=fingerprint");
    EXPECT_ERROR(HEAD AUDIO_M "a=fingerprint:sha-999 AB:CD\r\n", "unknown hash");
    EXPECT_ERROR(HEAD AUDIO_M "a=fingerprint:sha-1 "
                              "GG:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01\r\n",
                 "hex pairs");
    EXPECT_ERROR(HEAD AUDIO_M "a=setup:sideways\r\n", "a=setup");
    EXPECT_ERROR(HEAD AUDIO_M "a=extmap:0 urn:x\r\n", "a=extmap: id");
    EXPECT_ERROR(HEAD AUDIO_M "a=extmap:1\r\n", "a=extmap");
    EXPECT_ERROR(HEAD AUDIO_M "a=ssrc:12345678901 cname:x\r\n", "a=ssrc");
    EXPECT_ERROR(HEAD AUDIO_M "a=ssrc-group:FID\r\n", "a=ssrc-group");
    EXPECT_ERROR(HEAD AUDIO_M "a=rid:h sideways\r\n", "a=rid");
    EXPECT_ERROR(HEAD AUDIO_M "a=simulcast:up h;m\r\n", "a=simulcast");
    EXPECT_ERROR(HEAD AUDIO_M "a=simulcast:send h;;m\r\n", "a=simulcast");
    EXPECT_ERROR(HEAD AUDIO_M "a=mid:\r\n", "a=mid: missing value");
    EXPECT_ERROR(HEAD AUDIO_M "a=mid:a\r\n" AUDIO_M "a=mid:a\r\n", "duplicate mid");
    EXPECT_ERROR(HEAD AUDIO_M "a=sctp-port:70000\r\n", "a=sctp-port");
    EXPECT_ERROR(HEAD AUDIO_M "a=rtcp-mux:yes\r\n", "takes no value");
    EXPECT_ERROR(HEAD AUDIO_M "a=ice-ufrag:bad ufrag\r\n", "a=ice-ufrag");
    EXPECT_ERROR(HEAD AUDIO_M "a=candidate:1 1 udp 1 1.2.3.4 5 typ\r\n", "a=candidate");
    EXPECT_ERROR(HEAD AUDIO_M "a=rtcp-fb:111\r\n", "a=rtcp-fb");
    EXPECT_ERROR(HEAD AUDIO_M "a=rtcp-fb:555 nack\r\n", "a=rtcp-fb");
    EXPECT_ERROR(HEAD AUDIO_M "junk\r\n", "line 6: expected <type>=<value>");
    EXPECT_ERROR(HEAD "c=IN IP4\r\n", "c=");
    EXPECT_ERROR("v=0\r\no=- x 2 IN IP4 1.2.3.4\r\ns=-\r\n", "o=");

    /* NUL byte in the middle */
    static const char nul[] = HEAD "a=x\0y\r\n";
    expect_error(nul, sizeof nul - 1, "NUL");

    /* absurdly long line */
    size_t big = 3 * SFU_SDP_MAX_LINE;
    char *long_sdp = malloc(big + 64);
    int off = snprintf(long_sdp, 64, HEAD "a=x:");
    memset(long_sdp + off, 'a', big);
    memcpy(long_sdp + off + big, "\r\n", 3);
    expect_error(long_sdp, strlen(long_sdp), "longer than");
    free(long_sdp);

    /* too many m-lines */
    char *many = malloc(64 + 40 * (SFU_SDP_MAX_MEDIA + 1));
    size_t len = (size_t)sprintf(many, HEAD);
    for (int i = 0; i <= SFU_SDP_MAX_MEDIA; i++)
        len += (size_t)sprintf(many + len, AUDIO_M);
    expect_error(many, len, "more than 16 m-lines");
    free(many);

    /* too many payload types on one m-line */
    char mline[512];
    size_t ml = (size_t)sprintf(mline, HEAD "m=video 9 UDP/TLS/RTP/SAVPF");
    for (int i = 0; i <= SFU_SDP_MAX_CODECS; i++)
        ml += (size_t)sprintf(mline + ml, " %d", i + 40);
    sprintf(mline + ml, "\r\n");
    EXPECT_ERROR(mline, "more than 48 payload types");

    /* truncated attribute at end of input (no newline) */
    EXPECT_ERROR(HEAD AUDIO_M "a=rtpmap:111 opus/", "a=rtpmap");
    EXPECT_ERROR(HEAD AUDIO_M "a=fingerprint:sha-256 AB:C", "a=fingerprint");
}

TEST(sdp_accepts_lf_unknown_attributes_and_no_trailing_newline)
{
    sfu_sdp *s = calloc(1, sizeof *s);
    char err[256];
    const char *txt = "v=0\no=- 1 2 IN IP4 127.0.0.1\ns=-\nt=0 0\na=x-unknown:whatever\n"
                      "m=audio 9 UDP/TLS/RTP/SAVPF 111\ni=info\nb=AS:64\na=mid:a\n"
                      "a=rtpmap:111 opus/48000/2\na=foo\na=sctpmap:5000 webrtc-datachannel 1024\n"
                      "a=rtcp:9 IN IP4 0.0.0.0\na=sendonly";
    int rc = parse_str(txt, s, err, sizeof err);
    if (rc)
        printf("# %s\n", err);
    REQUIRE(rc == 0);
    CHECK_INT_EQ(s->media[0].direction, SFU_SDP_DIR_SENDONLY);
    CHECK_INT_EQ(s->media[0].bw_as, 64);
    CHECK_STR_EQ(s->media[0].mid, "a");
    free(s);
}

TEST(sdp_builder_and_writer_refuse_line_breaks)
{
    sfu_sdp *s = calloc(1, sizeof *s);
    sfu_sdp_init(s, 42, 1);
    sfu_sdp_media *m = sfu_sdp_media_add(s, SFU_SDP_KIND_AUDIO, SFU_SDP_PROTO_UDP_TLS_RTP_SAVPF);
    REQUIRE(m != NULL);
    strcpy(m->mid, "0");
    CHECK_INT_EQ(sfu_sdp_media_add_codec(m, 111, "opus", 48000, 2, "minptime=10"), 0);
    CHECK_INT_EQ(sfu_sdp_media_add_codec(m, 111, "opus", 48000, 2, NULL), -1);
    CHECK_INT_EQ(sfu_sdp_media_add_codec(m, 128, "x", 1, 0, NULL), -1);
    CHECK_INT_EQ(sfu_sdp_media_add_codec(m, 112, "x", 1, 0, "a\r\nb"), -1);
    CHECK_INT_EQ(sfu_sdp_media_add_fb(m, 111, "transport-cc", NULL), 0);
    CHECK_INT_EQ(sfu_sdp_media_add_fb(m, -1, "nack", "pli"), 0);
    CHECK_INT_EQ(sfu_sdp_media_add_extmap(m, 0, "urn:x"), -1);
    CHECK_INT_EQ(sfu_sdp_media_add_extmap(m, 1, "urn:x"), 0);
    CHECK_INT_EQ(sfu_sdp_media_add_extmap(m, 1, "urn:y"), -1);
    CHECK_INT_EQ(sfu_sdp_media_add_ssrc(m, 5, "cname", "abc"), 0);
    uint32_t g[2] = {5, 6};
    CHECK_INT_EQ(sfu_sdp_media_add_ssrc_group(m, "FID", g, 2), 0);
    sfu_sdp_candidate c;
    REQUIRE(sfu_sdp_candidate_parse("candidate:1 1 udp 5 10.0.0.1 4000 typ host", &c) == 0);
    CHECK_INT_EQ(sfu_sdp_add_candidate(s, 0, &c), 0);
    CHECK_INT_EQ(sfu_sdp_add_candidate(s, 1, &c), -1);
    static char buf[4096];
    int n = sfu_sdp_write(s, buf, sizeof buf);
    REQUIRE(n > 0);
    CHECK(strstr(buf, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n") != NULL);
    CHECK(strstr(buf, "a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n"
                      "a=fmtp:111 minptime=10\r\n") != NULL);
    CHECK(strstr(buf, "a=rtcp-fb:* nack pli\r\n") != NULL);
    CHECK(strstr(buf, "a=candidate:1 1 udp 5 10.0.0.1 4000 typ host\r\n") != NULL);
    CHECK(strstr(buf, "a=ssrc-group:FID 5 6\r\na=ssrc:5 cname:abc\r\n") != NULL);
    /* an injected line break makes the writer fail */
    strcpy(m->mid, "0\r\na=evil");
    CHECK_INT_EQ(sfu_sdp_write(s, buf, sizeof buf), -1);
    strcpy(m->mid, "0");
    strcpy(m->ssrcs[0].value, "x\ny");
    CHECK_INT_EQ(sfu_sdp_write(s, buf, sizeof buf), -1);
    free(s);
}

TEST(sdp_param_get_edge_cases)
{
    char v[8];
    CHECK_INT_EQ(sfu_sdp_param_get("a=1; b = 2 ;c", "b", v, sizeof v), 1);
    CHECK_STR_EQ(v, "2");
    CHECK_INT_EQ(sfu_sdp_param_get("a=1;c", "c", v, sizeof v), 0);
    CHECK_INT_EQ(sfu_sdp_param_get("a=1;ab=2", "b", v, sizeof v), -1);
    CHECK_INT_EQ(sfu_sdp_param_get("APT=96", "apt", v, sizeof v), 2);
    CHECK_INT_EQ(sfu_sdp_param_get("x=123456789", "x", v, sizeof v), -2);
    CHECK_INT_EQ(sfu_sdp_param_get("", "x", v, sizeof v), -1);
    uint32_t u;
    CHECK_INT_EQ(sfu_sdp_param_u32("apt=-1", "apt", &u), -1);
    CHECK_INT_EQ(sfu_sdp_param_u32("apt=99999999999", "apt", &u), -1);
}
