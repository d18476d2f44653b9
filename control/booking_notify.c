/*
 * What happens around a booking besides seats: the confirmation email with
 * an RFC 5545 invitation, in-app notifications, the 24 h and 30 min
 * reminders (jobs with a dedupe key per booking and kind, so confirming
 * twice schedules nothing twice and a cancellation can drop them), hold
 * expiry, and the "confirm on payment" entry point for payments.
 * Everything that writes runs in the caller's transaction.
 */
#include "control/booking.h"
#include "control/booking_internal.h"
#include "control/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* booking_json(id, 0) as a parsed object, or NULL. */
static json_t *load_booking(PGconn *c, long long id, char *err, size_t errlen)
{
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[1] = {ids};
    PGresult *r =
        PQexecParams(c, "SELECT booking_json($1::bigint, 0)::text", 1, NULL, p, NULL, NULL, 0);
    json_t *o = NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    else if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        o = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    else
        snprintf(err, errlen, "no such booking");
    PQclear(r);
    return o;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* "2027-03-28T01:00:00Z" -> "20270328T010000Z" */
static void ics_time(const char *iso, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = iso; *p && o + 1 < cap; p++)
        if (*p != '-' && *p != ':')
            out[o++] = *p;
    out[o] = '\0';
}

/* Append one content line, escaped TEXT when `escape`, folded at 75
 * octets without splitting a UTF-8 sequence, ending in CRLF. */
static void ics_line(char *buf, size_t cap, size_t *len, const char *name, const char *value,
                     int escape)
{
    char line[2048];
    size_t n = (size_t)snprintf(line, sizeof line, "%s:", name);
    for (const char *p = value; *p && n + 3 < sizeof line; p++) {
        if (escape && (*p == ',' || *p == ';' || *p == '\\')) {
            line[n++] = '\\';
            line[n++] = *p;
        } else if (escape && *p == '\n') {
            line[n++] = '\\';
            line[n++] = 'n';
        } else if (*p != '\r') {
            line[n++] = *p;
        }
    }
    size_t col = 0;
    for (size_t i = 0; i < n && *len + 4 < cap; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (col >= 74 && (ch & 0xC0) != 0x80) {
            buf[(*len)++] = '\r';
            buf[(*len)++] = '\n';
            buf[(*len)++] = ' ';
            col = 1;
        }
        buf[(*len)++] = line[i];
        col++;
    }
    if (*len + 2 < cap) {
        buf[(*len)++] = '\r';
        buf[(*len)++] = '\n';
    }
    buf[*len] = '\0';
}

char *ctl_bk__ics(const json_t *b, const char *method)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    buf[0] = '\0';
    char start[32], end[32], stamp[32], uid[96], org[320], att[320];
    ics_time(jstr(b, "start"), start, sizeof start);
    ics_time(jstr(b, "end"), end, sizeof end);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(uid, sizeof uid, "booking-%lld@mentorlink",
             (long long)json_integer_value(json_object_get(b, "id")));
    snprintf(org, sizeof org, "mailto:%s", jstr(b, "mentor_email"));
    snprintf(att, sizeof att, "mailto:%s", jstr(b, "mentee_email"));
    int cancel = strcmp(method, "CANCEL") == 0;
    ics_line(buf, cap, &len, "BEGIN", "VCALENDAR", 0);
    ics_line(buf, cap, &len, "VERSION", "2.0", 0);
    ics_line(buf, cap, &len, "PRODID", "-//MentorLink//Booking//EN", 0);
    ics_line(buf, cap, &len, "CALSCALE", "GREGORIAN", 0);
    ics_line(buf, cap, &len, "METHOD", method, 0);
    ics_line(buf, cap, &len, "BEGIN", "VEVENT", 0);
    ics_line(buf, cap, &len, "UID", uid, 0);
    ics_line(buf, cap, &len, "SEQUENCE", cancel ? "1" : "0", 0);
    ics_line(buf, cap, &len, "DTSTAMP", stamp, 0);
    ics_line(buf, cap, &len, "DTSTART", start, 0);
    ics_line(buf, cap, &len, "DTEND", end, 0);
    char summary[400];
    snprintf(summary, sizeof summary, "%s with %s", jstr(b, "title"), jstr(b, "mentor_name"));
    ics_line(buf, cap, &len, "SUMMARY", summary, 1);
    ics_line(buf, cap, &len, "ORGANIZER", org, 0);
    ics_line(buf, cap, &len, "ATTENDEE;ROLE=REQ-PARTICIPANT", att, 0);
    ics_line(buf, cap, &len, "STATUS", cancel ? "CANCELLED" : "CONFIRMED", 0);
    ics_line(buf, cap, &len, "END", "VEVENT", 0);
    ics_line(buf, cap, &len, "END", "VCALENDAR", 0);
    return buf;
}

static int notify(PGconn *c, long long user, const char *kind, long long booking, const char *body,
                  int *inserted, char *err, size_t errlen)
{
    char u[32], b[32];
    snprintf(u, sizeof u, "%lld", user);
    snprintf(b, sizeof b, "%lld", booking);
    const char *p[4] = {u, kind, b, body};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO notifications (user_id, kind, booking_id, body) "
                               "VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING RETURNING id",
                               4, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    else if (inserted)
        *inserted = PQntuples(r) == 1;
    PQclear(r);
    return ok ? 0 : -1;
}

static int reminder(PGconn *c, long long id, const char *kind, long long delay_s, char *err,
                    size_t errlen)
{
    char key[80];
    snprintf(key, sizeof key, "booking:%lld:reminder:%s", id, kind);
    json_t *pl = json_pack("{s:I, s:s}", "booking_id", (json_int_t)id, "kind", kind);
    ctl_job_spec s = {
        .kind = "booking.reminder", .payload = pl, .delay_ms = delay_s * 1000, .dedupe_key = key};
    int rc = ctl_jobs_enqueue(c, &s, NULL, err, errlen);
    json_decref(pl);
    return rc;
}

int ctl_bk__on_confirmed(PGconn *c, long long id, char *err, size_t errlen)
{
    json_t *b = load_booking(c, id, err, errlen);
    if (!b)
        return -1;
    int rc = -1;
    char *ics = ctl_bk__ics(b, "REQUEST");
    char subject[300], text[1200];
    snprintf(subject, sizeof subject, "Booked: %s with %s", jstr(b, "title"),
             jstr(b, "mentor_name"));
    snprintf(text, sizeof text,
             "Your session \"%s\" with %s is confirmed.\nStart: %s\nEnd: %s\n\n"
             "The invitation is attached.\n",
             jstr(b, "title"), jstr(b, "mentor_name"), jstr(b, "start"), jstr(b, "end"));
    long long mentee = json_integer_value(json_object_get(b, "mentee_id"));
    long long left = json_integer_value(json_object_get(b, "seconds_to_start"));
    if (!ics)
        goto done;
    ctl_email_attachment a = {"invite.ics", "text/calendar; method=REQUEST; charset=utf-8",
                              (const unsigned char *)ics, strlen(ics)};
    ctl_email m = {.to = jstr(b, "mentee_email"),
                   .to_name = jstr(b, "mentee_name"),
                   .subject = subject,
                   .text = text,
                   .attachments = &a,
                   .nattachments = 1,
                   .tag = "booking.confirmed",
                   .user_id = mentee};
    if (ctl_outbox_email(c, &m, err, errlen) != 0 ||
        notify(c, mentee, "booking.confirmed", id, "{}", NULL, err, errlen) != 0 ||
        notify(c, json_integer_value(json_object_get(b, "mentor_id")), "booking.new", id, "{}",
               NULL, err, errlen) != 0)
        goto done;
    if (left > 86400 + 60 && reminder(c, id, "24h", left - 86400, err, errlen) != 0)
        goto done;
    if (left > 1800 + 60 && reminder(c, id, "30m", left - 1800, err, errlen) != 0)
        goto done;
    rc = 0;
done:
    free(ics);
    json_decref(b);
    return rc;
}

int ctl_bk__on_cancelled(PGconn *c, long long id, char *err, size_t errlen)
{
    char key[80];
    snprintf(key, sizeof key, "booking:%lld:reminder:24h", id);
    if (ctl_jobs_cancel(c, key, err, errlen) != 0)
        return -1;
    snprintf(key, sizeof key, "booking:%lld:reminder:30m", id);
    return ctl_jobs_cancel(c, key, err, errlen);
}

int ctl_booking_confirm_on_payment(PGconn *c, long long booking_id, char *err, size_t errlen)
{
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", booking_id);
    const char *p[1] = {ids};
    PGresult *r = PQexecParams(c, "SELECT status = 'confirmed' FROM bookings WHERE id = $1::bigint",
                               1, NULL, p, NULL, NULL, 0);
    int already =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (already)
        return 0;
    r = PQexecParams(c, "SELECT booking_confirm($1::bigint)", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        int business = st && strncmp(st, "MB", 2) == 0;
        snprintf(err, errlen, "%s",
                 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                     ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                     : "database error");
        PQclear(r);
        return business ? 1 : -1;
    }
    PQclear(r);
    return ctl_bk__on_confirmed(c, booking_id, err, errlen);
}

int ctl_booking_reminder_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    long long id = json_integer_value(json_object_get(job->payload, "booking_id"));
    const char *kind = json_string_value(json_object_get(job->payload, "kind"));
    if (id <= 0 || !kind || (strcmp(kind, "24h") != 0 && strcmp(kind, "30m") != 0)) {
        snprintf(err, errlen, "bad payload");
        return CTL_JOB_PERMANENT;
    }
    if (ctl_db_ensure(&ctx->db, err, errlen) != 0)
        return CTL_JOB_RETRY;
    PGconn *c = ctx->db.conn;
    json_t *b = load_booking(c, id, err, errlen);
    if (!b)
        return CTL_JOB_RETRY;
    int rc = CTL_JOB_OK, inserted = 0;
    if (strcmp(jstr(b, "status"), "confirmed") != 0 ||
        strcmp(jstr(b, "session_status"), "scheduled") != 0)
        goto done; /* cancelled or moved meanwhile: nothing to remind */
    char nkind[32], body[160], subject[300], text[1000];
    snprintf(nkind, sizeof nkind, "reminder.%s", kind);
    snprintf(body, sizeof body, "{\"session_id\":%lld,\"start\":\"%s\"}",
             (long long)json_integer_value(json_object_get(b, "session_id")), jstr(b, "start"));
    snprintf(subject, sizeof subject, "Reminder: %s with %s %s", jstr(b, "title"),
             jstr(b, "mentor_name"), strcmp(kind, "24h") == 0 ? "tomorrow" : "in 30 minutes");
    snprintf(text, sizeof text, "Your session \"%s\" with %s starts at %s.\n", jstr(b, "title"),
             jstr(b, "mentor_name"), jstr(b, "start"));
    long long mentee = json_integer_value(json_object_get(b, "mentee_id"));
    ctl_email m = {.to = jstr(b, "mentee_email"),
                   .to_name = jstr(b, "mentee_name"),
                   .subject = subject,
                   .text = text,
                   .tag = "booking.reminder",
                   .user_id = mentee};
    rc = CTL_JOB_RETRY;
    if (ctl_bk__tx(c, "BEGIN") != 0)
        goto done;
    /* The notification's unique key makes a rerun (at-least-once) a no-op. */
    if (notify(c, mentee, nkind, id, body, &inserted, err, errlen) != 0 ||
        (inserted && ctl_outbox_email(c, &m, err, errlen) != 0) || ctl_bk__tx(c, "COMMIT") != 0) {
        ctl_bk__tx(c, "ROLLBACK");
        goto done;
    }
    rc = CTL_JOB_OK;
done:
    json_decref(b);
    return rc;
}

int ctl_booking_expire_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    (void)job;
    if (ctl_db_ensure(&ctx->db, err, errlen) != 0 ||
        ctl_db_exec(&ctx->db, "SELECT booking_release_expired()", err, errlen) != 0)
        return CTL_JOB_RETRY;
    return CTL_JOB_OK;
}
