"""Address lists (RFC 5322 §3.4) as IMAP ENVELOPE address structures (RFC 3501 §7.4.2).

An address is ``(name, route, mailbox, host)``.  Groups become a start marker
``(None, None, group-name, None)``, their members, and an end marker of four Nones;
empty groups keep both markers.  Like Dovecot, a missing local part or domain is
reported as ``MISSING_MAILBOX`` / ``MISSING_DOMAIN`` (a NIL host would read as a
group marker), the display name of ``user@host (Real Name)`` is the comment, and
encoded-words are left undecoded.  Empty list elements are skipped.
All strings are raw (Latin-1 decoded header bytes).
"""

import re

from .lexer import Scanner, unescape

Address = tuple[str | None, str | None, str | None, str | None]

GROUP_END: Address = (None, None, None, None)
MISSING_MAILBOX = "MISSING_MAILBOX"
MISSING_DOMAIN = "MISSING_DOMAIN"

_TOKEN = re.compile(
    r"[ \t\r\n]+"
    r'|"(?P<quoted>(?:[^"\\]|\\.)*)"?'
    r"|(?P<literal>\[(?:[^\]\\]|\\.)*\]?)"
    r"|(?P<special>[<>@,;:])"
    # atext plus "." (dot-atoms, obsolete phrases such as "John Q. Public") and any
    # other non-delimiter, so that junk stays inside the word it appears in
    r"|(?P<atom>[^ \t\r\n\"()<>@,;:\[\]\\]+)"
    r"|(?P<comment>\()"
    r"|.",  # a stray ")", "]" or "\\"
    re.DOTALL,
)

# A token is (kind, value): kind is "atom", "quoted", "literal", "comment" or a special.
Token = tuple[str, str]


def parse_addresses(raw: str) -> list[Address]:
    """Parse an address-list header value leniently; never raises."""
    result: list[Address] = []
    current: list[Token] = []
    in_group = in_angle = has_at = False
    for token in _tokenize(raw):
        kind = token[0]
        if in_angle:
            current.append(token)
            in_angle = kind != ">"
        elif kind == "<":
            current.append(token)
            in_angle = True
        elif kind == ":" and not in_group and not has_at:
            result.append((None, None, _phrase(current), None))
            current = []
            in_group = True
        elif kind == ";" and in_group:
            _add_mailbox(result, current)
            result.append(GROUP_END)
            current = []
            in_group = has_at = False
        elif kind in (",", ";"):
            _add_mailbox(result, current)
            current = []
            has_at = False
        else:
            current.append(token)
            has_at = has_at or kind == "@"
    _add_mailbox(result, current)
    if in_group:
        result.append(GROUP_END)
    return result


def _tokenize(raw: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while True:
        for match in _TOKEN.finditer(raw, position):
            kind = match.lastgroup
            if kind == "comment":  # comments nest, so the scanner reads them
                scanner = Scanner(raw)
                scanner.pos = match.start()
                scanner.skip_comment()
                tokens.append((kind, scanner.comment or ""))
                position = scanner.pos
                break
            if kind == "quoted":
                tokens.append((kind, unescape(match.group(kind))))
            elif kind == "special":
                tokens.append((match.group(), match.group()))
            elif kind is not None:
                tokens.append((kind, match.group()))
        else:
            return tokens


def _phrase(tokens: list[Token]) -> str:
    return " ".join(value for kind, value in tokens if kind in ("atom", "quoted"))


def _add_mailbox(result: list[Address], tokens: list[Token]) -> None:
    words = [token for token in tokens if token[0] != "comment"]
    if not words:
        return
    kinds = [kind for kind, _ in words]
    name: str | None
    if "<" in kinds:
        opening = kinds.index("<")
        name = _phrase(words[:opening]) or None
        closing = kinds.index(">") if ">" in kinds else len(words)
        route, mailbox, domain = _angle_addr(words[opening + 1 : closing])
    else:
        route = None
        mailbox, domain = _addr_spec(words)
        name = _last_comment(tokens)
        if mailbox is None and name is None:
            name = _phrase(words) or None
    result.append((name, route, mailbox or MISSING_MAILBOX, domain or MISSING_DOMAIN))


def _angle_addr(words: list[Token]) -> tuple[str | None, str | None, str | None]:
    route = None
    kinds = [kind for kind, _ in words]
    if kinds and kinds[0] == "@" and ":" in kinds:
        colon = kinds.index(":")
        hops = [value for kind, value in words[:colon] if kind not in ("@", ",")]
        route = ",".join("@" + hop for hop in hops)
        words = words[colon + 1 :]
    mailbox, domain = _addr_spec(words)
    return route, mailbox, domain


def _addr_spec(words: list[Token]) -> tuple[str | None, str | None]:
    """Split ``local-part "@" domain``; a lone word without ``@`` is a local part."""
    kinds = [kind for kind, _ in words]
    if "@" not in kinds:
        if len(words) == 1 and kinds[0] == "atom":
            return words[0][1], None
        return None, None
    at = kinds.index("@")
    local = "".join(value for kind, value in words[:at] if kind in ("atom", "quoted"))
    domain = "".join(value for kind, value in words[at + 1 :] if kind in ("atom", "literal"))
    return local, domain


def _last_comment(tokens: list[Token]) -> str | None:
    """The last comment after the first word (``user@host (Real Name)``), if any."""
    seen_word = False
    comment = None
    for kind, value in tokens:
        if kind == "comment":
            if seen_word:
                comment = value
        else:
            seen_word = True
    return comment or None
