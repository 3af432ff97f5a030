-- Column order is not part of the schema both backends share; the order
-- this migration set stays.
SELECT 1;
