DROP TABLE terugkoppelingen;
