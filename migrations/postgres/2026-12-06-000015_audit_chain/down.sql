DROP TABLE audit_chains;
DROP INDEX audit_log_object;
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
DROP INDEX audit_log_chain;
ALTER TABLE audit_log DROP COLUMN hash;
ALTER TABLE audit_log DROP COLUMN prev_hash;
ALTER TABLE audit_log DROP COLUMN seq;
ALTER TABLE audit_log DROP COLUMN chain;
