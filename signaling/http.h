/*
 * The front door: one libwebsockets context and its service loop, carrying
 * the browser client (static files from web_dir), /healthz, /readyz,
 * /metrics, the REST API under /api (run on the worker pool) and the
 * WebSocket signaling at /ws (signaling/ws.c). Runs on the thread that calls
 * sig_http_run(); other threads only wake it.
 */
#ifndef ML_SIGNALING_HTTP_H
#define ML_SIGNALING_HTTP_H

#include <signal.h>
#include <stddef.h>

#include "common/config.h"

/* Bind and prepare; one clear line in err on failure (e.g. port in use). */
int sig_http_start(const ml_config *cfg, const char *database_url, const char *redis_url,
                   char *err, size_t errlen);
/* Serve until *stop becomes non-zero, then drain (bounded by
 * shutdown_timeout_ms) and return 0. */
int sig_http_run(volatile sig_atomic_t *stop);
/* Wake the service loop from any thread (async-signal-safe enough for a
 * signal-handling thread). */
void sig_http_wake(void);
/* Close everything (after sig_http_run returned). */
void sig_http_destroy(void);

#endif
