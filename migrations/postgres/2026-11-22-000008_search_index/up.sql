-- Searches by provider and status, newest first (count and page). Keep in step with the other backend.
CREATE INDEX machtigingsaanvragen_provider_status ON machtigingsaanvragen (provider_agb, status, created_at);
