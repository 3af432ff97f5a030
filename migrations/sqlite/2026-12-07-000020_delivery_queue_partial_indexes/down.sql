DROP INDEX terugkoppeling_deliveries_due;
CREATE INDEX terugkoppeling_deliveries_due ON terugkoppeling_deliveries (status, next_attempt_at, id);
DROP INDEX terugkoppeling_deliveries_fifo;
CREATE INDEX terugkoppeling_deliveries_fifo ON terugkoppeling_deliveries (subject_id, endpoint_id, status, terugkoppeling_id);
