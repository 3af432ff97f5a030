-- The opt-in service: providers' subscriptions and patients' consent
-- registrations routed to them. Keep in step with migrations/postgres.

CREATE TABLE optin_abonnementen (
    provider_agb       TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    notificatie_email  TEXT,
    aangemeld_op       TIMESTAMP NOT NULL,
    afgemeld_op        TIMESTAMP,
    updated_at         TIMESTAMP NOT NULL
);

CREATE TABLE optin_registraties (
    id              TEXT PRIMARY KEY,
    portal          TEXT NOT NULL,
    referentie      TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    provider_agb    TEXT NOT NULL,
    bsn             TEXT NOT NULL,
    geboortedatum   DATE NOT NULL,
    naam            TEXT NOT NULL,
    toestemming     TEXT NOT NULL,
    gegeven_op      TIMESTAMP NOT NULL,
    status          TEXT NOT NULL,
    reden_code      TEXT,
    reden_tekst     TEXT,
    afgehandeld_op  TIMESTAMP,
    afgehandeld_door TEXT,
    opgehaald_op    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (portal, referentie)
);
CREATE INDEX optin_registraties_provider ON optin_registraties (provider_agb, opgehaald_op, created_at);
CREATE INDEX optin_registraties_portal ON optin_registraties (portal, created_at);
