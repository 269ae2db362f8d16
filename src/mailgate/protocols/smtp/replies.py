"""Reply lines of the SMTP doors, and enhanced status codes on every reply (RFC 2034, 3463).

The door's own replies carry their enhanced code already. The ones aiosmtpd writes itself
("250 OK", "503 Error: need RCPT command", ...) get one added by `with_enhanced_code`, and a
few get clearer words, so a client that was promised ENHANCEDSTATUSCODES sees one on every
reply but the greeting, EHLO/LHLO and the continuation prompts (334, 354).
"""

from __future__ import annotations

import re

SIGNED_IN = "235 2.7.0 Authentication successful"
AUTH_REQUIRED = "530 5.7.0 Authentication required: sign in with AUTH first"
AUTH_CANCELLED = "501 5.7.0 Authentication cancelled"
AUTH_TOO_LONG = "500 5.5.6 Authentication line too long"
AUTH_SYNTAX = "501 5.5.4 Syntax: AUTH mechanism [initial-response]"
AUTH_UNKNOWN_MECHANISM = "504 5.5.4 Unrecognized authentication mechanism"
AUTH_AGAIN = "503 5.5.1 Already signed in"
AUTH_IN_TRANSACTION = "503 5.5.1 AUTH is not allowed during a mail transaction"
AUTH_NEEDS_EHLO = "503 5.5.1 Send EHLO first"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections from your address; try again later"
SIGNIN_TOO_SLOW = "421 4.4.2 Sign-in took too long; closing the connection"
TIME_LIMIT = "421 4.4.2 Connection time limit reached; closing"
IDLE_TIMEOUT = ("421 4.4.2 Nothing received for too long; closing (an unfinished message is "
                "not stored)")
CLIENT_ENDED = "421 4.4.0 The client closed its side of the connection; closing"
DOOR_CLOSED = "421 4.7.0 The door closed; the message was not accepted"
INTERNAL_ERROR = "451 4.3.0 Internal error; the message was not accepted, try again later"
NOT_ASCII = "553 5.6.7 Non-ASCII address without SMTPUTF8"
BAD_UTF8 = "553 5.6.7 The address is not valid UTF-8"
CONTROL_IN_ADDRESS = "553 5.1.3 An address cannot contain control characters (CR, LF...)"
BAD_HELO = "501 5.5.4 A HELO/EHLO name cannot contain control characters (CR, LF...)"
SENDER_OK = "250 2.1.0 Sender OK"
RECIPIENT_OK = "250 2.1.5 Recipient OK"
DELIVERED = "250 2.0.0 Message accepted and stored"
NO_FROM_HEADER = "550 5.7.1 The message has no From: header; it must name your address"
LINE_TOO_LONG = "500 5.5.6 A line of the message is longer than 1000 octets; nothing was stored"
BDAT_SYNTAX = ("501 5.5.4 Syntax: BDAT <size> [LAST]; where the chunk ends is unknown, so the "
               "connection closes")
BDAT_NEEDS_EHLO = "503 5.5.1 Send EHLO first; the chunk was discarded"
BDAT_NEEDS_MAIL = "503 5.5.1 Send MAIL FROM first; the chunk was discarded"
BDAT_NEEDS_RCPT = "503 5.5.1 Send RCPT TO first; the chunk was discarded"
DATA_AFTER_BDAT = ("503 5.5.1 DATA cannot follow BDAT in one transaction; send RSET and start "
                   "again")


def relay_denied(domain: str) -> str:
    return (f"554 5.7.1 Relaying denied: {domain} is not a domain this server receives "
            "mail for")


def no_such_mailbox(address: str) -> str:
    return f"550 5.1.1 <{address}>: no such mailbox here"


def too_many_recipients(limit: int) -> str:
    return (f"452 4.5.3 Too many recipients: at most {limit} per message; send the rest in "
            "another message")


def too_big(limit: int) -> str:
    return f"552 5.3.4 Message too big: the limit is {limit} bytes"


def chunk_received(size: int) -> str:
    return f"250 2.0.0 {size} octets received"


def sender_not_yours(address: str, own: str) -> str:
    return (f"553 5.7.1 <{address}> is not your address: send as <{own}>")


def from_not_yours(address: str, own: str) -> str:
    return f"550 5.7.1 The From: header says <{address}>, not your address <{own}>"


def lmtp_delivered(address: str) -> str:
    return f"250 2.0.0 <{address}> message stored"


#: aiosmtpd's own texts the door words more clearly (the code stays the same).
_CLEARER = {
    "503 Error: send HELO first": "503 5.5.1 Send HELO/EHLO first",
    "503 Error: send EHLO first": "503 5.5.1 Send EHLO first",
    "503 Error: need MAIL command": "503 5.5.1 Send MAIL FROM first",
    "503 Error: need RCPT command": "503 5.5.1 Send RCPT TO first",
    "503 Error: nested MAIL command": "503 5.5.1 A mail transaction is already open",
    "500 Error: bad syntax": "500 5.5.2 Syntax error",
    "500 Error: strict ASCII mode": "500 5.6.7 Non-ASCII command without SMTPUTF8",
    "500 Command line too long": "500 5.5.6 Command line too long",
    "500 Line too long (see RFC5321 4.5.3.1.6)": LINE_TOO_LONG,
    "501 Error: SMTPUTF8 disabled": "501 5.5.4 SMTPUTF8 is not offered here",
    "250 OK": "250 2.0.0 OK",
    "221 Bye": "221 2.0.0 Bye",
}

#: basic code -> the enhanced code added when a reply has none.
_DEFAULT_DETAIL = {"500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1",
                   "504": "5.5.4", "530": "5.7.0", "552": "5.3.4", "553": "5.1.3",
                   "555": "5.5.4", "554": "5.0.0", "421": "4.0.0"}
_PLAIN = re.compile(r"^(\d{3})([ -])(?!\d\.\d{1,3}\.\d{1,3}(?: |$))")
_NO_CODE = ("220", "334", "354")


def too_big_for(line: str, limit: int) -> str:
    """aiosmtpd's two size refusals (at MAIL SIZE= and during DATA), with the limit."""
    if line.startswith("552 Error"):
        return too_big(limit)
    return line


def with_enhanced_code(line: str) -> str:
    """One reply line with an enhanced status code (continuations and 220 untouched)."""
    line = _CLEARER.get(line, line)
    match = _PLAIN.match(line)
    if match is None or match[1] in _NO_CODE:
        return line
    code = match[1]
    detail = _DEFAULT_DETAIL.get(code, f"{code[0]}.0.0")
    return f"{code}{match[2]}{detail} {line[4:]}"
