-- Initial schema. Times are INTEGER unix microseconds, UTC.

CREATE TABLE customers (
    x_account_id  TEXT    NOT NULL PRIMARY KEY,
    display_name  TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    name          TEXT    NOT NULL DEFAULT '',
    mobile        TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- Email is unique only when set.
CREATE UNIQUE INDEX customers_email_key ON customers (email) WHERE email <> '';

CREATE TABLE bindings (
    x_account_id TEXT    NOT NULL REFERENCES customers (x_account_id) ON DELETE CASCADE,
    site         TEXT    NOT NULL,
    domain_id    TEXT    NOT NULL DEFAULT '',
    domain_name  TEXT    NOT NULL DEFAULT '',
    source       TEXT    NOT NULL DEFAULT '',
    bound_at     INTEGER NOT NULL,
    PRIMARY KEY (x_account_id, site)
) STRICT;

CREATE TABLE bind_events (
    document_hash TEXT    NOT NULL PRIMARY KEY,
    site          TEXT    NOT NULL DEFAULT '',
    document      BLOB    NOT NULL,
    x_account_id  TEXT    NOT NULL DEFAULT '',
    domain_id     TEXT    NOT NULL DEFAULT '',
    domain_name   TEXT    NOT NULL DEFAULT '',
    result_code   TEXT    NOT NULL DEFAULT '',
    success       INTEGER NOT NULL DEFAULT 0,
    received_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX bind_events_x_account_id_idx ON bind_events (x_account_id);

CREATE TABLE replay_cache (
    issuer     TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, request_id)
) STRICT;

CREATE INDEX replay_cache_expires_at_idx ON replay_cache (expires_at);

CREATE TABLE sessions (
    token  TEXT    NOT NULL PRIMARY KEY,
    data   BLOB    NOT NULL,
    expiry INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_expiry_idx ON sessions (expiry);

CREATE TABLE audit_log (
    -- No AUTOINCREMENT: the log is append-only, so max(rowid)+1 never
    -- reuses an ID, and AUTOINCREMENT costs a sqlite_sequence write per row.
    id           INTEGER PRIMARY KEY,
    time         INTEGER NOT NULL,
    kind         TEXT    NOT NULL DEFAULT '',
    x_account_id TEXT    NOT NULL DEFAULT '',
    site         TEXT    NOT NULL DEFAULT '',
    request_id   TEXT    NOT NULL DEFAULT '',
    assertion_id TEXT    NOT NULL DEFAULT '',
    client_addr  TEXT    NOT NULL DEFAULT '',
    outcome      TEXT    NOT NULL DEFAULT '',
    detail       TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_log_time_idx ON audit_log (time);
CREATE INDEX audit_log_x_account_id_idx ON audit_log (x_account_id);
