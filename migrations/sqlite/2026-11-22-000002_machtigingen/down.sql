DROP TABLE insurer_inbox;
DROP TABLE machtiging_events;
DROP TABLE machtigingsaanvragen;
DROP TABLE catalog_verstrekkingen;
DROP TABLE catalog_prestaties;
