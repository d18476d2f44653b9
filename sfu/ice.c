/*
 * libnice glue for one peer (see ice.h). The agent is full ICE, controlled,
 * with trickle and consent checks (ice.h), one stream of one component. Local
 * candidates are written and remote ones parsed here (RFC 8839 attribute
 * syntax) rather than through libnice's SDP helpers, so that we control
 * which candidates we accept (UDP only, no mDNS names, component 1) and can
 * add the 1:1 NAT public address as an extra host candidate.
 *
 * Every local candidate line handed out is remembered, so a candidate listed
 * in the answer is never trickled a second time.
 */
#include "sfu/ice.h"

#include "common/log.h"
#include "sfu/ice_loop.h"
#include "sfu/udp_batch.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <nice/agent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

struct sfu_ice {
    NiceAgent *agent;
    GMainContext *ctx;  /* the caller's (a worker's): send batching lives there */
    sfu_ice_sub *sub;   /* the agent's own context when ctx has an ice_loop */
    GMainContext *nctx; /* where the agent's sources are: sub's context or ctx */
    guint stream;
    const sfu_ice_options *opt;
    sfu_ice_callbacks cb;
    void *user;
    GHashTable *announced; /* candidate lines already handed out */
    sfu_ice_state state;
    int gathering_done;
    int in_gather; /* inside nice_agent_gather_candidates() */
    int closing;
    /* Fast path (udp_batch.h): set while connected over a pair whose local
     * candidate is not relayed; NULL means "send through libnice". */
    sfu_udp_dest *direct;
    int direct_disabled; /* SFU_ICE_DIRECT=0 in the environment */
};

/* ---- options ---------------------------------------------------------- */

static void trim_token(char *s)
{
    char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    memmove(s, p, strlen(p) + 1);
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

static int add_addr(sfu_ice_options *o, const char *ip)
{
    for (int i = 0; i < o->n_addrs; i++)
        if (strcmp(o->addrs[i], ip) == 0)
            return 0;
    if (o->n_addrs >= SFU_ICE_MAX_ADDRS)
        return -1;
    snprintf(o->addrs[o->n_addrs++], SFU_ICE_ADDR_LEN, "%s", ip);
    return 0;
}

static int add_interface(sfu_ice_options *o, const char *name, char *err, size_t errlen)
{
    unsigned char tmp[16];
    if (inet_pton(AF_INET, name, tmp) == 1 || inet_pton(AF_INET6, name, tmp) == 1) {
        if (add_addr(o, name) != 0)
            goto too_many;
        return 0;
    }
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) {
        snprintf(err, errlen, "ice_interfaces: cannot list interfaces");
        return -1;
    }
    int found = 0, rc = 0;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || strcmp(i->ifa_name, name) != 0)
            continue;
        char ip[INET6_ADDRSTRLEN] = "";
        if (i->ifa_addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, sizeof ip);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            struct in6_addr *a6 = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(a6))
                continue;
            inet_ntop(AF_INET6, a6, ip, sizeof ip);
        } else {
            continue;
        }
        found = 1;
        if (add_addr(o, ip) != 0)
            rc = -1;
    }
    freeifaddrs(ifs);
    if (rc != 0)
        goto too_many;
    if (!found) {
        snprintf(err, errlen,
                 "ice_interfaces: '%s' is neither an IP address nor an interface "
                 "with an address",
                 name);
        return -1;
    }
    return 0;
too_many:
    snprintf(err, errlen, "ice_interfaces: more than %d addresses", SFU_ICE_MAX_ADDRS);
    return -1;
}

/* Resolve "host[:port]" or "[v6]:port" to an IPv4/IPv6 literal. */
static int resolve_hostport(const char *in, int def_port, char *ip, size_t iplen, int *port)
{
    char host[256];
    const char *colon = NULL;
    *port = def_port;
    if (in[0] == '[') {
        const char *close = strchr(in, ']');
        if (!close || (size_t)(close - in - 1) >= sizeof host)
            return -1;
        memcpy(host, in + 1, (size_t)(close - in - 1));
        host[close - in - 1] = '\0';
        if (close[1] == ':')
            colon = close + 1;
    } else {
        colon = strrchr(in, ':');
        size_t n = colon ? (size_t)(colon - in) : strlen(in);
        if (n == 0 || n >= sizeof host)
            return -1;
        memcpy(host, in, n);
        host[n] = '\0';
    }
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || (*end && *end != '?') || p <= 0 || p > 65535)
            return -1;
        *port = (int)p;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -1;
    int rc = -1;
    for (struct addrinfo *r = res; r; r = r->ai_next) {
        if (r->ai_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)r->ai_addr)->sin_addr, ip, (socklen_t)iplen);
            rc = 0;
            break;
        }
        if (r->ai_family == AF_INET6 && rc != 0) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)r->ai_addr)->sin6_addr, ip,
                      (socklen_t)iplen);
            rc = 0;
        }
    }
    freeaddrinfo(res);
    return rc;
}

int sfu_ice_options_from_config(const ml_config *cfg, sfu_ice_options *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->consent_freshness = 1;
    char list[ML_CFG_STR];
    snprintf(list, sizeof list, "%s", cfg->ice_interfaces);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        trim_token(tok);
        if (*tok && add_interface(o, tok, err, errlen) != 0)
            return -1;
    }
    if (cfg->ice_public_ip[0]) {
        unsigned char tmp[4];
        if (inet_pton(AF_INET, cfg->ice_public_ip, tmp) != 1) {
            snprintf(err, errlen, "ice_public_ip: not an IPv4 address: '%s'", cfg->ice_public_ip);
            return -1;
        }
        g_strlcpy(o->public_ip, cfg->ice_public_ip, sizeof o->public_ip);
    }
    o->port_min = cfg->ice_port_min;
    o->port_max = cfg->ice_port_max;
    if (cfg->stun_server[0]) {
        const char *s = cfg->stun_server;
        if (strncmp(s, "stun:", 5) == 0)
            s += 5;
        if (resolve_hostport(s, 3478, o->stun_ip, sizeof o->stun_ip, &o->stun_port) != 0) {
            snprintf(err, errlen, "stun_server: cannot resolve '%s'", cfg->stun_server);
            return -1;
        }
    }
    if (cfg->turn_uri[0] && cfg->turn_secret[0]) {
        const char *s = cfg->turn_uri;
        if (strncmp(s, "turns:", 6) == 0) {
            ML_WARN("ice", "turn_uri: the SFU itself does not gather over turns:, only clients "
                           "use it");
        } else {
            if (strncmp(s, "turn:", 5) == 0)
                s += 5;
            if (resolve_hostport(s, 3478, o->turn_ip, sizeof o->turn_ip, &o->turn_port) != 0) {
                snprintf(err, errlen, "turn_uri: cannot resolve '%s'", cfg->turn_uri);
                return -1;
            }
            o->turn_tcp = strstr(s, "transport=tcp") != NULL;
        }
    }
    return 0;
}

/* ---- candidates ------------------------------------------------------- */

static const char *type_name(NiceCandidateType t)
{
    switch (t) {
    case NICE_CANDIDATE_TYPE_HOST:
        return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
        return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
        return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED:
        return "relay";
    }
    return "host";
}

/* Write one candidate line; public_ip replaces the address when non-NULL. */
static int write_candidate(const NiceCandidate *c, const char *public_ip, char *out, size_t len)
{
    if (c->transport != NICE_CANDIDATE_TRANSPORT_UDP)
        return -1;
    char ip[INET6_ADDRSTRLEN];
    nice_address_to_string(&c->addr, ip);
    unsigned port = nice_address_get_port(&c->addr);
    int n;
    if (public_ip) {
        /* A distinct foundation and a slightly lower priority than the
         * private host candidate it mirrors. */
        n = snprintf(out, len, "candidate:%sn %u udp %u %s %u typ host", c->foundation,
                     c->component_id, c->priority > 0 ? c->priority - 1 : 0, public_ip, port);
    } else if (c->type == NICE_CANDIDATE_TYPE_HOST) {
        n = snprintf(out, len, "candidate:%s %u udp %u %s %u typ host", c->foundation,
                     c->component_id, c->priority, ip, port);
    } else {
        char rip[INET6_ADDRSTRLEN];
        nice_address_to_string(&c->base_addr, rip);
        n = snprintf(out, len, "candidate:%s %u udp %u %s %u typ %s raddr %s rport %u",
                     c->foundation, c->component_id, c->priority, ip, port, type_name(c->type), rip,
                     nice_address_get_port(&c->base_addr));
    }
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* Hand out a line once: returns 1 if new (and records it). */
static int remember(sfu_ice *ice, const char *line)
{
    if (g_hash_table_contains(ice->announced, line))
        return 0;
    g_hash_table_add(ice->announced, g_strdup(line));
    return 1;
}

typedef void (*cand_fn)(void *arg, const char *line);

/* Emit the line(s) for one local candidate that were not handed out yet. */
static int emit_candidate(sfu_ice *ice, const NiceCandidate *c, cand_fn fn, void *arg)
{
    char line[SFU_ICE_CAND_LEN];
    int n = 0;
    if (write_candidate(c, NULL, line, sizeof line) == 0 && remember(ice, line)) {
        fn(arg, line);
        n++;
    }
    if (ice->opt->public_ip[0] && c->type == NICE_CANDIDATE_TYPE_HOST &&
        nice_address_ip_version(&c->addr) == 4 &&
        write_candidate(c, ice->opt->public_ip, line, sizeof line) == 0 && remember(ice, line)) {
        fn(arg, line);
        n++;
    }
    return n;
}

static int next_token(const char **p, char *out, size_t len)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    size_t n = 0;
    while (s[n] && s[n] != ' ' && s[n] != '\r' && s[n] != '\n')
        n++;
    if (n == 0 || n >= len)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    *p = s + n;
    return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parse a remote candidate into a new NiceCandidate (see header for the
 * meaning of the return value). */
static int parse_candidate(guint stream, const char *line, NiceCandidate **out)
{
    *out = NULL;
    if (strncmp(line, "a=", 2) == 0)
        line += 2;
    if (strncmp(line, "candidate:", 10) != 0)
        return -1;
    const char *p = line + 10;
    char found[40], comp[8], transport[8], prio[16], addr[256], port[8], typ[8], type[8];
    unsigned long ucomp, uprio, uport;
    if (next_token(&p, found, sizeof found) || next_token(&p, comp, sizeof comp) ||
        next_token(&p, transport, sizeof transport) || next_token(&p, prio, sizeof prio) ||
        next_token(&p, addr, sizeof addr) || next_token(&p, port, sizeof port) ||
        next_token(&p, typ, sizeof typ) || next_token(&p, type, sizeof type))
        return -1;
    if (strcmp(typ, "typ") != 0 || parse_uint(comp, 256, &ucomp) ||
        parse_uint(prio, 0xffffffffUL, &uprio) || parse_uint(port, 65535, &uport))
        return -1;
    NiceCandidateType t;
    if (!strcmp(type, "host"))
        t = NICE_CANDIDATE_TYPE_HOST;
    else if (!strcmp(type, "srflx"))
        t = NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
    else if (!strcmp(type, "prflx"))
        t = NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
    else if (!strcmp(type, "relay"))
        t = NICE_CANDIDATE_TYPE_RELAYED;
    else
        return -1;
    if (g_ascii_strcasecmp(transport, "udp") != 0)
        return 1; /* ICE-TCP is not enabled */
    if (ucomp != 1)
        return 1; /* rtcp-mux only */
    NiceAddress na;
    nice_address_init(&na);
    if (!nice_address_set_from_string(&na, addr))
        return g_str_has_suffix(addr, ".local") ? 1 : -1;
    nice_address_set_port(&na, (guint)uport);
    NiceCandidate *c = nice_candidate_new(t);
    c->transport = NICE_CANDIDATE_TRANSPORT_UDP;
    c->stream_id = stream;
    c->component_id = 1;
    c->priority = (guint32)uprio;
    c->addr = na;
    g_strlcpy(c->foundation, found, sizeof c->foundation);
    /* Optional "raddr X rport Y" and extensions (generation, ufrag, ...). */
    char key[32], val[256];
    while (next_token(&p, key, sizeof key) == 0 && next_token(&p, val, sizeof val) == 0) {
        unsigned long v;
        if (!strcmp(key, "raddr")) {
            NiceAddress ra;
            nice_address_init(&ra);
            if (nice_address_set_from_string(&ra, val))
                c->base_addr = ra;
        } else if (!strcmp(key, "rport") && parse_uint(val, 65535, &v) == 0) {
            nice_address_set_port(&c->base_addr, (guint)v);
        }
    }
    *out = c;
    return 0;
}

/* ---- signals ---------------------------------------------------------- */

static void trickle_out(void *arg, const char *line)
{
    sfu_ice *ice = arg;
    if (ice->cb.on_candidate)
        ice->cb.on_candidate(ice->user, line);
}

static void on_new_candidate(NiceAgent *agent, NiceCandidate *c, gpointer data)
{
    sfu_ice *ice = data;
    (void)agent;
    if (ice->closing || ice->in_gather || c->stream_id != ice->stream)
        return;
    emit_candidate(ice, c, trickle_out, ice);
}

static void on_gathering_done(NiceAgent *agent, guint stream, gpointer data)
{
    sfu_ice *ice = data;
    (void)agent;
    if (ice->closing || stream != ice->stream || ice->gathering_done)
        return;
    ice->gathering_done = 1;
    /* Done inside sfu_ice_gather() (host candidates only): the caller sees
     * it through sfu_ice_gathering_done(); no callback from inside. */
    if (!ice->in_gather && ice->cb.on_gathering_done)
        ice->cb.on_gathering_done(ice->user);
}

/* (Re)point the fast path at the selected pair, or turn it off. libnice
 * returns no socket for a relayed local candidate (TURN framing), so those
 * pairs keep using nice_agent_send(). */
static void refresh_direct(sfu_ice *ice)
{
    sfu_udp_dest_release(ice->direct);
    ice->direct = NULL;
    if (ice->closing || ice->direct_disabled || ice->state != SFU_ICE_CONNECTED)
        return;
    NiceCandidate *l = NULL, *r = NULL;
    if (!nice_agent_get_selected_pair(ice->agent, ice->stream, 1, &l, &r) || !l || !r ||
        l->type == NICE_CANDIDATE_TYPE_RELAYED || l->transport != NICE_CANDIDATE_TRANSPORT_UDP)
        return;
    GSocket *gs = nice_agent_get_selected_socket(ice->agent, ice->stream, 1);
    if (!gs)
        return;
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa);
    nice_address_copy_to_sockaddr(&r->addr, (struct sockaddr *)&sa);
    socklen_t sl = sa.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                            : sizeof(struct sockaddr_in);
    if ((sa.ss_family == AF_INET || sa.ss_family == AF_INET6) &&
        g_socket_get_family(gs) == (GSocketFamily)sa.ss_family &&
        g_socket_get_socket_type(gs) == G_SOCKET_TYPE_DATAGRAM)
        ice->direct = sfu_udp_dest_new(gs, (struct sockaddr *)&sa, sl);
    g_object_unref(gs);
}

static void on_component_state(NiceAgent *agent, guint stream, guint comp, guint state,
                               gpointer data)
{
    sfu_ice *ice = data;
    (void)agent;
    if (ice->closing || stream != ice->stream || comp != 1)
        return;
    sfu_ice_state s;
    switch (state) {
    case NICE_COMPONENT_STATE_CONNECTING:
        s = SFU_ICE_CHECKING;
        break;
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
        s = SFU_ICE_CONNECTED;
        break;
    case NICE_COMPONENT_STATE_FAILED:
        s = SFU_ICE_FAILED;
        break;
    default:
        s = ice->state == SFU_ICE_NEW ? SFU_ICE_NEW : SFU_ICE_CHECKING;
        break;
    }
    ML_DEBUG("ice", "component state %s -> %s",
             nice_component_state_to_string((NiceComponentState)state), sfu_ice_state_name(s));
    if (s == ice->state)
        return;
    ice->state = s;
    refresh_direct(ice);
    if (ice->cb.on_state)
        ice->cb.on_state(ice->user, s);
}

static void describe(const NiceCandidate *c, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    nice_address_to_string(&c->addr, ip);
    snprintf(out, len, "%s %s:%u", type_name(c->type), ip, nice_address_get_port(&c->addr));
}

static void on_selected_pair(NiceAgent *agent, guint stream, guint comp, NiceCandidate *l,
                             NiceCandidate *r, gpointer data)
{
    sfu_ice *ice = data;
    (void)agent;
    if (ice->closing || stream != ice->stream || comp != 1)
        return;
    refresh_direct(ice);
    if (!ice->cb.on_selected_pair)
        return;
    char ls[128], rs[128];
    describe(l, ls, sizeof ls);
    describe(r, rs, sizeof rs);
    ice->cb.on_selected_pair(ice->user, ls, rs);
}

static void on_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf,
                    gpointer data)
{
    sfu_ice *ice = data;
    (void)agent;
    if (ice->closing || len == 0 || !ice->cb.on_packet)
        return;
    ice->cb.on_packet(ice->user, (uint8_t *)buf, len);
}

/* ---- public ----------------------------------------------------------- */

int sfu_ice_last_rx_time_us(sfu_ice *ice, uint64_t *out)
{
    struct timespec k, real, mono;
    if (!ice->direct || ice->direct->fd < 0 || ioctl(ice->direct->fd, SIOCGSTAMPNS, &k) != 0)
        return -1;
    /* the stamp is on the wall clock: move it to the monotonic one */
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    int64_t age_ns = ((int64_t)real.tv_sec - k.tv_sec) * 1000000000 + (real.tv_nsec - k.tv_nsec);
    int64_t mono_ns = (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec;
    if (age_ns < 0 || age_ns > mono_ns)
        return -1;
    *out = (uint64_t)((mono_ns - age_ns) / 1000);
    return 0;
}

int sfu_ice_set_mark(sfu_ice *ice, uint32_t mark)
{
    if (!ice->direct || ice->direct->fd < 0)
        return -1;
    return setsockopt(ice->direct->fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0 ? 0 : -1;
}

int sfu_ice_set_gro(sfu_ice *ice)
{
#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h, Linux 5.0 */
#endif
    int one = 1;
    if (!ice->direct || ice->direct->fd < 0)
        return -1;
    return setsockopt(ice->direct->fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0 ? 0 : -1;
}

/* A call into the agent from outside its context's dispatch may have added
 * or re-timed sources there: have the loop look at it (ice_loop.h). */
static void touched(sfu_ice *ice)
{
    if (ice->sub)
        sfu_ice_sub_touch(ice->sub);
}

sfu_ice *sfu_ice_create(GMainContext *ctx, const sfu_ice_options *opt, const char *turn_user,
                        const char *turn_pass, const sfu_ice_callbacks *cb, void *user)
{
    sfu_ice *ice = calloc(1, sizeof *ice);
    if (!ice)
        return NULL;
    ice->ctx = ctx;
    sfu_ice_loop *loop = sfu_ice_loop_for(ctx);
    ice->sub = loop ? sfu_ice_sub_new(loop) : NULL;
    ice->nctx = ice->sub ? sfu_ice_sub_context(ice->sub) : ctx;
    ice->opt = opt;
    ice->cb = *cb;
    ice->user = user;
    ice->announced = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    const char *direct_env = getenv("SFU_ICE_DIRECT");
    ice->direct_disabled = direct_env && strcmp(direct_env, "0") == 0;
    ice->agent =
        nice_agent_new_full(ice->nctx, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_ICE_TRICKLE);
    if (!ice->agent)
        goto fail;
    /* Consent (ice.h): keepalive connectivity checks, which libnice 0.1.21
     * sends every 4-6 s like its consent checks, but times out after 50 s
     * instead of 10 s without a response. */
    g_object_set(ice->agent, "controlling-mode", opt->controlling ? TRUE : FALSE, "ice-tcp", FALSE,
                 "upnp", FALSE, "keepalive-conncheck", opt->consent_freshness ? TRUE : FALSE, NULL);
    if (opt->stun_ip[0])
        g_object_set(ice->agent, "stun-server", opt->stun_ip, "stun-server-port",
                     (guint)opt->stun_port, NULL);
    for (int i = 0; i < opt->n_addrs; i++) {
        NiceAddress na;
        nice_address_init(&na);
        if (nice_address_set_from_string(&na, opt->addrs[i]))
            nice_agent_add_local_address(ice->agent, &na);
    }
    ice->stream = nice_agent_add_stream(ice->agent, 1);
    if (ice->stream == 0)
        goto fail;
    if (opt->port_min > 0 && opt->port_max >= opt->port_min)
        nice_agent_set_port_range(ice->agent, ice->stream, 1, (guint)opt->port_min,
                                  (guint)opt->port_max);
    if (opt->turn_ip[0] && turn_user && turn_pass)
        nice_agent_set_relay_info(
            ice->agent, ice->stream, 1, opt->turn_ip, (guint)opt->turn_port, turn_user, turn_pass,
            opt->turn_tcp ? NICE_RELAY_TYPE_TURN_TCP : NICE_RELAY_TYPE_TURN_UDP);
    g_signal_connect(ice->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), ice);
    g_signal_connect(ice->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), ice);
    g_signal_connect(ice->agent, "component-state-changed", G_CALLBACK(on_component_state), ice);
    g_signal_connect(ice->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), ice);
    if (!nice_agent_attach_recv(ice->agent, ice->stream, 1, ice->nctx, on_recv, ice))
        goto fail;
    touched(ice);
    return ice;
fail:
    sfu_ice_destroy(ice);
    return NULL;
}

int sfu_ice_gather(sfu_ice *ice)
{
    /* Candidates signalled while gathering starts are listed by
     * sfu_ice_local_candidates(); keep them out of the trickle path. A
     * gathering that completes right here is recorded, not called back. */
    ice->in_gather = 1;
    gboolean ok = nice_agent_gather_candidates(ice->agent, ice->stream);
    ice->in_gather = 0;
    touched(ice);
    return ok ? 0 : -1;
}

int sfu_ice_local_credentials(sfu_ice *ice, char *ufrag, size_t ufrag_len, char *pwd,
                              size_t pwd_len)
{
    gchar *u = NULL, *p = NULL;
    if (!nice_agent_get_local_credentials(ice->agent, ice->stream, &u, &p))
        return -1;
    snprintf(ufrag, ufrag_len, "%s", u);
    snprintf(pwd, pwd_len, "%s", p);
    g_free(u);
    g_free(p);
    return 0;
}

int sfu_ice_local_candidates(sfu_ice *ice, void (*fn)(void *arg, const char *candidate), void *arg)
{
    GSList *cands = nice_agent_get_local_candidates(ice->agent, ice->stream, 1);
    int n = 0;
    for (GSList *l = cands; l; l = l->next) {
        NiceCandidate *c = l->data;
        char line[SFU_ICE_CAND_LEN];
        if (write_candidate(c, NULL, line, sizeof line) == 0) {
            remember(ice, line);
            fn(arg, line);
            n++;
        }
        if (ice->opt->public_ip[0] && c->type == NICE_CANDIDATE_TYPE_HOST &&
            nice_address_ip_version(&c->addr) == 4 &&
            write_candidate(c, ice->opt->public_ip, line, sizeof line) == 0) {
            remember(ice, line);
            fn(arg, line);
            n++;
        }
    }
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    return n;
}

int sfu_ice_gathering_done(const sfu_ice *ice)
{
    return ice->gathering_done;
}

int sfu_ice_set_remote_credentials(sfu_ice *ice, const char *ufrag, const char *pwd)
{
    touched(ice);
    return nice_agent_set_remote_credentials(ice->agent, ice->stream, ufrag, pwd) ? 0 : -1;
}

int sfu_ice_add_remote_candidate(sfu_ice *ice, const char *candidate)
{
    NiceCandidate *c = NULL;
    int rc = parse_candidate(ice->stream, candidate, &c);
    if (rc != 0)
        return rc;
    GSList *list = g_slist_append(NULL, c);
    int added = nice_agent_set_remote_candidates(ice->agent, ice->stream, 1, list);
    touched(ice);
    g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
    return added < 0 ? -1 : 0;
}

int sfu_ice_remote_gathering_done(sfu_ice *ice)
{
    touched(ice);
    return nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream) ? 0 : -1;
}

int sfu_ice_restart(sfu_ice *ice)
{
    touched(ice);
    if (!nice_agent_restart_stream(ice->agent, ice->stream))
        return -1;
    ice->state = SFU_ICE_CHECKING;
    refresh_direct(ice);
    return 0;
}

int sfu_ice_send(sfu_ice *ice, const uint8_t *buf, size_t len)
{
    if (ice->closing || len > G_MAXUINT)
        return -1;
    if (ice->direct) {
        sfu_udp_batch *b = sfu_udp_batch_for(ice->ctx);
        if (b) {
            if (sfu_udp_batch_send(b, ice->direct, buf, len) == 0)
                return 0;
            sfu_udp_batch_flush(b); /* too large to queue: keep the order */
        }
    }
    /* No touch: a send adds at most a source with a descriptor (TURN-TCP
     * waiting to write), and adding one signals the context's wake-up
     * eventfd, which the loop watches. */
    gint n = nice_agent_send(ice->agent, ice->stream, 1, (guint)len, (const gchar *)buf);
    return n == (gint)len ? 0 : -1;
}

sfu_ice_state sfu_ice_get_state(const sfu_ice *ice)
{
    return ice->state;
}

const char *sfu_ice_state_name(sfu_ice_state s)
{
    switch (s) {
    case SFU_ICE_NEW:
        return "new";
    case SFU_ICE_CHECKING:
        return "checking";
    case SFU_ICE_CONNECTED:
        return "connected";
    case SFU_ICE_FAILED:
        return "failed";
    case SFU_ICE_CLOSED:
        return "closed";
    }
    return "?";
}

int sfu_ice_local_ports(sfu_ice *ice, int *ports, int max)
{
    GSList *cands = nice_agent_get_local_candidates(ice->agent, ice->stream, 1);
    int n = 0;
    for (GSList *l = cands; l && n < max; l = l->next) {
        NiceCandidate *c = l->data;
        if (c->type == NICE_CANDIDATE_TYPE_HOST && c->transport == NICE_CANDIDATE_TRANSPORT_UDP &&
            nice_address_get_port(&c->addr) != 0)
            ports[n++] = (int)nice_address_get_port(&c->addr);
    }
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    return n;
}

static void agent_closed(GObject *src, GAsyncResult *res, gpointer data)
{
    (void)res;
    g_object_unref(src);
    sfu_ice_sub_release(data); /* the agent's context can go now */
}

void sfu_ice_destroy(sfu_ice *ice)
{
    if (!ice)
        return;
    ice->closing = 1;
    sfu_udp_dest_release(ice->direct);
    ice->direct = NULL;
    if (ice->agent) {
        g_signal_handlers_disconnect_by_data(ice->agent, ice);
        if (ice->stream)
            nice_agent_attach_recv(ice->agent, ice->stream, 1, ice->nctx, NULL, NULL);
        /* The agent frees TURN allocations asynchronously (on its own
         * context, which therefore outlives ice), then is unref'd. */
        nice_agent_close_async(ice->agent, agent_closed, ice->sub);
        touched(ice);
    } else {
        sfu_ice_sub_release(ice->sub);
    }
    if (ice->announced)
        g_hash_table_destroy(ice->announced);
    free(ice);
}
