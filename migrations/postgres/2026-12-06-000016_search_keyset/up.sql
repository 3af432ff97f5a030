-- Search pages are index ranges from a position (keyset) for every branch of
-- what a caller sees: an intermediary's own submissions are read in order
-- from (submitter, created_at, id), as a provider's from (provider_agb,
-- created_at, id), and with a status from (submitter, status, created_at, id);
-- a search by Referentie finds its few matches through
-- (provider_agb, referentie) instead of walking every request of the
-- provider. Keep in step with the other backend.
CREATE INDEX machtigingsaanvragen_submitter ON machtigingsaanvragen (submitter, created_at, id);
CREATE INDEX machtigingsaanvragen_submitter_status ON machtigingsaanvragen (submitter, status, created_at, id);
CREATE INDEX machtigingsaanvragen_provider_referentie ON machtigingsaanvragen (provider_agb, referentie);
