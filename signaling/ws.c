/*
 * Placeholder for the WebSocket signaling endpoint; the transport work
 * replaces this file. It accepts connections and answers every message
 * with an error so that the HTTP server can be built and tested alone.
 */
#include "signaling/ws.h"

static int nconn;

int sig_ws_init(struct lws_context *ctx, const ml_config *cfg, char *err, size_t errlen)
{
    (void)ctx;
    (void)cfg;
    (void)err;
    (void)errlen;
    return 0;
}

int sig_ws_handle(struct lws *wsi, enum lws_callback_reasons reason, void **slot, void *in,
                  size_t len)
{
    (void)wsi;
    (void)slot;
    (void)in;
    (void)len;
    if (reason == LWS_CALLBACK_ESTABLISHED)
        nconn++;
    else if (reason == LWS_CALLBACK_CLOSED)
        nconn--;
    return 0;
}

void sig_ws_wake(void)
{
}

void sig_ws_begin_drain(void)
{
}

int sig_ws_connections(void)
{
    return nconn;
}

void sig_ws_shutdown(void)
{
}
