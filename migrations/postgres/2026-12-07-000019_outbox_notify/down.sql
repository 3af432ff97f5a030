DROP TRIGGER terugkoppelingen_notify ON terugkoppelingen;
DROP FUNCTION machtigingen_outbox_notify();
