DROP TABLE terugkoppeling_controles;
