-- 0003_platform: the machinery accounts, booking and payments build on.
--   * jobs: de-duplication keys and the indexes the job runner's claim and
--     lease-recovery queries use (control/jobs.c);
--   * email_outbox + email_attachments: emails written in the same
--     transaction as the change that causes them, delivered by the
--     `email.send` job (control/outbox.c, control/mailer.c);
--   * audit_log: append-only record of who did what (control/audit.c);
--     triggers refuse UPDATE, DELETE and TRUNCATE. Its actor_user_id has no
--     foreign key on purpose: the log must outlive the accounts it names,
--     and a cascading SET NULL would be an UPDATE.

ALTER TABLE jobs ADD COLUMN dedupe_key text CHECK (dedupe_key <> '');
-- NULL max_attempts: the runner applies its configured job_max_attempts.
ALTER TABLE jobs ALTER COLUMN max_attempts DROP NOT NULL, ALTER COLUMN max_attempts DROP DEFAULT;
-- One live (queued or running) job per dedupe key.
CREATE UNIQUE INDEX jobs_dedupe_live ON jobs (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
-- Leases to recover (a node died while running these).
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE state = 'running';
-- Retention sweep of finished jobs.
CREATE INDEX jobs_done ON jobs (updated_at) WHERE state = 'done';

CREATE TABLE email_outbox (
    id          bigserial PRIMARY KEY,
    to_addr     text NOT NULL CHECK (to_addr <> '' AND to_addr !~ '[\r\n]'),
    to_name     text CHECK (to_name !~ '[\r\n]'),
    reply_to    text CHECK (reply_to !~ '[\r\n]'),
    subject     text NOT NULL CHECK (subject !~ '[\r\n]'),
    text_body   text NOT NULL,
    html_body   text,
    tag         text,
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    message_id  text NOT NULL UNIQUE,
    state       text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX email_outbox_user ON email_outbox (user_id, created_at) WHERE user_id IS NOT NULL;
CREATE INDEX email_outbox_pending ON email_outbox (created_at) WHERE state = 'queued';

CREATE TABLE email_attachments (
    email_id      bigint NOT NULL REFERENCES email_outbox (id) ON DELETE CASCADE,
    position      integer NOT NULL CHECK (position >= 0),
    filename      text NOT NULL CHECK (filename <> '' AND filename !~ '[\r\n"\\/]'),
    content_type  text NOT NULL CHECK (content_type <> '' AND content_type !~ '[\r\n]'),
    data          bytea NOT NULL,
    PRIMARY KEY (email_id, position)
);

CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    actor_user_id  bigint,
    actor_role     text,
    action         text NOT NULL CHECK (action ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    target_type    text,
    target_id      text,
    remote_addr    text,
    request_id     text,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, id) WHERE actor_user_id IS NOT NULL;
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id) WHERE target_type IS NOT NULL;
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
