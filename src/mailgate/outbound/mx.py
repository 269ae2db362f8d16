"""Where a domain takes its mail (RFC 5321 §5.1): its MX hosts by preference, else the
domain itself when it has an address; a null MX (RFC 7505), or neither MX nor address,
takes none. DNS is asked through `mail_auth.lookup` (`server.nameservers`), the hosts'
addresses too, so every name is resolved by the same servers."""

from __future__ import annotations

from mailgate.mail_auth.lookup import DnsTemporaryError, Lookup


class NoMailHere(Exception):
    """The domain accepts no mail: a permanent failure (5.1.2 / 5.1.10)."""


class LookupFailed(Exception):
    """DNS did not answer now: try again later."""


def hosts(domain: str, lookup: Lookup) -> list[str]:
    """The hosts to try for `domain`, best first."""
    try:
        records = lookup(domain, "MX")
        if not records:  # the implicit MX: the domain's own address
            if lookup(domain, "A") or lookup(domain, "AAAA"):
                return [domain]
            raise NoMailHere(f"5.1.2 {domain} has no MX and no address: no mail goes there")
    except DnsTemporaryError as exc:
        raise LookupFailed(f"4.4.3 {exc}") from None
    ranked = []
    for record in records:
        preference, _, exchange = record.partition(" ")
        ranked.append((int(preference) if preference.isdigit() else 65535,
                       exchange.strip().rstrip(".")))
    names = [name for _, name in sorted(ranked) if name]
    if not names:
        raise NoMailHere(f"5.1.10 {domain} accepts no mail (null MX)")
    return names


def addresses(host: str, lookup: Lookup) -> list[str]:
    """The IPv4 then IPv6 addresses of one mail host ([] when it has none)."""
    try:
        return lookup(host, "A") + lookup(host, "AAAA")
    except DnsTemporaryError as exc:
        raise LookupFailed(f"4.4.3 {exc}") from None
