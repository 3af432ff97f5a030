-- Receiver checks a provider asked the platform to run against its callback
-- (docs/callbacks.md §10): one row per run, written when it starts (so the
-- per-party hourly limit counts runs in progress) and completed with the
-- report (JSON, synthetic messages only — no patient data). Keep in step
-- with migrations/postgres.
CREATE TABLE terugkoppeling_controles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id   TEXT NOT NULL UNIQUE,
    party       TEXT NOT NULL,
    url         TEXT NOT NULL,
    format      TEXT NOT NULL,
    status      TEXT NOT NULL,
    report      TEXT,
    error       TEXT,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX terugkoppeling_controles_party ON terugkoppeling_controles (party, started_at);
