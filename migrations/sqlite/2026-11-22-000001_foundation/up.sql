-- Foundation: parties, their certificates, the CRL entries of the platform CA,
-- and the audit log. Keep in step with migrations/postgres (tests compare them).

CREATE TABLE parties (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    id_scheme   TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (id_scheme, code)
);

CREATE TABLE certificates (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    party_id     BIGINT NOT NULL REFERENCES parties (id),
    kind         TEXT NOT NULL,
    fingerprint  TEXT NOT NULL UNIQUE,
    serial       TEXT NOT NULL,
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    not_before   TIMESTAMP NOT NULL,
    not_after    TIMESTAMP NOT NULL,
    status       TEXT NOT NULL,
    revoked_at   TIMESTAMP,
    scopes       TEXT NOT NULL,
    ip_allowlist TEXT NOT NULL,
    pem          TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX certificates_party ON certificates (party_id);

CREATE TABLE crl_entries (
    issuer      TEXT NOT NULL,
    serial      TEXT NOT NULL,
    revoked_at  TIMESTAMP NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (issuer, serial)
);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TIMESTAMP NOT NULL,
    fingerprint  TEXT,
    actor        TEXT NOT NULL,
    acting_for   TEXT,
    action       TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_id    TEXT,
    outcome      TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
