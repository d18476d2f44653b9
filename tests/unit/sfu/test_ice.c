/*
 * ICE glue: options from the configuration, candidate lines we accept or
 * refuse, and a real connection over 127.0.0.1 between our controlled
 * agent and a plain libnice controlling agent (the browser's role),
 * exchanging credentials and trickled candidates both ways, then a datagram
 * each way.
 */
#include "sfu/ice.h"
#include "tests/unit/harness.h"

#include <nice/agent.h>
#include <stdio.h>
#include <string.h>

TEST(ice_options_from_config)
{
    ml_config cfg;
    ml_config_defaults(&cfg);
    sfu_ice_options o;
    char err[256];
    snprintf(cfg.ice_interfaces, sizeof cfg.ice_interfaces, "127.0.0.1, lo ,127.0.0.1");
    snprintf(cfg.stun_server, sizeof cfg.stun_server, "127.0.0.1:3479");
    snprintf(cfg.turn_uri, sizeof cfg.turn_uri, "turn:127.0.0.1:3480?transport=tcp");
    snprintf(cfg.turn_secret, sizeof cfg.turn_secret, "s");
    REQUIRE(sfu_ice_options_from_config(&cfg, &o, err, sizeof err) == 0);
    CHECK(o.n_addrs >= 1);
    CHECK_STR_EQ(o.addrs[0], "127.0.0.1");
    for (int i = 1; i < o.n_addrs; i++)
        CHECK(strcmp(o.addrs[i], "127.0.0.1") != 0); /* no duplicates */
    CHECK_STR_EQ(o.stun_ip, "127.0.0.1");
    CHECK_INT_EQ(o.stun_port, 3479);
    CHECK_STR_EQ(o.turn_ip, "127.0.0.1");
    CHECK_INT_EQ(o.turn_port, 3480);
    CHECK_INT_EQ(o.turn_tcp, 1);

    ml_config_defaults(&cfg);
    snprintf(cfg.ice_interfaces, sizeof cfg.ice_interfaces, "no-such-interface0");
    CHECK(sfu_ice_options_from_config(&cfg, &o, err, sizeof err) == -1);
    CHECK(strstr(err, "no-such-interface0") != NULL);
    ml_config_defaults(&cfg);
    snprintf(cfg.ice_public_ip, sizeof cfg.ice_public_ip, "not-an-ip");
    CHECK(sfu_ice_options_from_config(&cfg, &o, err, sizeof err) == -1);
    CHECK(strstr(err, "ice_public_ip") != NULL);
    ml_config_defaults(&cfg);
    CHECK(sfu_ice_options_from_config(&cfg, &o, err, sizeof err) == 0);
    CHECK_INT_EQ(o.n_addrs, 0);
}

typedef struct side {
    int state;
    int packets;
    char last[64];
    char cands[8][SFU_ICE_CAND_LEN];
    int n_cands;
    int done;
} side;

static void s_cand(void *u, const char *c)
{
    side *s = u;
    if (s->n_cands < 8)
        snprintf(s->cands[s->n_cands++], SFU_ICE_CAND_LEN, "%s", c);
}
static void s_done(void *u)
{
    ((side *)u)->done = 1;
}
static void s_state(void *u, sfu_ice_state st)
{
    ((side *)u)->state = (int)st;
}
static void s_packet(void *u, uint8_t *buf, size_t len)
{
    side *s = u;
    s->packets++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)buf);
}
static void list_cb(void *arg, const char *c)
{
    s_cand(arg, c);
}

typedef struct remote {
    int state;
    int packets;
    char last[64];
} remote;

static void r_state(NiceAgent *a, guint s, guint c, guint st, gpointer u)
{
    ((remote *)u)->state = (int)st;
}
static void r_recv(NiceAgent *a, guint s, guint c, guint len, gchar *buf, gpointer u)
{
    remote *r = u;
    r->packets++;
    snprintf(r->last, sizeof r->last, "%.*s", (int)len, buf);
}

static void spin(GMainContext *ctx, int ms, int (*done)(void *), void *arg)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end && !(done && done(arg)))
        g_main_context_iteration(ctx, FALSE), g_usleep(1000);
}

typedef struct pair {
    side *s;
    remote *r;
} pair;

static int both_connected(void *arg)
{
    pair *p = arg;
    return p->s->state == SFU_ICE_CONNECTED && (p->r->state == NICE_COMPONENT_STATE_CONNECTED ||
                                                p->r->state == NICE_COMPONENT_STATE_READY);
}
static int got_packets(void *arg)
{
    pair *p = arg;
    return p->s->packets > 0 && p->r->packets > 0;
}

TEST(ice_connects_over_loopback)
{
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    sfu_ice_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.addrs[0], SFU_ICE_ADDR_LEN, "127.0.0.1");
    o.n_addrs = 1;
    o.consent_freshness = 1;
    side s = {0};
    sfu_ice_callbacks cb = {.on_candidate = s_cand,
                            .on_gathering_done = s_done,
                            .on_state = s_state,
                            .on_packet = s_packet};
    sfu_ice *ice = sfu_ice_create(ctx, &o, NULL, NULL, &cb, &s);
    REQUIRE(ice != NULL);
    REQUIRE(sfu_ice_gather(ice) == 0);
    char ufrag[64], pwd[64];
    REQUIRE(sfu_ice_local_credentials(ice, ufrag, sizeof ufrag, pwd, sizeof pwd) == 0);
    CHECK(sfu_ice_local_candidates(ice, list_cb, &s) >= 1);
    REQUIRE(s.n_cands >= 1);
    CHECK(strncmp(s.cands[0], "candidate:", 10) == 0);
    CHECK(strstr(s.cands[0], " 127.0.0.1 ") != NULL);
    int ports[4];
    CHECK(sfu_ice_local_ports(ice, ports, 4) >= 1);

    /* The "browser": controlling, trickle. */
    remote r = {0};
    NiceAgent *a =
        nice_agent_new_full(ctx, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_ICE_TRICKLE);
    g_object_set(a, "controlling-mode", TRUE, "upnp", FALSE, "ice-tcp", FALSE, NULL);
    NiceAddress lo;
    nice_address_init(&lo);
    nice_address_set_from_string(&lo, "127.0.0.1");
    nice_agent_add_local_address(a, &lo);
    guint sid = nice_agent_add_stream(a, 1);
    g_signal_connect(a, "component-state-changed", G_CALLBACK(r_state), &r);
    nice_agent_attach_recv(a, sid, 1, ctx, r_recv, &r);
    REQUIRE(nice_agent_gather_candidates(a, sid));
    gchar *ru = NULL, *rp = NULL;
    nice_agent_get_local_credentials(a, sid, &ru, &rp);
    CHECK_INT_EQ(sfu_ice_set_remote_credentials(ice, ru, rp), 0);
    nice_agent_set_remote_credentials(a, sid, ufrag, pwd);
    /* Theirs -> ours through libnice's own SDP writer (tests our parser). */
    GSList *lc = nice_agent_get_local_candidates(a, sid, 1);
    int added = 0;
    for (GSList *l = lc; l; l = l->next) {
        gchar *line = nice_agent_generate_local_candidate_sdp(a, l->data);
        if (sfu_ice_add_remote_candidate(ice, line) == 0)
            added++;
        g_free(line);
    }
    g_slist_free_full(lc, (GDestroyNotify)nice_candidate_free);
    CHECK(added >= 1);
    CHECK_INT_EQ(sfu_ice_remote_gathering_done(ice), 0);
    /* Ours -> theirs through libnice's SDP parser (tests our writer). */
    for (int i = 0; i < s.n_cands; i++) {
        char line[SFU_ICE_CAND_LEN + 4];
        snprintf(line, sizeof line, "a=%s", s.cands[i]);
        NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(a, sid, line);
        CHECK(c != NULL);
        if (c) {
            GSList *one = g_slist_append(NULL, c);
            nice_agent_set_remote_candidates(a, sid, 1, one);
            g_slist_free_full(one, (GDestroyNotify)nice_candidate_free);
        }
    }
    nice_agent_peer_candidate_gathering_done(a, sid);
    pair p = {&s, &r};
    spin(ctx, 10000, both_connected, &p);
    CHECK_INT_EQ(s.state, SFU_ICE_CONNECTED);
    CHECK_INT_EQ(sfu_ice_get_state(ice), SFU_ICE_CONNECTED);
    CHECK(r.state == NICE_COMPONENT_STATE_CONNECTED || r.state == NICE_COMPONENT_STATE_READY);
    CHECK_INT_EQ(sfu_ice_send(ice, (const uint8_t *)"\x80ping", 5), 0);
    nice_agent_send(a, sid, 1, 5, "\x80pong");
    spin(ctx, 5000, got_packets, &p);
    CHECK_INT_EQ(r.packets, 1);
    CHECK_STR_EQ(r.last, "\x80ping");
    CHECK_INT_EQ(s.packets, 1);
    CHECK_STR_EQ(s.last, "\x80pong");

    /* Restart: new local credentials. */
    char ufrag2[64], pwd2[64];
    CHECK_INT_EQ(sfu_ice_restart(ice), 0);
    REQUIRE(sfu_ice_local_credentials(ice, ufrag2, sizeof ufrag2, pwd2, sizeof pwd2) == 0);
    CHECK(strcmp(ufrag, ufrag2) != 0);

    g_free(ru);
    g_free(rp);
    sfu_ice_destroy(ice);
    nice_agent_close_async(a, NULL, NULL);
    g_object_unref(a);
    spin(ctx, 200, NULL, NULL);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
}

TEST(ice_remote_candidate_filtering)
{
    GMainContext *ctx = g_main_context_new();
    sfu_ice_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.addrs[0], SFU_ICE_ADDR_LEN, "127.0.0.1");
    o.n_addrs = 1;
    side s = {0};
    sfu_ice_callbacks cb = {.on_candidate = s_cand, .on_state = s_state, .on_packet = s_packet};
    sfu_ice *ice = sfu_ice_create(ctx, &o, NULL, NULL, &cb, &s);
    REQUIRE(ice != NULL);
    CHECK_INT_EQ(sfu_ice_add_remote_candidate(
                     ice, "candidate:1 1 udp 2122194687 127.0.0.1 5000 typ host generation 0"),
                 0);
    CHECK_INT_EQ(sfu_ice_add_remote_candidate(
                     ice, "a=candidate:2 1 udp 1686052607 203.0.113.4 5001 typ srflx raddr "
                          "10.0.0.1 rport 5001 generation 0 network-cost 999"),
                 0);
    CHECK_INT_EQ(sfu_ice_add_remote_candidate(
                     ice, "candidate:3 1 tcp 1518214911 127.0.0.1 9 typ host tcptype active"),
                 1);
    CHECK_INT_EQ(sfu_ice_add_remote_candidate(
                     ice, "candidate:4 1 udp 2122194687 3f1c8e2a-1111.local 5000 typ host"),
                 1);
    CHECK_INT_EQ(
        sfu_ice_add_remote_candidate(ice, "candidate:5 2 udp 2122194687 127.0.0.1 5002 typ host"),
        1);
    const char *bad[] = {
        "",
        "candidate:",
        "candidate:1 1 udp",
        "candidate:1 1 udp 1 127.0.0.1 70000 typ host",
        "candidate:1 1 udp x 127.0.0.1 1 typ host",
        "candidate:1 1 udp 1 127.0.0.1 1 type host",
        "candidate:1 1 udp 1 127.0.0.1 1 typ bogus",
        "candidate:1 1 udp 1 999.1.1.1 1 typ host",
        "candidate:1 -1 udp 1 127.0.0.1 1 typ host",
        "garbage",
        "candidate:1111111111111111111111111111111111111111111 1 udp 1 127.0.0.1 1 typ host",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sfu_ice_add_remote_candidate(ice, bad[i]) != -1)
            th_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
    sfu_ice_destroy(ice);
    for (int i = 0; i < 50; i++)
        g_main_context_iteration(ctx, FALSE);
    g_main_context_unref(ctx);
}
