/*
 * Raising the open-files soft limit. A media peer holds a UDP socket and
 * two eventfds (libnice's and its agent's context's, sfu/ice_loop.h); the
 * common default soft limit of 1 024 would cap a process at about 300
 * peers.
 */
#ifndef ML_COMMON_FDLIMIT_H
#define ML_COMMON_FDLIMIT_H

#include <stddef.h>

/* Raise the soft RLIMIT_NOFILE towards the hard limit, to at most `cap`.
 * Returns 1 when raised (and describes it in msg: "open files limit raised
 * from A to B"), 0 when nothing needed doing, -1 when setrlimit refused
 * (msg says why). */
int ml_raise_fd_limit(unsigned long cap, char *msg, size_t msglen);

#endif
