"""Client autoconfiguration: where a mail client finds each open door (`endpoints.py`) and
the documents that tell it (Thunderbird autoconfig, Microsoft Autodiscover POX, an Apple
configuration profile, RFC 6186 SRV records). Pure builders; the HTTP routes are in
`http/autoconfig.py`, the DNS lines in `cli/dns.py`."""
