"""The SMTP doors: submission (`submission`, `submissions`) and inbound (`smtp`, `lmtp`)."""
