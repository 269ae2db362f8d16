"""DMARC (RFC 7489) for the From: domain of an arriving message: its policy, and whether a
passing SPF or DKIM identity is aligned with it.

The policy and the organizational domain are found by the DNS tree walk of DMARCbis
(draft-ietf-dmarc-dmarcbis §4.10) rather than a public-suffix list: `_dmarc.` of the domain,
then of each parent (at most eight names); the organizational domain is the one whose record
says `psd=n`, the one just below a record saying `psd=y`, else the shortest name with a
record, else the domain itself. The policy is reported; acting on it (rejecting,
quarantining) is left to the filtering hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailgate.mail_auth.dkimcheck import DkimResult
from mailgate.mail_auth.lookup import DnsTemporaryError, Lookup
from mailgate.mail_auth.spfcheck import SpfResult

MAX_NAMES = 8
POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class DmarcResult:
    result: str  # pass fail none temperror permerror
    from_domain: str
    policy: str = ""  # none quarantine reject, when a record was found


def tree_walk(domain: str) -> list[str]:
    """The names whose `_dmarc.` records are looked at, longest first."""
    labels = [label for label in domain.lower().rstrip(".").split(".") if label]
    names = [".".join(labels)]
    for count in range(min(len(labels) - 1, MAX_NAMES - 1), 0, -1):
        names.append(".".join(labels[-count:]))
    return [name for name in names if name]


def parse_record(text: str) -> dict[str, str] | None:
    """The tags of a DMARC record, or None when it is not one (`v=DMARC1` first)."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags.setdefault(key.strip().lower(), value.strip())
    first = text.split(";", 1)[0].replace(" ", "")
    return tags if first == "v=DMARC1" else None


def record_of(name: str, lookup: Lookup) -> dict[str, str] | None:
    """The DMARC record at `_dmarc.NAME` (none, or several: None, RFC 7489 §6.6.3)."""
    found = [tags for tags in (parse_record(text) for text in lookup(f"_dmarc.{name}", "TXT"))
             if tags is not None]
    return found[0] if len(found) == 1 else None


def organizational_domain(domain: str, lookup: Lookup) -> str:
    names = tree_walk(domain)
    shortest = None
    for index, name in enumerate(names):
        tags = record_of(name, lookup)
        if tags is None:
            continue
        psd = tags.get("psd", "").lower()
        if psd == "n":
            return name
        if psd == "y":
            return names[index - 1] if index > 0 else name
        shortest = name
    return shortest or (names[0] if names else domain)


def _aligned(domain: str, from_domain: str, mode: str, org_from: str, lookup: Lookup) -> bool:
    domain = domain.lower().rstrip(".")
    if not domain:
        return False
    if domain == from_domain or mode == "s":
        return domain == from_domain
    return organizational_domain(domain, lookup) == org_from


def evaluate(from_domain: str, spf: SpfResult, dkim: Sequence[DkimResult],
             lookup: Lookup) -> DmarcResult:
    """The DMARC result of a message whose (single) From: domain is `from_domain`."""
    if not from_domain:
        return DmarcResult("permerror", "")
    try:
        policy_name, tags = next(((name, tags) for name in tree_walk(from_domain)
                                  if (tags := record_of(name, lookup)) is not None),
                                 ("", None))
        if tags is None:
            return DmarcResult("none", from_domain)
        policy = tags.get("p", "none").lower()
        if policy_name != from_domain and tags.get("sp", "").lower() in POLICIES:
            policy = tags["sp"].lower()
        policy = policy if policy in POLICIES else "none"
        org_from = organizational_domain(from_domain, lookup)
        spf_domain = spf.value.rpartition("@")[2]
        spf_ok = spf.result == "pass" and _aligned(
            spf_domain, from_domain, tags.get("aspf", "r").lower(), org_from, lookup)
        dkim_ok = any(r.result == "pass" and _aligned(
            r.domain, from_domain, tags.get("adkim", "r").lower(), org_from, lookup)
            for r in dkim)
    except DnsTemporaryError:
        return DmarcResult("temperror", from_domain)
    return DmarcResult("pass" if spf_ok or dkim_ok else "fail", from_domain, policy)
