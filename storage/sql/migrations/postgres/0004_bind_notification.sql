-- Huawei's documented bind-result notification (docs/profile.md §4).
--
-- bind_events: an event has its own ID (random, chosen by the IdP), no
-- longer the document hash, because the same document may legitimately
-- arrive again (a bind after an unbind carries byte-identical JSON). The
-- hash stays as a column. The guessed result_code/success columns give way
-- to the documented bindAction, the signature convention that verified, the
-- outcome of applying the event and the binding it replaced.
ALTER TABLE bind_events DROP CONSTRAINT bind_events_pkey;
ALTER TABLE bind_events ADD COLUMN id TEXT;
-- Events recorded under the guessed schema keep their document; their
-- outcome says what they did then ("bound", or "failed" for a result code
-- other than success), their convention is unknown.
ALTER TABLE bind_events ADD COLUMN action               TEXT NOT NULL DEFAULT 'bind';
ALTER TABLE bind_events ADD COLUMN convention           TEXT NOT NULL DEFAULT '';
ALTER TABLE bind_events ADD COLUMN outcome              TEXT NOT NULL DEFAULT '';
ALTER TABLE bind_events ADD COLUMN previous_domain_id   TEXT NOT NULL DEFAULT '';
ALTER TABLE bind_events ADD COLUMN previous_domain_name TEXT NOT NULL DEFAULT '';
ALTER TABLE bind_events ADD COLUMN client_addr          TEXT NOT NULL DEFAULT '';
UPDATE bind_events SET id = replace(gen_random_uuid()::text, '-', ''),
    outcome = CASE WHEN success THEN 'bound' ELSE 'failed' END;
ALTER TABLE bind_events ALTER COLUMN id SET NOT NULL;
ALTER TABLE bind_events ADD PRIMARY KEY (id);
ALTER TABLE bind_events DROP COLUMN result_code;
ALTER TABLE bind_events DROP COLUMN success;

DROP INDEX bind_events_x_account_id_idx;
CREATE INDEX bind_events_x_account_id_idx ON bind_events (x_account_id, received_at);
CREATE INDEX bind_events_document_hash_idx ON bind_events (document_hash);

-- bindings: which event (and signature convention) made a notification
-- binding; the source of those is now called "notification".
ALTER TABLE bindings ADD COLUMN event_id TEXT NOT NULL DEFAULT '';
ALTER TABLE bindings ADD COLUMN convention TEXT NOT NULL DEFAULT '';
UPDATE bindings SET source = 'notification' WHERE source = 'callback';

-- A bind is accepted only for a customer who was issued an assertion for
-- that site within bind_window: one index probe on the audit log.
CREATE INDEX audit_log_response_idx ON audit_log (x_account_id, site, time) WHERE kind = 'response';
