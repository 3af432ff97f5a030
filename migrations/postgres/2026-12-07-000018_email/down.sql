DROP TABLE email_state;
DROP TABLE email_berichten;
