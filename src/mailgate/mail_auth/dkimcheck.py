"""DKIM verification (RFC 6376) of an arriving message: one result per signature."""

from __future__ import annotations

from dataclasses import dataclass

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from mailgate.mail_auth.lookup import DnsTemporaryError, Lookup

MAX_SIGNATURES = 5  # verified at most; more are reported as not checked (policy)


@dataclass(frozen=True)
class DkimResult:
    result: str  # pass fail neutral policy temperror permerror
    domain: str = ""  # d=
    selector: str = ""  # s=
    b: str = ""  # the signature's first 8 characters (RFC 6008)


def _dnsfunc(lookup: Lookup):  # type: ignore[no-untyped-def]
    def get_txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        records = lookup(text, "TXT")
        return records[0].encode("utf-8") if records else None

    return get_txt


def _tags(value: bytes) -> dict[bytes, bytes]:
    try:
        return parse_tag_value(value)
    except (InvalidTagValueList, ValueError):
        return {}


def verify(content: bytes, lookup: Lookup) -> list[DkimResult]:
    """The result of each DKIM-Signature of `content` (none: an empty list)."""
    try:
        message = dkim.DKIM(content, minkey=1024, timeout=5)
    except dkim.DKIMException:
        return []
    signatures = [value for name, value in message.headers if name.lower() == b"dkim-signature"]
    results = []
    for index, value in enumerate(signatures):
        tags = _tags(value)
        domain = tags.get(b"d", b"").decode("ascii", "replace").lower()
        selector = tags.get(b"s", b"").decode("ascii", "replace")
        b = b"".join(tags.get(b"b", b"").split())[:8].decode("ascii", "replace")
        if index >= MAX_SIGNATURES:
            results.append(DkimResult("policy", domain, selector, b))
            continue
        try:
            good = message.verify(idx=index, dnsfunc=_dnsfunc(lookup))
            outcome = "pass" if good else "fail"
        except (DnsTemporaryError, dkim.DnsTimeoutError):
            outcome = "temperror"
        except dkim.DKIMException:
            outcome = "permerror" if not tags else "fail"
        except Exception:  # dkimpy on input it was not written for: not a pass
            outcome = "permerror"
        results.append(DkimResult(outcome, domain, selector, b))
    return results
