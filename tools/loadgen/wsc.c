/*
 * A small WebSocket client (RFC 6455, ws:// only) for the load tool: one
 * blocking connect + upgrade, then non-blocking reads from a GSource on the
 * peer's GMainContext. Text messages only (fragments are reassembled);
 * pings are answered; frames we send are masked as the RFC requires.
 */
#include "tools/loadgen/mlload.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct lg_ws {
    int fd;
    GSource *src;
    lg_ws_callbacks cb;
    void *user;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *msg; /* fragmented message being assembled */
    size_t msg_len;
    int closed;
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                if (poll(&pf, 1, 2000) <= 0)
                    return -1;
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_frame(lg_ws *ws, int opcode, const uint8_t *data, size_t len)
{
    uint8_t hdr[14];
    size_t h = 0;
    hdr[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint32_t r = g_random_int();
    uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
    memcpy(hdr + h, mask, 4);
    h += 4;
    uint8_t *buf = malloc(h + len);
    if (!buf)
        return -1;
    memcpy(buf, hdr, h);
    for (size_t i = 0; i < len; i++)
        buf[h + i] = data[i] ^ mask[i & 3];
    int rc = write_all(ws->fd, buf, h + len);
    free(buf);
    return rc;
}

int lg_ws_send_text(lg_ws *ws, const char *text, size_t len)
{
    if (!ws || ws->closed)
        return -1;
    return send_frame(ws, 1, (const uint8_t *)text, len);
}

static void mark_closed(lg_ws *ws, const char *why)
{
    if (ws->closed)
        return;
    ws->closed = 1;
    if (ws->cb.on_closed)
        ws->cb.on_closed(ws->user, why);
}

/* Consume complete frames from ws->in. Returns -1 when the socket closed. */
static int parse_frames(lg_ws *ws)
{
    size_t off = 0;
    while (!ws->closed) {
        size_t avail = ws->in_len - off;
        const uint8_t *p = ws->in + off;
        if (avail < 2)
            break;
        int fin = p[0] & 0x80, op = p[0] & 0x0F;
        size_t h = 2;
        uint64_t len = p[1] & 0x7F;
        if (len == 126) {
            if (avail < 4)
                break;
            len = ((uint64_t)p[2] << 8) | p[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | p[2 + i];
            h = 10;
        }
        if (p[1] & 0x80)
            h += 4; /* servers do not mask, but tolerate it */
        if (len > (64u << 20)) {
            mark_closed(ws, "message too large");
            return -1;
        }
        if (avail < h + len)
            break;
        const uint8_t *payload = p + h;
        if (op == 8) {
            mark_closed(ws, "server closed the WebSocket");
            return -1;
        } else if (op == 9) {
            send_frame(ws, 10, payload, (size_t)len);
        } else if (op == 1 || op == 2 || op == 0) {
            uint8_t *nm = realloc(ws->msg, ws->msg_len + (size_t)len + 1);
            if (!nm)
                return -1;
            ws->msg = nm;
            memcpy(ws->msg + ws->msg_len, payload, (size_t)len);
            ws->msg_len += (size_t)len;
            if (fin) {
                ws->msg[ws->msg_len] = 0;
                size_t ml = ws->msg_len;
                ws->msg_len = 0;
                if (ws->cb.on_text)
                    ws->cb.on_text(ws->user, (const char *)ws->msg, ml);
            }
        }
        off += h + (size_t)len;
    }
    if (off > 0 && off <= ws->in_len) {
        memmove(ws->in, ws->in + off, ws->in_len - off);
        ws->in_len -= off;
    }
    return ws->closed ? -1 : 0;
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    lg_ws *ws = data;
    for (;;) {
        if (ws->in_cap - ws->in_len < 4096) {
            size_t nc = ws->in_cap * 2;
            uint8_t *ni = realloc(ws->in, nc);
            if (!ni)
                break;
            ws->in = ni;
            ws->in_cap = nc;
        }
        ssize_t r = recv(fd, ws->in + ws->in_len, ws->in_cap - ws->in_len, 0);
        if (r > 0) {
            ws->in_len += (size_t)r;
            if (parse_frames(ws) < 0)
                break;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return G_SOURCE_CONTINUE;
        mark_closed(ws, r == 0 ? "server closed the connection" : strerror(errno));
        break;
    }
    ws->src = NULL;
    return G_SOURCE_REMOVE;
}

lg_ws *lg_ws_connect(GMainContext *ctx, const char *host, int port, const char *path,
                     const char *protocol, int timeout_ms, const lg_ws_callbacks *cb, void *user,
                     char *err, size_t errlen)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve server '%s': %s", host, gai_strerror(gai));
        return NULL;
    }
    int fd = -1, last_errno = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (poll(&pf, 1, timeout_ms) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                break;
            last_errno = soerr ? soerr : ETIMEDOUT;
        } else {
            last_errno = errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to ws://%s:%d%s: %s", host, port, path,
                 strerror(last_errno ? last_errno : ECONNREFUSED));
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)g_random_int_range(0, 256);
    gchar *k64 = g_base64_encode(key, sizeof key);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     path, host, port, k64, protocol ? "Sec-WebSocket-Protocol: " : "",
                     protocol ? protocol : "", protocol ? "\r\n" : "");
    g_free(k64);
    lg_ws *ws = calloc(1, sizeof *ws);
    ws->fd = fd;
    ws->in_cap = 16384;
    ws->in = malloc(ws->in_cap);
    if (write_all(fd, (const uint8_t *)req, (size_t)n) != 0) {
        snprintf(err, errlen, "ws://%s:%d%s: sending the upgrade failed", host, port, path);
        goto fail;
    }
    /* Read the response headers. */
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, timeout_ms) != 1) {
            snprintf(err, errlen, "ws://%s:%d%s: no upgrade response", host, port, path);
            goto fail;
        }
        ssize_t r = recv(fd, ws->in + ws->in_len, ws->in_cap - ws->in_len - 1, 0);
        if (r <= 0) {
            snprintf(err, errlen, "ws://%s:%d%s: connection closed during upgrade", host, port,
                     path);
            goto fail;
        }
        ws->in_len += (size_t)r;
        ws->in[ws->in_len] = 0;
        char *end = strstr((char *)ws->in, "\r\n\r\n");
        if (!end) {
            if (ws->in_len + 1 >= ws->in_cap) {
                snprintf(err, errlen, "ws://%s:%d%s: upgrade response too long", host, port, path);
                goto fail;
            }
            continue;
        }
        if (strncmp((char *)ws->in, "HTTP/1.1 101", 12) != 0) {
            char *eol = strstr((char *)ws->in, "\r\n");
            *eol = 0;
            snprintf(err, errlen, "ws://%s:%d%s: upgrade refused: %s", host, port, path,
                     (char *)ws->in);
            goto fail;
        }
        size_t hl = (size_t)(end + 4 - (char *)ws->in);
        memmove(ws->in, ws->in + hl, ws->in_len - hl);
        ws->in_len -= hl;
        break;
    }
    if (ctx)
        lg_ws_attach(ws, ctx, cb, user);
    return ws;
fail:
    close(fd);
    free(ws->in);
    free(ws);
    return NULL;
}

void lg_ws_attach(lg_ws *ws, GMainContext *ctx, const lg_ws_callbacks *cb, void *user)
{
    ws->cb = *cb;
    ws->user = user;
    ws->src = g_unix_fd_source_new(ws->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(ws->src, (GSourceFunc)(void (*)(void))on_readable, ws, NULL);
    g_source_attach(ws->src, ctx);
    g_source_unref(ws->src);
    if (ws->in_len > 0)
        parse_frames(ws);
}

void lg_ws_free(lg_ws *ws)
{
    if (!ws)
        return;
    if (ws->src)
        g_source_destroy(ws->src);
    if (!ws->closed)
        send_frame(ws, 8, (const uint8_t *)"\x03\xe8", 2);
    close(ws->fd);
    free(ws->in);
    free(ws->msg);
    free(ws);
}
