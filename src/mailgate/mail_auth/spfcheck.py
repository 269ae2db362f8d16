"""SPF (RFC 7208) of an arriving message's envelope sender (or its HELO name) with pyspf.

pyspf asks DNS through its module-level `DNSLookup`; here that answers from the `Lookup` of
the check running in this context, so each check brings its own (tests: a table).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

import spf

from mailgate.mail_auth.lookup import DnsTemporaryError, Lookup

_current: contextvars.ContextVar[Lookup] = contextvars.ContextVar("spf_lookup")


@dataclass(frozen=True)
class SpfResult:
    result: str  # pass fail softfail neutral none temperror permerror
    identity: str  # "smtp.mailfrom" or "smtp.helo"
    value: str  # the address or HELO name checked
    reason: str


def _pyspf_lookup(name: str, qtype: str, strict: Any = True,
                  timeout: Any = None) -> list[tuple[tuple[str, str], Any]]:
    try:
        records = _current.get()(name, qtype)
    except DnsTemporaryError as error:
        raise spf.TempError(str(error)) from None
    answers: list[tuple[tuple[str, str], Any]] = []
    for record in records:
        value: Any = record
        if qtype == "MX":
            preference, _, exchange = record.partition(" ")
            value = (int(preference) if preference.isdigit() else 0, exchange.rstrip("."))
        elif qtype in ("TXT", "SPF"):
            value = [record.encode("utf-8")]
        elif qtype == "PTR":
            value = record.rstrip(".")
        answers.append(((name, qtype), value))
    return answers


spf.DNSLookup = _pyspf_lookup


def check(ip: str, mail_from: str, helo: str, lookup: Lookup) -> SpfResult:
    """The SPF result for a message from `ip` (MAIL FROM `<>`: the HELO name is checked)."""
    identity, value = ("smtp.mailfrom", mail_from) if mail_from else ("smtp.helo", helo)
    token = _current.set(lookup)
    try:
        result, explanation = spf.check2(ip, mail_from, helo)
    except Exception as error:  # pyspf on input it cannot take (a bad IP, a bad name)
        result, explanation = "permerror", str(error)
    finally:
        _current.reset(token)
    return SpfResult(str(result), identity, value, str(explanation))
