-- Delivery state of terugkoppelingen (the outbox table terugkoppelingen is
-- not touched): registered callback endpoints, one delivery per terugkoppeling
-- and endpoint, every attempt, which outbox rows were fanned out, pull
-- acknowledgements, and the dispatcher's fan-out low-water mark.
-- Keep in step with migrations/postgres.

CREATE TABLE terugkoppeling_endpoints (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    party                 TEXT NOT NULL UNIQUE,
    url                   TEXT NOT NULL,
    format                TEXT NOT NULL,
    ca_bundle             TEXT,
    event_types           TEXT NOT NULL,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until TIMESTAMP,
    status                TEXT NOT NULL,
    disabled_reason       TEXT,
    failing_since         TIMESTAMP,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);

CREATE TABLE terugkoppeling_deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    terugkoppeling_id BIGINT NOT NULL,
    endpoint_id       BIGINT NOT NULL,
    subject_id        TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    next_attempt_at   TIMESTAMP NOT NULL,
    lease_owner       TEXT,
    lease_until       TIMESTAMP,
    last_error        TEXT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    delivered_at      TIMESTAMP,
    UNIQUE (terugkoppeling_id, endpoint_id)
);
CREATE INDEX terugkoppeling_deliveries_due ON terugkoppeling_deliveries (status, next_attempt_at);
CREATE INDEX terugkoppeling_deliveries_fifo ON terugkoppeling_deliveries (endpoint_id, subject_id, status, terugkoppeling_id);

CREATE TABLE terugkoppeling_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id BIGINT NOT NULL,
    at          TIMESTAMP NOT NULL,
    http_status INTEGER,
    latency_ms  BIGINT NOT NULL,
    error       TEXT,
    instance    TEXT NOT NULL
);
CREATE INDEX terugkoppeling_attempts_delivery ON terugkoppeling_attempts (delivery_id, id);

CREATE TABLE terugkoppeling_fanout (
    terugkoppeling_id BIGINT PRIMARY KEY,
    at                TIMESTAMP NOT NULL
);

CREATE TABLE terugkoppeling_acks (
    terugkoppeling_id BIGINT PRIMARY KEY,
    party             TEXT NOT NULL,
    at                TIMESTAMP NOT NULL
);

CREATE TABLE terugkoppeling_state (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
-- Outbox rows up to this id are all fanned out (see src/dispatch/queue.rs).
INSERT INTO terugkoppeling_state (name, value) VALUES ('fanout_low_water', 0);
