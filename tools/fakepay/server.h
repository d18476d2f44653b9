/*
 * mlfakepay's libwebsockets HTTP server (server.c).
 */
#ifndef ML_TOOLS_FAKEPAY_SERVER_H
#define ML_TOOLS_FAKEPAY_SERVER_H

#include <signal.h>

/* Listen on host:port (0 = any free port, written to *bound_port). */
int fp_server_start(const char *host, int port, int *bound_port);
/* Serve until *stop becomes non-zero. */
int fp_server_run(volatile sig_atomic_t *stop);
/* Make fp_server_run() look at *stop again (async-signal-safe enough:
 * lws_cancel_service writes to a pipe). */
void fp_server_wake(void);
void fp_server_destroy(void);

#endif
