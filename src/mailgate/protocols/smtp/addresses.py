"""Envelope addresses: checking their characters, and the account a recipient names.

Sub-addressing: `user+tag@domain` reaches `user@domain` when no account is called
`user+tag@domain` itself (the tag stays in the message's envelope, not in a folder name).
"""

from __future__ import annotations

import re

from mailgate.directory.errors import DirectoryError
from mailgate.directory.views import normalise_address

# printable ASCII and Unicode, less surrogates and U+FFFD (what undecodable octets became)
_SAFE_CHARS = re.compile(r"[^\x21-\x7e\u00a0-\ud7ff\ue000-\ufffc\ufffe-\U0010ffff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control(text: str) -> bool:
    """A control character (CR, LF, NUL...): never part of an address or a host name, and
    the way to smuggle a line into a header."""
    return _CONTROL.search(text) is not None


def problem(address: str, smtputf8: bool) -> str | None:
    """Why an envelope address cannot be taken as it is: not UTF-8 (aiosmtpd hands such bytes
    over as surrogates), a control character, or not ASCII without SMTPUTF8; None when it is
    fine."""
    if has_control(address):
        return "control"
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:
        return "utf8"
    if not smtputf8 and not address.isascii():
        return "ascii"
    return None


def shown(address: str) -> str:
    """An address fit to repeat in a reply or a header: no control or undecodable chars."""
    return _SAFE_CHARS.sub("?", address)[:320]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def candidates(address: str) -> list[str]:
    """The account addresses a recipient may name, most exact first ([] when malformed)."""
    try:
        exact = normalise_address(address)
    except DirectoryError:
        return []
    local, _, domain = exact.rpartition("@")
    base = local.split("+", 1)[0]
    return [exact] if base in ("", local) else [exact, f"{base}@{domain}"]

