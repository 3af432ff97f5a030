-- The outbox: every terugkoppeling, written in the same transaction as the
-- change that caused it. Delivery state lives in its own tables. Keep in step
-- with migrations/postgres.

CREATE TABLE terugkoppelingen (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id   TEXT NOT NULL UNIQUE,
    recipient   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX terugkoppelingen_recipient ON terugkoppelingen (recipient, id);
CREATE INDEX terugkoppelingen_subject ON terugkoppelingen (subject_id, id);
