/*
 * Configuration: one table of keys (name, type, default, documentation)
 * drives defaults, the config file parser, environment variables and the
 * reference in docs/configuration.md (a unit test checks that every key is
 * documented there).
 *
 * Sources, later wins: built-in defaults < config file < environment.
 * File format: `key = value` lines, `#` comments, optional double quotes.
 * Environment: MENTORLINK_<KEY_IN_UPPER_CASE>; DATABASE_URL and REDIS_URL
 * are also read. Unknown keys in either place are rejected by name.
 */
#ifndef ML_COMMON_CONFIG_H
#define ML_COMMON_CONFIG_H

#include <stddef.h>

#define ML_CFG_STR 256
#define ML_CFG_PATH 1024

typedef struct ml_config {
    /* Front door */
    char listen_host[ML_CFG_STR];
    int listen_port;
    char public_url[ML_CFG_STR];
    char web_dir[ML_CFG_PATH];
    int http_workers;
    int http_keepalive_s;
    int max_body_bytes;
    int ws_max_message_bytes;
    int shutdown_timeout_ms;
    /* Logging */
    char log_level[16];
    char log_format[16];
    /* Storage */
    char data_dir[ML_CFG_PATH];
    char database_url[ML_CFG_PATH];
    char redis_url[ML_CFG_PATH];
    char postgres_bin_dir[ML_CFG_PATH];
    char redis_server_bin[ML_CFG_PATH];
    int auto_migrate;
    int db_lock_timeout_ms;
    int db_statement_timeout_ms;
    int db_tx_attempts;
    /* Media */
    int media_workers;
    int media_poll_coalesce_us;
    char ice_interfaces[ML_CFG_STR];
    char ice_public_ip[ML_CFG_STR];
    int ice_port_min;
    int ice_port_max;
    char stun_server[ML_CFG_STR];
    char turn_uri[ML_CFG_STR];
    char turn_secret[ML_CFG_STR];
    int turn_credential_ttl_s;
    char dtls_cert_file[ML_CFG_PATH];
    char dtls_key_file[ML_CFG_PATH];
    char srtp_profiles[ML_CFG_STR];
    int ice_connect_timeout_ms;
    int ice_consent_timeout_ms;
    int sctp_max_message_size;
    int room_max_participants;
    int room_roster_limit;
    int room_join_tokens;
    /* Accounts and access (auth) */
    int access_token_ttl_s;
    int refresh_token_ttl_s;
    int jwt_key_rotation_days;
    char allowed_origins[ML_CFG_STR * 4];
    char bootstrap_admin_email[ML_CFG_STR];
    int argon2_memory_kib;
    int argon2_iterations;
    int auth_ip_rate_per_minute;
    char google_jwks_url[ML_CFG_STR];
    char google_client_id[ML_CFG_STR];
    char google_issuers[ML_CFG_STR];
    /* Platform: jobs, email, rate limits, pagination */
    int job_workers;
    int job_poll_ms;
    int job_lease_s;
    int job_max_attempts;
    int job_retry_base_ms;
    int job_retry_max_ms;
    int job_retention_days;
    char smtp_url[ML_CFG_STR];
    char smtp_from[ML_CFG_STR];
    char smtp_username[ML_CFG_STR];
    char smtp_password[ML_CFG_STR];
    int smtp_timeout_ms;
    char cursor_secret[ML_CFG_STR];
    char room_token_secret[ML_CFG_STR];
    int booking_hold_min;
    int booking_write_limit;
    int booking_read_limit;
    int booking_rate_window_s;
    char support_email[ML_CFG_STR];
    int contact_limit;
    int contact_window_s;
    int contact_max_failures;
    int contact_ban_s;
    /* Recording: raw files and storage (recorder/) */
    char recording_dir[ML_CFG_PATH];
    int recording_ring_bytes;
    int recording_fsync_ms;
    int recording_fsync_bytes;
    char recording_ffmpeg[ML_CFG_PATH];
    char recording_ffprobe[ML_CFG_PATH];
    int recording_process_timeout_s;
    int recording_enabled;
    char s3_endpoint[ML_CFG_STR];
    char s3_region[64];
    char s3_bucket[128];
    char s3_access_key[128];
    char s3_secret_key[ML_CFG_STR];
    int s3_path_style;
    int s3_presign_ttl_s;
    int s3_multipart_threshold_bytes;
    int s3_part_bytes;
    int s3_max_attempts;
    /* Payments (control/pay_*.c) */
    char payments_provider_url[ML_CFG_STR];
    char payments_secret_key[ML_CFG_STR];
    char payments_webhook_secrets[ML_CFG_STR * 4];
    char payments_currency[8];
    int payments_platform_fee_pct;
    int payments_timeout_ms;
    int payments_connect_timeout_ms;
    int payments_webhook_tolerance_s;
    int payments_reconcile_s;
    int payments_rate_per_minute;
    char payments_fakepay_bin[ML_CFG_PATH];
} ml_config;

typedef enum { ML_CFG_T_STRING, ML_CFG_T_INT, ML_CFG_T_BOOL } ml_config_type;

typedef struct ml_config_key {
    const char *name;
    ml_config_type type;
    size_t offset;
    size_t size; /* buffer size for strings */
    const char *def;
    long min, max; /* for ints */
    const char *doc;
} ml_config_key;

/* The key table (for documentation and tests). */
const ml_config_key *ml_config_keys(size_t *n);

/* Fill every key with its default. */
void ml_config_defaults(ml_config *c);
/* Set one key from text; errors name the key and the problem. */
int ml_config_set(ml_config *c, const char *key, const char *value, char *err, size_t errlen);
/* Parse config text; `source` names it in errors ("file:line: ..."). */
int ml_config_parse_buffer(ml_config *c, const char *text, size_t len, const char *source, char *err,
                           size_t errlen);
/* Read and parse a config file. */
int ml_config_load_file(ml_config *c, const char *path, char *err, size_t errlen);
/* Apply MENTORLINK_* (and DATABASE_URL, REDIS_URL) from envp. */
int ml_config_load_env(ml_config *c, char *const *envp, char *err, size_t errlen);
/* Cross-key checks after loading (port ranges, log level names, ...). */
int ml_config_validate(const ml_config *c, char *err, size_t errlen);

#endif
