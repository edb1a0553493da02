-- Secrets every replica shares, created by the first replica that needs
-- them: the keys of the signed and encrypted browser cookies (CSRF token,
-- pending sign-in flows). They are not derived from the IdP's signing key,
-- so a key rotation does not sign every browser out of its pending flow.

CREATE TABLE secrets (
    name       TEXT        NOT NULL PRIMARY KEY,
    value      BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
