DROP INDEX terugkoppeling_deliveries_due;
CREATE INDEX terugkoppeling_deliveries_due ON terugkoppeling_deliveries (status, next_attempt_at);
DROP INDEX terugkoppeling_deliveries_fifo;
CREATE INDEX terugkoppeling_deliveries_fifo ON terugkoppeling_deliveries (endpoint_id, subject_id, status, terugkoppeling_id);
