-- Initial schema.

CREATE TABLE customers (
    x_account_id  TEXT        NOT NULL PRIMARY KEY,
    display_name  TEXT        NOT NULL DEFAULT '',
    email         TEXT        NOT NULL DEFAULT '',
    name          TEXT        NOT NULL DEFAULT '',
    mobile        TEXT        NOT NULL DEFAULT '',
    password_hash TEXT        NOT NULL DEFAULT '',
    disabled      BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Email is unique only when set.
CREATE UNIQUE INDEX customers_email_key ON customers (email) WHERE email <> '';

CREATE TABLE bindings (
    x_account_id TEXT        NOT NULL REFERENCES customers (x_account_id) ON DELETE CASCADE,
    site         TEXT        NOT NULL,
    domain_id    TEXT        NOT NULL DEFAULT '',
    domain_name  TEXT        NOT NULL DEFAULT '',
    source       TEXT        NOT NULL DEFAULT '',
    bound_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (x_account_id, site)
);

CREATE TABLE bind_events (
    document_hash TEXT        NOT NULL PRIMARY KEY,
    site          TEXT        NOT NULL DEFAULT '',
    document      BYTEA       NOT NULL,
    x_account_id  TEXT        NOT NULL DEFAULT '',
    domain_id     TEXT        NOT NULL DEFAULT '',
    domain_name   TEXT        NOT NULL DEFAULT '',
    result_code   TEXT        NOT NULL DEFAULT '',
    success       BOOLEAN     NOT NULL DEFAULT FALSE,
    received_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX bind_events_x_account_id_idx ON bind_events (x_account_id);

CREATE TABLE replay_cache (
    issuer     TEXT        NOT NULL,
    request_id TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (issuer, request_id)
);

CREATE INDEX replay_cache_expires_at_idx ON replay_cache (expires_at);

CREATE TABLE sessions (
    token  TEXT        NOT NULL PRIMARY KEY,
    data   BYTEA       NOT NULL,
    expiry TIMESTAMPTZ NOT NULL
);

CREATE INDEX sessions_expiry_idx ON sessions (expiry);

CREATE TABLE audit_log (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time         TIMESTAMPTZ NOT NULL,
    kind         TEXT        NOT NULL DEFAULT '',
    x_account_id TEXT        NOT NULL DEFAULT '',
    site         TEXT        NOT NULL DEFAULT '',
    request_id   TEXT        NOT NULL DEFAULT '',
    assertion_id TEXT        NOT NULL DEFAULT '',
    client_addr  TEXT        NOT NULL DEFAULT '',
    outcome      TEXT        NOT NULL DEFAULT '',
    detail       TEXT        NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_time_idx ON audit_log (time);
CREATE INDEX audit_log_x_account_id_idx ON audit_log (x_account_id);
