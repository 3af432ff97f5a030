-- Intermediaries as full parties (issue 18): a consent statement says whether
-- the vendor may also handle the provider's opt-in registrations (1) or not
-- (0, the default, also for every statement given before). Keep in step with
-- the other backend.
ALTER TABLE toestemmingsverklaringen ADD COLUMN optin INTEGER NOT NULL DEFAULT 0;
