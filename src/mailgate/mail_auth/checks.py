"""The checks of a message arriving at the `smtp` listener (MX role): SPF, DKIM and DMARC,
summed up in our Authentication-Results header, which replaces any claiming our name."""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
from dataclasses import dataclass

from mailgate.mail_auth import dkimcheck, dmarc, results, spfcheck
from mailgate.mail_auth.lookup import Lookup, cached


@dataclass(frozen=True)
class Arrival:
    """What the SMTP session knows of the message's sender."""

    ip: str
    helo: str
    mail_from: str  # "" for the null sender


def from_domain(content: bytes) -> str:
    """The domain of the message's single From: address ("" when none or several)."""
    end = content.find(b"\r\n\r\n")
    block = content if end < 0 else content[:end + 2]
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(block)
    values = [str(v) for v in parsed.get_all("From", [])]
    addresses = [address for _, address in email.utils.getaddresses(values) if address]
    if len(addresses) != 1 or "@" not in addresses[0]:
        return ""
    return addresses[0].rpartition("@")[2].strip().lower().rstrip(".")


def authenticate(content: bytes, arrival: Arrival, authserv_id: str,
                 lookup: Lookup) -> tuple[bytes, bytes]:
    """(our Authentication-Results header, the message without any claiming our name)."""
    lookup = cached(lookup)
    spf = spfcheck.check(arrival.ip, arrival.mail_from, arrival.helo, lookup)
    signatures = dkimcheck.verify(content, lookup)
    verdict = dmarc.evaluate(from_domain(content), spf, signatures, lookup)
    return (results.header(authserv_id, spf, signatures, verdict),
            results.without_ours(content, authserv_id))
