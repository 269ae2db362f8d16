"""Mailbox names on the wire: modified UTF-7 (RFC 3501 §5.1.3) or UTF-8 (RFC 9051, RFC 6855).

An IMAP4rev1 session writes non-ASCII names in modified UTF-7 ("Entw&APw-rfe" is
"Entwürfe", "&-" is "&"); once IMAP4rev2 or UTF8=ACCEPT is enabled (`utf8=True`) names
travel as UTF-8 and "&" is an ordinary character. `decode_mailbox_name` accepts only the one
canonical modified UTF-7 spelling of a name (what `encode_mailbox_name` produces), so every
name has exactly one wire form and no two spellings can reach the same mailbox.
"""

from __future__ import annotations

import base64
import binascii
import re

_ENCODE = re.compile(r"&|[^\x20-\x7e]+")  # "&", and runs that need modified BASE64
_PRINTABLE = re.compile(rb"[\x20-\x7e]*")
_SHIFTED = re.compile(rb"&([A-Za-z0-9+,]*)-")


class InvalidMailboxName(ValueError):
    """The octets are not a valid mailbox name in the session's encoding."""


def encode_mailbox_name(name: str, *, utf8: bool = False) -> str:
    """The wire form of `name` (a str without lone surrogates); ASCII unless `utf8`."""
    if utf8:
        return name
    return _ENCODE.sub(_encode_run, name)


def decode_mailbox_name(data: bytes, *, utf8: bool = False) -> str:
    """The name the client's octets spell; raises InvalidMailboxName."""
    if utf8:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidMailboxName("mailbox name is not valid UTF-8") from None
    if b"&" not in data and _PRINTABLE.fullmatch(data):
        return data.decode("ascii")
    if not data.isascii():
        raise InvalidMailboxName("mailbox name is not valid modified UTF-7 (8-bit octets)")
    try:
        name = _SHIFTED.sub(_decode_run, data).decode("utf-8")
        canonical = _ENCODE.sub(_encode_run, name)
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidMailboxName("mailbox name is not valid modified UTF-7") from None
    if canonical.encode("ascii") != data:
        raise InvalidMailboxName("mailbox name is not valid modified UTF-7")
    return name


def _encode_run(match: re.Match[str]) -> str:
    run = match[0]
    if run == "&":
        return "&-"
    encoded = base64.b64encode(run.encode("utf-16-be")).rstrip(b"=").replace(b"/", b",")
    return "&" + encoded.decode("ascii") + "-"


def _decode_run(match: re.Match[bytes]) -> bytes:
    """One shifted run as UTF-8 (its canonical form is checked by the caller's re-encode)."""
    run = match[1]
    if not run:
        return b"&"
    padded = run.replace(b",", b"/") + b"=" * (-len(run) % 4)
    text = base64.b64decode(padded, validate=True).decode("utf-16-be")
    return text.encode("utf-8")
