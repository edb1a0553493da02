-- Huawei's documented bind-result notification (docs/profile.md §4).
--
-- bind_events: an event has its own ID (random, chosen by the IdP), no
-- longer the document hash, because the same document may legitimately
-- arrive again (a bind after an unbind carries byte-identical JSON). The
-- hash stays as a column. The guessed result_code/success columns give way
-- to the documented bindAction, the signature convention that verified, the
-- outcome of applying the event and the binding it replaced.
CREATE TABLE bind_events_v2 (
    id                   TEXT    NOT NULL PRIMARY KEY,
    document_hash        TEXT    NOT NULL,
    site                 TEXT    NOT NULL DEFAULT '',
    document             BLOB    NOT NULL,
    x_account_id         TEXT    NOT NULL DEFAULT '',
    domain_id            TEXT    NOT NULL DEFAULT '',
    domain_name          TEXT    NOT NULL DEFAULT '',
    action               TEXT    NOT NULL DEFAULT 'bind',
    convention           TEXT    NOT NULL DEFAULT '',
    outcome              TEXT    NOT NULL DEFAULT '',
    previous_domain_id   TEXT    NOT NULL DEFAULT '',
    previous_domain_name TEXT    NOT NULL DEFAULT '',
    client_addr          TEXT    NOT NULL DEFAULT '',
    received_at          INTEGER NOT NULL
) STRICT;

-- Events recorded under the guessed schema keep their document; their
-- outcome says what they did then ("bound", or "failed" for a result code
-- other than success), their convention is unknown.
INSERT INTO bind_events_v2 (id, document_hash, site, document, x_account_id, domain_id, domain_name,
        action, outcome, received_at)
    SELECT lower(hex(randomblob(16))), document_hash, site, document, x_account_id, domain_id, domain_name,
        'bind', CASE WHEN success <> 0 THEN 'bound' ELSE 'failed' END, received_at
    FROM bind_events;

DROP TABLE bind_events;
ALTER TABLE bind_events_v2 RENAME TO bind_events;

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
