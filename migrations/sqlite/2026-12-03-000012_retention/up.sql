-- The retention purge (src/retention) finds what expired in batches: each
-- batch is an index range that stops at the batch size, never a scan of the
-- table (the requests table holds every document; a scan per batch would
-- hold the writer for as long as it reads). The inbox is deleted by request.
-- Keep in step with the other backend.
CREATE INDEX machtigingsaanvragen_ended ON machtigingsaanvragen (geldig_tot) WHERE geldig_tot IS NOT NULL;
CREATE INDEX machtigingsaanvragen_status_changed ON machtigingsaanvragen (status, updated_at);
CREATE INDEX insurer_inbox_request ON insurer_inbox (request_id);
CREATE INDEX optin_registraties_handled ON optin_registraties (afgehandeld_op);
