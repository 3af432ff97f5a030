DROP TABLE toestemmingsverklaringen;
DROP TABLE party_contacts;
