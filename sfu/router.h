/*
 * A room ("router"): the set of peers of one group session and the
 * publish/subscribe fan-out between them. A room lives on exactly ONE
 * media worker; all of its peers are created on that worker
 * (sfu_peer_create_in), so forwarding from a publisher to its viewers is a
 * plain loop on one thread, without locks or per-packet allocation.
 *
 *   publisher RTP (SSRC / mid+rid) -> producer track, layer
 *        -> for each viewer track bound to it: sfu_consumer (one layer,
 *           continuous seq/ts/PictureID/TL0PICIDX) -> SRTP -> viewer
 *
 * Layers nobody watches are reported to the publisher (a NOTIFY "layers"
 * message: the page pauses those encodings); viewer PLI/FIR and layer
 * switches become throttled PLIs to the publisher's layer SSRC.
 *
 * Lifetime: the signaling thread creates the room, creates its peers with
 * sfu_peer_create_in(), and calls sfu_router_destroy() after closing the
 * last peer; every other function runs on the room's worker.
 */
#ifndef ML_SFU_ROUTER_H
#define ML_SFU_ROUTER_H

#include <stdint.h>

#include "sfu/worker.h"

typedef struct sfu_router sfu_router;

/* Create an empty room on the least loaded worker (any thread). */
sfu_router *sfu_router_create(sfu_workers *ws, const char *name);

/* The room's worker. */
sfu_worker *sfu_router_worker(const sfu_router *r);

/* Free the room on its worker after the tasks already posted (the close
 * tasks of its peers) ran. Any thread. */
void sfu_router_destroy(sfu_router *r);

#endif
