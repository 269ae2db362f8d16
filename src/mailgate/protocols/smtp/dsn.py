"""What a sender asks to be told about its message (DSN, RFC 3461): MAIL's `RET` (the whole
message or its header back in a failure report) and `ENVID` (its own id for the message),
RCPT's `NOTIFY` (NEVER, or SUCCESS, FAILURE and DELAY) and `ORCPT` (the recipient as first
given). Sans-IO: the door takes these parameters out of the command before aiosmtpd reads
the rest; the queue keeps them as the option words relaying repeats to a next hop that
offers DSN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUCCESS, FAILURE, DELAY, NEVER = "SUCCESS", "FAILURE", "DELAY", "NEVER"
_NOTIFY_WORDS = (SUCCESS, FAILURE, DELAY)
_XTEXT = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-F]{2})+")  # RFC 3461 §4: "!".."~" but "+" "="
_HEX = re.compile(r"\+([0-9A-F]{2})")
_ADDR_TYPE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")  # an atom (RFC 5322)
LONGEST_ENVID = 100  # RFC 3461 §4.4
LONGEST_ORCPT = 500  # RFC 3461 §4.2


class DsnSyntaxError(ValueError):
    """A DSN parameter the door refuses (`501 5.5.4`, with this text)."""


@dataclass(frozen=True)
class MessageRequest:
    """MAIL's DSN parameters: RET (FULL, HDRS or not said) and ENVID (xtext, as given)."""

    ret: str = ""
    envid: str = ""

    def words(self) -> list[str]:
        """The MAIL parameters that say it again (to a next hop offering DSN)."""
        return ([f"RET={self.ret}"] if self.ret else []) + (
            [f"ENVID={self.envid}"] if self.envid else [])

    @property
    def envelope_id(self) -> str:
        return xtext_decode(self.envid)


@dataclass(frozen=True)
class RecipientRequest:
    """RCPT's DSN parameters: NOTIFY (empty: not said) and ORCPT (`type;xtext`, as given)."""

    notify: tuple[str, ...] = ()
    orcpt: str = ""

    def wants(self, event: str) -> bool:
        """Whether the sender is to be told of `event` (SUCCESS, FAILURE or DELAY). Without
        NOTIFY, as if NOTIFY=FAILURE,DELAY (RFC 3461 §4.1)."""
        return event in (self.notify or (FAILURE, DELAY))

    def words(self) -> list[str]:
        return ([f"NOTIFY={','.join(self.notify)}"] if self.notify else []) + (
            [f"ORCPT={self.orcpt}"] if self.orcpt else [])

    @property
    def original(self) -> str:
        """ORCPT as a report shows it: `rfc822;address`, decoded."""
        kind, _, address = self.orcpt.partition(";")
        return f"{kind};{xtext_decode(address)}" if self.orcpt else ""


def xtext_decode(value: str) -> str:
    """`+XX` back to its character (RFC 3461 §4)."""
    return _HEX.sub(lambda m: chr(int(m[1], 16)), value)


def _taken(params: str, keywords: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Split the parameters of a command into the others (as given) and these keywords'
    values (keyword upper-cased, value as given); a keyword said twice is refused."""
    kept: list[str] = []
    found: dict[str, str] = {}
    for word in params.split():
        keyword, equals, value = word.partition("=")
        name = keyword.upper()
        if name not in keywords:
            kept.append(word)
            continue
        if name in found:
            raise DsnSyntaxError(f"{name} is given twice")
        if not equals or not value:
            raise DsnSyntaxError(f"{name} needs a value")
        found[name] = value
    return " ".join(kept), found


def message_request(params: str) -> tuple[str, MessageRequest]:
    """MAIL's parameters without RET and ENVID, and what those two asked."""
    rest, found = _taken(params, ("RET", "ENVID"))
    ret = found.get("RET", "").upper()
    if "RET" in found and ret not in ("FULL", "HDRS"):
        raise DsnSyntaxError("RET must be FULL or HDRS")
    envid = found.get("ENVID", "")
    if envid and (len(envid) > LONGEST_ENVID or not _XTEXT.fullmatch(envid)):
        raise DsnSyntaxError(f"ENVID must be xtext of at most {LONGEST_ENVID} characters")
    return rest, MessageRequest(ret, envid)


def recipient_request(params: str) -> tuple[str, RecipientRequest]:
    """RCPT's parameters without NOTIFY and ORCPT, and what those two asked."""
    rest, found = _taken(params, ("NOTIFY", "ORCPT"))
    notify: tuple[str, ...] = ()
    if "NOTIFY" in found:
        words = found["NOTIFY"].upper().split(",")
        if words != [NEVER] and (len(set(words)) != len(words)
                                 or any(w not in _NOTIFY_WORDS for w in words)):
            raise DsnSyntaxError("NOTIFY must be NEVER, or SUCCESS, FAILURE and DELAY "
                                 "separated by commas")
        notify = tuple(words)
    orcpt = found.get("ORCPT", "")
    if orcpt:
        kind, semicolon, address = orcpt.partition(";")
        if (not semicolon or not _ADDR_TYPE.fullmatch(kind) or not _XTEXT.fullmatch(address)
                or len(orcpt) > LONGEST_ORCPT):
            raise DsnSyntaxError("ORCPT must be an address type, ';' and the address "
                                 "in xtext")
    return rest, RecipientRequest(notify, orcpt)

