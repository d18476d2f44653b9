/*
 * Data channels on an SCTP association (RFC 8831, RFC 8832): the per-stream
 * state table, DCEP OPEN/ACK, sending with the channel's ordering and
 * partial reliability, and closing by stream reset (RFC 6525).
 *
 * Stream ids: DTLS client picks even ids, server odd (RFC 8832 section 6);
 * an OPEN from the peer on an id of our parity, or on a busy id, is dropped
 * and counted. DCEP messages are sent ordered and reliable. Until our OPEN
 * is acknowledged, data goes ordered; data from the peer implies the ACK.
 *
 * Closing: either side resets its outgoing stream; on the peer's reset we
 * reset ours. When both directions are reset the channel is released and
 * on_channel_closed runs, on both sides. usrsctp may refuse a reset while
 * another is in flight; such resets are retried from sfu_sctp_poll().
 * Owner thread only, like everything that is not a usrsctp callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "sfu/dcep.h"
#include "sfu/sctp_internal.h"

static sfu__sctp_channel *chan(sfu_sctp *s, uint16_t sid)
{
    return sid < s->max_streams ? &s->ch[sid] : NULL;
}

static void chan_release(sfu_sctp *s, uint16_t sid, int notify)
{
    sfu__sctp_channel *c = &s->ch[sid];
    if (c->state == SFU__CH_PENDING_OPEN && s->n_pending_open)
        s->n_pending_open--;
    if (c->reset_pending && s->n_reset_pending)
        s->n_reset_pending--;
    free(c->open_msg);
    memset(c, 0, sizeof *c);
    s->st.channels_closed++;
    if (notify && s->cbs.on_channel_closed)
        s->cbs.on_channel_closed(s->user, sid);
}

static int errno_status(int e)
{
    if (e == EWOULDBLOCK || e == EAGAIN || e == ENOBUFS)
        return -EAGAIN;
    if (e == EMSGSIZE)
        return -EMSGSIZE;
    if (e == ENOTCONN || e == ECONNRESET || e == EPIPE)
        return -ENOTCONN;
    return -EIO;
}

/* Send one SCTP user message. */
static int send_raw(sfu_sctp *s, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t len,
                    int unordered, uint16_t pr_policy, uint32_t pr_value)
{
    struct sctp_sendv_spa spa;
    memset(&spa, 0, sizeof spa);
    spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
    spa.sendv_sndinfo.snd_sid = sid;
    spa.sendv_sndinfo.snd_ppid = htonl(ppid);
    spa.sendv_sndinfo.snd_flags = unordered ? SCTP_UNORDERED : 0;
    if (pr_policy != SCTP_PR_SCTP_NONE) {
        spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
        spa.sendv_prinfo.pr_policy = pr_policy;
        spa.sendv_prinfo.pr_value = pr_value;
    }
    if (usrsctp_sendv(s->sock, data, len, NULL, 0, &spa, (socklen_t)sizeof spa, SCTP_SENDV_SPA, 0) <
        0)
        return errno_status(errno);
    return 0;
}

/* Ask usrsctp to reset our outgoing stream; remember it if it is busy. */
static void request_reset(sfu_sctp *s, uint16_t sid)
{
    sfu__sctp_channel *c = &s->ch[sid];
    size_t sz = sizeof(struct sctp_reset_streams) + sizeof(uint16_t);
    struct sctp_reset_streams *rs = calloc(1, sz);
    int rc = -1;

    if (rs && s->up) {
        rs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
        rs->srs_number_streams = 1;
        rs->srs_stream_list[0] = sid;
        rc = usrsctp_setsockopt(s->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, rs, (socklen_t)sz);
    }
    free(rs);
    if (rc == 0) {
        if (c->reset_pending) {
            c->reset_pending = 0;
            s->n_reset_pending--;
        }
    } else if (!c->reset_pending) {
        c->reset_pending = 1;
        s->n_reset_pending++;
    }
}

/* Both directions reset: the channel is gone. */
static void maybe_closed(sfu_sctp *s, uint16_t sid)
{
    sfu__sctp_channel *c = &s->ch[sid];
    if (c->state == SFU__CH_CLOSING && c->out_reset && c->in_reset && !c->reset_pending)
        chan_release(s, sid, 1);
}

void sfu__sctp_retry_resets(sfu_sctp *s)
{
    for (uint32_t sid = 0; sid < s->max_streams && s->n_reset_pending; sid++)
        if (s->ch[sid].reset_pending)
            request_reset(s, (uint16_t)sid);
}

void sfu__sctp_send_pending_opens(sfu_sctp *s)
{
    uint32_t limit = s->out_streams < s->in_streams ? s->out_streams : s->in_streams;
    for (uint32_t sid = 0; sid < s->max_streams && s->n_pending_open; sid++) {
        sfu__sctp_channel *c = &s->ch[sid];
        if (c->state != SFU__CH_PENDING_OPEN)
            continue;
        if (sid >= limit) {
            chan_release(s, (uint16_t)sid, 1);
            continue;
        }
        int rc = send_raw(s, (uint16_t)sid, SFU_PPID_DCEP, c->open_msg, c->open_len, 0,
                          SCTP_PR_SCTP_NONE, 0);
        if (rc == -EAGAIN)
            break;
        if (rc != 0) {
            chan_release(s, (uint16_t)sid, 1);
            continue;
        }
        free(c->open_msg);
        c->open_msg = NULL;
        c->state = SFU__CH_OPENING;
        s->n_pending_open--;
    }
}

/* ---- receive path ------------------------------------------------------ */

static char *dup_field(const uint8_t *p, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        if (n)
            memcpy(r, p, n);
        r[n] = '\0';
    }
    return r;
}

static void handle_dcep_open(sfu_sctp *s, uint16_t sid, const uint8_t *data, size_t len)
{
    sfu_dcep_open o;
    sfu__sctp_channel *c = chan(s, sid);
    char *label = NULL, *protocol = NULL;
    uint8_t ack[1];
    int base, max_rtx = -1, max_time = -1;
    int our_parity = s->role == SFU_SCTP_DTLS_CLIENT ? 0 : 1;

    if (sfu_dcep_parse_open(data, len, &o) != 0 || !c || c->state != SFU__CH_FREE ||
        (sid & 1) == our_parity)
        goto fail;
    label = dup_field(o.label, o.label_len);
    protocol = dup_field(o.protocol, o.protocol_len);
    if (!label || !protocol)
        goto fail;
    base = o.channel_type & ~SFU_DCEP_UNORDERED_BIT;
    c->ordered = (uint8_t)sfu_dcep_channel_type_ordered(o.channel_type);
    c->pr_policy = SCTP_PR_SCTP_NONE;
    c->pr_value = o.reliability;
    if (base == SFU_DCEP_PARTIAL_RELIABLE_REXMIT) {
        c->pr_policy = SCTP_PR_SCTP_RTX;
        max_rtx = o.reliability > INT_MAX ? INT_MAX : (int)o.reliability;
    } else if (base == SFU_DCEP_PARTIAL_RELIABLE_TIMED) {
        c->pr_policy = SCTP_PR_SCTP_TTL;
        max_time = o.reliability > INT_MAX ? INT_MAX : (int)o.reliability;
    }
    c->state = SFU__CH_OPEN;
    c->acked = 1;
    s->st.channels_opened++;
    sfu_dcep_write_ack(ack, sizeof ack);
    /* If the ACK cannot be queued the channel still works: any data we
     * send implies the ACK for a browser peer. */
    (void)send_raw(s, sid, SFU_PPID_DCEP, ack, sizeof ack, 0, SCTP_PR_SCTP_NONE, 0);
    if (s->cbs.on_channel_open)
        s->cbs.on_channel_open(s->user, sid, label, protocol, c->ordered, max_rtx, max_time);
    free(label);
    free(protocol);
    return;
fail:
    s->st.dropped++;
    free(label);
    free(protocol);
}

static void mark_acked(sfu_sctp *s, uint16_t sid, sfu__sctp_channel *c)
{
    c->state = SFU__CH_OPEN;
    c->acked = 1;
    if (s->cbs.on_channel_acked)
        s->cbs.on_channel_acked(s->user, sid);
}

static void handle_dcep(sfu_sctp *s, uint16_t sid, const uint8_t *data, size_t len)
{
    sfu__sctp_channel *c = chan(s, sid);
    switch (sfu_dcep_message_type(data, len)) {
    case SFU_DCEP_MSG_OPEN:
        handle_dcep_open(s, sid, data, len);
        return;
    case SFU_DCEP_MSG_ACK:
        if (sfu_dcep_parse_ack(data, len) == 0 && c && c->state == SFU__CH_OPENING) {
            mark_acked(s, sid, c);
            return;
        }
        break;
    default:
        break;
    }
    s->st.dropped++;
}

void sfu__sctp_deliver(sfu_sctp *s, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t len)
{
    sfu__sctp_channel *c = chan(s, sid);
    int binary, empty;

    if (ppid == SFU_PPID_DCEP) {
        handle_dcep(s, sid, data, len);
        return;
    }
    if (sfu_dcep_ppid_classify(ppid, &binary, &empty) != 0 || !c ||
        (c->state != SFU__CH_OPENING && c->state != SFU__CH_OPEN && c->state != SFU__CH_CLOSING) ||
        c->in_reset) {
        s->st.dropped++;
        return;
    }
    /* Data from the peer on a channel we opened implies its ACK. */
    if (c->state == SFU__CH_OPENING)
        mark_acked(s, sid, c);
    if (empty)
        len = 0;
    s->st.messages_in++;
    s->st.bytes_in += len;
    if (s->cbs.on_message)
        s->cbs.on_message(s->user, sid, binary, len ? data : (const uint8_t *)"", len);
}
void sfu__sctp_stream_reset_event(sfu_sctp *s, const uint8_t *buf, size_t len)
{
    struct sctp_stream_reset_event ev;
    size_t off = offsetof(struct sctp_stream_reset_event, strreset_stream_list);
    size_t n;

    if (len < off)
        return;
    memcpy(&ev, buf, off);
    if (ev.strreset_length < off || ev.strreset_length > len)
        return;
    n = (ev.strreset_length - off) / sizeof(uint16_t);
    for (size_t i = 0; i < n; i++) {
        uint16_t sid;
        memcpy(&sid, buf + off + i * sizeof sid, sizeof sid);
        sfu__sctp_channel *c = chan(s, sid);
        if (!c || c->state == SFU__CH_FREE || c->state == SFU__CH_PENDING_OPEN)
            continue;
        if (ev.strreset_flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED)) {
            if (ev.strreset_flags & SCTP_STREAM_RESET_OUTGOING_SSN) {
                c->out_reset = 0;
                if (!c->reset_pending) {
                    c->reset_pending = 1;
                    s->n_reset_pending++;
                }
            }
            continue;
        }
        if (ev.strreset_flags & SCTP_STREAM_RESET_OUTGOING_SSN)
            c->out_reset = 1;
        if (ev.strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN) {
            c->in_reset = 1;
            if (c->state != SFU__CH_CLOSING) {
                c->state = SFU__CH_CLOSING;
                request_reset(s, sid);
            }
        }
        maybe_closed(s, sid);
    }
}

static int alloc_sid(sfu_sctp *s, uint16_t *sid)
{
    uint32_t limit = s->max_streams;
    if (s->up) {
        if (s->out_streams < limit)
            limit = s->out_streams;
        if (s->in_streams < limit)
            limit = s->in_streams;
    }
    for (uint32_t i = s->role == SFU_SCTP_DTLS_CLIENT ? 0 : 1; i < limit; i += 2) {
        if (s->ch[i].state == SFU__CH_FREE) {
            *sid = (uint16_t)i;
            return 0;
        }
    }
    return -ENOSPC;
}

int sfu_sctp_open_channel(sfu_sctp *s, const char *label, const char *protocol, int ordered,
                          int max_retransmits, int max_lifetime_ms, uint16_t *sid_out)
{
    sfu_dcep_open o;
    sfu__sctp_channel *c;
    size_t llen, plen;
    uint8_t *msg = NULL;
    uint16_t sid;
    int type, n, rc;

    if (!s || !sid_out || s->failed)
        return -EINVAL;
    label = label ? label : "";
    protocol = protocol ? protocol : "";
    llen = strlen(label);
    plen = strlen(protocol);
    type = sfu_dcep_channel_type_from_options(ordered, max_retransmits, max_lifetime_ms);
    if (type < 0 || llen > 0xffff || plen > 0xffff)
        return -EINVAL;
    if (alloc_sid(s, &sid) != 0)
        return -ENOSPC;
    memset(&o, 0, sizeof o);
    o.channel_type = (uint8_t)type;
    o.reliability = (uint32_t)(max_retransmits >= 0   ? max_retransmits
                               : max_lifetime_ms >= 0 ? max_lifetime_ms
                                                      : 0);
    o.label = (const uint8_t *)label;
    o.label_len = (uint16_t)llen;
    o.protocol = (const uint8_t *)protocol;
    o.protocol_len = (uint16_t)plen;
    msg = malloc(sfu_dcep_open_size(o.label_len, o.protocol_len));
    if (!msg)
        return -EIO;
    n = sfu_dcep_write_open(&o, msg, sfu_dcep_open_size(o.label_len, o.protocol_len));
    if (n < 0) {
        free(msg);
        return -EINVAL;
    }
    c = &s->ch[sid];
    memset(c, 0, sizeof *c);
    c->ordered = ordered ? 1 : 0;
    c->pr_policy = max_retransmits >= 0   ? SCTP_PR_SCTP_RTX
                   : max_lifetime_ms >= 0 ? SCTP_PR_SCTP_TTL
                                          : SCTP_PR_SCTP_NONE;
    c->pr_value = o.reliability;
    rc = s->up ? send_raw(s, sid, SFU_PPID_DCEP, msg, (size_t)n, 0, SCTP_PR_SCTP_NONE, 0) : -EAGAIN;
    if (rc == 0) {
        c->state = SFU__CH_OPENING;
        free(msg);
    } else if (rc == -EAGAIN) {
        c->state = SFU__CH_PENDING_OPEN; /* sent when up / when there is room */
        c->open_msg = msg;
        c->open_len = (size_t)n;
        s->n_pending_open++;
    } else {
        free(msg);
        memset(c, 0, sizeof *c);
        return -EIO;
    }
    s->st.channels_opened++;
    *sid_out = sid;
    return 0;
}

int sfu_sctp_send(sfu_sctp *s, uint16_t sid, int binary, const uint8_t *data, size_t len)
{
    static const uint8_t zero = 0;
    sfu__sctp_channel *c;
    int rc, unordered;
    uint32_t ppid;

    if (!s || (len && !data))
        return -EINVAL;
    if (len > s->max_msg) {
        s->st.oversize_out++;
        return -EMSGSIZE;
    }
    c = chan(s, sid);
    if (!c || c->state == SFU__CH_FREE || c->state == SFU__CH_CLOSING)
        return -EINVAL;
    if (!s->up || c->state == SFU__CH_PENDING_OPEN)
        return -ENOTCONN;
    ppid = sfu_dcep_ppid_for(binary, len == 0);
    /* Until the ACK arrives, messages go ordered (RFC 8832 section 6). */
    unordered = !c->ordered && c->acked;
    rc = send_raw(s, sid, ppid, len ? data : &zero, len ? len : 1, unordered, c->pr_policy,
                  c->pr_value);
    if (rc == 0) {
        s->st.messages_out++;
        s->st.bytes_out += len;
    } else if (rc == -EMSGSIZE) {
        s->st.oversize_out++;
    } else if (rc == -EAGAIN) {
        s->want_writable = 1;
    }
    return rc;
}

int sfu_sctp_close_channel(sfu_sctp *s, uint16_t sid)
{
    sfu__sctp_channel *c;
    if (!s)
        return -EINVAL;
    c = chan(s, sid);
    if (!c || c->state == SFU__CH_FREE)
        return -EINVAL;
    if (c->state == SFU__CH_CLOSING)
        return 0;
    if (c->state == SFU__CH_PENDING_OPEN) { /* the peer never heard of it */
        chan_release(s, sid, 0);
        return 0;
    }
    c->state = SFU__CH_CLOSING;
    request_reset(s, sid);
    maybe_closed(s, sid);
    return 0;
}
