-- Machtigingsaanvragen, their history, the insurers' inbox, and the
-- verstrekkingen catalog. Keep in step with migrations/postgres.

CREATE TABLE catalog_prestaties (
    uzovi        TEXT NOT NULL,
    code         TEXT NOT NULL,
    omschrijving TEXT NOT NULL,
    grondslag    TEXT NOT NULL,
    PRIMARY KEY (uzovi, code)
);

CREATE TABLE catalog_verstrekkingen (
    uzovi       TEXT NOT NULL,
    code        TEXT NOT NULL,
    naam        TEXT NOT NULL,
    grondslag   TEXT NOT NULL,
    definition  TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (uzovi, code)
);

CREATE TABLE machtigingsaanvragen (
    id                TEXT PRIMARY KEY,
    provider_agb      TEXT NOT NULL,
    submitter         TEXT NOT NULL,
    uzovi             TEXT NOT NULL,
    referentie        TEXT NOT NULL,
    content_hash      TEXT NOT NULL,
    status            TEXT NOT NULL,
    grondslag         TEXT NOT NULL,
    verstrekking      TEXT NOT NULL,
    bsn               TEXT NOT NULL,
    geboortedatum     DATE NOT NULL,
    begindatum        DATE NOT NULL,
    einddatum         DATE NOT NULL,
    aanvraag          TEXT NOT NULL,
    document          TEXT NOT NULL,
    open_vragen       TEXT,
    beslissing        TEXT,
    machtigingsnummer TEXT,
    geldig_van        DATE,
    geldig_tot        DATE,
    version           INTEGER NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    submitted_at      TIMESTAMP,
    updated_at        TIMESTAMP NOT NULL,
    UNIQUE (submitter, referentie),
    UNIQUE (uzovi, machtigingsnummer)
);
CREATE INDEX machtigingsaanvragen_provider ON machtigingsaanvragen (provider_agb, created_at);
CREATE INDEX machtigingsaanvragen_patient ON machtigingsaanvragen (provider_agb, bsn, geboortedatum);
CREATE INDEX machtigingsaanvragen_insurer ON machtigingsaanvragen (uzovi, status);

CREATE TABLE machtiging_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT NOT NULL REFERENCES machtigingsaanvragen (id),
    at          TIMESTAMP NOT NULL,
    action      TEXT NOT NULL,
    status      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    fingerprint TEXT,
    detail      TEXT NOT NULL,
    document    TEXT
);
CREATE INDEX machtiging_events_request ON machtiging_events (request_id, id);

CREATE TABLE insurer_inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uzovi       TEXT NOT NULL,
    request_id  TEXT NOT NULL REFERENCES machtigingsaanvragen (id),
    event_id    BIGINT NOT NULL,
    action      TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    acked_at    TIMESTAMP
);
CREATE INDEX insurer_inbox_pending ON insurer_inbox (uzovi, acked_at, id);
