-- Fewer pages written by each SSO's commit (BENCHMARKS.md, "What was done
-- to the hot path"). In WAL mode every page a transaction changes is one
-- frame, two write system calls, and the replay-cache entry and audit row
-- of an SSO touched eight.
--
-- The replay cache becomes a WITHOUT ROWID table: its primary key is the
-- table, instead of a rowid table plus an index of the key.
CREATE TABLE replay_cache_v2 (
    issuer     TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, request_id)
) STRICT, WITHOUT ROWID;
INSERT INTO replay_cache_v2 (issuer, request_id, expires_at)
    SELECT issuer, request_id, expires_at FROM replay_cache;
DROP TABLE replay_cache;
ALTER TABLE replay_cache_v2 RENAME TO replay_cache;
CREATE INDEX replay_cache_expires_at_idx ON replay_cache (expires_at);

-- One index of the audit log by customer and time serves both the listing
-- of a customer's events and the bind window's probe for a recent
-- Response (a few rows of one customer), where two were kept.
DROP INDEX audit_log_x_account_id_idx;
DROP INDEX audit_log_response_idx;
CREATE INDEX audit_log_x_account_id_time_idx ON audit_log (x_account_id, time);
