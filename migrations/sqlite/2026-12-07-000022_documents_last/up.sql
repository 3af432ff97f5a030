-- machtigingsaanvragen with its large columns last (SQLite only).
-- SQLite stores a row's columns in order and reaches a column by walking
-- past every one before it: with aanvraag and document ahead of
-- machtigingsnummer, each search result over a decided request read its
-- whole document through the overflow pages (100 KB documents: a page took
-- 2.7 times the CPU; docs/benchmarks.md). PostgreSQL keeps large
-- values out of line (TOAST); its migration of this name changes nothing,
-- and the schema is the same on both, order apart (tests compare them).
--
-- SQLite's way to reorder columns: build the new table, copy, drop, rename
-- (https://sqlite.org/lang_altertable.html#otheralter). Foreign keys are off
-- meanwhile, or dropping the old table would check machtiging_events and
-- insurer_inbox against it; they refer to the table by name and find the
-- new one. metadata.toml runs this outside diesel's transaction, so the
-- copy has its own: a crash leaves the old table whole, and the migration
-- runs again at the next start. The copy rewrites the table once: on a
-- large database the first start after this upgrade takes that long
-- (docs/operations.md).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE machtigingsaanvragen_new (
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
    machtigingsnummer TEXT,
    geldig_van        DATE,
    geldig_tot        DATE,
    version           INTEGER NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    submitted_at      TIMESTAMP,
    updated_at        TIMESTAMP NOT NULL,
    beslissing        TEXT,
    open_vragen       TEXT,
    aanvraag          TEXT NOT NULL,
    document          TEXT NOT NULL,
    UNIQUE (submitter, referentie),
    UNIQUE (uzovi, machtigingsnummer)
);

INSERT INTO machtigingsaanvragen_new (
    id, provider_agb, submitter, uzovi, referentie, content_hash, status,
    grondslag, verstrekking, bsn, geboortedatum, begindatum, einddatum,
    machtigingsnummer, geldig_van, geldig_tot, version, created_at,
    submitted_at, updated_at, beslissing, open_vragen, aanvraag, document)
SELECT
    id, provider_agb, submitter, uzovi, referentie, content_hash, status,
    grondslag, verstrekking, bsn, geboortedatum, begindatum, einddatum,
    machtigingsnummer, geldig_van, geldig_tot, version, created_at,
    submitted_at, updated_at, beslissing, open_vragen, aanvraag, document
FROM machtigingsaanvragen ORDER BY rowid;

DROP TABLE machtigingsaanvragen;
ALTER TABLE machtigingsaanvragen_new RENAME TO machtigingsaanvragen;

-- The indexes as migrations 2, 10, 12, 16 and 17 left them.
CREATE INDEX machtigingsaanvragen_patient ON machtigingsaanvragen (provider_agb, bsn, geboortedatum);
CREATE INDEX machtigingsaanvragen_provider ON machtigingsaanvragen (provider_agb, created_at, id);
CREATE INDEX machtigingsaanvragen_provider_status ON machtigingsaanvragen (provider_agb, status, created_at, id);
CREATE INDEX machtigingsaanvragen_ended ON machtigingsaanvragen (geldig_tot) WHERE geldig_tot IS NOT NULL;
CREATE INDEX machtigingsaanvragen_status_changed ON machtigingsaanvragen (status, updated_at);
CREATE INDEX machtigingsaanvragen_provider_referentie ON machtigingsaanvragen (provider_agb, referentie);
CREATE INDEX machtigingsaanvragen_insurer ON machtigingsaanvragen (uzovi, created_at, id) WHERE status <> 'Concept';
CREATE INDEX machtigingsaanvragen_insurer_status ON machtigingsaanvragen (uzovi, status, created_at, id);
CREATE INDEX machtigingsaanvragen_insurer_provider ON machtigingsaanvragen (uzovi, provider_agb, created_at, id) WHERE status <> 'Concept';
CREATE INDEX machtigingsaanvragen_insurer_patient ON machtigingsaanvragen (uzovi, bsn, geboortedatum);

COMMIT;
PRAGMA foreign_keys = ON;
-- The copy went through the write-ahead log; leave it empty, not as large
-- as the table.
PRAGMA wal_checkpoint(TRUNCATE);
