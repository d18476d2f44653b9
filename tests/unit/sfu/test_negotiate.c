/* Unit tests for sfu/negotiate*.c: answers to Chromium and Firefox offers,
 * rejected m-lines, errors, and offers authored by the SFU. Each answer is
 * written and parsed back, so the text is checked as well as the model. */
#include "sfu/negotiate.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>

#define FP                                                                                         \
    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:"   \
    "88:99"

typedef struct fixture {
    sfu_sdp offer, answer, back;
    sfu_neg_local local;
    sfu_neg_result res;
    char text[65536];
    char err[256];
} fixture;

static fixture *fixture_new(void)
{
    fixture *f = calloc(1, sizeof *f);
    sfu_neg_local_init(&f->local);
    strcpy(f->local.ice_ufrag, "sfu1");
    strcpy(f->local.ice_pwd, "abcdefghijklmnopqrstuvwx");
    strcpy(f->local.fingerprint, FP);
    f->local.session_id = 777;
    return f;
}

static int load_offer(fixture *f, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sdp/%s", th_data_dir(), name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    size_t n = fread(f->text, 1, sizeof f->text - 1, fp);
    fclose(fp);
    return sfu_sdp_parse(f->text, n, &f->offer, f->err, sizeof f->err);
}

static int parse_offer(fixture *f, const char *text)
{
    return sfu_sdp_parse(text, strlen(text), &f->offer, f->err, sizeof f->err);
}

/* Answer, write, parse the written answer back into f->back. */
static int answer(fixture *f)
{
    int rc = sfu_negotiate_answer(&f->offer, &f->local, &f->answer, &f->res, f->err, sizeof f->err);
    if (rc != 0)
        return rc;
    int n = sfu_sdp_write(&f->answer, f->text, sizeof f->text);
    if (n <= 0) {
        printf("# answer does not write\n");
        return -2;
    }
    if (sfu_sdp_parse(f->text, (size_t)n, &f->back, f->err, sizeof f->err) != 0) {
        printf("# answer does not parse: %s\n", f->err);
        return -3;
    }
    return 0;
}

TEST(negotiate_answers_chromium_offer)
{
    fixture *f = fixture_new();
    REQUIRE(load_offer(f, "chrome_offer.sdp") == 0);
    int rc = answer(f);
    if (rc)
        printf("# %s\n", f->err);
    REQUIRE(rc == 0);
    const sfu_neg_result *r = &f->res;
    CHECK_INT_EQ(r->media_count, 3);
    CHECK_INT_EQ(r->bundle_index, 0);
    CHECK_STR_EQ(r->remote_ice_ufrag, "Jpbd");
    CHECK_STR_EQ(r->remote_fingerprint.hash, "sha-256");
    CHECK_INT_EQ(r->remote_setup, SFU_SDP_SETUP_ACTPASS);
    CHECK_INT_EQ(r->local_setup, SFU_SDP_SETUP_PASSIVE);
    CHECK(r->remote_trickle);

    /* audio: opus with the offer's pt and fmtp, recvonly */
    const sfu_neg_media *a = &r->media[0];
    CHECK(a->accepted);
    CHECK_STR_EQ(a->mid, "0");
    CHECK_STR_EQ(a->codec.name, "opus");
    CHECK_INT_EQ(a->codec.pt, 111);
    CHECK_INT_EQ(a->rtx_pt, -1);
    CHECK_INT_EQ(a->direction, SFU_SDP_DIR_RECVONLY);
    CHECK(a->remote_sends);
    CHECK(!a->remote_receives);
    CHECK_INT_EQ(a->ext_audio_level, 1);
    CHECK_INT_EQ(a->ext_abs_send_time, 2);
    CHECK_INT_EQ(a->ext_twcc, 3);
    CHECK_INT_EQ(a->ext_mid, 4);
    CHECK_INT_EQ(a->ext_rid, 0);
    CHECK(a->fb_twcc);
    CHECK(!a->fb_nack);
    CHECK_INT_EQ(a->remote_ssrc_count, 1);
    CHECK_UINT_EQ(a->remote_ssrcs[0], 3735928559u);
    CHECK_STR_EQ(a->remote_cname, "Zp9kXw3T6bQm1cLr");

    /* video: VP8 96 + RTX 97, simulcast h;m;l */
    const sfu_neg_media *v = &r->media[1];
    CHECK(v->accepted);
    CHECK_STR_EQ(v->codec.name, "VP8");
    CHECK_INT_EQ(v->codec.pt, 96);
    CHECK_INT_EQ(v->rtx_pt, 97);
    CHECK(v->fb_nack && v->fb_nack_pli && v->fb_ccm_fir && v->fb_remb && v->fb_twcc);
    CHECK_INT_EQ(v->ext_mid, 4);
    CHECK_INT_EQ(v->ext_rid, 10);
    CHECK_INT_EQ(v->ext_rrid, 11);
    CHECK_INT_EQ(v->ext_twcc, 3);
    CHECK_INT_EQ(v->ext_audio_level, 0);
    CHECK_INT_EQ(v->rid_count, 3);
    CHECK_STR_EQ(v->rids[0], "h");
    CHECK_STR_EQ(v->rids[2], "l");
    CHECK(v->rtcp_rsize);

    /* data channel */
    const sfu_neg_media *d = &r->media[2];
    CHECK(d->accepted);
    CHECK_INT_EQ(d->kind, SFU_SDP_KIND_APPLICATION);
    CHECK_INT_EQ(d->remote_sctp_port, 5000);
    CHECK_UINT_EQ(d->remote_max_message_size, 262144);

    /* the written answer, parsed back */
    const sfu_sdp *b = &f->back;
    const sfu_sdp_group *g = sfu_sdp_group_find(b, "BUNDLE");
    REQUIRE(g != NULL);
    CHECK_INT_EQ(g->count, 3);
    CHECK_STR_EQ(g->mids[0], "0");
    CHECK_STR_EQ(g->mids[1], "1");
    CHECK_STR_EQ(g->mids[2], "2");
    CHECK_STR_EQ(b->msid_semantic, "WMS *");
    CHECK(b->extmap_allow_mixed);
    REQUIRE(b->media_count == 3);
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(b->media[i].setup, SFU_SDP_SETUP_PASSIVE);
        CHECK_STR_EQ(b->media[i].ice_ufrag, "sfu1");
        CHECK_STR_EQ(b->media[i].fingerprint.value, FP);
        CHECK(b->media[i].ice_trickle);
        CHECK_INT_EQ(b->media[i].port, 9);
    }
    const sfu_sdp_media *ba = &b->media[0];
    CHECK_INT_EQ(ba->pt_count, 1);
    CHECK_INT_EQ(ba->pts[0], 111);
    CHECK_STR_EQ(sfu_sdp_codec_find(ba, 111)->fmtp, "minptime=10;useinbandfec=1");
    CHECK_INT_EQ(ba->direction, SFU_SDP_DIR_RECVONLY);
    CHECK(ba->rtcp_mux && ba->rtcp_rsize);
    CHECK_INT_EQ(ba->extmap_count, 4);
    const sfu_sdp_media *bv = &b->media[1];
    CHECK_INT_EQ(bv->pt_count, 2);
    CHECK_INT_EQ(sfu_sdp_rtx_pt(bv, 96), 97);
    CHECK(sfu_sdp_has_fb(bv, 96, "nack", "pli"));
    CHECK(sfu_sdp_has_fb(bv, 96, "goog-remb", NULL));
    CHECK_INT_EQ(sfu_sdp_extmap_id(bv, "urn:ietf:params:rtp-hdrext:toffset"), 0);
    CHECK_INT_EQ(sfu_sdp_extmap_id(bv, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"), 10);
    CHECK_INT_EQ(bv->direction, SFU_SDP_DIR_RECVONLY);
    CHECK(bv->simulcast.present);
    CHECK_INT_EQ(bv->simulcast.send.count, 0);
    CHECK_INT_EQ(bv->simulcast.recv.count, 3);
    CHECK_STR_EQ(bv->simulcast.recv.streams[1].alts[0].rid, "m");
    CHECK_INT_EQ(bv->rid_count, 3);
    for (int i = 0; i < 3; i++)
        CHECK_INT_EQ(bv->rids[i].dir, SFU_SDP_RID_RECV);
    CHECK(strstr(f->text, "a=simulcast:recv h;m;l\r\n") != NULL);
    CHECK(strstr(f->text, "a=rid:h recv\r\n") != NULL);
    const sfu_sdp_media *bd = &b->media[2];
    CHECK(strstr(f->text, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n") != NULL);
    CHECK_INT_EQ(bd->sctp_port, 5000);
    CHECK_UINT_EQ(bd->max_message_size, 262144);
    free(f);
}

TEST(negotiate_h264_and_vp9_preferences)
{
    fixture *f = fixture_new();
    REQUIRE(load_offer(f, "chrome_offer.sdp") == 0);
    /* Drop VP8 from the offer's m= list: H264 pm=1 42e01f (106) wins. */
    sfu_sdp_media *v = &f->offer.media[1];
    for (int i = 0; i < v->pt_count; i++)
        if (v->pts[i] == 96)
            v->pts[i] = 118; /* ulpfec, twice is harmless for the lookup */
    f->local.enable_h264 = 1;
    f->local.enable_vp9 = 1;
    REQUIRE(answer(f) == 0);
    CHECK_STR_EQ(f->res.media[1].codec.name, "H264");
    CHECK_INT_EQ(f->res.media[1].codec.pt, 106);
    CHECK_INT_EQ(f->res.media[1].rtx_pt, 107);
    CHECK(strstr(f->res.media[1].codec.fmtp, "profile-level-id=42e01f") != NULL);
    /* Without H264, VP9 profile 0 (98) */
    f->local.enable_h264 = 0;
    REQUIRE(answer(f) == 0);
    CHECK_STR_EQ(f->res.media[1].codec.name, "VP9");
    CHECK_INT_EQ(f->res.media[1].codec.pt, 98);
    CHECK_INT_EQ(f->res.media[1].rtx_pt, 99);
    free(f);
}

TEST(negotiate_answers_firefox_offer_and_sends)
{
    fixture *f = fixture_new();
    REQUIRE(load_offer(f, "firefox_offer.sdp") == 0);
    f->local.action[1] = SFU_NEG_SENDRECV;
    f->local.track[1].ssrc = 1111;
    f->local.track[1].rtx_ssrc = 2222;
    strcpy(f->local.track[1].stream_id, "room1");
    strcpy(f->local.track[1].track_id, "cam");
    sfu_sdp_candidate c;
    REQUIRE(sfu_sdp_candidate_parse("candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", &c) ==
            0);
    f->local.candidates[0] = c;
    f->local.candidate_count = 1;
    f->local.end_of_candidates = 1;
    int rc = answer(f);
    if (rc)
        printf("# %s\n", f->err);
    REQUIRE(rc == 0);
    const sfu_neg_media *a = &f->res.media[0];
    CHECK_INT_EQ(a->codec.pt, 109);
    CHECK_STR_EQ(a->codec.fmtp, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
    CHECK_INT_EQ(a->ext_audio_level, 1);
    CHECK_INT_EQ(a->ext_mid, 3);
    const sfu_neg_media *v = &f->res.media[1];
    CHECK_INT_EQ(v->codec.pt, 120);
    CHECK_INT_EQ(v->rtx_pt, 124);
    CHECK_INT_EQ(v->direction, SFU_SDP_DIR_SENDRECV);
    CHECK(v->remote_sends && v->remote_receives);
    CHECK_INT_EQ(v->remote_ssrc_count, 1);
    CHECK_UINT_EQ(v->remote_ssrcs[0], 3110266005u);
    CHECK_UINT_EQ(v->remote_rtx_ssrcs[0], 1795423386u);
    CHECK_UINT_EQ(v->local_ssrc, 1111);
    CHECK_UINT_EQ(v->local_rtx_ssrc, 2222);
    CHECK_STR_EQ(v->remote_msid_stream, "{5d4e3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c}");
    const sfu_sdp_media *bv = &f->back.media[1];
    CHECK(bv->has_msid);
    CHECK_STR_EQ(bv->msid_stream, "room1");
    CHECK_STR_EQ(bv->msid_track, "cam");
    CHECK_INT_EQ(bv->ssrc_group_count, 1);
    CHECK_STR_EQ(bv->ssrc_groups[0].semantics, "FID");
    CHECK_UINT_EQ(bv->ssrc_groups[0].ssrcs[1], 2222);
    CHECK_INT_EQ(bv->ssrc_count, 4);
    CHECK(strstr(f->text, "a=ssrc:1111 cname:mentorlink\r\n") != NULL);
    CHECK(strstr(f->text, "a=ssrc:2222 msid:room1 cam\r\n") != NULL);
    /* playout-delay is not ours; toffset neither */
    CHECK_INT_EQ(bv->extmap_count, 3);
    /* candidate on the bundle m-line only, with end-of-candidates */
    CHECK_INT_EQ(f->back.candidate_count, 1);
    CHECK_INT_EQ(f->back.candidates[0].mline, 0);
    CHECK_INT_EQ(f->back.candidates[0].port, 40000);
    CHECK(f->back.media[0].end_of_candidates);
    free(f);
}

#define HEAD "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
#define ICE                                                                                        \
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 " FP          \
    "\r\na=setup:actpass\r\n"
#define AUDIO                                                                                      \
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\na=rtcp-mux\r\na=sendonly\r\n"                   \
    "a=rtpmap:111 opus/48000/2\r\n"

TEST(negotiate_offer_without_fingerprint_is_an_error)
{
    fixture *f = fixture_new();
    REQUIRE(parse_offer(f, HEAD "a=group:BUNDLE a\r\n" AUDIO
                                "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n") == 0);
    CHECK_INT_EQ(answer(f), -1);
    CHECK(strstr(f->err, "missing a=fingerprint") != NULL);
    /* and without ICE credentials */
    REQUIRE(parse_offer(f, HEAD "a=group:BUNDLE a\r\n" AUDIO "a=fingerprint:sha-256 " FP "\r\n") ==
            0);
    CHECK_INT_EQ(answer(f), -1);
    CHECK(strstr(f->err, "ice-ufrag") != NULL);
    free(f);
}

TEST(negotiate_rejects_video_with_only_unsupported_codec)
{
    fixture *f = fixture_new();
    REQUIRE(parse_offer(f, HEAD "a=group:BUNDLE a v\r\n" AUDIO ICE
                                "m=video 9 UDP/TLS/RTP/SAVPF 45 46\r\na=mid:v\r\na=rtcp-mux\r\n"
                                "a=sendonly\r\na=rtpmap:45 AV1/90000\r\na=rtpmap:46 rtx/90000\r\n"
                                "a=fmtp:46 apt=45\r\n" ICE) == 0);
    int rc = answer(f);
    if (rc)
        printf("# %s\n", f->err);
    REQUIRE(rc == 0);
    CHECK(f->res.media[0].accepted);
    CHECK(!f->res.media[1].accepted);
    CHECK_STR_EQ(f->res.media[1].reason, "no common codec");
    CHECK_INT_EQ(f->back.media[0].port, 9);
    CHECK_INT_EQ(f->back.media[1].port, 0);
    CHECK_STR_EQ(f->back.media[1].mid, "v");
    CHECK_INT_EQ(f->back.media[1].direction, SFU_SDP_DIR_INACTIVE);
    CHECK(strstr(f->text, "m=video 0 UDP/TLS/RTP/SAVPF 45\r\n") != NULL);
    const sfu_sdp_group *g = sfu_sdp_group_find(&f->back, "BUNDLE");
    REQUIRE(g != NULL);
    CHECK_INT_EQ(g->count, 1);
    CHECK_STR_EQ(g->mids[0], "a");
    free(f);
}

TEST(negotiate_rejects_unusable_m_lines)
{
    fixture *f = fixture_new();
    REQUIRE(parse_offer(
                f, HEAD
                "a=group:BUNDLE a t d n\r\n" AUDIO ICE
                "m=text 9 UDP/TLS/RTP/SAVPF 98\r\na=mid:t\r\na=rtcp-mux\r\n" ICE
                "m=application 9 DTLS/SCTP 5000\r\na=mid:d\r\n" ICE
                "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:n\r\na=rtpmap:111 opus/48000/2\r\n" ICE
                "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x\r\na=rtcp-mux\r\n"
                "a=rtpmap:111 opus/48000/2\r\n" ICE
                "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:z\r\na=rtcp-mux\r\n"
                "a=rtpmap:111 opus/48000/2\r\n" ICE) == 0);
    REQUIRE(answer(f) == 0);
    CHECK(f->res.media[0].accepted);
    CHECK_STR_EQ(f->res.media[1].reason, "unsupported media kind");
    CHECK_STR_EQ(f->res.media[2].reason, "unsupported protocol");
    CHECK_STR_EQ(f->res.media[3].reason, "rtcp-mux required");
    CHECK_STR_EQ(f->res.media[4].reason, "not in the BUNDLE group");
    CHECK_STR_EQ(f->res.media[5].reason, "rejected by offerer");
    CHECK(strstr(f->text, "m=text 0 UDP/TLS/RTP/SAVPF 98\r\n") != NULL);
    CHECK(strstr(f->text, "m=application 0 DTLS/SCTP 5000\r\n") != NULL);
    for (int i = 1; i < 6; i++)
        CHECK_INT_EQ(f->back.media[i].port, 0);
    /* local policy: reject everything -> error */
    for (int i = 0; i < SFU_SDP_MAX_MEDIA; i++)
        f->local.action[i] = SFU_NEG_REJECT;
    CHECK_INT_EQ(answer(f), -1);
    CHECK(strstr(f->err, "no acceptable m-line") != NULL);
    free(f);
}

TEST(negotiate_setup_roles_and_local_checks)
{
    fixture *f = fixture_new();
    REQUIRE(parse_offer(f, HEAD "a=group:BUNDLE a\r\n" AUDIO
                                "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
                                "a=fingerprint:sha-256 " FP "\r\na=setup:passive\r\n") == 0);
    REQUIRE(answer(f) == 0);
    CHECK_INT_EQ(f->res.local_setup, SFU_SDP_SETUP_ACTIVE);
    CHECK_INT_EQ(f->back.media[0].setup, SFU_SDP_SETUP_ACTIVE);
    /* our fingerprint must be SHA-256 */
    strcpy(f->local.fingerprint, "AA:BB");
    CHECK_INT_EQ(answer(f), -1);
    CHECK(strstr(f->err, "fingerprint") != NULL);
    /* no BUNDLE in the offer: one m-line is fine, and the answer has no group */
    strcpy(f->local.fingerprint, FP);
    REQUIRE(parse_offer(f, HEAD AUDIO ICE) == 0);
    REQUIRE(answer(f) == 0);
    CHECK(f->res.media[0].accepted);
    CHECK(sfu_sdp_group_find(&f->back, "BUNDLE") == NULL);
    CHECK(strstr(f->text, "a=group:") == NULL);
    f->local.ice_pwd[0] = '\0';
    CHECK_INT_EQ(answer(f), -1);
    CHECK(strstr(f->err, "ice_pwd") != NULL);
    free(f);
}

TEST(negotiate_offer_from_sfu_round_trips_and_is_answerable)
{
    fixture *f = fixture_new();
    f->local.enable_h264 = 1;
    sfu_neg_offer_media m[3];
    memset(m, 0, sizeof m);
    m[0].kind = SFU_SDP_KIND_AUDIO;
    strcpy(m[0].mid, "0");
    m[0].action = SFU_NEG_SEND;
    m[0].track.ssrc = 10;
    strcpy(m[0].track.stream_id, "mentor");
    strcpy(m[0].track.track_id, "mic");
    m[1].kind = SFU_SDP_KIND_VIDEO;
    strcpy(m[1].mid, "1");
    m[1].action = SFU_NEG_SEND;
    m[1].track.ssrc = 20;
    m[1].track.rtx_ssrc = 21;
    strcpy(m[1].track.stream_id, "mentor");
    strcpy(m[1].track.track_id, "cam");
    m[2].kind = SFU_SDP_KIND_APPLICATION;
    strcpy(m[2].mid, "2");
    m[2].action = SFU_NEG_SENDRECV;
    int rc = sfu_negotiate_offer(&f->local, m, 3, &f->offer, &f->res, f->err, sizeof f->err);
    if (rc)
        printf("# %s\n", f->err);
    REQUIRE(rc == 0);
    CHECK_INT_EQ(f->res.local_setup, SFU_SDP_SETUP_ACTPASS);
    CHECK_INT_EQ(f->res.media[1].codec.pt, SFU_NEG_PT_VP8);
    CHECK_INT_EQ(f->res.media[1].rtx_pt, SFU_NEG_PT_VP8_RTX);
    CHECK_INT_EQ(f->res.media[1].ext_mid, SFU_NEG_EXTID_MID);
    CHECK_INT_EQ(f->res.media[1].ext_rid, 0);
    CHECK_INT_EQ(f->res.media[0].ext_audio_level, SFU_NEG_EXTID_AUDIO_LEVEL);
    CHECK_UINT_EQ(f->res.media[1].local_rtx_ssrc, 21);
    int n = sfu_sdp_write(&f->offer, f->text, sizeof f->text);
    REQUIRE(n > 0);
    CHECK(strstr(f->text, "a=setup:actpass\r\n") != NULL);
    CHECK(strstr(f->text, "a=group:BUNDLE 0 1 2\r\n") != NULL);
    CHECK(strstr(f->text, "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\r\n") != NULL);
    CHECK(strstr(f->text, "a=fmtp:103 apt=102\r\n") != NULL);
    CHECK(strstr(f->text, "a=sendonly\r\n") != NULL);
    CHECK(strstr(f->text, "a=ssrc-group:FID 20 21\r\n") != NULL);
    REQUIRE(sfu_sdp_parse(f->text, (size_t)n, &f->back, f->err, sizeof f->err) == 0);
    CHECK_INT_EQ(f->back.media[1].pt_count, 4);

    /* The offer is itself acceptable to our answerer (as a browser would). */
    f->offer = f->back;
    for (int i = 0; i < 3; i++)
        f->local.action[i] = SFU_NEG_RECV;
    rc = answer(f);
    if (rc)
        printf("# %s\n", f->err);
    REQUIRE(rc == 0);
    CHECK_STR_EQ(f->res.media[1].codec.name, "VP8");
    CHECK_UINT_EQ(f->res.media[1].remote_ssrcs[0], 20);
    CHECK_UINT_EQ(f->res.media[1].remote_rtx_ssrcs[0], 21);

    /* restricting to one codec; bad requests */
    strcpy(m[1].codec, "H264");
    REQUIRE(sfu_negotiate_offer(&f->local, m, 3, &f->offer, &f->res, f->err, sizeof f->err) == 0);
    CHECK_INT_EQ(f->offer.media[1].pt_count, 2);
    CHECK_INT_EQ(f->res.media[1].codec.pt, SFU_NEG_PT_H264);
    strcpy(m[1].codec, "AV1");
    CHECK_INT_EQ(sfu_negotiate_offer(&f->local, m, 3, &f->offer, &f->res, f->err, sizeof f->err),
                 -1);
    m[1].codec[0] = '\0';
    strcpy(m[1].mid, "0");
    CHECK_INT_EQ(sfu_negotiate_offer(&f->local, m, 3, &f->offer, &f->res, f->err, sizeof f->err),
                 -1);
    CHECK(strstr(f->err, "duplicate mid") != NULL);
    CHECK_INT_EQ(sfu_negotiate_offer(&f->local, m, 0, &f->offer, &f->res, f->err, sizeof f->err),
                 -1);
    free(f);
}
