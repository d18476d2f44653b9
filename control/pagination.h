/*
 * Cursor pagination for list routes: `?limit=N&cursor=OPAQUE`.
 *
 * Lists are ordered by (sort key, id) and a page carries `next_cursor`, an
 * opaque token naming the last row returned; the next page asks for rows
 * strictly after it. The token is base64url (no padding) of
 * "v1|<sort key>|<id>" followed by a truncated HMAC-SHA256 over the scope
 * (which list it belongs to) and the payload, so a cursor edited by hand,
 * truncated, or taken from another list is a 400 problem, never a query
 * with surprising input. The key is `cursor_secret`; when that is empty a
 * random key is made once per process (cursors then only work on the node
 * that issued them, until it restarts; set the key for a cluster).
 *
 * Handlers:
 *   ctl_page page;
 *   if (ctl_page_from_query(ctx->cfg->cursor_secret, "audit", req, &page, resp) != 0)
 *       return;                       // 400 problem in resp
 *   ... SELECT ... WHERE (page.has_cursor = false OR (key, id) < (page.after.key, page.after.id))
 *       ORDER BY key DESC, id DESC LIMIT page.limit + 1
 *   ... if a row beyond page.limit came back, encode the last returned row:
 *   ctl_cursor_encode(secret, "audit", &(ctl_cursor){.key = "...", .id = id}, buf, sizeof buf);
 *   ctl_page_respond(resp, items, more ? buf : NULL);
 */
#ifndef ML_CONTROL_PAGINATION_H
#define ML_CONTROL_PAGINATION_H

#include <jansson.h>
#include <stddef.h>

#include "control/api.h"

#define CTL_PAGE_DEFAULT_LIMIT 20
#define CTL_PAGE_MAX_LIMIT 100
/* Room for an encoded cursor (with NUL). */
#define CTL_CURSOR_MAX 320

typedef struct ctl_cursor {
    char key[128]; /* sort key as text (printable ASCII, may be empty) */
    long long id;  /* tie-breaker, >= 0 */
} ctl_cursor;

typedef struct ctl_page {
    int limit;         /* 1..CTL_PAGE_MAX_LIMIT */
    int has_cursor;    /* 0: first page */
    ctl_cursor after;  /* valid when has_cursor */
} ctl_page;

/* Encode a cursor for `scope`. 0, or -1 when the key is not printable ASCII
 * or does not fit in out. `secret` may be empty (process key). */
int ctl_cursor_encode(const char *secret, const char *scope, const ctl_cursor *c, char *out,
                      size_t cap);
/* Decode and verify a cursor for `scope`. 0, or -1 for anything that is not
 * a cursor this server issued for this scope. */
int ctl_cursor_decode(const char *secret, const char *scope, const char *text, ctl_cursor *c);

/* Parse `limit` (default CTL_PAGE_DEFAULT_LIMIT, 1..CTL_PAGE_MAX_LIMIT,
 * decimal digits only) and `cursor` from the query. 0, or -1 with a 400
 * problem in resp naming the bad parameter. */
int ctl_page_from_query(const char *secret, const char *scope, const ctl_request *req,
                        ctl_page *page, ctl_response *resp);

/* Answer 200 with {"items": items, "next_cursor": next or null}; steals
 * items. */
void ctl_page_respond(ctl_response *resp, json_t *items, const char *next_cursor);

#endif
