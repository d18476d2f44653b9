-- 0002_accounts: accounts and access. Users with a role and a status,
-- one-time email codes (stored hashed), the JWT signing keys every node
-- shares, and refresh tokens (stored hashed) grouped in families so that a
-- replayed, already-rotated token revokes its whole family (RFC 9700).

CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          citext NOT NULL UNIQUE
                   CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
    name           text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    password_hash  text,                         -- Argon2id encoded string; NULL for Google-only
    role           text NOT NULL DEFAULT 'mentee'
                   CHECK (role IN ('admin', 'mentor', 'mentee')),
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'active')),
    disabled       boolean NOT NULL DEFAULT false,
    google_sub     text UNIQUE,
    -- Access tokens issued before this (epoch seconds) are refused: set by
    -- logout-all and password changes so that live tokens die at once.
    sessions_valid_after bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_email_trgm ON users USING gin ((email::text) gin_trgm_ops);

-- Email verification codes: one live code per user (a new one replaces the
-- old). code_hash is HMAC-SHA-256 of the code under a per-row salt.
CREATE TABLE email_codes (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL,
    salt        bytea NOT NULL,
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Access-token signing keys (HS256). The newest non-retired key signs;
-- every non-retired key verifies.
CREATE TABLE auth_signing_keys (
    kid         text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{8,64}$'),
    alg         text NOT NULL DEFAULT 'HS256' CHECK (alg = 'HS256'),
    secret      bytea NOT NULL CHECK (length(secret) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

CREATE TABLE refresh_families (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_hash      bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    revoke_reason  text
);
CREATE INDEX refresh_families_user ON refresh_families (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    family_id   bigint NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
