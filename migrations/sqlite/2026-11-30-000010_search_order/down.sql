DROP INDEX machtigingsaanvragen_provider;
CREATE INDEX machtigingsaanvragen_provider ON machtigingsaanvragen (provider_agb, created_at);
DROP INDEX machtigingsaanvragen_provider_status;
CREATE INDEX machtigingsaanvragen_provider_status ON machtigingsaanvragen (provider_agb, status, created_at);
