/*
 * Building email messages (RFC 5322 headers, MIME per RFC 2045-2047); see
 * mailer.h. Pure: no I/O, no globals. Every line ends with CRLF and stays
 * short (quoted-printable bodies wrap at 76, base64 at 76, encoded words
 * are folded), so the result can go to any SMTP server as is; SMTP
 * dot-stuffing is the transport's business (libcurl does it).
 *
 * MIME boundaries start with "=_", which can appear neither in
 * quoted-printable output ("=" is always followed by two hex digits or a
 * line break) nor in base64, so no part can contain its boundary.
 */
#include "control/mailer.h"
#include "control/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sb {
    char *p;
    size_t len, cap;
    int oom;
} sb;

static void sb_put(sb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = 1;
        return;
    }
    sb_put(b, tmp, (size_t)n);
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of in[0..n) without line breaks. */
static void b64(sb *b, const unsigned char *in, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        char q[4] = {b64chars[(v >> 18) & 63], b64chars[(v >> 12) & 63],
                     i + 1 < n ? b64chars[(v >> 6) & 63] : '=', i + 2 < n ? b64chars[v & 63] : '='};
        sb_put(b, q, 4);
    }
}

/* Base64 body: 76-character lines (57 input bytes each). */
static void b64_body(sb *b, const unsigned char *in, size_t n)
{
    for (size_t i = 0; i < n; i += 57) {
        b64(b, in + i, n - i < 57 ? n - i : 57);
        sb_str(b, "\r\n");
    }
}

/* Quoted-printable (RFC 2045 6.7), line breaks normalised to CRLF. */
static void qp_body(sb *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue; /* the LF emits the break */
        if (*p == '\n' || *p == '\r') {
            sb_str(b, "\r\n");
            col = 0;
            continue;
        }
        int at_eol = p[1] == '\0' || p[1] == '\n' || p[1] == '\r';
        char enc[4];
        size_t w;
        if ((*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !at_eol)) {
            enc[0] = (char)*p;
            w = 1;
        } else {
            enc[0] = '=';
            enc[1] = hex[*p >> 4];
            enc[2] = hex[*p & 15];
            w = 3;
        }
        if (col + w > 75) { /* soft break keeps lines at 76 with the '=' */
            sb_str(b, "=\r\n");
            col = 0;
        }
        sb_put(b, enc, w);
        col += w;
    }
    sb_str(b, "\r\n");
}

static int plain_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7E)
            return 0;
    return 1;
}

/* Encoded words (B, UTF-8) of at most 75 characters, folded. */
static void encoded_words(sb *b, const char *s)
{
    const size_t max_bytes = 39; /* 52 base64 characters + 12 of framing: "Subject: " + a word < 76 */
    size_t n = strlen(s), i = 0;
    int first = 1;
    while (i < n) {
        size_t take = n - i < max_bytes ? n - i : max_bytes;
        while (take > 0 && i + take < n && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--; /* never split a UTF-8 sequence */
        if (take == 0)
            take = 1;
        if (!first)
            sb_str(b, "\r\n ");
        sb_str(b, "=?UTF-8?B?");
        b64(b, (const unsigned char *)s + i, take);
        sb_str(b, "?=");
        i += take;
        first = 0;
    }
}

int ctl_mail_encode_header(const char *value, char **out)
{
    sb b = {0};
    if (plain_ascii(value))
        sb_str(&b, value);
    else
        encoded_words(&b, value);
    if (b.oom || !b.p) {
        free(b.p);
        *out = b.oom ? NULL : strdup("");
        return *out ? 0 : -1;
    }
    *out = b.p;
    return 0;
}

/* "Name" <addr>, =?UTF-8?B?...?= <addr>, or addr. */
static void address(sb *b, const char *name, const char *addr)
{
    if (!name || !*name) {
        sb_str(b, addr);
        return;
    }
    if (plain_ascii(name)) {
        sb_str(b, "\"");
        for (const char *p = name; *p; p++) {
            if (*p == '"' || *p == '\\')
                sb_str(b, "\\");
            sb_put(b, p, 1);
        }
        sb_str(b, "\"");
    } else {
        encoded_words(b, name);
    }
    sb_printf(b, " <%s>", addr);
}

int ctl_mail_parse_from(const char *from, char *name, size_t name_cap, char *addr,
                        size_t addr_cap)
{
    const char *lt = strrchr(from, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    const char *as = from, *ae = from + strlen(from);
    const char *ns = from, *ne = from;
    if (lt && gt) {
        as = lt + 1;
        ae = gt;
        ne = lt;
    }
    while (as < ae && (*as == ' ' || *as == '\t'))
        as++;
    while (ae > as && (ae[-1] == ' ' || ae[-1] == '\t'))
        ae--;
    while (ns < ne && (*ns == ' ' || *ns == '\t' || *ns == '"'))
        ns++;
    while (ne > ns && (ne[-1] == ' ' || ne[-1] == '\t' || ne[-1] == '"'))
        ne--;
    if (ae == as || (size_t)(ae - as) >= addr_cap || (size_t)(ne - ns) >= name_cap)
        return -1;
    memcpy(addr, as, (size_t)(ae - as));
    addr[ae - as] = '\0';
    memcpy(name, ns, (size_t)(ne - ns));
    name[ne - ns] = '\0';
    return ctl_json_is_email(addr) ? 0 : -1;
}

static void text_part(sb *b, const char *subtype, const char *body)
{
    sb_printf(b, "Content-Type: text/%s; charset=utf-8\r\n", subtype);
    sb_str(b, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    qp_body(b, body);
}

/* The body: text, or text+html as multipart/alternative. */
static void body_parts(sb *b, const ctl_mail_msg *m, const char *seed)
{
    if (!m->html) {
        text_part(b, "plain", m->text);
        return;
    }
    sb_printf(b, "Content-Type: multipart/alternative; boundary=\"=_alt_%s\"\r\n\r\n", seed);
    sb_printf(b, "--=_alt_%s\r\n", seed);
    text_part(b, "plain", m->text);
    sb_printf(b, "--=_alt_%s\r\n", seed);
    text_part(b, "html", m->html);
    sb_printf(b, "--=_alt_%s--\r\n", seed);
}

static int header_safe(const char *s)
{
    return !s || (!strchr(s, '\r') && !strchr(s, '\n'));
}

int ctl_mail_build(const ctl_mail_msg *m, char **out, size_t *outlen, char *err, size_t errlen)
{
    sb b = {0};
    *out = NULL;
    *outlen = 0;
    if (!m->from || !m->to || !m->subject || !m->text || !m->message_id || !header_safe(m->from) ||
        !header_safe(m->from_name) || !header_safe(m->to) || !header_safe(m->to_name) ||
        !header_safe(m->reply_to) || !header_safe(m->subject) || !header_safe(m->message_id)) {
        snprintf(err, errlen, "message: missing field or line break in a header");
        goto fail;
    }
    char seed[64];
    snprintf(seed, sizeof seed, "%s", m->boundary_seed ? m->boundary_seed : "0");
    for (char *p = seed; *p; p++) /* boundary characters: keep it to [A-Za-z0-9._] */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.'))
            *p = '_';
    struct tm tm;
    char date[64];
    time_t t = m->date;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);

    sb_printf(&b, "Date: %s\r\n", date);
    sb_str(&b, "From: ");
    address(&b, m->from_name, m->from);
    sb_str(&b, "\r\nTo: ");
    address(&b, m->to_name, m->to);
    sb_str(&b, "\r\n");
    if (m->reply_to && *m->reply_to)
        sb_printf(&b, "Reply-To: %s\r\n", m->reply_to);
    sb_str(&b, "Subject: ");
    if (plain_ascii(m->subject))
        sb_str(&b, m->subject);
    else
        encoded_words(&b, m->subject);
    sb_printf(&b, "\r\nMessage-ID: <%s>\r\n", m->message_id);
    sb_str(&b, "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
    if (m->nattachments == 0) {
        body_parts(&b, m, seed);
    } else {
        sb_printf(&b, "Content-Type: multipart/mixed; boundary=\"=_mix_%s\"\r\n\r\n", seed);
        sb_str(&b, "This is a multi-part message in MIME format.\r\n");
        sb_printf(&b, "--=_mix_%s\r\n", seed);
        body_parts(&b, m, seed);
        for (size_t i = 0; i < m->nattachments; i++) {
            const ctl_email_attachment *a = &m->attachments[i];
            if (!header_safe(a->filename) || !header_safe(a->content_type) ||
                strchr(a->filename, '"') || strchr(a->filename, '\\')) {
                snprintf(err, errlen, "message: unsafe attachment name or type");
                goto fail;
            }
            sb_printf(&b, "--=_mix_%s\r\n", seed);
            sb_printf(&b, "Content-Type: %s; name=\"%s\"\r\n", a->content_type, a->filename);
            sb_printf(&b, "Content-Disposition: attachment; filename=\"%s\"\r\n", a->filename);
            sb_str(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
            b64_body(&b, a->data, a->len);
        }
        sb_printf(&b, "--=_mix_%s--\r\n", seed);
    }
    if (b.oom) {
        snprintf(err, errlen, "message: out of memory");
        goto fail;
    }
    *out = b.p;
    *outlen = b.len;
    return 0;
fail:
    free(b.p);
    return -1;
}
