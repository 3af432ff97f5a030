-- Persons (issue 18): a party can be deactivated by the operator (every
-- certificate of it refused at once, none revoked, so reactivation needs no
-- new certificates), and a certificate names the person who holds it (a
-- persoonlijk certificate requested for a colleague). Keep in step with the
-- other backend.
ALTER TABLE parties ADD COLUMN deactivated_at TIMESTAMP;
ALTER TABLE certificates ADD COLUMN holder TEXT;
