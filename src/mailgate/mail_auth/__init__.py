"""Message authentication: DKIM signing of submitted mail, and the SPF, DKIM and DMARC checks
of inbound mail summed up in an Authentication-Results header (RFC 8601)."""
