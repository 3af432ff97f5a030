ALTER TABLE certificates DROP COLUMN holder;
ALTER TABLE parties DROP COLUMN deactivated_at;
