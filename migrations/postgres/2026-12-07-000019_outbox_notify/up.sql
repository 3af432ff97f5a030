-- Instances wake each other: a statement that writes terugkoppelingen sends
-- NOTIFY machtigingen_outbox, which PostgreSQL delivers when (and only if) its
-- transaction commits. The payload names the writing instance (the
-- machtigingen.instance setting of its connections, empty for other writers),
-- so an instance's listener skips its own writes: those already woke its
-- dispatcher. Identical notifications of one transaction arrive once. As a
-- trigger, the NOTIFY costs no round trip of its own. Keep in step with the
-- other backend (SQLite: one process, no trigger).
CREATE FUNCTION machtigingen_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('machtigingen_outbox', coalesce(current_setting('machtigingen.instance', true), ''));
    RETURN NULL;
END
$$;
CREATE TRIGGER terugkoppelingen_notify AFTER INSERT ON terugkoppelingen
    FOR EACH STATEMENT EXECUTE FUNCTION machtigingen_outbox_notify();
