DROP INDEX machtigingsaanvragen_insurer_provider;
DROP INDEX machtigingsaanvragen_insurer_patient;
DROP INDEX machtigingsaanvragen_insurer_status;
DROP INDEX machtigingsaanvragen_insurer;
CREATE INDEX machtigingsaanvragen_insurer ON machtigingsaanvragen (uzovi, status);
CREATE INDEX machtigingsaanvragen_submitter_status ON machtigingsaanvragen (submitter, status, created_at, id);
CREATE INDEX machtigingsaanvragen_submitter ON machtigingsaanvragen (submitter, created_at, id);
