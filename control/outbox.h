/*
 * The email outbox. Code that wants to send an email (an OTP, a booking
 * confirmation with an .ics invitation, ...) calls ctl_outbox_email() inside
 * its own transaction: the email row, its attachments and an `email.send`
 * job are inserted together, so an email exists if and only if the business
 * change that caused it committed. The job runner then delivers it
 * (control/mailer.c) with retries; delivery is at-least-once, and the
 * Message-ID is fixed when the row is written so that a receiver can
 * de-duplicate a resend.
 *
 * Addresses, names and subjects must not contain CR or LF (header
 * injection); bodies are UTF-8 text. Attachment file names are reduced to
 * safe characters.
 */
#ifndef ML_CONTROL_OUTBOX_H
#define ML_CONTROL_OUTBOX_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct ctl_email_attachment {
    const char *filename;     /* "invite.ics" */
    const char *content_type; /* "text/calendar; method=REQUEST; charset=utf-8" */
    const unsigned char *data;
    size_t len;
} ctl_email_attachment;

typedef struct ctl_email {
    const char *to;        /* one address, required */
    const char *to_name;   /* display name, optional (UTF-8) */
    const char *reply_to;  /* optional address */
    const char *subject;   /* required, UTF-8 */
    const char *text;      /* plain-text body, required, UTF-8 */
    const char *html;      /* optional HTML alternative */
    const ctl_email_attachment *attachments;
    size_t nattachments;
    const char *tag;       /* optional label for operations: "otp", "booking.confirmed" */
    long long user_id;     /* optional recipient account (0 = none) */
} ctl_email;

/* Limits enforced by ctl_outbox_email. */
#define CTL_EMAIL_MAX_SUBJECT 900   /* bytes (a header line stays under 998) */
#define CTL_EMAIL_MAX_BODY (1 << 20) /* bytes, text and html each */
#define CTL_EMAIL_MAX_ATTACHMENTS 8
#define CTL_EMAIL_MAX_ATTACHMENT (5 << 20) /* bytes each */

/* Queue an email in the caller's transaction (the caller does BEGIN and
 * COMMIT; in autocommit mode the three inserts are not atomic). 0, or -1 +
 * err (invalid message or database error; the caller rolls back). */
int ctl_outbox_email(PGconn *conn, const ctl_email *m, char *err, size_t errlen);

/* Same, returning the outbox row id. */
int ctl_outbox_email_id(PGconn *conn, const ctl_email *m, long long *id_out, char *err,
                        size_t errlen);

/* Check a message without touching the database (used by the above). */
int ctl_outbox_check(const ctl_email *m, char *err, size_t errlen);

#endif
