-- SQLite puts machtigingsaanvragen's large columns last in this migration
-- (see migrations/sqlite). PostgreSQL stores large values out of line
-- (TOAST), so a column after them costs nothing to reach: nothing changes.
SELECT 1;
