/*
 * S3 uploads over libcurl; see s3.h. One curl easy handle per request
 * (uploads are rare and large, connection reuse does not matter here).
 * Request bodies are read from the file with pread through a read
 * callback, so a retry restarts the body at its beginning. A shutdown
 * (rec_tool_cancel_all) aborts a transfer in progress and refuses further
 * attempts, except the AbortMultipartUpload that cleans up after it (one
 * attempt, 5 s).
 */
#include "recorder/s3.h"
#include "common/hex.h"
#include "recorder/s3_sign.h"
#include "recorder/tool.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARTS 10000

void rec_s3_config_defaults(rec_s3_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->region, sizeof c->region, "us-east-1");
    c->multipart_threshold = 16u << 20;
    c->part_size = 8u << 20;
    c->max_attempts = 4;
    c->backoff_ms = 200;
    c->timeout_s = 60;
}

/* A request body: a range of a file, or bytes in memory. */
typedef struct body {
    int fd;
    uint64_t off, len, pos;
    const char *mem;
} body;

typedef struct resp {
    char *data;
    size_t len, cap;
    char etag[128];
    uint64_t content_length;
} resp;

typedef struct req {
    const char *method;
    char url[3072];
    body *b; /* NULL: no body */
    char md5_b64[32];
    char sha256[65];
    bool cleanup;          /* AbortMultipartUpload: still sent when shutting down */
    int64_t cancel_seen_s; /* cleanup: when the shutdown was first seen (monotonic s), 0 */
} req;

#define CLEANUP_GRACE_S 5 /* a cleanup request's time once shutting down */
#define MAX_BACKOFF_MS 30000

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* Progress callback (also called about once a second while waiting for an
 * answer): a non-zero answer aborts the transfer. Shutting down aborts a
 * request at once, a cleanup request after CLEANUP_GRACE_S. */
static int cancel_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    req *q = arg;
    if (!rec_tool_cancelled())
        return 0;
    if (!q->cleanup)
        return 1;
    if (!q->cancel_seen_s)
        q->cancel_seen_s = mono_s();
    return mono_s() - q->cancel_seen_s > CLEANUP_GRACE_S;
}

static size_t read_cb(char *buf, size_t size, size_t n, void *arg)
{
    body *b = arg;
    size_t want = size * n;
    if (want > b->len - b->pos)
        want = (size_t)(b->len - b->pos);
    if (!want)
        return 0;
    if (b->mem) {
        memcpy(buf, b->mem + b->pos, want);
    } else {
        ssize_t r = pread(b->fd, buf, want, (off_t)(b->off + b->pos));
        if (r <= 0)
            return CURL_READFUNC_ABORT;
        want = (size_t)r;
    }
    b->pos += want;
    return want;
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    resp *r = arg;
    size_t len = size * n;
    if (r->len + len + 1 > r->cap) {
        size_t nc = (r->len + len + 1) * 2;
        if (nc > (4u << 20))
            return 0; /* an S3 answer is small; refuse absurd ones */
        char *nd = realloc(r->data, nc);
        if (!nd)
            return 0;
        r->data = nd;
        r->cap = nc;
    }
    memcpy(r->data + r->len, p, len);
    r->len += len;
    r->data[r->len] = '\0';
    return len;
}

/* Copy s into out without surrounding quotes or &quot; entities. */
static void unquote(const char *s, size_t n, char *out, size_t cap)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    while (n && *s == ' ')
        s++, n--;
    if (n >= 6 && !strncmp(s, "&quot;", 6))
        s += 6, n -= 6;
    if (n >= 6 && !strncmp(s + n - 6, "&quot;", 6))
        n -= 6;
    if (n >= 1 && *s == '"')
        s++, n--;
    if (n >= 1 && s[n - 1] == '"')
        n--;
    snprintf(out, cap, "%.*s", (int)n, s);
}

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
    resp *r = arg;
    size_t len = size * n;
    if (len > 5 && !strncasecmp(p, "ETag:", 5))
        unquote(p + 5, len - 5, r->etag, sizeof r->etag);
    else if (len > 15 && !strncasecmp(p, "Content-Length:", 15))
        r->content_length = strtoull(p + 15, NULL, 10);
    return len;
}

/* Text between <tag> and </tag> in xml, or "" when absent. */
static void xml_value(const char *xml, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    out[0] = '\0';
    const char *a = xml ? strstr(xml, open) : NULL;
    const char *b = a ? strstr(a, close) : NULL;
    if (a && b)
        snprintf(out, cap, "%.*s", (int)(b - a - strlen(open)), a + strlen(open));
}

static bool transient_curl(CURLcode rc)
{
    return rc != CURLE_UNSUPPORTED_PROTOCOL && rc != CURLE_URL_MALFORMAT &&
           rc != CURLE_OUT_OF_MEMORY && rc != CURLE_ABORTED_BY_CALLBACK &&
           rc != CURLE_READ_ERROR;
}

/*
 * Send one request with retries. On return *status is the last HTTP
 * status (0 when none). Returns 0 for a 2xx answer, else -1 + err.
 */
static int perform(const rec_s3_config *c, req *q, long *status, resp *r,
                   rec_s3_put_result *stats, char *err, size_t errlen)
{
    char sigv4[128], code[128], msg[512];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", c->region);
    int attempts = c->max_attempts > 0 ? c->max_attempts : 1;
    long delay = c->backoff_ms > 0 ? c->backoff_ms : 100;
    long timeout = c->timeout_s > 0 ? c->timeout_s : 60;
    int rc = -1;
    for (int a = 1; a <= attempts; a++) {
        if (a > 1 && !rec_tool_cancelled()) {
            rec_tool_sleep_ms(delay); /* back-off; a shutdown cuts it short */
            delay = delay * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : delay * 2;
            if (stats)
                stats->retries++;
        }
        if (rec_tool_cancelled()) {
            /* Shutting down: nothing more, but one quick try of a cleanup. */
            if (!q->cleanup || q->cancel_seen_s) {
                snprintf(err, errlen, "%s %s: cancelled (shutting down) before attempt %d of %d",
                         q->method, q->url, a, attempts);
                return -1;
            }
            q->cancel_seen_s = mono_s();
            timeout = CLEANUP_GRACE_S;
        }
        if (stats)
            stats->requests++;
        free(r->data);
        memset(r, 0, sizeof *r);
        *status = 0;
        CURL *h = curl_easy_init();
        struct curl_slist *hdrs = NULL;
        if (!h) {
            snprintf(err, errlen, "curl_easy_init failed");
            return -1;
        }
        char line[256];
        hdrs = curl_slist_append(hdrs, "Expect:");
        if (q->b) {
            snprintf(line, sizeof line, "Content-MD5: %s", q->md5_b64);
            hdrs = curl_slist_append(hdrs, line);
            hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
        }
        snprintf(line, sizeof line, "x-amz-content-sha256: %s", q->sha256);
        hdrs = curl_slist_append(hdrs, line);
        curl_easy_setopt(h, CURLOPT_URL, q->url);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cancel_cb);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, q);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
        if (!strcmp(q->method, "PUT")) {
            q->b->pos = 0;
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
            curl_easy_setopt(h, CURLOPT_READDATA, q->b);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->b->len);
        } else if (!strcmp(q->method, "POST")) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->b ? q->b->mem : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->b ? q->b->len : 0));
        } else if (!strcmp(q->method, "HEAD")) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
        }
        CURLcode cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        curl_easy_cleanup(h);
        curl_slist_free_all(hdrs);
        if (cc != CURLE_OK) {
            snprintf(err, errlen, "%s %s: %s (attempt %d of %d)", q->method, q->url,
                     cc == CURLE_ABORTED_BY_CALLBACK ? "cancelled (shutting down)"
                                                     : curl_easy_strerror(cc),
                     a, attempts);
            if (!transient_curl(cc))
                return -1;
            continue;
        }
        xml_value(r->data, "Code", code, sizeof code);
        xml_value(r->data, "Message", msg, sizeof msg);
        if (*status >= 200 && *status < 300 && !(r->data && strstr(r->data, "<Error>"))) {
            rc = 0;
            break;
        }
        snprintf(err, errlen, "%s %s: S3 answered %ld%s%s%s%s (attempt %d of %d)", q->method,
                 q->url, *status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg, a, attempts);
        if (*status < 500 && *status != 429 && *status >= 200)
            return -1; /* the request itself is wrong: retrying will not help */
    }
    return rc;
}

/* MD5 (hex, base64, raw) and SHA-256 hex of a range of fd; also feeds whole. */
static int hash_range(int fd, uint64_t off, uint64_t len, EVP_MD_CTX *whole, unsigned char md5[16],
                      req *q)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new(), *s = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 20), sha[32];
    int rc = -1;
    if (!m || !s || !buf || !EVP_DigestInit_ex(m, EVP_md5(), NULL) ||
        !EVP_DigestInit_ex(s, EVP_sha256(), NULL))
        goto fail;
    for (uint64_t done = 0; done < len;) {
        size_t want = len - done > (1 << 20) ? (1 << 20) : (size_t)(len - done);
        ssize_t n = pread(fd, buf, want, (off_t)(off + done));
        if (n <= 0)
            goto fail;
        EVP_DigestUpdate(m, buf, (size_t)n);
        EVP_DigestUpdate(s, buf, (size_t)n);
        if (whole)
            EVP_DigestUpdate(whole, buf, (size_t)n);
        done += (uint64_t)n;
    }
    EVP_DigestFinal_ex(m, md5, NULL);
    EVP_DigestFinal_ex(s, sha, NULL);
    EVP_EncodeBlock((unsigned char *)q->md5_b64, md5, 16);
    ml_hex_encode(sha, 32, q->sha256);
    rc = 0;
fail:
    EVP_MD_CTX_free(m);
    EVP_MD_CTX_free(s);
    free(buf);
    return rc;
}

static int object_url(const rec_s3_config *c, const char *key, char *url, size_t cap)
{
    rec_s3_target t = {c->endpoint, c->region, c->bucket, c->path_style};
    char host[512];
    return rec_s3_object_url(&t, key, url, cap, host, sizeof host);
}

static int put_single(const rec_s3_config *c, int fd, uint64_t size, const char *base,
                      rec_s3_put_result *res, char *err, size_t errlen)
{
    req q = {.method = "PUT"};
    body b = {.fd = fd, .len = size};
    resp r = {0};
    unsigned char md5[16];
    long status;
    int rc = -1;
    q.b = &b;
    snprintf(q.url, sizeof q.url, "%s", base);
    if (hash_range(fd, 0, size, NULL, md5, &q) != 0) {
        snprintf(err, errlen, "reading the file failed: %s", strerror(errno));
        goto fail;
    }
    ml_hex_encode(md5, 16, res->md5_hex);
    if (perform(c, &q, &status, &r, res, err, errlen) != 0)
        goto fail;
    snprintf(res->etag, sizeof res->etag, "%s", r.etag);
    if (strcasecmp(r.etag, res->md5_hex) != 0) {
        snprintf(err, errlen, "checksum mismatch: S3 stored ETag %s, the file's MD5 is %s", r.etag,
                 res->md5_hex);
        goto fail;
    }
    rc = 0;
fail:
    free(r.data);
    return rc;
}

static void abort_upload(const rec_s3_config *c, const char *base, const char *upload_id)
{
    char eid[512], e[256];
    req q = {.method = "DELETE", .cleanup = true};
    resp r = {0};
    long status;
    rec_s3_sha256_hex("", 0, q.sha256);
    if (rec_s3_uri_encode(upload_id, false, eid, sizeof eid) < 0)
        return;
    snprintf(q.url, sizeof q.url, "%s?uploadId=%s", base, eid);
    perform(c, &q, &status, &r, NULL, e, sizeof e);
    free(r.data);
}

static int put_multipart(const rec_s3_config *c, int fd, uint64_t size, const char *base,
                         rec_s3_put_result *res, char *err, size_t errlen)
{
    uint64_t psize = c->part_size ? c->part_size : (8u << 20);
    uint64_t nparts = (size + psize - 1) / psize;
    char upload_id[256] = "", eid[512];
    unsigned char(*md5s)[16] = calloc(nparts ? nparts : 1, 16);
    char *xml = NULL;
    size_t xlen = 0;
    EVP_MD_CTX *whole = EVP_MD_CTX_new();
    resp r = {0};
    long status;
    int rc = -1;
    if (nparts > MAX_PARTS) {
        snprintf(err, errlen, "file too large for %llu-byte parts", (unsigned long long)psize);
        goto fail;
    }
    if (!md5s || !whole || !EVP_DigestInit_ex(whole, EVP_md5(), NULL)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    req q = {.method = "POST"};
    rec_s3_sha256_hex("", 0, q.sha256);
    snprintf(q.url, sizeof q.url, "%s?uploads=", base);
    if (perform(c, &q, &status, &r, res, err, errlen) != 0)
        goto fail;
    xml_value(r.data, "UploadId", upload_id, sizeof upload_id);
    if (!upload_id[0] || rec_s3_uri_encode(upload_id, false, eid, sizeof eid) < 0) {
        snprintf(err, errlen, "CreateMultipartUpload: no UploadId in the answer");
        goto fail;
    }
    FILE *mx = open_memstream(&xml, &xlen);
    if (!mx) {
        snprintf(err, errlen, "out of memory");
        goto abort;
    }
    fprintf(mx, "<CompleteMultipartUpload>");
    for (uint64_t i = 0; i < nparts; i++) {
        uint64_t off = i * psize, len = size - off < psize ? size - off : psize;
        req p = {.method = "PUT"};
        body b = {.fd = fd, .off = off, .len = len};
        p.b = &b;
        char hex[33];
        if (hash_range(fd, off, len, whole, md5s[i], &p) != 0) {
            snprintf(err, errlen, "reading the file failed: %s", strerror(errno));
            fclose(mx);
            goto abort;
        }
        ml_hex_encode(md5s[i], 16, hex);
        snprintf(p.url, sizeof p.url, "%s?partNumber=%llu&uploadId=%s", base,
                 (unsigned long long)i + 1, eid);
        if (perform(c, &p, &status, &r, res, err, errlen) != 0) {
            fclose(mx);
            goto abort;
        }
        if (strcasecmp(r.etag, hex) != 0) {
            snprintf(err, errlen, "checksum mismatch on part %llu: ETag %s, MD5 %s",
                     (unsigned long long)i + 1, r.etag, hex);
            fclose(mx);
            goto abort;
        }
        fprintf(mx, "<Part><PartNumber>%llu</PartNumber><ETag>\"%s\"</ETag></Part>",
                (unsigned long long)i + 1, hex);
        res->parts++;
    }
    fprintf(mx, "</CompleteMultipartUpload>");
    fclose(mx);
    unsigned char wmd5[16];
    EVP_DigestFinal_ex(whole, wmd5, NULL);
    ml_hex_encode(wmd5, 16, res->md5_hex);
    req f = {.method = "POST"};
    body fb = {.fd = -1, .len = xlen, .mem = xml};
    f.b = &fb;
    rec_s3_sha256_hex(xml, xlen, f.sha256);
    snprintf(f.url, sizeof f.url, "%s?uploadId=%s", base, eid);
    unsigned char xmd5[16];
    EVP_Digest(xml, xlen, xmd5, NULL, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)f.md5_b64, xmd5, 16);
    if (perform(c, &f, &status, &r, res, err, errlen) != 0)
        goto abort;
    char etag[160];
    xml_value(r.data, "ETag", etag, sizeof etag);
    unquote(etag, strlen(etag), res->etag, sizeof res->etag);
    /* AWS form: md5 of the concatenated binary part MD5s, "-", part count. */
    unsigned char amd5[16];
    char aws[64], ahex[33];
    EVP_Digest(md5s, (size_t)nparts * 16, amd5, NULL, EVP_md5(), NULL);
    ml_hex_encode(amd5, 16, ahex);
    snprintf(aws, sizeof aws, "%s-%llu", ahex, (unsigned long long)nparts);
    if (strcasecmp(res->etag, aws) != 0 && strcasecmp(res->etag, res->md5_hex) != 0) {
        snprintf(err, errlen, "checksum mismatch: ETag %s is neither %s nor %s", res->etag, aws,
                 res->md5_hex);
        goto fail; /* completed: nothing to abort */
    }
    rc = 0;
    goto fail;
abort:
    abort_upload(c, base, upload_id);
fail:
    free(r.data);
    free(xml);
    free(md5s);
    EVP_MD_CTX_free(whole);
    return rc;
}

int rec_s3_head(const rec_s3_config *c, const char *key, uint64_t *size, char *etag, size_t ecap,
                char *err, size_t errlen)
{
    req q = {.method = "HEAD"};
    resp r = {0};
    long status;
    rec_s3_sha256_hex("", 0, q.sha256);
    if (object_url(c, key, q.url, sizeof q.url) != 0) {
        snprintf(err, errlen, "bad S3 endpoint, bucket or key");
        return -1;
    }
    int rc = perform(c, &q, &status, &r, NULL, err, errlen);
    if (rc == 0) {
        *size = r.content_length;
        snprintf(etag, ecap, "%s", r.etag);
    }
    free(r.data);
    return rc;
}

int rec_s3_put_file(const rec_s3_config *c, const char *path, const char *key,
                    rec_s3_put_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    char base[3072];
    int rc = -1;
    if (!c->endpoint[0] || !c->bucket[0] || object_url(c, key, base, sizeof base) != 0) {
        snprintf(err, errlen, "S3 is not configured (s3_endpoint, s3_bucket) or the key is bad");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    res->bytes = (uint64_t)sb.st_size;
    if (res->bytes >= c->multipart_threshold && res->bytes > 0)
        rc = put_multipart(c, fd, res->bytes, base, res, err, errlen);
    else
        rc = put_single(c, fd, res->bytes, base, res, err, errlen);
    if (rc == 0) {
        uint64_t stored = 0;
        char etag[128], e2[512];
        if (rec_s3_head(c, key, &stored, etag, sizeof etag, e2, sizeof e2) != 0) {
            snprintf(err, errlen, "uploaded, but checking it failed: %s", e2);
            rc = -1;
        } else if (stored != res->bytes) {
            snprintf(err, errlen, "size mismatch: S3 stores %llu bytes, the file has %llu",
                     (unsigned long long)stored, (unsigned long long)res->bytes);
            rc = -1;
        }
    }
fail:
    if (fd >= 0)
        close(fd);
    return rc;
}
