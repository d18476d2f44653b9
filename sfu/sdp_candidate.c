/*
 * ICE candidate lines (RFC 8839 section 5.1): the parser used both for
 * a=candidate inside an SDP and for the bare "candidate:..." strings that
 * browsers trickle over signaling, and the matching writer. The extensions
 * browsers append (generation, ufrag, network-id, network-cost) are parsed;
 * any other "name value" pairs are kept verbatim so nothing is lost.
 */
#include <ctype.h>
#include <stdio.h>

#include "sfu/sdp_internal.h"

static int ice_chars(sfu__slice s)
{
    for (size_t i = 0; i < s.n; i++)
        if (!isalnum((unsigned char)s.p[i]) && s.p[i] != '+' && s.p[i] != '/')
            return 0;
    return 1;
}

/* IPv4, IPv6 (optionally with %zone) or a host name. */
static int addr_ok(sfu__slice s)
{
    if (s.n == 0 || s.n >= SFU_SDP_ADDR_LEN)
        return 0;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        if (!isalnum((unsigned char)ch) && ch != '.' && ch != ':' && ch != '-' && ch != '%' &&
            ch != '_')
            return 0;
    }
    return 1;
}

static int i32_value(sfu__slice s, int32_t *out)
{
    uint32_t v;
    if (sfu__slice_u32(s, INT32_MAX, &v) != 0)
        return -1;
    *out = (int32_t)v;
    return 0;
}

/* Append " name value" (or "name value" first) to the verbatim extension buffer. */
static int ext_append(sfu_sdp_candidate *c, sfu__slice name, sfu__slice value)
{
    size_t used = strlen(c->ext);
    size_t need = (used ? 1 : 0) + name.n + 1 + value.n;
    if (used + need >= sizeof c->ext || !sfu__slice_visible(name) || !sfu__slice_visible(value))
        return -1;
    char *p = c->ext + used;
    if (used)
        *p++ = ' ';
    memcpy(p, name.p, name.n);
    p += name.n;
    *p++ = ' ';
    memcpy(p, value.p, value.n);
    p += value.n;
    *p = '\0';
    return 0;
}

/* <foundation> <component> <transport> <priority> <address> <port> typ <type> [ext...] */
int sfu__candidate_parse(sfu__cur *v, sfu_sdp_candidate *out, const char **why)
{
    uint32_t n;
    memset(out, 0, sizeof *out);
    out->generation = out->network_id = out->network_cost = -1;

    sfu__slice f = sfu__cur_word(v);
    if (f.n == 0 || !ice_chars(f) || sfu__slice_copy(f, out->foundation, sizeof out->foundation)) {
        *why = "bad foundation";
        return -1;
    }
    if (sfu__slice_u32(sfu__cur_word(v), 256, &n) != 0 || n == 0) {
        *why = "component must be 1..256";
        return -1;
    }
    out->component = (uint16_t)n;
    sfu__slice tr = sfu__cur_word(v);
    if (sfu__slice_ieq(tr, "udp")) {
        out->tcp = 0;
    } else if (sfu__slice_ieq(tr, "tcp")) {
        out->tcp = 1;
    } else {
        *why = "transport must be udp or tcp";
        return -1;
    }
    if (sfu__slice_u32(sfu__cur_word(v), UINT32_MAX, &out->priority) != 0) {
        *why = "bad priority";
        return -1;
    }
    sfu__slice addr = sfu__cur_word(v);
    if (!addr_ok(addr) || sfu__slice_copy(addr, out->address, sizeof out->address) != 0) {
        *why = "bad connection address";
        return -1;
    }
    if (sfu__slice_u32(sfu__cur_word(v), 65535, &n) != 0) {
        *why = "port must be 0..65535";
        return -1;
    }
    out->port = (uint16_t)n;
    if (!sfu__slice_eq(sfu__cur_word(v), "typ")) {
        *why = "expected typ";
        return -1;
    }
    sfu__slice typ = sfu__cur_word(v);
    static const char *types[] = {"host", "srflx", "prflx", "relay"};
    int found = 0;
    for (int i = 0; i < 4; i++)
        if (sfu__slice_eq(typ, types[i])) {
            out->type = (sfu_sdp_cand_type)i;
            found = 1;
        }
    if (!found) {
        *why = "candidate type must be host, srflx, prflx or relay";
        return -1;
    }
    for (;;) {
        sfu__slice name = sfu__cur_word(v);
        if (name.n == 0)
            break;
        sfu__slice val = sfu__cur_word(v);
        if (val.n == 0) {
            *why = "extension without value";
            return -1;
        }
        int rc = 0;
        if (sfu__slice_eq(name, "raddr")) {
            rc = addr_ok(val) ? sfu__slice_copy(val, out->raddr, sizeof out->raddr) : -1;
            out->has_raddr = 1;
        } else if (sfu__slice_eq(name, "rport")) {
            rc = sfu__slice_u32(val, 65535, &n);
            out->rport = (uint16_t)n;
            out->has_raddr = 1;
        } else if (sfu__slice_eq(name, "tcptype")) {
            if (sfu__slice_eq(val, "active"))
                out->tcptype = SFU_SDP_TCPTYPE_ACTIVE;
            else if (sfu__slice_eq(val, "passive"))
                out->tcptype = SFU_SDP_TCPTYPE_PASSIVE;
            else if (sfu__slice_eq(val, "so"))
                out->tcptype = SFU_SDP_TCPTYPE_SO;
            else
                rc = -1;
        } else if (sfu__slice_eq(name, "generation")) {
            rc = i32_value(val, &out->generation);
        } else if (sfu__slice_eq(name, "network-id")) {
            rc = i32_value(val, &out->network_id);
        } else if (sfu__slice_eq(name, "network-cost")) {
            rc = i32_value(val, &out->network_cost);
        } else if (sfu__slice_eq(name, "ufrag")) {
            rc = ice_chars(val) ? sfu__slice_copy(val, out->ufrag, sizeof out->ufrag) : -1;
        } else {
            rc = ext_append(out, name, val);
        }
        if (rc != 0) {
            *why = "bad candidate extension";
            return -1;
        }
    }
    /* RFC 6544 requires tcptype on tcp candidates; like libnice we accept
     * its absence and leave SFU_SDP_TCPTYPE_NONE. */
    return 0;
}

int sfu_sdp_candidate_parse_n(const char *line, size_t len, sfu_sdp_candidate *out)
{
    const char *why = "";
    if (!line || !out)
        return -1;
    if (memchr(line, '\0', len))
        return -1;
    sfu__cur c = {line, line + len};
    while (c.end > c.p && (c.end[-1] == '\n' || c.end[-1] == '\r'))
        c.end--;
    if (c.end - c.p >= 2 && memcmp(c.p, "a=", 2) == 0)
        c.p += 2;
    if (c.end - c.p >= 10 && memcmp(c.p, "candidate:", 10) == 0)
        c.p += 10;
    if (memchr(c.p, '\n', (size_t)(c.end - c.p)) || memchr(c.p, '\r', (size_t)(c.end - c.p)))
        return -1;
    return sfu__candidate_parse(&c, out, &why);
}

int sfu_sdp_candidate_parse(const char *line, sfu_sdp_candidate *out)
{
    if (!line)
        return -1;
    return sfu_sdp_candidate_parse_n(line, strlen(line), out);
}

/* 1 if s cannot be written as one token. */
static int bad_token(const char *s)
{
    return strchr(s, '\r') || strchr(s, '\n') || strchr(s, ' ');
}

int sfu_sdp_candidate_write(const sfu_sdp_candidate *c, char *buf, size_t cap)
{
    static const char *tcptypes[] = {"", "active", "passive", "so"};
    if (!c || !buf || cap == 0)
        return -1;
    if (c->foundation[0] == '\0' || c->address[0] == '\0' || bad_token(c->foundation) ||
        bad_token(c->address) || bad_token(c->raddr) || bad_token(c->ufrag) ||
        strchr(c->ext, '\r') || strchr(c->ext, '\n') || (unsigned)c->type > SFU_SDP_CAND_RELAY ||
        (unsigned)c->tcptype > SFU_SDP_TCPTYPE_SO)
        return -1;
    size_t len = 0;
    int n = snprintf(buf, cap, "candidate:%s %u %s %u %s %u typ %s", c->foundation,
                     (unsigned)c->component, c->tcp ? "tcp" : "udp", (unsigned)c->priority,
                     c->address, (unsigned)c->port, sfu_sdp_cand_type_name(c->type));
#define CAND_STEP()                                                                                \
    do {                                                                                           \
        if (n < 0 || (size_t)n >= cap - len)                                                       \
            return -1;                                                                             \
        len += (size_t)n;                                                                          \
    } while (0)
    CAND_STEP();
    if (c->raddr[0]) {
        n = snprintf(buf + len, cap - len, " raddr %s", c->raddr);
        CAND_STEP();
    }
    if (c->has_raddr) {
        n = snprintf(buf + len, cap - len, " rport %u", (unsigned)c->rport);
        CAND_STEP();
    }
    if (c->tcptype != SFU_SDP_TCPTYPE_NONE) {
        n = snprintf(buf + len, cap - len, " tcptype %s", tcptypes[c->tcptype]);
        CAND_STEP();
    }
    if (c->generation >= 0) {
        n = snprintf(buf + len, cap - len, " generation %d", (int)c->generation);
        CAND_STEP();
    }
    if (c->ufrag[0]) {
        n = snprintf(buf + len, cap - len, " ufrag %s", c->ufrag);
        CAND_STEP();
    }
    if (c->network_id >= 0) {
        n = snprintf(buf + len, cap - len, " network-id %d", (int)c->network_id);
        CAND_STEP();
    }
    if (c->network_cost >= 0) {
        n = snprintf(buf + len, cap - len, " network-cost %d", (int)c->network_cost);
        CAND_STEP();
    }
    if (c->ext[0]) {
        n = snprintf(buf + len, cap - len, " %s", c->ext);
        CAND_STEP();
    }
#undef CAND_STEP
    return (int)len;
}
