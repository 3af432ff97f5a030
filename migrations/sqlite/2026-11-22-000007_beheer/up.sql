-- Gebruikersbeheer: a party's contact details, and providers' consent
-- statements for software vendors acting for them. Keep in step with
-- migrations/postgres.

CREATE TABLE party_contacts (
    party               TEXT PRIMARY KEY,
    contactpersoon_naam TEXT,
    contactpersoon_email TEXT,
    contactpersoon_telefoon TEXT,
    notificatie_emails  TEXT NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);

CREATE TABLE toestemmingsverklaringen (
    id            TEXT PRIMARY KEY,
    provider_agb  TEXT NOT NULL,
    vendor        TEXT NOT NULL,
    geldig_tot    DATE,
    created_at    TIMESTAMP NOT NULL,
    created_by    TEXT NOT NULL,
    revoked_at    TIMESTAMP
);
CREATE INDEX toestemmingsverklaringen_vendor ON toestemmingsverklaringen (vendor, provider_agb);
CREATE INDEX toestemmingsverklaringen_provider ON toestemmingsverklaringen (provider_agb);
