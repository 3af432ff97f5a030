-- The dispatcher's lease walks due deliveries in (next_attempt_at, id) order:
-- with id in the due index that order needs no sort and the walk stops at the
-- lease's limit. The FIFO index is probed per subject, so subject_id leads.
-- Keep in step with the other backend.
DROP INDEX terugkoppeling_deliveries_due;
CREATE INDEX terugkoppeling_deliveries_due ON terugkoppeling_deliveries (status, next_attempt_at, id);
DROP INDEX terugkoppeling_deliveries_fifo;
CREATE INDEX terugkoppeling_deliveries_fifo ON terugkoppeling_deliveries (subject_id, endpoint_id, status, terugkoppeling_id);
