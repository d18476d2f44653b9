/*
 * Email delivery: building RFC 5322 / MIME messages (mail_message.c, pure)
 * and sending them (mailer.c), either over SMTP with libcurl (`smtp_url`:
 * smtp://host:port, or smtps:// for implicit TLS; STARTTLS is used when the
 * server offers it) or, with `smtp_url` empty, by writing each message as
 * an .eml file under data_dir/mail/ so that a developer can read it.
 *
 * Messages are UTF-8: bodies are quoted-printable, attachments base64,
 * non-ASCII subjects and display names RFC 2047 encoded words. Text only
 * is a single text/plain part; with HTML it is multipart/alternative; with
 * attachments everything is wrapped in multipart/mixed.
 *
 * The `email.send` job handler (ctl_mailer_job) loads an outbox row, sends
 * it and marks it sent; any failure (connection refused, a 4xx or 5xx
 * reply, a timeout) is returned as CTL_JOB_RETRY so the runner retries it
 * with back-off.
 */
#ifndef ML_CONTROL_MAILER_H
#define ML_CONTROL_MAILER_H

#include <stddef.h>
#include <time.h>

#include "common/config.h"
#include "control/jobs.h"
#include "control/outbox.h"

/* A message to build: the outbox fields plus the envelope details. */
typedef struct ctl_mail_msg {
    const char *from;       /* address */
    const char *from_name;  /* optional display name */
    const char *to;
    const char *to_name;    /* optional */
    const char *reply_to;   /* optional */
    const char *subject;
    const char *text;
    const char *html;       /* optional */
    const ctl_email_attachment *attachments;
    size_t nattachments;
    const char *message_id; /* without angle brackets: "12.abcd@example.org" */
    time_t date;
    const char *boundary_seed; /* makes MIME boundaries unique per message */
} ctl_mail_msg;

/* Build the message (CRLF line endings, lines <= 998 bytes). 0 and a
 * malloc'd *out of *outlen bytes (NUL-terminated), or -1 + err. */
int ctl_mail_build(const ctl_mail_msg *m, char **out, size_t *outlen, char *err, size_t errlen);

/* RFC 2047 encoding of a header value when it is not plain printable ASCII
 * (B encoding, UTF-8, words of at most 75 characters split on character
 * boundaries, folded with CRLF SP). 0 and a malloc'd *out, or -1. */
int ctl_mail_encode_header(const char *value, char **out);

/* Split "Name <addr@host>" or "addr@host" into name (may become "") and
 * address. 0, or -1 when no address is found or it does not fit. */
int ctl_mail_parse_from(const char *from, char *name, size_t name_cap, char *addr,
                        size_t addr_cap);

/* Deliver a built message to one recipient per the configuration (SMTP, or
 * an .eml file when smtp_url is empty). 0, or -1 + err describing the
 * failure (with the SMTP reply code when there was one). */
int ctl_mailer_deliver(const ml_config *cfg, const char *from_addr, const char *to_addr,
                       const char *raw, size_t len, const char *file_stem, char *err,
                       size_t errlen);

/* Job handler for kind "email.send", payload {"email_id": N}. */
int ctl_mailer_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen);

#endif
