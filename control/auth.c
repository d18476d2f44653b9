/*
 * Caller authentication for protected routes. Until accounts exist (the
 * accounts work replaces this file), no credential is accepted: every
 * protected route answers 401, which is the safe default.
 */
#include "control/api.h"

int ctl_auth_authenticate(ctl_ctx *ctx, const ctl_request *req, ctl_principal *who,
                          ctl_response *resp)
{
    (void)ctx;
    (void)who;
    ctl_response_problem(resp, 401, "unauthenticated", "Unauthorized",
                         "sign in to use this resource", req);
    ctl_response_add_header(resp, "WWW-Authenticate", "Bearer");
    return -1;
}
