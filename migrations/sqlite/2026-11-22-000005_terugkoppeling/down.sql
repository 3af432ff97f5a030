DROP TABLE terugkoppeling_state;
DROP TABLE terugkoppeling_acks;
DROP TABLE terugkoppeling_fanout;
DROP TABLE terugkoppeling_attempts;
DROP TABLE terugkoppeling_deliveries;
DROP TABLE terugkoppeling_endpoints;
