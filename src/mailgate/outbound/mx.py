"""Where a domain takes its mail (RFC 5321 §5.1): its MX hosts by preference, else the
domain itself; a null MX (RFC 7505) or a domain that does not exist takes none."""

from __future__ import annotations

import dns.exception
import dns.resolver


class NoMailHere(Exception):
    """The domain accepts no mail: a permanent failure (5.1.2 / 5.1.10)."""


class LookupFailed(Exception):
    """DNS did not answer now: try again later."""


def hosts(domain: str) -> list[str]:
    """The hosts to try for `domain`, best first."""
    try:
        answer = dns.resolver.resolve(domain, "MX")
    except dns.resolver.NXDOMAIN:
        raise NoMailHere(f"5.1.2 the domain {domain} does not exist") from None
    except dns.resolver.NoAnswer:
        return [domain]  # the implicit MX: the domain's own address records
    except dns.exception.DNSException as exc:
        raise LookupFailed(f"4.4.3 DNS lookup of {domain} failed: {exc}") from None
    records = sorted(answer, key=lambda r: r.preference)  # type: ignore[attr-defined]
    names = [str(r.exchange).rstrip(".") for r in records]  # type: ignore[attr-defined]
    if names in ([""], ["."]) or not [n for n in names if n]:
        raise NoMailHere(f"5.1.10 {domain} accepts no mail (null MX)")
    return [n for n in names if n]
