-- An audit row about several objects at once (a search page: every request it
-- showed) names them in its detail ("getoond", covered by the row's hash).
-- audit_objects indexes them, one row per object, so the log is still found
-- by object: a patient's access overview, `audit search --object`. It is
-- derived from the chained rows and filled after them (src/audit/index.rs):
-- a page was one audit row per request shown, and writing those at random
-- places in an index was most of a page's cost (docs/benchmarks.md).
-- audit_indexed holds, per chain, the seq up to which audit_objects is
-- complete; it starts at each chain's head, since no row before this
-- migration names several objects. The retention purge removes index rows
-- with their audit row.
-- Keep in step with migrations/sqlite (tests compare them).
CREATE TABLE audit_objects (
    audit_id   BIGINT NOT NULL,
    object_id  TEXT NOT NULL,
    PRIMARY KEY (audit_id, object_id)
);
CREATE INDEX audit_objects_object ON audit_objects (object_id, audit_id);

CREATE TABLE audit_indexed (
    chain  BIGINT PRIMARY KEY,
    seq    BIGINT NOT NULL
);
INSERT INTO audit_indexed (chain, seq) SELECT chain, seq FROM audit_chains;
