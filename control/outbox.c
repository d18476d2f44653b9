/*
 * The email outbox; see outbox.h. An email is three kinds of rows written
 * by the caller's connection inside the caller's transaction: the message
 * (email_outbox), its attachments (email_attachments, bytes sent in binary
 * form) and an `email.send` job. The Message-ID token is random and fixed
 * here, so every delivery attempt of the same row carries the same id.
 */
#include "control/outbox.h"
#include "common/hex.h"
#include "control/jobs.h"
#include "control/json.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* UTF-8 text without CR, LF or other control characters (headers). */
static int header_text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max || ctl_utf8_length(s, n) < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return 0;
    return 1;
}

/* UTF-8 body text without NUL (guaranteed by C strings) or bare control
 * characters other than tab, CR and LF. */
static int body_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > CTL_EMAIL_MAX_BODY || ctl_utf8_length(s, n) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7F)
            return 0;
    }
    return 1;
}

int ctl_outbox_check(const ctl_email *m, char *err, size_t errlen)
{
    if (!m->to || !ctl_json_is_email(m->to)) {
        snprintf(err, errlen, "email: recipient is not an email address");
        return -1;
    }
    if (m->reply_to && *m->reply_to && !ctl_json_is_email(m->reply_to)) {
        snprintf(err, errlen, "email: reply-to is not an email address");
        return -1;
    }
    if (m->to_name && !header_text_ok(m->to_name, 200)) {
        snprintf(err, errlen, "email: recipient name has control characters or is too long");
        return -1;
    }
    if (!m->subject || !*m->subject || !header_text_ok(m->subject, CTL_EMAIL_MAX_SUBJECT)) {
        snprintf(err, errlen, "email: subject is empty, too long, or has control characters");
        return -1;
    }
    if (!m->text || !body_ok(m->text) || (m->html && !body_ok(m->html))) {
        snprintf(err, errlen, "email: body is missing, too large, or not UTF-8 text");
        return -1;
    }
    if (m->nattachments > CTL_EMAIL_MAX_ATTACHMENTS) {
        snprintf(err, errlen, "email: more than %d attachments", CTL_EMAIL_MAX_ATTACHMENTS);
        return -1;
    }
    for (size_t i = 0; i < m->nattachments; i++) {
        const ctl_email_attachment *a = &m->attachments[i];
        if (!a->filename || !*a->filename || !a->content_type || !*a->content_type ||
            !header_text_ok(a->content_type, 200) || strchr(a->content_type, '"') ||
            (a->len > 0 && !a->data) || a->len > CTL_EMAIL_MAX_ATTACHMENT) {
            snprintf(err, errlen, "email: attachment %zu is incomplete or too large", i + 1);
            return -1;
        }
    }
    return 0;
}

/* Keep [A-Za-z0-9._-+ ] of a file name, at most 100 characters. */
static void safe_filename(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap && o < 100; p++) {
        unsigned char c = (unsigned char)*p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_' || c == '+' || c == ' ';
        out[o++] = ok ? (char)c : '_';
    }
    out[o] = '\0';
    if (o == 0 || out[0] == '.')
        snprintf(out, cap, "attachment");
}

int ctl_outbox_email_id(PGconn *conn, const ctl_email *m, long long *id_out, char *err,
                        size_t errlen)
{
    PGresult *r = NULL;
    if (ctl_outbox_check(m, err, errlen) != 0)
        goto fail;
    unsigned char rnd[12];
    char token[64], user[32];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        snprintf(err, errlen, "email: no randomness for the Message-ID");
        goto fail;
    }
    memcpy(token, "ml.", 3);
    ml_hex_encode(rnd, sizeof rnd, token + 3);
    snprintf(user, sizeof user, "%lld", m->user_id);
    const char *params[9] = {m->to,   m->to_name && *m->to_name ? m->to_name : NULL,
                             m->reply_to && *m->reply_to ? m->reply_to : NULL,
                             m->subject, m->text, m->html, m->tag && *m->tag ? m->tag : NULL,
                             m->user_id > 0 ? user : NULL, token};
    r = PQexecParams(conn,
                     "INSERT INTO email_outbox (to_addr, to_name, reply_to, subject, text_body, "
                     "html_body, tag, user_id, message_id) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bigint, $9) RETURNING id",
                     9, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "email: cannot queue: %s", PQresultErrorMessage(r));
        goto fail;
    }
    long long id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", id);
    PQclear(r);
    r = NULL;
    for (size_t i = 0; i < m->nattachments; i++) {
        const ctl_email_attachment *a = &m->attachments[i];
        char pos[16], fname[128];
        snprintf(pos, sizeof pos, "%zu", i);
        safe_filename(a->filename, fname, sizeof fname);
        const char *ap[5] = {ids, pos, fname, a->content_type, (const char *)a->data};
        int lens[5] = {0, 0, 0, 0, (int)a->len};
        int fmts[5] = {0, 0, 0, 0, 1};
        static const unsigned char empty[1];
        if (!a->data)
            ap[4] = (const char *)empty;
        r = PQexecParams(conn,
                         "INSERT INTO email_attachments (email_id, position, filename, "
                         "content_type, data) VALUES ($1, $2, $3, $4, $5)",
                         5, NULL, ap, lens, fmts, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            snprintf(err, errlen, "email: cannot store attachment: %s", PQresultErrorMessage(r));
            goto fail;
        }
        PQclear(r);
        r = NULL;
    }
    json_t *payload = json_pack("{s:I}", "email_id", (json_int_t)id);
    ctl_job_spec spec = {.kind = "email.send", .payload = payload};
    int rc = payload ? ctl_jobs_enqueue(conn, &spec, NULL, err, errlen) : -1;
    if (!payload)
        snprintf(err, errlen, "out of memory");
    json_decref(payload);
    if (rc != 0)
        goto fail;
    if (id_out)
        *id_out = id;
    return 0;
fail:
    PQclear(r);
    for (char *p = err; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return -1;
}

int ctl_outbox_email(PGconn *conn, const ctl_email *m, char *err, size_t errlen)
{
    return ctl_outbox_email_id(conn, m, NULL, err, errlen);
}
