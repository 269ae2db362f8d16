"""The lexical layer of IMAP commands: tags, atoms, strings, literals, numbers, lists.

`Reader` walks one framed command (its lines and literals) for the grammar modules
(`arguments`, `parser`, `selected`, `search`, `fetch`). Every method returns the token it
read or raises `CommandSyntaxError`, whose message is one short line safe to send to the
client (it never quotes client bytes other than validated atoms). Keywords are matched
case-insensitively: `keyword()` returns them upper-cased.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from mailgate.protocols.imap.framer import RawCommand

T = TypeVar("T")

MAX_NUMBER: Final = 0xFFFFFFFF  # number, nz-number (RFC 9051 §9)
MAX_NUMBER64: Final = 0x7FFFFFFFFFFFFFFF  # number64, mod-sequence-value
MAX_DEPTH: Final = 100  # nesting of lists and search keys (OR chains nest deeply)

# ATOM-CHAR: any CHAR except atom-specials: ( ) { SP CTL % * " \ ]
_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\\]]+')
# ATOM-CHAR and "]", and 8-bit octets, which Dovecot accepts too (UTF-8, checked on decoding)
_ASTRING = re.compile(rb'[^\x00-\x20\x7f(){%*"\\]+')
_LIST_MAILBOX = re.compile(rb'[^\x00-\x20\x7f(){"\\]+')  # also "%" and "*"
_TAG = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\+]+')  # ASTRING-CHAR except "+"
_QUOTED = re.compile(rb'"((?:[^"\\\r\n\x00]|\\["\\])*)"')
_ESCAPE = re.compile(rb"\\(.)")
_DIGITS = re.compile(rb"[0-9]+")
_LITERAL = re.compile(rb"(~?)\{[0-9]+\+?\}")
_SET_CHARS = re.compile(rb"[0-9*:,$]+")


class CommandSyntaxError(Exception):
    """The command breaks the grammar; the message is safe to show the client.

    `status` is the answer: BAD, or a NO for what Dovecot (and clients) treat as a failure
    rather than a syntax error.
    """

    status = "BAD"


def tag_of(line: bytes) -> str:
    """The tag starting `line`, or "*" when it does not start with a valid tag and a space."""
    match = _TAG.match(line)
    if match is None or line[match.end() : match.end() + 1] not in (b" ", b""):
        return "*"
    return match[0].decode("ascii")


def utf8_text(data: bytes, what: str) -> str:
    """Client bytes as text; invalid UTF-8 is a syntax error naming `what`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandSyntaxError(f"{what} is not valid UTF-8") from None


class Reader:
    """A cursor over one command's lines and literals."""

    __slots__ = ("_index", "_line", "_lines", "_literals", "_pos", "depth")

    def __init__(self, command: RawCommand) -> None:
        self._lines = command.lines
        self._literals = command.literals
        self._index = 0
        self._line = command.lines[0]
        self._pos = 0
        self.depth = 0  # nesting of lists and search keys (see `descend`)

    # -- position ---------------------------------------------------------------------------

    @property
    def line(self) -> bytes:
        """The line being read (for a grammar's own regular expressions, with `position`)."""
        return self._line

    @property
    def position(self) -> int:
        return self._pos

    def skip(self, count: int) -> None:
        """Move past `count` octets already checked (the tag, read by `tag_of`)."""
        self._pos += count

    def at_end(self) -> bool:
        return self._pos == len(self._line) and self._index == len(self._literals)

    def peek(self) -> bytes:
        """The next octet ("" at the end of a line)."""
        return self._line[self._pos : self._pos + 1]

    def at(self, prefix: bytes) -> bool:
        return self._line.startswith(prefix, self._pos)

    def at_keyword(self, word: bytes) -> bool:
        """Whether the upper-case `word` and a space come next, in any case."""
        end = self._pos + len(word)
        return self._line[self._pos : end].upper() == word and self._line[end : end + 1] == b" "

    def end(self) -> None:
        if not self.at_end():
            raise CommandSyntaxError("unexpected text at the end of the command")

    def expect(self, char: bytes, what: str) -> None:
        if not self._line.startswith(char, self._pos):
            raise CommandSyntaxError(f"expected {what}")
        self._pos += len(char)

    def space(self) -> None:
        if not self._line.startswith(b" ", self._pos):
            raise CommandSyntaxError("expected a space between arguments")
        self._pos += 1

    def maybe_space(self) -> bool:
        """Consume a space if one comes next."""
        if self._line.startswith(b" ", self._pos):
            self._pos += 1
            return True
        return False

    def match(self, pattern: re.Pattern[bytes], what: str) -> re.Match[bytes]:
        """Consume what `pattern` matches here; a syntax error ("expected {what}") if nothing."""
        match = pattern.match(self._line, self._pos)
        if match is None:
            raise CommandSyntaxError(f"expected {what}")
        self._pos = match.end()
        return match

    # -- atoms and numbers ------------------------------------------------------------------

    def atom(self) -> bytes:
        return self.match(_ATOM, "an atom")[0]

    def keyword(self) -> str:
        """An atom, upper-cased (IMAP keywords are case-insensitive)."""
        return self.match(_ATOM, "a keyword")[0].decode("ascii").upper()

    def number(self, maximum: int = MAX_NUMBER) -> int:
        digits = self.match(_DIGITS, "a number")[0]
        if len(digits) > 20 or int(digits) > maximum:
            raise CommandSyntaxError("number out of range")
        return int(digits)

    def nz_number(self, maximum: int = MAX_NUMBER) -> int:
        value = self.number(maximum)
        if value == 0:
            raise CommandSyntaxError("expected a number greater than zero")
        return value

    def sequence_text(self) -> bytes:
        """The characters of a sequence-set (validated by `sequences.parse_sequence_set`)."""
        return self.match(_SET_CHARS, "a sequence set")[0]

    # -- strings --------------------------------------------------------------------------

    def quoted(self) -> bytes:
        match = _QUOTED.match(self._line, self._pos)
        if match is None:
            raise CommandSyntaxError("unterminated or invalid quoted string")
        self._pos = match.end()
        body = match[1]
        return _ESCAPE.sub(rb"\1", body) if b"\\" in body else body

    def literal(self, *, binary: bool = False) -> tuple[bytes, bool]:
        """A literal's octets and whether it was a literal8 (`~{n}`, only when `binary`)."""
        match = _LITERAL.fullmatch(self._line, self._pos)
        if match is None or self._index == len(self._literals):
            raise CommandSyntaxError("a literal must end its line")
        is_binary = bool(match[1])
        if is_binary and not binary:
            raise CommandSyntaxError("literal8 is not allowed here")
        data = self._literals[self._index]
        if not is_binary and b"\x00" in data:
            raise CommandSyntaxError("NUL in a literal (only literal8 may carry it)")
        self._index += 1
        self._line = self._lines[self._index]
        self._pos = 0
        return data, is_binary

    def at_literal(self) -> bool:
        return self.at(b"{") or self.at(b"~{")

    def string(self) -> bytes:
        """string: a quoted string or a literal."""
        if self.at(b'"'):
            return self.quoted()
        if self.at_literal():
            return self.literal()[0]
        raise CommandSyntaxError("expected a string")

    def astring(self) -> bytes:
        """astring: an atom (with "]"), a quoted string or a literal."""
        first = self._line[self._pos : self._pos + 1]
        if first == b'"':
            return self.quoted()
        if first == b"{" or (first == b"~" and self.at(b"~{")):
            return self.literal()[0]
        return self.match(_ASTRING, "a string")[0]

    def nstring(self) -> bytes | None:
        """nstring: NIL or a string."""
        if self.at(b'"') or self.at_literal():
            return self.string()
        if self.keyword() != "NIL":
            raise CommandSyntaxError("expected a string or NIL")
        return None

    def list_mailbox(self) -> bytes:
        """list-mailbox: list-chars (atom chars with "%", "*", "]") or a string."""
        if self.at(b'"') or self.at_literal():
            return self.string()
        return self.match(_LIST_MAILBOX, "a mailbox pattern")[0]

    def text(self, what: str) -> str:
        """An astring decoded as UTF-8."""
        return utf8_text(self.astring(), what)

    # -- lists ------------------------------------------------------------------------------

    def parenthesised(self, item: Callable[[], T], *, empty: bool = True) -> list[T]:
        """A list: "(" item *(SP item) ")", with `empty` allowing "()"."""
        self.expect(b"(", '"("')
        items: list[T] = []
        if self._line.startswith(b")", self._pos):
            if not empty:
                raise CommandSyntaxError("empty list")
        else:
            self.descend()
            items.append(item())
            while self._line.startswith(b" ", self._pos):
                self._pos += 1
                items.append(item())
            self.depth -= 1
        self.expect(b")", '")"')
        return items

    def one_or_list(self, item: Callable[[], T]) -> list[T]:
        """A parenthesised list of items, or a single item."""
        return self.parenthesised(item, empty=False) if self.at(b"(") else [item()]

    def descend(self) -> None:
        """Enter one level of nesting (the caller leaves with `depth -= 1`); too deep is a
        syntax error, which keeps recursion bounded. After an error the depth is moot."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CommandSyntaxError("too deeply nested")
