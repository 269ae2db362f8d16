"""The DNS records that let clients find the doors (RFC 6186 SRV, `_autodiscover._tcp`, and
CNAME hints for the autoconfig and autodiscover host names), as zone-file lines.

DNS answers for a whole domain, so it offers what a new account is offered (the server
defaults): a door closed by default, or whose listener is off, is published as "not
provided here" (target `.`, RFC 6186 §4), so clients do not try it. `client_records` is the
answer of both `mailgate dns DOMAIN` and the admin API's `GET /dns/{domain}`."""

from __future__ import annotations

import re

from mailgate.clientconfig.endpoints import LISTENERS, Endpoint, offered
from mailgate.service import Service

DOMAIN = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$")
#: the autoconfig and autodiscover names must reach the http listener over https here (a
#: reverse proxy in front of it)
HTTPS_PORT = 443
TTL = 3600
#: the RFC 6186 / RFC 8314 service label of each listener
SERVICES = {"imaps": "_imaps", "imap": "_imap", "pop3s": "_pop3s", "pop3": "_pop3",
            "submissions": "_submissions", "submission": "_submission"}
#: preference among a domain's incoming services: IMAP before POP (RFC 6186 §3.4), and
#: implicit TLS before STARTTLS (RFC 8314 §5.1)
PRIORITY = {"imap": 0, "pop": 10, "smtp": 0}
STARTTLS_AFTER = 5


def _fqdn(name: str) -> str:
    return name.rstrip(".") + "."


def srv_records(domain: str, found: list[Endpoint]) -> list[dict[str, object]]:
    """One SRV record per listener of the mail doors, in RFC 6186's order."""
    by_listener = {e.listener: e for e in found}
    records = []
    for door, listeners in LISTENERS.items():
        for listener, _kind, socket in listeners:
            endpoint = by_listener.get(listener)
            name = f"{SERVICES[listener]}._tcp.{_fqdn(domain)}"
            if endpoint is None:
                records.append({"name": name, "type": "SRV", "priority": 0, "weight": 0,
                                "port": 0, "target": ".", "door": door})
            else:
                priority = PRIORITY[door] + (0 if socket == "SSL" else STARTTLS_AFTER)
                records.append({"name": name, "type": "SRV", "priority": priority,
                                "weight": 1, "port": endpoint.port,
                                "target": _fqdn(endpoint.host), "door": door})
    return records


def hint_records(domain: str, host: str, https_port: int) -> list[dict[str, object]]:
    """Where Thunderbird and Outlook look for their documents over HTTPS."""
    return [
        {"name": f"autoconfig.{_fqdn(domain)}", "type": "CNAME", "target": _fqdn(host)},
        {"name": f"autodiscover.{_fqdn(domain)}", "type": "CNAME", "target": _fqdn(host)},
        {"name": f"_autodiscover._tcp.{_fqdn(domain)}", "type": "SRV", "priority": 0,
         "weight": 1, "port": https_port, "target": _fqdn(host), "door": None},
    ]


def zone_line(record: dict[str, object]) -> str:
    if record["type"] == "CNAME":
        return f"{record['name']} {TTL} IN CNAME {record['target']}"
    return (f"{record['name']} {TTL} IN SRV {record['priority']} {record['weight']} "
            f"{record['port']} {record['target']}")


def client_records(svc: Service, domain: str) -> list[dict[str, object]]:
    """Every record DOMAIN's clients need, for the doors a new account is offered; a name
    that is not a domain is refused (ValueError)."""
    if not DOMAIN.fullmatch(domain):  # `$` alone would pass a final newline
        raise ValueError(f"invalid domain '{domain}': expected a name such as example.org")
    host = str(svc.settings.get("server", "hostname"))
    return srv_records(domain, offered(svc, None)) + hint_records(domain, host, HTTPS_PORT)
