DROP TABLE audit_log;
DROP TABLE crl_entries;
DROP TABLE certificates;
DROP TABLE parties;
