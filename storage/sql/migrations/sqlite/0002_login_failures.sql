-- Login throttling (docs/threat-model.md "Browser-facing pages"): one counter per key
-- ("acct:<id>", "addr:<ip>"), shared by every process using the database.
-- Times are INTEGER unix microseconds, UTC.

CREATE TABLE login_failures (
    throttle_key TEXT    NOT NULL PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_at      INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX login_failures_expires_at_idx ON login_failures (expires_at);
