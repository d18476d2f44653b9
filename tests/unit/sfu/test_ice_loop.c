/*
 * Per-agent contexts driven through epoll (sfu/ice_loop.c): two of our
 * agents connect to each other over 127.0.0.1 through the loop and trade
 * datagrams while the owner context holds only the loop's own descriptors;
 * closed agents free their contexts; a descriptor closed by one sub and
 * reused by another is still served; timeouts and touches iterate a sub;
 * SFU_ICE_SUBCTX=0 turns the loop off.
 */
#include "sfu/ice.h"
#include "sfu/ice_loop.h"
#include "tests/unit/harness.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct side {
    sfu_ice *ice;
    int state;
    int packets;
    char last[64];
    char cands[8][SFU_ICE_CAND_LEN];
    int n_cands;
} side;

static void s_cand(void *u, const char *c)
{
    side *s = u;
    if (s->n_cands < 8)
        snprintf(s->cands[s->n_cands++], SFU_ICE_CAND_LEN, "%s", c);
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

static gboolean keep(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE;
}

/* Iterate ctx (blocking, as a worker does) until done() or ms passed. */
static void spin(GMainContext *ctx, int ms, int (*done)(void *), void *arg)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    GSource *tick = g_timeout_source_new(5); /* bounds each blocking wait */
    g_source_set_callback(tick, keep, NULL, NULL);
    g_source_attach(tick, ctx);
    while (g_get_monotonic_time() < end && !(done && done(arg)))
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(tick);
    g_source_unref(tick);
}

static int both_connected(void *arg)
{
    side *s = arg;
    return s[0].state == SFU_ICE_CONNECTED && s[1].state == SFU_ICE_CONNECTED;
}
static int both_got(void *arg)
{
    side *s = arg;
    return s[0].packets > 0 && s[1].packets > 0;
}

static sfu_ice *make(GMainContext *ctx, sfu_ice_options *o, side *s)
{
    sfu_ice_callbacks cb = {.on_candidate = s_cand, .on_state = s_state, .on_packet = s_packet};
    sfu_ice *ice = sfu_ice_create(ctx, o, NULL, NULL, &cb, s);
    if (ice && sfu_ice_gather(ice) == 0) {
        sfu_ice_local_candidates(ice, (void (*)(void *, const char *))s_cand, s);
        return ice;
    }
    return NULL;
}

static void introduce(side *a, side *b)
{
    char u[64], p[64];
    sfu_ice_local_credentials(b->ice, u, sizeof u, p, sizeof p);
    sfu_ice_set_remote_credentials(a->ice, u, p);
    for (int i = 0; i < b->n_cands; i++)
        sfu_ice_add_remote_candidate(a->ice, b->cands[i]);
    sfu_ice_remote_gathering_done(a->ice);
}

/* Descriptors the owner context polls (its query). */
static int owner_fds(GMainContext *ctx)
{
    gint prio = 0, timeout = 0;
    GPollFD fds[64];
    g_main_context_prepare(ctx, &prio);
    int n = g_main_context_query(ctx, prio, &timeout, fds, 64);
    g_main_context_check(ctx, prio, fds, n > 64 ? 64 : n);
    return n;
}

static int no_subs(void *arg)
{
    sfu_ice_loop_stats st;
    sfu_ice_loop_get_stats(arg, &st);
    return st.subs == 0;
}

TEST(agents_on_the_loop_connect_and_trade_datagrams)
{
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    int fds_before = owner_fds(ctx);
    sfu_ice_loop *loop = sfu_ice_loop_install(ctx);
    REQUIRE(loop != NULL);
    CHECK(sfu_ice_loop_for(ctx) == loop);
    CHECK(sfu_ice_loop_for(NULL) == NULL);
    CHECK(sfu_ice_loop_install(ctx) == NULL); /* one per thread */

    sfu_ice_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.addrs[0], SFU_ICE_ADDR_LEN, "127.0.0.1");
    o.n_addrs = 1;
    o.consent_freshness = 1;
    sfu_ice_options oc = o;
    oc.controlling = 1;
    side s[2];
    memset(s, 0, sizeof s);
    s[0].ice = make(ctx, &o, &s[0]);
    s[1].ice = make(ctx, &oc, &s[1]);
    REQUIRE(s[0].ice != NULL && s[1].ice != NULL);
    REQUIRE(s[0].n_cands >= 1 && s[1].n_cands >= 1);
    introduce(&s[0], &s[1]);
    introduce(&s[1], &s[0]);
    spin(ctx, 10000, both_connected, s);
    CHECK_INT_EQ(s[0].state, SFU_ICE_CONNECTED);
    CHECK_INT_EQ(s[1].state, SFU_ICE_CONNECTED);
    /* The agents' sockets and timers are not on the owner context: it
     * polls its own wake-up descriptor and the loop's epoll descriptor. */
    CHECK_INT_EQ(owner_fds(ctx), fds_before + 1);

    CHECK_INT_EQ(sfu_ice_send(s[0].ice, (const uint8_t *)"\x80" "one", 4), 0);
    CHECK_INT_EQ(sfu_ice_send(s[1].ice, (const uint8_t *)"\x80" "two", 4), 0);
    spin(ctx, 5000, both_got, s);
    CHECK_INT_EQ(s[1].packets, 1);
    CHECK_STR_EQ(s[1].last, "\x80" "one");
    CHECK_INT_EQ(s[0].packets, 1);
    CHECK_STR_EQ(s[0].last, "\x80" "two");
    /* 200 more each way, all delivered, in order of arrival. */
    for (int i = 0; i < 200; i++) {
        char m[16];
        int n = snprintf(m, sizeof m, "\x80%d", i);
        sfu_ice_send(s[0].ice, (const uint8_t *)m, (size_t)n);
        sfu_ice_send(s[1].ice, (const uint8_t *)m, (size_t)n);
        if (i % 20 == 19)
            g_main_context_iteration(ctx, FALSE);
    }
    int want[2] = {201, 201};
    gint64 end = g_get_monotonic_time() + 5000000;
    while (g_get_monotonic_time() < end && (s[0].packets < want[0] || s[1].packets < want[1]))
        g_main_context_iteration(ctx, TRUE);
    CHECK_INT_EQ(s[0].packets, 201);
    CHECK_INT_EQ(s[1].packets, 201);
    CHECK_STR_EQ(s[1].last, "\x80" "199");

    sfu_ice_loop_stats st;
    sfu_ice_loop_get_stats(loop, &st);
    CHECK_UINT_EQ(st.subs, 2);
    CHECK_UINT_EQ(st.created, 2);
    CHECK(st.io_steps > 0);
    CHECK(st.timer_steps > 0); /* libnice's connectivity-check pacing */
    CHECK(st.touch_steps > 0); /* candidates added from outside */
    CHECK(st.wakeups > 0);
    /* Datagrams are read by iterating only the receiving agent's context:
     * far fewer iterations than two per datagram would be if every wake-up
     * iterated both agents. */
    CHECK(st.io_steps < 2u * 402u);

    /* ICE restart and its touch: new credentials, still alive. */
    CHECK_INT_EQ(sfu_ice_restart(s[0].ice), 0);
    spin(ctx, 50, NULL, NULL);

    sfu_ice_destroy(s[0].ice);
    sfu_ice_destroy(s[1].ice);
    spin(ctx, 3000, no_subs, loop);
    sfu_ice_loop_get_stats(loop, &st);
    CHECK_UINT_EQ(st.subs, 0); /* both agents closed, contexts freed */
    sfu_ice_loop_free(loop);
    CHECK(sfu_ice_loop_for(ctx) == NULL);
    CHECK_INT_EQ(owner_fds(ctx), fds_before);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
}

/* ---- descriptors and timeouts on subs, without libnice ----------------- */

typedef struct reader {
    int got;
} reader;

static gboolean on_readable(GSocket *gs, GIOCondition cond, gpointer data)
{
    reader *r = data;
    (void)cond;
    char buf[64];
    while (recv(g_socket_get_fd(gs), buf, sizeof buf, MSG_DONTWAIT) > 0)
        r->got++;
    return G_SOURCE_CONTINUE;
}

static GSocket *bound_socket(struct sockaddr_in *addr)
{
    GSocket *g = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                              NULL);
    int fd = g_socket_get_fd(g);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)addr, sizeof *addr);
    socklen_t l = sizeof *addr;
    getsockname(fd, (struct sockaddr *)addr, &l);
    return g;
}

static GSource *watch(sfu_ice_sub *sub, GSocket *g, reader *r)
{
    GSource *src = g_socket_create_source(g, G_IO_IN, NULL);
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))on_readable, r, NULL);
    g_source_attach(src, sfu_ice_sub_context(sub));
    sfu_ice_sub_touch(sub);
    return src;
}

static int got_one(void *arg)
{
    return ((reader *)arg)->got > 0;
}

static gboolean count_tick(gpointer data)
{
    (*(int *)data)++;
    return G_SOURCE_CONTINUE;
}

static int ticks_done(void *arg)
{
    return *(int *)arg >= 5;
}

TEST(a_descriptor_reused_by_another_sub_is_served_and_timeouts_fire)
{
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    sfu_ice_loop *loop = sfu_ice_loop_install(ctx);
    REQUIRE(loop != NULL);
    sfu_ice_sub *a = sfu_ice_sub_new(loop), *b = sfu_ice_sub_new(loop);
    REQUIRE(a && b);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr;
    reader ra = {0}, rb = {0};
    GSocket *ga = bound_socket(&addr);
    int fd_a = g_socket_get_fd(ga);
    GSource *sa = watch(a, ga, &ra);
    spin(ctx, 20, NULL, NULL);
    sendto(tx, "x", 1, 0, (struct sockaddr *)&addr, sizeof addr);
    spin(ctx, 2000, got_one, &ra);
    CHECK_INT_EQ(ra.got, 1);
    /* a's socket closes and b opens one that gets the same number; both
     * are iterated in the same pass of the loop, b first (a's stale
     * registration must not take b's away when a drops it). */
    g_source_destroy(sa);
    g_source_unref(sa);
    g_object_unref(ga);
    GSocket *gb = bound_socket(&addr);
    CHECK_INT_EQ(g_socket_get_fd(gb), fd_a);
    GSource *sb = watch(b, gb, &rb);
    spin(ctx, 20, NULL, NULL);
    sfu_ice_sub_touch(a);
    spin(ctx, 20, NULL, NULL);
    sendto(tx, "y", 1, 0, (struct sockaddr *)&addr, sizeof addr);
    spin(ctx, 2000, got_one, &rb);
    CHECK_INT_EQ(rb.got, 1);
    CHECK_INT_EQ(ra.got, 1);

    /* A timeout on a sub's context fires through the loop's heap. */
    int ticks = 0;
    GSource *t = g_timeout_source_new(10);
    g_source_set_callback(t, count_tick, &ticks, NULL);
    g_source_attach(t, sfu_ice_sub_context(a));
    sfu_ice_sub_touch(a);
    gint64 t0 = g_get_monotonic_time();
    spin(ctx, 2000, ticks_done, &ticks);
    CHECK(ticks >= 5);
    CHECK(g_get_monotonic_time() - t0 >= 45000); /* not faster than its period */
    g_source_destroy(t);
    g_source_unref(t);

    g_source_destroy(sb);
    g_source_unref(sb);
    g_object_unref(gb);
    close(tx);
    sfu_ice_sub_release(a);
    spin(ctx, 20, NULL, NULL);
    sfu_ice_loop_stats st;
    sfu_ice_loop_get_stats(loop, &st);
    CHECK_UINT_EQ(st.subs, 1); /* a freed, b still there */
    /* A sub its owner has not released when the loop goes (an agent
     * still closing at thread exit) leaves the loop and is freed by the
     * later release; a touch in between does nothing. */
    sfu_ice_sub *c = sfu_ice_sub_new(loop);
    REQUIRE(c != NULL);
    sfu_ice_sub_release(b);
    sfu_ice_loop_free(loop); /* frees b, orphans c */
    sfu_ice_sub_touch(c);
    sfu_ice_sub_release(c); /* ASan: no use after free, no leak */
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
}

TEST(the_loop_can_be_switched_off)
{
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    setenv("SFU_ICE_SUBCTX", "0", 1);
    CHECK(sfu_ice_loop_install(ctx) == NULL);
    unsetenv("SFU_ICE_SUBCTX");
    CHECK(sfu_ice_loop_for(ctx) == NULL);
    /* Not the owner: refused. */
    GMainContext *other = g_main_context_new();
    CHECK(sfu_ice_loop_install(other) == NULL);
    g_main_context_unref(other);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
}
