-- Users, rotating refresh tokens, API keys and login throttling.
-- Every query the service runs has an index for its lookup path (named after the query).

CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Login and sign-up look users up by their normalised e-mail address.
CREATE UNIQUE INDEX users_email_key ON users (email);

-- Rotation writes used_at into a row it just read: the free space that fillfactor leaves in
-- each page lets PostgreSQL keep that version on the same page (a HOT update, no index writes).
CREATE TABLE refresh_tokens (
    token_hash  bytea       PRIMARY KEY,          -- SHA-256 of the token; the token is never stored
    family_id   uuid        NOT NULL,             -- one login = one family; reuse revokes it all
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope       text        NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    family_expires_at timestamptz NOT NULL,       -- no rotation extends a login past this
    used_at     timestamptz,                      -- set when rotated: a second use is a reuse
    revoked_at  timestamptz
) WITH (fillfactor = 80);
-- Refresh, reuse detection and revocation find a token by its hash: the primary key.
-- Revoking a family.
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
-- ON DELETE CASCADE from users.
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
-- Purging expired tokens.
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    key_hash     bytea       NOT NULL,            -- SHA-256 of the key; shown to the user once
    display_prefix text      NOT NULL,            -- first characters, to recognise a key in a list
    scopes       text[]      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
-- Exchanging a key for an access token finds it by its hash.
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
-- Listing a user's keys (newest first) and counting them against the per-user limit.
CREATE INDEX api_keys_user_id_created_at_idx ON api_keys (user_id, created_at DESC);

CREATE TABLE login_failures (
    scope             text        NOT NULL CHECK (scope IN ('account', 'ip')),
    key               text        NOT NULL,       -- SHA-256 of the e-mail, or the client IP
    failures          integer     NOT NULL,
    window_started_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)                      -- the throttle check and upsert path
);
-- Purging windows that have ended.
CREATE INDEX login_failures_window_started_at_idx ON login_failures (window_started_at);
