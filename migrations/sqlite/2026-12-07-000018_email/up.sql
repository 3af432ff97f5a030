-- E-mail notifications (src/email/, docs/email.md): one row per mail and
-- recipient, written by the notifier from what happened and sent through the
-- SMTP relay with retries like a callback. A mail holds no BSN, no patient
-- name and no medical content: only what happened, a reference and a portal
-- link. (dedup_key, recipient) keeps a trigger from producing a second mail.
-- Keep in step with the other backend.
CREATE TABLE email_berichten (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key       TEXT NOT NULL,
    soort           TEXT NOT NULL,
    party           TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    onderwerp       TEXT NOT NULL,
    inhoud          TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_owner     TEXT,
    lease_until     TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    UNIQUE (dedup_key, recipient)
);
CREATE INDEX email_berichten_due ON email_berichten (status, next_attempt_at);
-- The notifier's positions: the last outbox row it read, and since when it runs.
CREATE TABLE email_state (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
