-- Search pages are newest first with id as the tie-break: with id in the
-- index the page is a backward index range that stops at the page size, with
-- no sort of every match (PostgreSQL sorted them all whenever its statistics
-- lagged behind the table). Keep in step with the other backend.
DROP INDEX machtigingsaanvragen_provider;
CREATE INDEX machtigingsaanvragen_provider ON machtigingsaanvragen (provider_agb, created_at, id);
DROP INDEX machtigingsaanvragen_provider_status;
CREATE INDEX machtigingsaanvragen_provider_status ON machtigingsaanvragen (provider_agb, status, created_at, id);
