-- An insurer searches the requests addressed to it, newest first, a page an
-- index range from a position as a provider's search is: by UZOVI, without
-- the providers' Concepts (never sent to an insurer, so the index holds none
-- and the search's `status <> 'Concept'` is this index's own condition), by
-- UZOVI and status, by UZOVI and provider (a small practice's requests are a
-- sliver of a large insurer's: walking the UZOVI range for them reads most of
-- it), and a patient's few requests by UZOVI, BSN and birth date. The old
-- (uzovi, status) index, read by nothing, becomes the status one. The
-- submitter indexes of 000016 go: no search reads by submitter, and each cost
-- every submit a write. Keep in step with the other backend.
DROP INDEX machtigingsaanvragen_submitter;
DROP INDEX machtigingsaanvragen_submitter_status;
DROP INDEX machtigingsaanvragen_insurer;
CREATE INDEX machtigingsaanvragen_insurer ON machtigingsaanvragen (uzovi, created_at, id) WHERE status <> 'Concept';
CREATE INDEX machtigingsaanvragen_insurer_status ON machtigingsaanvragen (uzovi, status, created_at, id);
CREATE INDEX machtigingsaanvragen_insurer_provider ON machtigingsaanvragen (uzovi, provider_agb, created_at, id) WHERE status <> 'Concept';
CREATE INDEX machtigingsaanvragen_insurer_patient ON machtigingsaanvragen (uzovi, bsn, geboortedatum);
