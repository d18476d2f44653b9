/*
 * WebSocket signaling at /ws (see docs/signaling.md). Everything here runs on
 * the libwebsockets service thread. http.c owns the lws context and forwards
 * the WebSocket callback reasons of /ws connections to sig_ws_handle(); media
 * workers talk back by queueing events and calling lws_cancel_service(),
 * after which http.c calls sig_ws_wake() on the service thread.
 */
#ifndef ML_SIGNALING_WS_H
#define ML_SIGNALING_WS_H

#include <libwebsockets.h>
#include <stddef.h>

#include "common/config.h"

/* Start signaling (and the media workers it drives). Called once, on the
 * service thread, after the lws context exists. Returns 0 or -1 with err. */
int sig_ws_init(struct lws_context *ctx, const ml_config *cfg, char *err, size_t errlen);

/* Handle one callback for a /ws connection: LWS_CALLBACK_ESTABLISHED,
 * _RECEIVE, _SERVER_WRITEABLE, _CLOSED. `*slot` is a per-connection pointer
 * owned by ws.c (NULL before ESTABLISHED; ws.c must free what it stores by
 * CLOSED). Return non-zero to close the connection. */
int sig_ws_handle(struct lws *wsi, enum lws_callback_reasons reason, void **slot, void *in,
                  size_t len);

/* Called on the service thread after any lws_cancel_service(). */
void sig_ws_wake(void);

/* SIGTERM: refuse new joins, tell clients the server is going away. */
void sig_ws_begin_drain(void);

/* Number of open /ws connections (for drain and /metrics). */
int sig_ws_connections(void);

/* Stop media workers and free everything; called on the service thread
 * before the lws context is destroyed. */
void sig_ws_shutdown(void);

#endif
