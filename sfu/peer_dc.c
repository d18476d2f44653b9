/*
 * Data channels of a peer in echo mode: the SCTP association (sctp.h) runs
 * over DTLS application data once DTLS is connected; every message received
 * on a channel is sent back on the same channel with the same type (string
 * or binary). usrsctp may ask for work from its timer thread (`wake`); that
 * only arms a GSource on the peer's worker, which then calls
 * sfu_sctp_poll() on the owner thread.
 */
#include "sfu/peer_internal.h"

#include "common/log.h"

#include <errno.h>

static void sctp_send_lower(void *user, const uint8_t *data, size_t len)
{
    sfu_peer *p = user;
    if (!p->dtls || sfu_dtls_send(p->dtls, data, len) != 0)
        p->st.send_errors++;
}

/* Any thread: arm the poll source (g_source_set_ready_time is thread-safe). */
static void sctp_wake(void *user)
{
    sfu_peer *p = user;
    g_source_set_ready_time(p->sctp_src, 0);
}

static void sctp_on_open(void *user, uint16_t sid, const char *label, const char *protocol,
                         int ordered, int max_retransmits, int max_lifetime_ms)
{
    sfu_peer *p = user;
    (void)protocol;
    (void)max_retransmits;
    (void)max_lifetime_ms;
    ML_DEBUG("peer", "peer %llu: data channel %u '%s' open (%s)", (unsigned long long)p->id, sid,
             label, ordered ? "ordered" : "unordered");
}

static void sctp_on_message(void *user, uint16_t sid, int binary, const uint8_t *data, size_t len)
{
    sfu_peer *p = user;
    p->st.dc_messages_in++;
    p->st.dc_bytes_in += len;
    int rc = sfu_sctp_send(p->sctp, sid, binary, data, len);
    if (rc == 0) {
        p->st.dc_messages_out++;
        p->st.dc_bytes_out += len;
    } else {
        p->st.dc_dropped++;
        ML_DEBUG("peer", "peer %llu: data channel %u echo failed (%d)", (unsigned long long)p->id,
                 sid, rc);
    }
}

static void sctp_on_closed(void *user, uint16_t sid)
{
    sfu_peer *p = user;
    ML_DEBUG("peer", "peer %llu: data channel %u closed", (unsigned long long)p->id, sid);
}

static gboolean sctp_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    sfu_peer *p = data;
    (void)cb;
    g_source_set_ready_time(src, -1);
    if (p->sctp && sfu_sctp_poll(p->sctp) < 0) {
        ML_INFO("peer", "peer %llu: SCTP association failed", (unsigned long long)p->id);
        /* Keep media running; data channels are gone. */
        sfu__peer_sctp_free(p);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs sctp_source_funcs = {
    .dispatch = sctp_dispatch,
};

int sfu__peer_sctp_start(sfu_peer *p)
{
    if (p->sctp)
        return 0;
    if (!p->sctp_src) {
        p->sctp_src = g_source_new(&sctp_source_funcs, sizeof(GSource));
        g_source_set_callback(p->sctp_src, NULL, p, NULL);
        g_source_set_ready_time(p->sctp_src, -1);
        g_source_attach(p->sctp_src, p->ctx);
    }
    sfu_sctp_callbacks cb = {
        .send_lower = sctp_send_lower,
        .wake = sctp_wake,
        .on_channel_open = sctp_on_open,
        .on_message = sctp_on_message,
        .on_channel_closed = sctp_on_closed,
    };
    sfu_sctp_params prm = {
        .role = sfu_dtls_get_role(p->dtls) == SFU_DTLS_ROLE_SERVER ? SFU_SCTP_DTLS_SERVER
                                                                   : SFU_SCTP_DTLS_CLIENT,
        .local_port = SFU_SCTP_DEFAULT_PORT,
        .remote_port = p->remote_sctp_port ? p->remote_sctp_port : SFU_SCTP_DEFAULT_PORT,
        .max_message_size = (size_t)p->env->cfg.sctp_max_message_size,
    };
    p->sctp = sfu_sctp_create(&cb, p, &prm);
    if (!p->sctp)
        return -1;
    if (sfu_sctp_start(p->sctp) != 0) {
        sfu__peer_sctp_free(p);
        return -1;
    }
    return 0;
}

void sfu__peer_sctp_input(sfu_peer *p, const uint8_t *data, size_t len)
{
    if (!p->sctp) {
        p->st.dc_dropped++;
        return;
    }
    sfu_sctp_input(p->sctp, data, len);
}

void sfu__peer_sctp_free(sfu_peer *p)
{
    /* After destroy returns no wake can arrive, so the source can go. */
    sfu_sctp_destroy(p->sctp);
    p->sctp = NULL;
    if (p->sctp_src) {
        g_source_destroy(p->sctp_src);
        g_source_unref(p->sctp_src);
        p->sctp_src = NULL;
    }
}
