/*
 * libwebsockets front door; see http.h.
 *
 * Every HTTP transaction gets an http_req. Routes of the control plane are
 * copied into a sig_job and run on the pool; their completion comes back
 * through LWS_CALLBACK_EVENT_WAIT_CANCELLED and the answer is written on the
 * next HTTP_WRITEABLE. If the client goes away while its job runs, the
 * http_req is orphaned (wsi = NULL) and freed when the job returns: the
 * service thread owns both, so no locking is needed. /healthz and /metrics
 * are answered directly; other GETs serve files from web_dir.
 */
#include "signaling/http.h"
#include "common/form.h"
#include "common/hex.h"
#include "signaling/recording.h"
#include "common/log.h"
#include "signaling/pool.h"
#include "signaling/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct http_req {
    struct lws *wsi; /* NULL once the connection closed */
    sig_job *job;    /* while the request body is read or the job runs */
    int submitted;   /* job handed to the pool (at most once) */
    int pending;     /* job submitted, not back yet */
    ctl_response resp;
    int have_resp;
    int head_only;
    int headers_sent;
    size_t sent;
    size_t body_limit;
    int body_too_large;
} http_req;

typedef struct session {
    http_req *req;
    void *ws_slot;
} session;

static struct {
    const ml_config *cfg;
    struct lws_context *ctx;
    sig_pool *pool;
    char web_root[PATH_MAX];
    int draining;
    unsigned long long requests, status_2xx, status_4xx, status_5xx;
} srv;

static void http_wake(void *arg)
{
    (void)arg;
    if (srv.ctx)
        lws_cancel_service(srv.ctx);
}

void sig_http_wake(void)
{
    http_wake(NULL);
}

static void new_request_id(char out[33])
{
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    ml_hex_encode(rnd, sizeof rnd, out);
}

static void free_req(http_req *r)
{
    if (!r)
        return;
    if (r->job) {
        free((void *)r->job->req.body);
        ctl_response_free(&r->job->resp);
        free(r->job);
    }
    ctl_response_free(&r->resp);
    free(r);
}

/* Queue an answer for writing on the next HTTP_WRITEABLE. */
static void respond(http_req *r, ctl_response *resp)
{
    r->resp = *resp;
    memset(resp, 0, sizeof *resp);
    r->have_resp = 1;
    srv.requests++;
    if (r->resp.status < 300)
        srv.status_2xx++;
    else if (r->resp.status < 500)
        srv.status_4xx++;
    else
        srv.status_5xx++;
    if (r->wsi)
        lws_callback_on_writable(r->wsi);
}

static void respond_problem(http_req *r, int status, const char *slug, const char *title,
                            const char *detail)
{
    ctl_response resp;
    memset(&resp, 0, sizeof resp);
    ctl_response_problem(&resp, status, slug, title, detail, r->job ? &r->job->req : NULL);
    if (r->job && r->job->req.request_id[0])
        ctl_response_add_header(&resp, "X-Request-Id", r->job->req.request_id);
    respond(r, &resp);
}

static const char *method_of(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes tok;
        const char *name;
    } m[] = {
        {WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
        {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_HEAD_URI, "HEAD"},
        {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (lws_hdr_total_length(wsi, m[i].tok) > 0)
            return m[i].name;
    return NULL;
}

static void copy_header(struct lws *wsi, ctl_request *req, const char *name,
                        enum lws_token_indexes tok)
{
    if (req->nheaders >= CTL_MAX_HEADERS || lws_hdr_total_length(wsi, tok) <= 0)
        return;
    ctl_header *h = &req->headers[req->nheaders];
    if (lws_hdr_copy(wsi, h->value, sizeof h->value, tok) < 0)
        return;
    snprintf(h->name, sizeof h->name, "%s", name);
    req->nheaders++;
}

static void copy_custom_header(struct lws *wsi, ctl_request *req, const char *name)
{
    if (req->nheaders >= CTL_MAX_HEADERS)
        return;
    char lname[80];
    snprintf(lname, sizeof lname, "%s:", name);
    ctl_header *h = &req->headers[req->nheaders];
    int n = lws_hdr_custom_copy(wsi, h->value, sizeof h->value, lname, (int)strlen(lname));
    if (n <= 0)
        return;
    snprintf(h->name, sizeof h->name, "%s", name);
    req->nheaders++;
}

/* lws hands URI arguments over percent-decoded, one fragment per
 * '&'-separated argument (lws_hdr_copy would join them with ','). Rebuild
 * the raw form "k=v&k2=v2", re-encoding everything but unreserved
 * characters and each argument's first '=', so that ctl_req_query() can
 * split on '&' and decode exactly once. A query that does not fit is
 * dropped whole (never cut in the middle of an argument). */
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

/* Build the job's ctl_request from the lws headers. */
static void fill_request(struct lws *wsi, const char *method, const char *path, ctl_request *req)
{
    snprintf(req->method, sizeof req->method, "%s", method);
    snprintf(req->path, sizeof req->path, "%s", path);
    copy_query(wsi, req->query, sizeof req->query);
    lws_get_peer_simple(wsi, req->remote_addr, sizeof req->remote_addr);
    copy_header(wsi, req, "content-type", WSI_TOKEN_HTTP_CONTENT_TYPE);
    copy_header(wsi, req, "authorization", WSI_TOKEN_HTTP_AUTHORIZATION);
    copy_header(wsi, req, "cookie", WSI_TOKEN_HTTP_COOKIE);
    copy_header(wsi, req, "origin", WSI_TOKEN_ORIGIN);
    copy_header(wsi, req, "user-agent", WSI_TOKEN_HTTP_USER_AGENT);
    copy_custom_header(wsi, req, "x-csrf-token");
    copy_custom_header(wsi, req, "idempotency-key");
    copy_custom_header(wsi, req, "stripe-signature");
    char given[64] = "";
    int n = lws_hdr_custom_copy(wsi, given, sizeof given, "x-request-id:", 13);
    int valid = n > 0 && n < 40;
    for (int i = 0; valid && i < n; i++)
        if (!(given[i] == '-' || (given[i] >= '0' && given[i] <= '9') ||
              (given[i] >= 'a' && given[i] <= 'z') || (given[i] >= 'A' && given[i] <= 'Z')))
            valid = 0;
    if (valid)
        snprintf(req->request_id, sizeof req->request_id, "%s", given);
    else
        new_request_id(req->request_id);
}

/* Hand the request to the pool, once (lws may or may not signal body
 * completion for an empty body, depending on the method). */
static void submit(http_req *r)
{
    if (r->submitted)
        return;
    r->submitted = 1;
    r->pending = 1;
    sig_pool_submit(srv.pool, r->job);
}

static void take_completions(void)
{
    for (sig_job *j = sig_pool_take_done(srv.pool), *next; j; j = next) {
        next = j->next;
        http_req *r = j->owner;
        r->pending = 0;
        if (!r->wsi) {
            free_req(r);
            continue;
        }
        ctl_response_add_header(&j->resp, "X-Request-Id", j->req.request_id);
        respond(r, &j->resp);
    }
}

static int write_response(struct lws *wsi, session *s)
{
    http_req *r = s->req;
    if (!r || !r->have_resp)
        return 0;
    if (!r->headers_sent) {
        unsigned char buf[LWS_PRE + 4096];
        unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
        const char *ct = r->resp.content_type[0] ? r->resp.content_type : "application/json";
        if (lws_add_http_common_headers(wsi, (unsigned int)r->resp.status, ct,
                                        (lws_filepos_t)r->resp.body_len, &p, end))
            return -1;
        for (int i = 0; i < r->resp.nheaders; i++) {
            char name[80];
            snprintf(name, sizeof name, "%s:", r->resp.headers[i].name);
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                            (const unsigned char *)r->resp.headers[i].value,
                                            (int)strlen(r->resp.headers[i].value), &p, end))
                return -1;
        }
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        r->headers_sent = 1;
        if (r->head_only || r->resp.body_len == 0)
            goto done;
        lws_callback_on_writable(wsi);
        return 0;
    }
    {
        unsigned char buf[LWS_PRE + 16384];
        size_t left = r->resp.body_len - r->sent;
        size_t chunk = left > 16384 ? 16384 : left;
        memcpy(buf + LWS_PRE, r->resp.body + r->sent, chunk);
        int final = chunk == left;
        if (lws_write(wsi, buf + LWS_PRE, chunk, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)chunk)
            return -1;
        r->sent += chunk;
        if (!final) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
done:
    free_req(r);
    s->req = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static const char *mime_of(const char *path)
{
    static const struct {
        const char *ext, *mime;
    } m[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
        {".yaml", "application/yaml"}, {".wasm", "application/wasm"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof m / sizeof m[0]; i++)
        if (strcmp(dot, m[i].ext) == 0)
            return m[i].mime;
    return "application/octet-stream";
}

/* Serve a file under web_dir; refuses anything that resolves outside it.
 * head_only: a HEAD request, whose 404 carries headers but no body. */
static int serve_static(struct lws *wsi, session *s, const char *path, int head_only)
{
    char want[PATH_MAX], real[PATH_MAX];
    if (strstr(path, "..") || path[0] != '/')
        goto not_found;
    snprintf(want, sizeof want, "%s%s%s", srv.web_root, path,
             path[strlen(path) - 1] == '/' ? "index.html" : "");
    if (!realpath(want, real))
        goto not_found;
    size_t rl = strlen(srv.web_root);
    if (strncmp(real, srv.web_root, rl) != 0 || real[rl] != '/')
        goto not_found;
    srv.requests++;
    srv.status_2xx++;
    int n = lws_serve_http_file(wsi, real, mime_of(real), "Cache-Control: no-cache\r\n", 25);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
        return -1;
    return 0;
not_found:
    s->req = calloc(1, sizeof *s->req);
    if (!s->req)
        return -1;
    s->req->wsi = wsi;
    s->req->head_only = head_only;
    respond_problem(s->req, 404, "not-found", "Not Found", "no such resource");
    return 0;
}

static void metrics(http_req *r)
{
    char text[3072];
    sig_rec_metrics rm;
    sig_rec_get_metrics(&rm);
    int n = snprintf(text, sizeof text,
             "# TYPE mentorlink_http_requests_total counter\n"
             "mentorlink_http_requests_total %llu\n"
             "mentorlink_http_responses_total{class=\"2xx\"} %llu\n"
             "mentorlink_http_responses_total{class=\"4xx\"} %llu\n"
             "mentorlink_http_responses_total{class=\"5xx\"} %llu\n"
             "# TYPE mentorlink_ws_connections gauge\n"
             "mentorlink_ws_connections %d\n"
             "# TYPE mentorlink_pool_in_flight gauge\n"
             "mentorlink_pool_in_flight %d\n",
             srv.requests, srv.status_2xx, srv.status_4xx, srv.status_5xx, sig_ws_connections(),
             sig_pool_in_flight(srv.pool));
    if (n > 0 && (size_t)n < sizeof text)
        snprintf(text + n, sizeof text - (size_t)n,
                 "# TYPE mentorlink_recordings_active gauge\n"
                 "mentorlink_recordings_active %llu\n"
                 "# TYPE mentorlink_recording_tap_packets_total counter\n"
                 "mentorlink_recording_tap_packets_total %llu\n"
                 "# TYPE mentorlink_recording_tap_drops_total counter\n"
                 "mentorlink_recording_tap_drops_total %llu\n",
                 (unsigned long long)rm.active, (unsigned long long)rm.tap_packets,
                 (unsigned long long)rm.tap_drops);
    ctl_response resp;
    memset(&resp, 0, sizeof resp);
    resp.status = 200;
    snprintf(resp.content_type, sizeof resp.content_type, "text/plain; version=0.0.4");
    resp.body = strdup(text);
    resp.body_len = resp.body ? strlen(resp.body) : 0;
    respond(r, &resp);
}

static int on_http(struct lws *wsi, session *s, const char *path)
{
    const char *method = method_of(wsi);
    http_req *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->wsi = wsi;
    s->req = r;
    if (!method) {
        respond_problem(r, 405, "method-not-allowed", "Method Not Allowed", "unsupported method");
        return 0;
    }
    r->head_only = strcmp(method, "HEAD") == 0;
    int is_get = !strcmp(method, "GET") || r->head_only;
    if (srv.draining) {
        respond_problem(r, 503, "shutting-down", "Service Unavailable",
                        "the server is shutting down");
        return 0;
    }
    if (is_get && strcmp(path, "/healthz") == 0) {
        ctl_response resp;
        memset(&resp, 0, sizeof resp);
        ctl_response_json(&resp, 200, "{\"status\":\"ok\"}");
        ctl_response_add_header(&resp, "Cache-Control", "no-store");
        respond(r, &resp);
        return 0;
    }
    if (is_get && strcmp(path, "/metrics") == 0) {
        metrics(r);
        return 0;
    }
    if (ctl_api_known(method, path)) {
        r->job = calloc(1, sizeof *r->job);
        if (!r->job)
            return -1;
        r->job->owner = r;
        fill_request(wsi, method, path, &r->job->req);
        int has_body = !strcmp(method, "POST") || !strcmp(method, "PUT") ||
                       !strcmp(method, "PATCH") || !strcmp(method, "DELETE");
        int chunked = 0;
        if (has_body && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
            char te[64] = "";
            lws_hdr_copy(wsi, te, sizeof te, WSI_TOKEN_HTTP_TRANSFER_ENCODING);
            chunked = strstr(te, "chunked") != NULL;
        }
        if (chunked) {
            /* No length up front: read up to max_body_bytes. */
            r->body_limit = (size_t)srv.cfg->max_body_bytes;
            return 0;
        }
        if (has_body && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
            char cl[32];
            lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
            long long n = atoll(cl);
            if (n < 0 || n > srv.cfg->max_body_bytes) {
                respond_problem(r, 413, "body-too-large", "Payload Too Large",
                                "the request body exceeds max_body_bytes");
                return 0;
            }
            if (n == 0) {
                /* lws 4.1 signals no body completion for an empty
                 * PUT/DELETE body: nothing to wait for. */
                submit(r);
                return 0;
            }
            r->body_limit = (size_t)n;
            return 0; /* wait for HTTP_BODY ... BODY_COMPLETION */
        }
        submit(r);
        return 0;
    }
    int head_only = r->head_only;
    free(r);
    s->req = NULL;
    if (!is_get) {
        s->req = calloc(1, sizeof *s->req);
        if (!s->req)
            return -1;
        s->req->wsi = wsi;
        respond_problem(s->req, 405, "method-not-allowed", "Method Not Allowed",
                        "static files support GET and HEAD");
        return 0;
    }
    return serve_static(wsi, s, path, head_only);
}

static int on_body(session *s, const void *in, size_t len)
{
    http_req *r = s->req;
    if (!r || !r->job || r->body_too_large || len == 0) /* lws may pass (NULL, 0) */
        return 0;
    ctl_request *q = &r->job->req;
    if (q->body_len + len > r->body_limit || q->body_len + len > (size_t)srv.cfg->max_body_bytes) {
        r->body_too_large = 1;
        return 0;
    }
    char *nb = realloc((void *)q->body, q->body_len + len + 1);
    if (!nb)
        return -1;
    memcpy(nb + q->body_len, in, len);
    q->body_len += len;
    nb[q->body_len] = '\0';
    q->body = nb;
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    session *s = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, s, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(s, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!s->req || !s->req->job)
            return -1;
        if (s->req->submitted)
            return 0;
        if (s->req->body_too_large) {
            respond_problem(s->req, 413, "body-too-large", "Payload Too Large",
                            "the request body exceeds its Content-Length or max_body_bytes");
            return 0;
        }
        submit(s->req);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_response(wsi, s);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s && s->req) {
            if (s->req->pending)
                s->req->wsi = NULL; /* freed when its job comes back */
            else
                free_req(s->req);
            s->req = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (srv.pool)
            take_completions();
        sig_ws_wake();
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[256] = "";
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 || strcmp(uri, "/ws") != 0)
            return 1;
        return srv.draining ? 1 : 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
        return sig_ws_handle(wsi, reason, &s->ws_slot, in, len);
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"mentorlink", callback, sizeof(session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_bridge(int level, const char *line)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", line);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    ml_log(level & LLL_ERR ? ML_LOG_ERROR : level & LLL_WARN ? ML_LOG_WARN : ML_LOG_DEBUG, "lws",
           "%s", msg);
}

/* Try to bind the port ourselves first, to report "in use" in one line. */
static int probe_port(const ml_config *cfg, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    int fam;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->listen_host, &a4->sin_addr) == 1) {
        fam = AF_INET;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)cfg->listen_port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, cfg->listen_host, &a6->sin6_addr) == 1) {
        fam = AF_INET6;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)cfg->listen_port);
        sl = sizeof *a6;
    } else {
        snprintf(err, errlen, "listen_host must be an IP address, not \"%s\"", cfg->listen_host);
        return -1;
    }
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, (struct sockaddr *)&ss, sl);
    int e = errno;
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port,
                 e == EADDRINUSE ? "port already in use" : strerror(e));
        return -1;
    }
    return 0;
}

int sig_http_start(const ml_config *cfg, const char *database_url, const char *redis_url,
                   char *err, size_t errlen)
{
    memset(&srv, 0, sizeof srv);
    srv.cfg = cfg;
    if (!realpath(cfg->web_dir, srv.web_root)) {
        snprintf(err, errlen, "web_dir %s is not readable: %s", cfg->web_dir, strerror(errno));
        return -1;
    }
    if (probe_port(cfg, err, errlen) != 0)
        return -1;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->listen_port;
    info.iface = cfg->listen_host;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.max_http_header_data = 8192;
    info.timeout_secs = 30;
    /* lws closes idle keep-alive connections after 5 s by default, just
     * after Node/undici's own 4 s: on a loaded machine the client sent its
     * next request on a connection the server was closing ("other side
     * closed", a POST is not retried). The server must be the patient side. */
    info.keepalive_timeout = cfg->http_keepalive_s;
    info.vhost_name = "mentorlink";
    info.server_string = "mentorlink";
    srv.ctx = lws_create_context(&info);
    if (!srv.ctx) {
        snprintf(err, errlen, "cannot start the HTTP server on %s:%d", cfg->listen_host,
                 cfg->listen_port);
        return -1;
    }
    srv.pool = sig_pool_create(cfg->http_workers, cfg, database_url, redis_url, http_wake, NULL,
                               err, errlen);
    if (!srv.pool)
        goto fail;
    if (sig_ws_init(srv.ctx, cfg, err, errlen) != 0)
        goto fail;
    ML_INFO("http", "listening on http://%s:%d", cfg->listen_host, cfg->listen_port);
    return 0;
fail:
    if (srv.pool) {
        sig_pool_stop(srv.pool);
        sig_pool_free(srv.pool);
    }
    srv.pool = NULL;
    lws_context_destroy(srv.ctx);
    srv.ctx = NULL;
    return -1;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sig_http_run(volatile sig_atomic_t *stop)
{
    while (!*stop)
        if (lws_service(srv.ctx, 0) < 0)
            break;
    ML_INFO("http", "shutting down: draining (at most %d ms)", srv.cfg->shutdown_timeout_ms);
    srv.draining = 1;
    sig_ws_begin_drain();
    long long deadline = mono_ms() + srv.cfg->shutdown_timeout_ms;
    while (mono_ms() < deadline) {
        if (sig_pool_in_flight(srv.pool) == 0 && sig_ws_connections() == 0)
            break;
        if (lws_service(srv.ctx, 0) < 0)
            break;
    }
    return 0;
}

void sig_http_destroy(void)
{
    if (!srv.ctx)
        return;
    sig_ws_shutdown();
    /* Closing every connection orphans requests whose jobs still run; once
     * the pool has stopped, taking the completions frees them all. */
    lws_context_destroy(srv.ctx);
    if (srv.pool) {
        sig_pool_stop(srv.pool);
        take_completions();
        sig_pool_free(srv.pool);
    }
    srv.pool = NULL;
    srv.ctx = NULL;
}
