"""The catalogue of doors (protocols), their aliases, auth methods and human names."""

from __future__ import annotations

import difflib

PROTOCOLS: tuple[str, ...] = ("imap", "pop", "smtp", "web", "api", "dav")

ALIASES: dict[str, str] = {
    "pop3": "pop",
    "owa": "web",
    "webmail": "web",
    "ews": "api",
    "jmap": "api",
    "smtp-auth": "smtp",
    "smtpauth": "smtp",
    "submission": "smtp",
    "caldav": "dav",
    "carddav": "dav",
    "imap4": "imap",
}

DISPLAY: dict[str, str] = {
    "imap": "IMAP",
    "pop": "POP",
    "smtp": "SMTP sending",
    "web": "Webmail",
    "api": "The mail API",
    "dav": "Calendar and contacts access (DAV)",
}

METHODS: tuple[str, ...] = ("password", "app_password", "oauth")

#: Doors whose listener exists in this release; `account show` marks the others.
SERVED: frozenset[str] = frozenset({"imap", "pop", "smtp", "web"})


class UnknownProtocol(ValueError):
    """A protocol name that is neither a door nor an alias of one."""

    def __init__(self, name: str) -> None:
        choices = list(PROTOCOLS) + list(ALIASES)
        close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.5)
        hint = f" (did you mean '{ALIASES.get(close[0], close[0])}'?)" if close else ""
        super().__init__(
            f"unknown protocol '{name}'{hint}; known: {', '.join(PROTOCOLS)}"
        )


def normalise_protocol(name: str) -> str:
    """Map a protocol name or Exchange-style alias to its door name."""
    key = name.strip().lower()
    if key in PROTOCOLS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise UnknownProtocol(name)


def normalise_method(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    if key not in METHODS:
        raise ValueError(f"unknown sign-in method '{name}'; known: {', '.join(METHODS)}")
    return key
