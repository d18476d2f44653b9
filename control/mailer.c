/*
 * Sending outbox emails; see mailer.h. ctl_mailer_job() is the `email.send`
 * job handler: it loads the outbox row and its attachments, builds the
 * message (mail_message.c), delivers it, and records the outcome on the
 * row. Delivery is SMTP through libcurl's easy interface (one connection
 * per message: transactional email is low volume, and the job runner gives
 * the parallelism), or an .eml file under data_dir/mail when smtp_url is
 * empty. A row already marked sent is not sent again, so a job that runs
 * twice (its lease expired) sends twice only if the first run crashed
 * between the SMTP reply and the UPDATE.
 */
#include "control/mailer.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct reader {
    const char *p;
    size_t left;
} reader;

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
    reader *r = arg;
    size_t n = size * nmemb < r->left ? size * nmemb : r->left;
    memcpy(buf, r->p, n);
    r->p += n;
    r->left -= n;
    return n;
}

static int smtp_send(const ml_config *cfg, const char *from_addr, const char *to_addr,
                     const char *raw, size_t len, char *err, size_t errlen)
{
    char from[300], to[300], curlerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *rcpt = NULL;
    int rc = -1;
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "SMTP: cannot create a libcurl handle");
        return -1;
    }
    snprintf(from, sizeof from, "<%s>", from_addr);
    snprintf(to, sizeof to, "<%s>", to_addr);
    rcpt = curl_slist_append(NULL, to);
    if (!rcpt) {
        snprintf(err, errlen, "SMTP: out of memory");
        goto fail;
    }
    reader rd = {raw, len};
    curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->smtp_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->smtp_timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
    if (cfg->smtp_username[0]) {
        /* Never send a password in clear: require STARTTLS (or smtps://). */
        curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->smtp_password);
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    } else {
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    }
    CURLcode res = curl_easy_perform(c);
    if (res != CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code > 0)
            snprintf(err, errlen, "SMTP: server replied %ld (%s)", code,
                     curlerr[0] ? curlerr : curl_easy_strerror(res));
        else
            snprintf(err, errlen, "SMTP: %s", curlerr[0] ? curlerr : curl_easy_strerror(res));
        goto fail;
    }
    rc = 0;
fail:
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    return rc;
}

/* mkdir -p for one or two levels (data_dir and data_dir/mail). */
static int ensure_dir(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

static int file_send(const ml_config *cfg, const char *raw, size_t len, const char *stem,
                     char *err, size_t errlen)
{
    char dir[ML_CFG_PATH + 16], tmp[ML_CFG_PATH + 160], final[ML_CFG_PATH + 160];
    snprintf(dir, sizeof dir, "%s/mail", cfg->data_dir);
    if (ensure_dir(cfg->data_dir) != 0 || ensure_dir(dir) != 0) {
        snprintf(err, errlen, "mail folder %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, stem);
    snprintf(final, sizeof final, "%s/%s.eml", dir, stem);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, raw + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0 || rename(tmp, final) != 0) {
        snprintf(err, errlen, "cannot store %s: %s", final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    ML_INFO("mail", "email written to %s (smtp_url is empty)", final);
    return 0;
}

int ctl_mailer_deliver(const ml_config *cfg, const char *from_addr, const char *to_addr,
                       const char *raw, size_t len, const char *file_stem, char *err,
                       size_t errlen)
{
    if (!cfg->smtp_url[0])
        return file_send(cfg, raw, len, file_stem, err, errlen);
    return smtp_send(cfg, from_addr, to_addr, raw, len, err, errlen);
}

/* Record the outcome of one attempt on the outbox row (best effort: the
 * job row is what drives retries). */
static void record(PGconn *conn, const char *id, int sent, int final, const char *error)
{
    const char *p[3] = {id, error, final ? "failed" : "queued"};
    PGresult *r = sent ? PQexecParams(conn,
                                      "UPDATE email_outbox SET state = 'sent', sent_at = now(), "
                                      "attempts = attempts + 1, last_error = NULL WHERE id = $1",
                                      1, NULL, p, NULL, NULL, 0)
                       : PQexecParams(conn,
                                      "UPDATE email_outbox SET state = $3, "
                                      "attempts = attempts + 1, last_error = $2 WHERE id = $1",
                                      3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        ML_WARN("mail", "email %s: cannot record the outcome: %s", id, PQresultErrorMessage(r));
    PQclear(r);
}

int ctl_mailer_job(ctl_ctx *ctx, const ctl_job *job, char *err, size_t errlen)
{
    PGresult *msg = NULL, *att = NULL;
    ctl_email_attachment *atts = NULL;
    char *raw = NULL;
    int rc = CTL_JOB_RETRY;
    json_t *jid = json_object_get(job->payload, "email_id");
    if (!json_is_integer(jid)) {
        snprintf(err, errlen, "payload has no integer email_id");
        return CTL_JOB_PERMANENT;
    }
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(jid));
    if (ctl_db_ensure(&ctx->db, err, errlen) != 0)
        return CTL_JOB_RETRY;
    const char *p[1] = {id};
    msg = PQexecParams(ctx->db.conn,
                       "SELECT to_addr, to_name, reply_to, subject, text_body, html_body, "
                       "message_id, state FROM email_outbox WHERE id = $1",
                       1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(msg) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "cannot load email %s: %s", id, PQresultErrorMessage(msg));
        goto fail;
    }
    if (PQntuples(msg) != 1) {
        snprintf(err, errlen, "email %s does not exist", id);
        rc = CTL_JOB_PERMANENT;
        goto fail;
    }
    if (strcmp(PQgetvalue(msg, 0, 7), "sent") == 0) {
        rc = CTL_JOB_OK; /* an earlier run sent it */
        goto fail;
    }
    att = PQexecParams(ctx->db.conn,
                       "SELECT filename, content_type, data FROM email_attachments "
                       "WHERE email_id = $1 ORDER BY position",
                       1, NULL, p, NULL, NULL, 1);
    if (PQresultStatus(att) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "cannot load attachments of email %s: %s", id,
                 PQresultErrorMessage(att));
        goto fail;
    }
    int natt = PQntuples(att);
    atts = calloc((size_t)(natt > 0 ? natt : 1), sizeof *atts);
    if (!atts) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < natt; i++) {
        atts[i].filename = PQgetvalue(att, i, 0);
        atts[i].content_type = PQgetvalue(att, i, 1);
        atts[i].data = (const unsigned char *)PQgetvalue(att, i, 2);
        atts[i].len = (size_t)PQgetlength(att, i, 2);
    }
    char from_name[ML_CFG_STR], from_addr[ML_CFG_STR], message_id[400];
    if (ctl_mail_parse_from(ctx->cfg->smtp_from, from_name, sizeof from_name, from_addr,
                            sizeof from_addr) != 0) {
        snprintf(err, errlen, "smtp_from is not a valid address");
        goto fail;
    }
    snprintf(message_id, sizeof message_id, "%s@%s", PQgetvalue(msg, 0, 6),
             strchr(from_addr, '@') + 1);
    ctl_mail_msg m = {
        .from = from_addr,
        .from_name = from_name,
        .to = PQgetvalue(msg, 0, 0),
        .to_name = PQgetisnull(msg, 0, 1) ? NULL : PQgetvalue(msg, 0, 1),
        .reply_to = PQgetisnull(msg, 0, 2) ? NULL : PQgetvalue(msg, 0, 2),
        .subject = PQgetvalue(msg, 0, 3),
        .text = PQgetvalue(msg, 0, 4),
        .html = PQgetisnull(msg, 0, 5) ? NULL : PQgetvalue(msg, 0, 5),
        .attachments = atts,
        .nattachments = (size_t)natt,
        .message_id = message_id,
        .date = time(NULL),
        .boundary_seed = PQgetvalue(msg, 0, 6),
    };
    size_t len;
    if (ctl_mail_build(&m, &raw, &len, err, errlen) != 0) {
        rc = CTL_JOB_PERMANENT;
        record(ctx->db.conn, id, 0, 1, err);
        goto fail;
    }
    char stem[96];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    size_t sl = strftime(stem, sizeof stem, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(stem + sl, sizeof stem - sl, "-%s", id);
    if (ctl_mailer_deliver(ctx->cfg, from_addr, m.to, raw, len, stem, err, errlen) != 0) {
        record(ctx->db.conn, id, 0, job->attempt >= job->max_attempts, err);
        goto fail;
    }
    record(ctx->db.conn, id, 1, 0, NULL);
    ML_INFO("mail", "email %s sent (attempt %d)", id, job->attempt);
    rc = CTL_JOB_OK;
fail:
    free(raw);
    free(atts);
    PQclear(att);
    PQclear(msg);
    return rc;
}
