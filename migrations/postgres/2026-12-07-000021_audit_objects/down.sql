DROP TABLE audit_indexed;
DROP TABLE audit_objects;
