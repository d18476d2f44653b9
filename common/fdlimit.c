#include "common/fdlimit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

int ml_raise_fd_limit(unsigned long cap, char *msg, size_t msglen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    rlim_t want = (rlim_t)cap;
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
        want = rl.rlim_max;
    if (rl.rlim_cur >= want)
        return 0;
    unsigned long long was = (unsigned long long)rl.rlim_cur;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        snprintf(msg, msglen, "cannot raise the open files limit from %llu: %s", was,
                 strerror(errno));
        return -1;
    }
    snprintf(msg, msglen, "open files limit raised from %llu to %llu", was,
             (unsigned long long)want);
    return 1;
}
