/*
 * The HTTP side of mlfakepay on libwebsockets: read one request (headers,
 * query, body up to FP_MAX_BODY), hand it to fp_route(), save the state if
 * the handler changed it, then write the response. Everything runs on the
 * lws service thread; a 50 ms timer (lws_sul) drives the intent and refund
 * timers, drains webhook results and saves the state.
 *
 * A request that fail_next made "hang" gets no answer: lws closes it after
 * 30 s, and its Idempotency-Key is released when the connection closes.
 */
#include "tools/fakepay/server.h"
#include "common/form.h"
#include "tools/fakepay/fakepay.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_US (50 * 1000)
#define HANG_S 30

typedef struct conn {
    char method[8];
    char path[512];
    char query[4096];
    char auth[512];
    char idem_key[300];
    char ctype[128];
    char peer[64];
    char *body;
    size_t body_len, body_limit;
    int too_large;
    int idem_too_long;
    int close_after; /* close the connection once answered */
    int routed;
    fp_resp resp;
    int have_resp;
    int headers_sent;
    size_t sent;
    char held_key[300];
} conn;

typedef struct session {
    conn *c;
} session;

static struct {
    struct lws_context *ctx;
    lws_sorted_usec_list_t sul;
} srv;

static void conn_free(conn *c)
{
    if (!c)
        return;
    if (c->held_key[0])
        fp_idem_release(c->held_key);
    free(c->body);
    fp_resp_free(&c->resp);
    free(c);
}

static const char *method_of(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes tok;
        const char *name;
    } m[] = {
        {WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_PUT_URI, "PUT"},         {WSI_TOKEN_PATCH_URI, "PATCH"},
        {WSI_TOKEN_DELETE_URI, "DELETE"},   {WSI_TOKEN_HEAD_URI, "HEAD"},
        {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (lws_hdr_total_length(wsi, m[i].tok) > 0)
            return m[i].name;
    return NULL;
}

/* lws hands the query over percent-decoded, one fragment per argument;
 * re-encode it as a form string (first '=' of each kept) for ml_form. */
static void copy_query(struct lws *wsi, char *out, size_t cap)
{
    char frag[2048];
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) > 0;
         i++)
        if (ml_form_append_arg(out, cap, &o, frag) != 0) {
            out[0] = '\0';
            return;
        }
}

static void dispatch(struct lws *wsi, conn *c)
{
    if (c->routed)
        return;
    c->routed = 1;
    fp_request req = {
        .method = c->method,
        .path = c->path,
        .query = c->query,
        .auth = c->auth,
        .idem_key = c->idem_key,
        .content_type = c->ctype,
        .body = c->body ? c->body : "",
        .body_len = c->body_len,
        .peer = c->peer,
    };
    if (c->too_large)
        fp_resp_error(&c->resp, 413, "invalid_request_error", "request_too_large", NULL,
                      "The request body exceeds %d bytes.", FP_MAX_BODY);
    else if (c->idem_too_long)
        fp_resp_error(&c->resp, 400, "invalid_request_error", "idempotency_key_too_long", NULL,
                      "Idempotency-Key may have at most 255 characters.");
    else
        fp_route(&req, &c->resp, c->held_key, sizeof c->held_key);
    fp_state_save(); /* before the client can see the answer */
    if (c->resp.hang) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HANG_S);
        return;
    }
    c->have_resp = 1;
    lws_callback_on_writable(wsi);
}

static int on_http(struct lws *wsi, session *s, const char *path)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    s->c = c;
    const char *m = method_of(wsi);
    snprintf(c->method, sizeof c->method, "%s", m ? m : "OTHER");
    snprintf(c->path, sizeof c->path, "%s", path);
    copy_query(wsi, c->query, sizeof c->query);
    lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
        lws_hdr_copy(wsi, c->auth, sizeof c->auth, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE) > 0)
        lws_hdr_copy(wsi, c->ctype, sizeof c->ctype, WSI_TOKEN_HTTP_CONTENT_TYPE);
    if (lws_hdr_custom_length(wsi, "idempotency-key:", 16) > 255)
        c->idem_too_long = 1;
    else if (lws_hdr_custom_copy(wsi, c->idem_key, sizeof c->idem_key, "idempotency-key:", 16) < 0)
        c->idem_key[0] = '\0';
    int has_body = m && strcmp(m, "POST") == 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        /* Stripe clients send Content-Length; a chunked body is refused and
         * the connection closed (its bytes must not be read as a request) */
        fp_resp_error(&c->resp, 411, "invalid_request_error", "length_required", NULL,
                      "Send the body with a Content-Length.");
        c->routed = c->have_resp = c->close_after = 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (has_body && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        char cl[32] = "";
        lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
        long long n = atoll(cl);
        if (n < 0 || n > FP_MAX_BODY) {
            c->too_large = 1;
            dispatch(wsi, c);
            return 0;
        }
        if (n > 0) {
            c->body_limit = (size_t)n;
            return 0; /* wait for HTTP_BODY ... BODY_COMPLETION */
        }
    }
    dispatch(wsi, c);
    return 0;
}

static int on_body(conn *c, const void *in, size_t len)
{
    if (!c || c->routed || c->too_large || len == 0)
        return 0;
    if (c->body_len + len > c->body_limit || c->body_len + len > FP_MAX_BODY) {
        c->too_large = 1;
        return 0;
    }
    char *nb = realloc(c->body, c->body_len + len + 1);
    if (!nb)
        return -1;
    memcpy(nb + c->body_len, in, len);
    c->body_len += len;
    nb[c->body_len] = '\0';
    c->body = nb;
    return 0;
}

static int write_response(struct lws *wsi, session *s)
{
    conn *c = s->c;
    if (!c || !c->have_resp)
        return 0;
    if (!c->headers_sent) {
        unsigned char buf[LWS_PRE + 4096];
        unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
        const char *ct = c->resp.content_type ? c->resp.content_type : "application/json";
        if (lws_add_http_common_headers(wsi, (unsigned int)c->resp.status, ct,
                                        (lws_filepos_t)c->resp.body_len, &p, end))
            return -1;
        if (c->resp.replayed &&
            lws_add_http_header_by_name(wsi, (const unsigned char *)"idempotent-replayed:",
                                        (const unsigned char *)"true", 4, &p, end))
            return -1;
        if (c->resp.location[0] &&
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_LOCATION,
                                         (const unsigned char *)c->resp.location,
                                         (int)strlen(c->resp.location), &p, end))
            return -1;
        char rid[40];
        fp_new_id("req_", 14, rid, sizeof rid);
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"request-id:",
                                        (const unsigned char *)rid, (int)strlen(rid), &p, end))
            return -1;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                        (const unsigned char *)"no-store", 8, &p, end))
            return -1;
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        c->headers_sent = 1;
        if (c->resp.body_len == 0 || strcmp(c->method, "HEAD") == 0)
            goto done;
        lws_callback_on_writable(wsi);
        return 0;
    }
    {
        unsigned char buf[LWS_PRE + 16384];
        size_t left = c->resp.body_len - c->sent;
        size_t chunk = left > 16384 ? 16384 : left;
        memcpy(buf + LWS_PRE, c->resp.body + c->sent, chunk);
        int final = chunk == left;
        if (lws_write(wsi, buf + LWS_PRE, chunk, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)chunk)
            return -1;
        c->sent += chunk;
        if (!final) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
done : {
    int close_after = c->close_after;
    conn_free(c);
    s->c = NULL;
    if (close_after)
        return -1;
}
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    session *s = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (s->c) { /* a pipelined request before the previous answer: refuse */
            return -1;
        }
        return on_http(wsi, s, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(s->c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!s->c)
            return -1;
        dispatch(wsi, s->c);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_response(wsi, s);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s && s->c) {
            conn_free(s->c);
            s->c = NULL;
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void tick(lws_sorted_usec_list_t *sul)
{
    long long now = fp_now_ms();
    fp_intents_tick(now);
    fp_refunds_tick(now);
    fp_webhooks_tick(now);
    fp_idem_prune(now);
    fp_state_save();
    lws_sul_schedule(srv.ctx, 0, &srv.sul, tick, TICK_US);
}

static void lws_quiet(int level, const char *line)
{
    if (level & LLL_ERR)
        fprintf(stderr, "mlfakepay: lws: %s", line);
}

int fp_server_start(const char *host, int port, int *bound_port)
{
    lws_set_log_level(LLL_ERR, lws_quiet);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = host;
    info.protocols = protocols;
    info.max_http_header_data = 8192;
    info.timeout_secs = 40;
    info.vhost_name = "mlfakepay";
    info.server_string = "mlfakepay";
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr(host, ':') == NULL);
    srv.ctx = lws_create_context(&info);
    if (!srv.ctx)
        return -1;
    struct lws_vhost *vh = lws_get_vhost_by_name(srv.ctx, "mlfakepay");
    *bound_port = vh ? lws_get_vhost_listen_port(vh) : port;
    lws_sul_schedule(srv.ctx, 0, &srv.sul, tick, TICK_US);
    return 0;
}

int fp_server_run(volatile sig_atomic_t *stop)
{
    while (!*stop)
        if (lws_service(srv.ctx, 0) < 0)
            break;
    return 0;
}

void fp_server_wake(void)
{
    if (srv.ctx)
        lws_cancel_service(srv.ctx);
}

void fp_server_destroy(void)
{
    if (srv.ctx) {
        lws_sul_cancel(&srv.sul);
        lws_context_destroy(srv.ctx);
    }
    srv.ctx = NULL;
}
