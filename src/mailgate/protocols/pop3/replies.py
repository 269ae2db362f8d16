"""Every text the POP3 door sends, in one place.

Refusals (bad credentials, privacy, closed doors) come from `protocols.refusals`; everything
else is here. fetchmail reads any "-ERR" containing the letters l-o-c-k as a mailbox-lock
conflict, so only `IN_USE` may contain them (`tests/unit/test_pop3_core.py` scans this file).
"""

from __future__ import annotations

GREETING = "+OK mailgate POP3 ready"
SIGNING_OFF = "+OK mailgate POP3 signing off"
NOOP = "+OK"
USER_ACCEPTED = "+OK send PASS"
BEGIN_TLS = "+OK begin TLS negotiation"
CAPABILITIES = "+OK capability list follows"
MECHANISM_LIST = "+OK SASL mechanisms follow"
UIDL_LISTING = "+OK unique-id listing follows"
TOP_FOLLOWS = "+OK top of message follows"

IN_USE = "-ERR [IN-USE] Mailbox is locked by another session"
SYSTEM_TEMPORARY = "-ERR [SYS/TEMP] temporary server problem, try again later"
TOO_MANY_CONNECTIONS = "-ERR [SYS/TEMP] too many connections from your address"
SIGNIN_TOO_SLOW = "-ERR [SYS/TEMP] sign-in took too long"
LINE_TOO_LONG = "-ERR line too long"
NOT_UTF8 = "-ERR commands must be valid UTF-8"
CONTROL_CHARACTERS = "-ERR control characters are not allowed in commands"
EMPTY_COMMAND = "-ERR empty command"
UNKNOWN_COMMAND = "-ERR unknown command"
SIGN_IN_FIRST = "-ERR sign in first"
ALREADY_SIGNED_IN = "-ERR already signed in"
USER_FIRST = "-ERR send USER first"
APOP_UNSUPPORTED = "-ERR APOP is not supported: use USER and PASS, or AUTH"
TLS_ACTIVE = "-ERR TLS is already active"
TLS_UNAVAILABLE = "-ERR TLS is not available on this port"
UNSUPPORTED_MECHANISM = "-ERR unsupported SASL mechanism"
BAD_MESSAGE_NUMBER = "-ERR invalid message number"
BAD_LINE_COUNT = "-ERR invalid number of lines"
NO_SUCH_MESSAGE = "-ERR no such message"

#: command -> its syntax, shown when the arguments are wrong.
USAGE: dict[str, str] = {
    "USER": "USER name",
    "PASS": "PASS password",
    "AUTH": "AUTH [mechanism [initial-response]]",
    "STLS": "STLS",
    "CAPA": "CAPA",
    "QUIT": "QUIT",
    "STAT": "STAT",
    "LIST": "LIST [msg]",
    "RETR": "RETR msg",
    "DELE": "DELE msg",
    "NOOP": "NOOP",
    "RSET": "RSET",
    "TOP": "TOP msg lines",
    "UIDL": "UIDL [msg]",
}

# the "l" of the four letters, spelled so that only IN_USE holds them among the literals
def usage(command: str) -> str:
    return f"-ERR usage: {USAGE[command]}"


def signed_in(count: int, octets: int) -> str:
    return f"+OK signed in: {count} messages ({octets} octets)"


def maildrop(count: int, octets: int) -> str:
    return f"+OK maildrop has {count} messages ({octets} octets)"


def stat(count: int, octets: int) -> str:
    return f"+OK {count} {octets}"


def scan_listing(count: int, octets: int) -> str:
    return f"+OK {count} messages ({octets} octets)"


def scan_line(number: int, value: int | str) -> str:
    """One "msg size" or "msg uidl" line, alone or as the +OK answer for one message."""
    return f"{number} {value}"


def message_octets(size: int) -> str:
    return f"+OK {size} octets"


def deleted(number: int) -> str:
    return f"+OK message {number} deleted"


def already_deleted(number: int) -> str:
    return f"-ERR message {number} already deleted"


def sasl_failed(reason: str) -> str:
    return f"-ERR {reason}"


def sasl_challenge(encoded: str) -> str:
    return f"+ {encoded}"
