-- One-time portal launch tokens (the portal hand-off API). Only the hex
-- SHA-256 of a token is stored. Times are INTEGER unix microseconds, UTC.

CREATE TABLE launch_tokens (
    hash         TEXT    NOT NULL PRIMARY KEY,
    x_account_id TEXT    NOT NULL REFERENCES customers (x_account_id) ON DELETE CASCADE,
    site         TEXT    NOT NULL,
    service      TEXT    NOT NULL DEFAULT '',
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX launch_tokens_expires_at_idx ON launch_tokens (expires_at);
CREATE INDEX launch_tokens_x_account_id_idx ON launch_tokens (x_account_id);
