-- PostgreSQL: a trigger on terugkoppelingen sends NOTIFY machtigingen_outbox
-- so instances wake each other. SQLite is served by one process, whose
-- commits wake its dispatcher directly: nothing to do here. Kept so both
-- backends carry the same migration versions.
SELECT 1;
