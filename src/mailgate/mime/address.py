"""Address lists (RFC 5322 §3.4) as IMAP ENVELOPE address structures (RFC 3501 §7.4.2).

An address is ``(name, route, mailbox, host)``.  Groups become a start marker
``(None, None, group-name, None)``, their members, and an end marker of four Nones.

The parser follows Dovecot's (lib-mail/message-address.c over rfc822-parser.c, as it
parses ENVELOPE fields: missing parts filled in, lenient dots), so that broken input
gives the same ENVELOPE as Dovecot's:

* a missing local part or domain is ``MISSING_MAILBOX`` / ``MISSING_DOMAIN`` (a NIL host
  would read as a group marker), an empty list element is such an address, and a
  broken ``<...>`` keeps what was read before the error with the host ``SYNTAX_ERROR``;
* parsing stops at the first thing that cannot continue the list (``a@b junk, c@d``
  gives ``a@b`` only): nothing after it is guessed at;
* the display name of ``user@host (Real Name)`` is the last comment, a lone word is a
  local part, several words without ``@`` are a display name; encoded-words are left
  undecoded.

All strings are raw (Latin-1 decoded, unfolded header bytes).
"""

import re

Address = tuple[str | None, str | None, str | None, str | None]

GROUP_END: Address = (None, None, None, None)
MISSING_MAILBOX = "MISSING_MAILBOX"
MISSING_DOMAIN = "MISSING_DOMAIN"
SYNTAX_ERROR = "SYNTAX_ERROR"
INVALID_ROUTE = "INVALID_ROUTE"

# RFC 5322 atext; 8-bit bytes count as atext.
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]*")
_ATEXT_OR_DOT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff.]*")
_ATEXT_CHARS = frozenset("!#$%&'*+-/=?^_`{|}~")
_WSP = re.compile(r"[ \t\r\n]*")
_NOT_ESCAPED = "\r\n\0"  # a backslash before these is kept as it is


def parse_addresses(raw: str) -> list[Address]:
    """Parse an address-list header value as Dovecot does; never raises."""
    parser = _Parser(raw)
    if parser.skip_cfws() > 0:
        parser.address_list()
    return parser.addresses


def _is_atext(char: str) -> bool:
    return (char.isascii() and char.isalnum()) or char in _ATEXT_CHARS or char >= "\x80"


class _Text:
    """A string built piece by piece in linear time (Dovecot's ``string_t``)."""

    __slots__ = ("length", "pieces")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.length = 0

    def add(self, piece: str) -> None:
        self.pieces.append(piece)
        self.length += len(piece)

    def clear(self) -> None:
        self.pieces.clear()
        self.length = 0

    def value(self) -> str:
        return "".join(self.pieces)


class _Parser:
    """One address list.  Methods return Dovecot's codes: -1 broken input, 0 at the end of
    the value, 1 more to read.  ``text`` is the scratch buffer (Dovecot's ``ctx->str``)."""

    def __init__(self, raw: str) -> None:
        self.data = raw
        self.pos = 0
        self.end = len(raw)
        self.last_comment = _Text()
        self.text = _Text()
        self.addresses: list[Address] = []
        self._clear()

    def _clear(self) -> None:
        self.name: str | None = None
        self.route: str | None = None
        self.mailbox: str | None = None
        self.domain: str | None = None
        self.invalid = False

    @property
    def char(self) -> str:
        """The character at the cursor, NUL at the end (as the C string's terminator)."""
        return self.data[self.pos] if self.pos < self.end else "\0"

    def _add(self) -> None:
        self.addresses.append((self.name, self.route, self.mailbox, self.domain))
        self._clear()

    def _add_fixed(self) -> None:
        if self.mailbox is None:
            self.mailbox = MISSING_MAILBOX
        if not self.domain:
            self.domain = MISSING_DOMAIN
        self._add()

    # -- RFC 5322 lexical tokens (rfc822-parser.c)

    def _skip_comment(self) -> int:
        data = self.data
        self.last_comment.clear()
        level = 1
        self.pos += 1
        start = self.pos
        while self.pos < self.end:
            char = data[self.pos]
            if char == "(":
                level += 1
            elif char == ")":
                level -= 1
                if level == 0:
                    self.last_comment.add(data[start : self.pos])
                    self.pos += 1
                    return 1 if self.pos < self.end else 0
            elif char == "\\":
                self.pos += 1
                if self.pos >= self.end:
                    return -1
                if data[self.pos] in _NOT_ESCAPED:
                    self.pos -= 1
                else:
                    self.last_comment.add(data[start : self.pos - 1])
                    start = self.pos
            self.pos += 1
        return -1  # missing ")"

    def skip_cfws(self) -> int:
        while True:
            self._run(_WSP)
            if self.pos >= self.end:
                return 0
            if self.data[self.pos] != "(":
                return 1
            if self._skip_comment() < 0:
                return -1

    def _run(self, pattern: re.Pattern[str]) -> str:
        match = pattern.match(self.data, self.pos)
        assert match is not None  # the patterns match the empty string
        self.pos = match.end()
        return match.group()

    def _atom(self) -> int:
        if not _is_atext(self.char) or self.pos >= self.end:
            return -1
        self.text.add(self._run(_ATEXT))
        return self.skip_cfws() if self.pos < self.end else 0

    def _dot_atom(self) -> int:
        """dot-atom, allowing whitespace around the dots (RFC 822) but no empty atom."""
        while True:
            atom = self._run(_ATEXT)
            if not atom:
                return -1
            self.text.add(atom)
            if self.pos >= self.end:
                return 0
            ret = self.skip_cfws()
            if ret <= 0:
                return ret
            if self.char != ".":
                return 1
            self.pos += 1
            self.text.add(".")
            if self.skip_cfws() <= 0:
                return -1

    def _quoted_string(self) -> int:
        data = self.data
        self.pos += 1
        start = self.pos
        while self.pos < self.end:
            char = data[self.pos]
            if char == '"':
                self.text.add(data[start : self.pos])
                self.pos += 1
                return self.skip_cfws()
            if char == "\\":
                self.pos += 1
                if self.pos >= self.end:
                    return -1
                if data[self.pos] in _NOT_ESCAPED:
                    self.pos -= 1
                else:
                    self.text.add(data[start : self.pos - 1])
                    start = self.pos
            self.pos += 1
        return -1  # missing '"'

    def _atom_or_dot(self) -> int:
        self.text.add(self._run(_ATEXT_OR_DOT))
        return self.skip_cfws() if self.pos < self.end else 0

    def _phrase(self) -> int:
        """phrase / obs-phrase: words joined by one space."""
        if self.pos >= self.end:
            return 0
        if self.char == ".":
            return -1
        while True:
            ret = self._quoted_string() if self.char == '"' else self._atom_or_dot()
            if ret <= 0:
                return ret
            char = self.char
            if not _is_atext(char) and char not in '".':
                break
            self.text.add(" ")
        return self.skip_cfws()

    def _domain_literal(self) -> int:
        """``[...]`` kept as written, backslashes included."""
        data = self.data
        start = self.pos
        self.pos += 1
        while self.pos < self.end:
            char = data[self.pos]
            if char == "[":
                return -1
            if char == "]":
                self.pos += 1
                self.text.add(data[start : self.pos])
                return self.skip_cfws()
            if char == "\\":
                self.pos += 1
                if self.pos >= self.end:
                    return -1
                if data[self.pos] in _NOT_ESCAPED:
                    self.pos -= 1
            self.pos += 1
        return -1  # missing "]"

    def _rfc822_domain(self) -> int:
        self.pos += 1  # "@"
        if self.skip_cfws() <= 0:
            return -1
        return self._domain_literal() if self.char == "[" else self._dot_atom()

    # -- addresses (message-address.c)

    def _nonstrict_dot_atom(self) -> int:
        ret = -1
        while True:
            while self.char == "." and self.pos < self.end:
                self.text.add(".")
                self.pos += 1
                if self.pos == self.end:
                    return 0  # "@domain" is missing, but the local part is fine
                ret = 1
            if self.char == "@" and self.pos < self.end:
                return ret
            ret = self._atom()
            if not (ret > 0 and self.char == "."):
                return ret

    def _local_part(self) -> int:
        self.text.clear()
        ret = self._quoted_string() if self.char == '"' else self._nonstrict_dot_atom()
        if ret < 0:
            return -1
        self.mailbox = self.text.value()
        return ret

    def _domain(self) -> int:
        self.text.clear()
        ret = self._rfc822_domain()
        if ret < 0:
            return -1
        self.domain = self.text.value()
        return ret

    def _domain_list(self) -> int:
        """obs-domain-list (a source route) into ``route``."""
        self.text.clear()
        while True:
            if self.pos >= self.end:
                return 0
            if self.char != "@":
                break
            if self.text.length:
                self.text.add(",")
            self.text.add("@")
            ret = self._rfc822_domain()
            if ret <= 0:
                return ret
            while self.skip_cfws() > 0 and self.char == ",":
                self.pos += 1
        self.route = self.text.value()
        return 1

    def _angle_addr(self) -> int:
        self.pos += 1  # "<"
        if self.skip_cfws() <= 0:
            return -1
        if self.char == "@":
            if self._domain_list() > 0 and self.char == ":":
                self.pos += 1
            else:
                self.route = INVALID_ROUTE
                if self.pos >= self.end:
                    return -1
            if self.skip_cfws() <= 0:
                return -1
        if self.char != ">":
            if self._local_part() <= 0:
                return -1
            if self.char == "@" and self._domain() <= 0:
                return -1
        if self.char != ">" or self.pos >= self.end:
            return -1
        self.pos += 1
        return self.skip_cfws()

    def _name_addr(self) -> int:
        self.text.clear()
        if self._phrase() <= 0 or self.char != "<":
            return -1
        self.name = self.text.value() or None
        if self._angle_addr() < 0:
            self.domain = SYNTAX_ERROR
            self.invalid = True
        return 1 if self.pos < self.end else 0

    def _addr_spec(self) -> int:
        domain_ret = -2  # no "@domain" read
        self.last_comment.clear()
        quoted = self.char == '"'
        ret = self._local_part()
        if ret <= 0:
            self.invalid = True
        if ret != 0 and self.pos < self.end and self.char == "@":
            domain_ret = self._domain()
            if domain_ret <= 0:
                ret = domain_ret
        if self.last_comment.length:
            self.name = self.last_comment.value()
        elif domain_ret == -2:
            # a lone word is a local part; followed by more words it is a display name
            self.text.add(" ")
            length = self.text.length
            self._phrase()
            if self.text.length != length:
                self.mailbox = None
                self.name = self.text.value()
            elif not quoted:
                self.domain = ""
            self.invalid = True
            ret = -1
        return ret

    def _mailbox(self) -> int:
        start = self.pos
        ret = self._name_addr()
        if ret < 0:
            self.pos = start
            ret = self._addr_spec()
            if (self.invalid and self.name is None and self.mailbox is not None
                    and self.domain is None):
                self.name, self.mailbox = self.mailbox, None
        if ret < 0:
            self.invalid = True
        self._add_fixed()
        return ret

    def _group(self) -> int:
        self.text.clear()
        if self._phrase() <= 0 or self.char != ":":
            return -1
        # from here on this is a group, whatever follows
        self.pos += 1
        ret = self.skip_cfws()
        self.mailbox = self.text.value()
        self._add()
        if ret > 0 and self.char != ";":
            while True:
                self._mailbox()
                if self.pos >= self.end or self.char != ",":
                    break
                self.pos += 1
                if self.skip_cfws() <= 0:
                    ret = -1
                    break
        if ret >= 0:
            if self.pos >= self.end or self.char != ";":
                ret = -1
            else:
                self.pos += 1
                ret = self.skip_cfws()
        self.addresses.append(GROUP_END)
        return 0 if ret == 0 else 1

    def _address(self) -> int:
        start = self.pos
        ret = self._group()
        if ret < 0:
            self.pos = start
            ret = self._mailbox()
        return ret

    def address_list(self) -> None:
        while True:
            if self._address() == 0:
                return
            if self.pos >= self.end or self.char != ",":
                return
            self.pos += 1
            ret = self.skip_cfws()
            if ret <= 0:
                if ret < 0:  # ends with some garbage
                    self._add_fixed()
                return
