"""DNS for the message checks: one lookup function, so tests can answer from a table.

`Lookup(name, rrtype)` returns the records' texts (A/AAAA: the address; MX: "10 mx.example.";
TXT: the strings joined; PTR: the name), `[]` when there are none (NXDOMAIN too), and raises
`DnsTemporaryError` when the answer could not be had (timeout, no server answering).
`resolver_lookup` builds one on dnspython: the system's resolver, or the nameservers of
`server.nameservers` ("192.0.2.53", "127.0.0.1:5353", "[::1]:53").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

Lookup = Callable[[str, str], list[str]]

TIMEOUT_SECONDS = 5.0


class DnsTemporaryError(Exception):
    """A DNS answer could not be had now (the check's result is temperror)."""


def nameserver(spec: str) -> dns.nameserver.Do53Nameserver:
    """One `server.nameservers` entry: HOST, HOST:PORT or [IPv6]:PORT."""
    spec = spec.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest.removeprefix(":")
    elif spec.count(":") == 1:
        host, _, port = spec.partition(":")
    else:
        host, port = spec, ""
    if port and not port.isdigit():
        raise ValueError(f"server.nameservers: bad port in {spec!r}")
    return dns.nameserver.Do53Nameserver(host, int(port) if port else 53)


def resolver_lookup(nameservers: Iterable[str] = ()) -> Lookup:
    """A Lookup through dnspython: the system's resolver unless nameservers are named."""
    chosen = [nameserver(spec) for spec in nameservers if spec.strip()]
    resolver = dns.resolver.Resolver(configure=not chosen)
    if chosen:
        resolver.nameservers = chosen
    resolver.lifetime = TIMEOUT_SECONDS

    def lookup(name: str, rrtype: str) -> list[str]:
        try:
            answer = resolver.resolve(name.rstrip(".") + ".", rrtype, search=False,
                                      raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers,
                dns.resolver.NoResolverConfiguration) as error:
            raise DnsTemporaryError(f"DNS {rrtype} {name}: {error}") from None
        except dns.exception.DNSException:  # a name DNS cannot ask for
            return []
        return [_text(rdata) for rdata in answer]

    return lookup


def _text(rdata: object) -> str:
    if rdata.rdtype == dns.rdatatype.TXT:  # type: ignore[attr-defined]
        return b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
    return rdata.to_text()  # type: ignore[attr-defined]


def cached(lookup: Lookup) -> Lookup:
    """The same lookup for the checks of one message: each question asked once, and none
    after a temporary failure (DNS down costs one timeout per message, not one per name)."""
    seen: dict[tuple[str, str], list[str]] = {}
    failed: list[DnsTemporaryError] = []

    def once(name: str, rrtype: str) -> list[str]:
        key = (name.lower().rstrip("."), rrtype)
        if key not in seen:
            if failed:
                raise failed[0]
            try:
                seen[key] = lookup(*key)
            except DnsTemporaryError as error:
                failed.append(error)
                raise
        return seen[key]

    return once
