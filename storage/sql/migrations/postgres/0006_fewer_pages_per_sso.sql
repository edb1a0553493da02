-- Fewer index pages written by each SSO's commit (BENCHMARKS.md): one
-- index of the audit log by customer and time serves both the listing of a
-- customer's events and the bind window's probe for a recent Response (a
-- few rows of one customer), where two were kept.
DROP INDEX audit_log_x_account_id_idx;
DROP INDEX audit_log_response_idx;
CREATE INDEX audit_log_x_account_id_time_idx ON audit_log (x_account_id, time);
