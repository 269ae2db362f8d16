"""The client doors (IMAP, POP3, SMTP, HTTP) and the one table of refusal wording."""
