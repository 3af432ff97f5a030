DROP TABLE optin_registraties;
DROP TABLE optin_abonnementen;
