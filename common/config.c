/*
 * Configuration table and parsers. See config.h for the model. The table
 * below is the single source of truth for key names, types and defaults.
 */
#include "common/config.h"
#include "common/log.h"
#include "ml_build_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(ml_config, f)
#define STRK(f, def, doc) {#f, ML_CFG_T_STRING, OFF(f), sizeof(((ml_config *)0)->f), def, 0, 0, doc}
#define INTK(f, def, lo, hi, doc) {#f, ML_CFG_T_INT, OFF(f), sizeof(int), def, lo, hi, doc}
#define BOOLK(f, def, doc) {#f, ML_CFG_T_BOOL, OFF(f), sizeof(int), def, 0, 1, doc}

static const ml_config_key keys[] = {
    STRK(listen_host, "127.0.0.1", "Address the HTTP/WebSocket server listens on."),
    INTK(listen_port, "8080", 1, 65535, "TCP port of the HTTP/WebSocket server."),
    STRK(public_url, "", "Public base URL (for links in emails); empty means http://listen_host:listen_port."),
    STRK(web_dir, ML_SOURCE_ROOT "/web", "Folder of the browser client served at /."),
    INTK(http_workers, "4", 1, 64, "Threads that run blocking control-plane work (database, Redis)."),
    INTK(http_keepalive_s, "65", 1, 3600, "Seconds an idle HTTP/1.1 keep-alive connection is kept open; longer than clients' own idle timeouts (4-5 s for Node and most libraries) so that the client, not the server, closes it (a server close can race a request the client just sent on it)."),
    INTK(max_body_bytes, "1048576", 1024, 67108864, "Largest accepted HTTP request body."),
    INTK(ws_max_message_bytes, "65536", 1024, 16777216, "Largest accepted WebSocket signaling message."),
    INTK(shutdown_timeout_ms, "10000", 0, 600000, "How long SIGTERM waits for in-flight work before exiting."),
    STRK(log_level, "info", "Minimum log level: debug, info, warn, error."),
    STRK(log_format, "text", "Log line format: text or json."),
    STRK(data_dir, "./var", "Folder for the embedded PostgreSQL and Redis, recordings and keys."),
    STRK(database_url, "", "PostgreSQL connection string; empty starts a private cluster under data_dir."),
    STRK(redis_url, "", "Redis URL (redis://host:port/db or unix:///path); empty starts a private Redis under data_dir."),
    STRK(postgres_bin_dir, "", "Folder with initdb/postgres for the embedded cluster; empty searches /usr/lib/postgresql/*/bin."),
    STRK(redis_server_bin, "redis-server", "redis-server binary for the embedded Redis."),
    BOOLK(auto_migrate, "true", "Apply pending schema migrations when the server starts."),
    INTK(db_lock_timeout_ms, "3000", 0, 600000, "PostgreSQL lock_timeout of the daemon's request and job connections: a statement waiting this long for a row or table lock fails (SQLSTATE 55P03) and the request answers 503 with Retry-After; 0 waits forever. Migrations have none."),
    INTK(db_statement_timeout_ms, "30000", 0, 3600000, "PostgreSQL statement_timeout of the daemon's request and job connections (SQLSTATE 57014, answered 503 with Retry-After); 0 means none. Migrations have none."),
    INTK(db_tx_attempts, "5", 1, 20, "Attempts of a booking or payment transaction that fails with a serialization failure (40001) or a deadlock (40P01); each retry runs the whole transaction again after a jittered 5-200 ms back-off."),
    INTK(media_workers, "0", 0, 256, "Media worker threads; 0 means one per core."),
    INTK(media_poll_coalesce_us, "0", 0, 5000, "Under load a media worker waits up to this many microseconds after a wake-up before it polls its sockets again, so that one main-loop iteration handles every packet that arrived meanwhile (fewer wake-ups); a worker idle for longer than this answers at once. Adds at most this much delay to a packet. 0 (the default) turns it off: at 200-320 fan-out mentees a 500 or 1000 us window gave no measurable CPU saving and a slightly higher delay p99 (docs/benchmarks.md)."),
    STRK(ice_interfaces, "", "Comma-separated interface names or IP addresses to gather host candidates on; empty means all."),
    STRK(ice_public_ip, "", "Public IPv4 address advertised for 1:1 NAT (added as a host candidate)."),
    INTK(ice_port_min, "0", 0, 65535, "Lowest UDP port for ICE; 0 lets the kernel choose."),
    INTK(ice_port_max, "0", 0, 65535, "Highest UDP port for ICE; 0 lets the kernel choose."),
    STRK(stun_server, "", "STUN server host:port the SFU uses to learn its server-reflexive address."),
    STRK(turn_uri, "", "TURN URI handed to clients (e.g. turn:203.0.113.5:3478?transport=udp)."),
    STRK(turn_secret, "", "Shared secret for time-limited TURN credentials (coturn use-auth-secret)."),
    INTK(turn_credential_ttl_s, "86400", 60, 604800, "Lifetime of TURN credentials handed to clients."),
    STRK(dtls_cert_file, "", "PEM certificate for DTLS; empty generates an ECDSA P-256 certificate at start."),
    STRK(dtls_key_file, "", "PEM private key matching dtls_cert_file."),
    STRK(srtp_profiles, "aead_aes_128_gcm,aes_cm_128_hmac_sha1_80", "SRTP protection profiles offered in DTLS, in order of preference."),
    INTK(ice_connect_timeout_ms, "20000", 1000, 600000, "A peer that does not connect within this time is freed."),
    INTK(ice_consent_timeout_ms, "30000", 5000, 600000, "A connected peer with media that sent nothing authenticated (SRTP, SRTCP, DTLS) for this long is freed; a room peer whose ICE failed (no answer to the server's consent checks for 50 s) waits this long for an ICE restart."),
    INTK(sctp_max_message_size, "262144", 1024, 16777216, "Largest data-channel message accepted and advertised."),
    INTK(room_max_participants, "100", 1, 100000, "Most participants in one room."),
    INTK(room_roster_limit, "50", 0, 100000, "In a room with more members than this, mentees are told only about participants who may publish (mentors, mentees given the floor) plus the member count, instead of every join and leave; mentors always get the whole roster. 0 = always the whole roster."),
    BOOLK(room_join_tokens, "true", "Room joins must carry a room token (POST /api/v1/sessions/{id}/join) whose session id is the room name; false lets anyone join any room with any role (development only)."),
    INTK(access_token_ttl_s, "900", 30, 86400, "Lifetime of access tokens (JWT, HS256)."),
    INTK(refresh_token_ttl_s, "2592000", 300, 31536000, "Lifetime of a refresh token (each use rotates it)."),
    INTK(jwt_key_rotation_days, "30", 1, 3650, "Age at which a new access-token signing key replaces the current one."),
    STRK(allowed_origins, "", "Extra comma-separated origins allowed to use cookie-authenticated auth routes (the public_url origin always is)."),
    STRK(bootstrap_admin_email, "", "While no admin exists, the verified account with this email becomes admin when it signs in."),
    INTK(argon2_memory_kib, "19456", 19456, 4194304, "Argon2id memory cost for new password hashes (KiB; OWASP minimum 19456)."),
    INTK(argon2_iterations, "2", 2, 100, "Argon2id time cost (passes) for new password hashes."),
    INTK(auth_ip_rate_per_minute, "30", 1, 1000000, "Sign-in, sign-up and code requests accepted per client IP per minute (each route)."),
    STRK(google_jwks_url, "https://www.googleapis.com/oauth2/v3/certs", "JWKS URL with the keys that sign Google ID tokens."),
    STRK(google_client_id, "", "OAuth client id that Google ID tokens must name as aud; empty disables Google sign-in."),
    STRK(google_issuers, "https://accounts.google.com,accounts.google.com", "Comma-separated accepted iss values of Google ID tokens."),
    INTK(job_workers, "2", 0, 64, "Background job threads on this node (email, reminders, transcodes); 0 runs no jobs here."),
    INTK(job_poll_ms, "1000", 50, 60000, "Longest a job worker sleeps before looking for due jobs (new jobs wake it at once)."),
    INTK(job_lease_s, "300", 5, 86400, "Lease of a running job; a job whose node died is run again after it expires."),
    INTK(job_max_attempts, "10", 1, 100, "Default attempts of a job before it is marked failed."),
    INTK(job_retry_base_ms, "2000", 10, 3600000, "Back-off before the first retry of a failed job; doubles with each attempt."),
    INTK(job_retry_max_ms, "3600000", 10, 86400000, "Longest back-off between two attempts of a job."),
    INTK(job_retention_days, "7", 1, 3650, "Finished (done) jobs older than this are deleted."),
    STRK(smtp_url, "", "SMTP server (smtp://host:port or smtps://host:port); empty writes emails as .eml files under data_dir/mail."),
    STRK(smtp_from, "MentorLink <no-reply@mentorlink.localhost>", "From address of outgoing email: a bare address or a display name and an address in angle brackets."),
    STRK(smtp_username, "", "SMTP user name (AUTH); empty sends without authentication."),
    STRK(smtp_password, "", "SMTP password."),
    INTK(smtp_timeout_ms, "15000", 100, 600000, "Timeout of one SMTP delivery (connect and transfer)."),
    STRK(cursor_secret, "", "Key that signs pagination cursors; empty makes a random one per process (set it for a cluster)."),
    STRK(room_token_secret, "", "Key (at least 32 characters) that signs room join tokens; empty uses data_dir/room_token.key, created on first start (set it for a cluster)."),
    INTK(booking_hold_min, "10", 1, 1440, "How long a paid booking holds its seat during checkout before it is released."),
    INTK(booking_write_limit, "30", 1, 100000, "Booking changes (book, cancel, reschedule, agenda, review, availability, session types, session start/end/join) accepted per user per booking_rate_window_s."),
    INTK(booking_read_limit, "300", 1, 1000000, "Booking reads (bookings, notifications, slots, mentor search and profiles) per user, or per client address when signed out, per booking_rate_window_s."),
    INTK(booking_rate_window_s, "60", 1, 86400, "Window of the booking rate limits."),
    STRK(support_email, "", "Recipient of contact-form messages; empty uses the smtp_from address."),
    INTK(contact_limit, "5", 1, 100000, "Contact-form messages accepted per client address per contact_window_s."),
    INTK(contact_window_s, "3600", 1, 86400, "Window of the contact-form rate limit and failure count."),
    INTK(contact_max_failures, "10", 1, 100000, "Invalid contact-form submissions per client address within the window before a ban."),
    INTK(contact_ban_s, "900", 1, 86400, "How long a client address is banned from the contact form after too many invalid submissions."),
    STRK(recording_dir, "", "Folder of raw recordings and processed files; empty means data_dir/recordings."),
    INTK(recording_ring_bytes, "1048576", 65536, 268435456, "Per recorded track: the ring between a media worker and the recorder writer (full ring: records dropped and counted)."),
    INTK(recording_fsync_ms, "1000", 0, 60000, "Raw recording files are fdatasync'ed at least this often (0: after every write)."),
    INTK(recording_fsync_bytes, "4194304", 0, 1073741824, "Raw recording files are also synced after this many bytes since the last sync (0: no byte limit)."),
    BOOLK(recording_enabled, "true", "Record the sessions whose session type is marked recorded (false: never record on this node)."),
    STRK(recording_ffmpeg, "ffmpeg", "The ffmpeg program used to make the MP4 and the thumbnail of a recording."),
    STRK(recording_ffprobe, "ffprobe", "The ffprobe program used to measure a processed recording."),
    INTK(recording_process_timeout_s, "3600", 10, 86400, "Longest one ffmpeg run of recording post-processing may take before it is killed."),
    STRK(s3_endpoint, "", "S3 endpoint (http(s)://host[:port]) for finished recordings; empty keeps them on local disk."),
    STRK(s3_region, "us-east-1", "S3 region used in request signatures (SigV4)."),
    STRK(s3_bucket, "", "S3 bucket for finished recordings."),
    STRK(s3_access_key, "", "S3 access key id."),
    STRK(s3_secret_key, "", "S3 secret access key."),
    BOOLK(s3_path_style, "false", "Address objects as endpoint/bucket/key (MinIO, most S3-compatible servers) instead of bucket.endpoint/key."),
    INTK(s3_presign_ttl_s, "3600", 1, 604800, "Lifetime of presigned download URLs for recordings."),
    INTK(s3_multipart_threshold_bytes, "16777216", 5242880, 2147483647, "Files at least this large are uploaded with a multipart upload."),
    INTK(s3_part_bytes, "8388608", 5242880, 2147483647, "Size of one part of a multipart upload (S3's minimum is 5 MiB)."),
    INTK(s3_max_attempts, "4", 1, 20, "Attempts of one S3 request on connection errors, timeouts and 5xx answers (exponential back-off)."),
    STRK(payments_provider_url, "", "Base URL of the Stripe-compatible payment API (https://api.stripe.com); empty starts the local mlfakepay provider on a loopback port."),
    STRK(payments_secret_key, "", "Secret API key of the payment provider (sk_...); generated for the embedded mlfakepay."),
    STRK(payments_webhook_secrets, "", "Comma list of webhook signing secrets (whsec_...); a delivery signed with any of them is accepted (rotation). Generated for the embedded mlfakepay."),
    STRK(payments_currency, "eur", "Currency of credits and payments (ISO 4217, lower case); bookings priced in another currency cannot be paid."),
    INTK(payments_platform_fee_pct, "10", 0, 100, "Platform fee, percent of a booking's price (rounded down); the rest is the mentor's earnings."),
    INTK(payments_timeout_ms, "10000", 100, 120000, "Timeout of one request to the payment provider; on timeout the payment stays pending_provider and is reconciled later."),
    INTK(payments_connect_timeout_ms, "3000", 100, 60000, "Connect timeout of requests to the payment provider."),
    INTK(payments_webhook_tolerance_s, "300", 1, 86400, "Largest difference between a webhook signature's timestamp and our clock."),
    INTK(payments_reconcile_s, "15", 1, 86400, "Delay before a payment or refund whose provider call failed is asked about again (doubling per attempt)."),
    INTK(payments_rate_per_minute, "30", 1, 100000, "Money-moving requests (pay, buy credits, refund) per user per minute."),
    STRK(payments_fakepay_bin, "", "mlfakepay binary for the embedded provider; empty tries ../tools/fakepay/mlfakepay next to the daemon's build folder, then PATH."),
};

const ml_config_key *ml_config_keys(size_t *n)
{
    *n = sizeof keys / sizeof keys[0];
    return keys;
}

static const ml_config_key *find_key(const char *name)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int set_key(ml_config *c, const ml_config_key *k, const char *value, char *err, size_t errlen)
{
    char *field = (char *)c + k->offset;
    switch (k->type) {
    case ML_CFG_T_STRING: {
        size_t n = strlen(value);
        if (n >= k->size) {
            snprintf(err, errlen, "value of '%s' is too long (%zu bytes, at most %zu)", k->name, n,
                     k->size - 1);
            return -1;
        }
        memcpy(field, value, n + 1);
        return 0;
    }
    case ML_CFG_T_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0') {
            snprintf(err, errlen, "value of '%s' is not an integer: \"%s\"", k->name, value);
            return -1;
        }
        if (v < k->min || v > k->max) {
            snprintf(err, errlen, "value of '%s' is out of range %ld..%ld: %ld", k->name, k->min,
                     k->max, v);
            return -1;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case ML_CFG_T_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes") ||
            !strcmp(value, "on")) {
            *(int *)field = 1;
            return 0;
        }
        if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no") ||
            !strcmp(value, "off")) {
            *(int *)field = 0;
            return 0;
        }
        snprintf(err, errlen, "value of '%s' is not a boolean (true/false): \"%s\"", k->name,
                 value);
        return -1;
    }
    return -1;
}

void ml_config_defaults(ml_config *c)
{
    memset(c, 0, sizeof *c);
    char err[256];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (set_key(c, &keys[i], keys[i].def, err, sizeof err) != 0)
            abort(); /* a default that does not parse is a programming error */
}

int ml_config_set(ml_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const ml_config_key *k = find_key(key);
    if (!k) {
        snprintf(err, errlen, "unknown configuration key '%s'", key);
        return -1;
    }
    return set_key(c, k, value, err, errlen);
}

static void trim(char **start, char **end)
{
    while (*start < *end && isspace((unsigned char)**start))
        (*start)++;
    while (*end > *start && isspace((unsigned char)(*end)[-1]))
        (*end)--;
}

int ml_config_parse_buffer(ml_config *c, const char *text, size_t len, const char *source, char *err,
                           size_t errlen)
{
    const char *p = text, *end = text + len;
    int lineno = 0;
    while (p < end) {
        lineno++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        char line[ML_CFG_PATH + 256];
        size_t n = (size_t)(eol - p);
        if (n >= sizeof line) {
            snprintf(err, errlen, "%s:%d: line too long", source, lineno);
            return -1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p = eol < end ? eol + 1 : end;
        if (memchr(line, '\0', n)) {
            snprintf(err, errlen, "%s:%d: NUL byte in line", source, lineno);
            return -1;
        }
        char *s = line, *e = line + n;
        trim(&s, &e);
        if (s == e || *s == '#')
            continue;
        char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", source, lineno);
            return -1;
        }
        char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
        trim(&ks, &ke);
        trim(&vs, &ve);
        if (ks == ke) {
            snprintf(err, errlen, "%s:%d: missing key before '='", source, lineno);
            return -1;
        }
        *ke = '\0';
        if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"') {
            vs++;
            ve--;
        }
        *ve = '\0';
        char kerr[512];
        if (ml_config_set(c, ks, vs, kerr, sizeof kerr) != 0) {
            snprintf(err, errlen, "%s:%d: %s", source, lineno, kerr);
            return -1;
        }
    }
    return 0;
}

int ml_config_load_file(ml_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            if (cap >= (1u << 20)) {
                fclose(f);
                free(buf);
                snprintf(err, errlen, "config file %s is larger than 1 MiB", path);
                return -1;
            }
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                fclose(f);
                free(buf);
                snprintf(err, errlen, "out of memory reading %s", path);
                return -1;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        snprintf(err, errlen, "cannot read config file %s", path);
        return -1;
    }
    int rc = ml_config_parse_buffer(c, buf ? buf : "", len, path, err, errlen);
    free(buf);
    return rc;
}

int ml_config_load_env(ml_config *c, char *const *envp, char *err, size_t errlen)
{
    static const char prefix[] = "MENTORLINK_";
    for (char *const *e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        size_t nlen = (size_t)(eq - *e);
        const char *value = eq + 1;
        char key[128];
        if (nlen == 12 && !strncmp(*e, "DATABASE_URL", 12)) {
            strcpy(key, "database_url");
        } else if (nlen == 9 && !strncmp(*e, "REDIS_URL", 9)) {
            strcpy(key, "redis_url");
        } else if (nlen > sizeof prefix - 1 && !strncmp(*e, prefix, sizeof prefix - 1)) {
            size_t klen = nlen - (sizeof prefix - 1);
            if (klen >= sizeof key) {
                snprintf(err, errlen, "unknown environment variable %.*s", (int)nlen, *e);
                return -1;
            }
            for (size_t i = 0; i < klen; i++)
                key[i] = (char)tolower((unsigned char)(*e)[sizeof prefix - 1 + i]);
            key[klen] = '\0';
            if (!strcmp(key, "config"))
                continue; /* MENTORLINK_CONFIG names the file, read by main */
        } else {
            continue;
        }
        const ml_config_key *k = find_key(key);
        if (!k) {
            snprintf(err, errlen, "unknown environment variable %.*s (no configuration key '%s')",
                     (int)nlen, *e, key);
            return -1;
        }
        char kerr[512];
        if (set_key(c, k, value, kerr, sizeof kerr) != 0) {
            snprintf(err, errlen, "environment %.*s: %s", (int)nlen, *e, kerr);
            return -1;
        }
    }
    return 0;
}

int ml_config_validate(const ml_config *c, char *err, size_t errlen)
{
    ml_log_level lvl;
    if (ml_log_level_parse(c->log_level, &lvl) != 0) {
        snprintf(err, errlen, "log_level must be debug, info, warn or error, not \"%s\"",
                 c->log_level);
        return -1;
    }
    if (strcmp(c->log_format, "text") && strcmp(c->log_format, "json")) {
        snprintf(err, errlen, "log_format must be text or json, not \"%s\"", c->log_format);
        return -1;
    }
    if ((c->ice_port_min == 0) != (c->ice_port_max == 0) || c->ice_port_min > c->ice_port_max) {
        snprintf(err, errlen, "ice_port_min..ice_port_max must both be 0 or a valid range (%d..%d)",
                 c->ice_port_min, c->ice_port_max);
        return -1;
    }
    if (strlen(c->payments_currency) != 3 || !islower((unsigned char)c->payments_currency[0]) ||
        !islower((unsigned char)c->payments_currency[1]) ||
        !islower((unsigned char)c->payments_currency[2])) {
        snprintf(err, errlen, "payments_currency must be three lower-case letters (eur), not \"%s\"",
                 c->payments_currency);
        return -1;
    }
    if (c->payments_provider_url[0] &&
        ((strncmp(c->payments_provider_url, "http://", 7) != 0 &&
          strncmp(c->payments_provider_url, "https://", 8) != 0) ||
         !c->payments_secret_key[0] || !c->payments_webhook_secrets[0])) {
        snprintf(err, errlen, "payments_provider_url must be an http(s) URL and needs "
                              "payments_secret_key and payments_webhook_secrets");
        return -1;
    }
    if (c->data_dir[0] == '\0') {
        snprintf(err, errlen, "data_dir must not be empty");
        return -1;
    }
    if (c->turn_uri[0] && !c->turn_secret[0]) {
        snprintf(err, errlen, "turn_uri is set but turn_secret is empty");
        return -1;
    }
    return 0;
}
