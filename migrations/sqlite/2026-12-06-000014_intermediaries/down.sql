ALTER TABLE toestemmingsverklaringen DROP COLUMN optin;
