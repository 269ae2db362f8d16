"""IMAP arguments as imaptest sees them: atoms, quoted strings, literals, NIL and lists.

Both sides go through the same tokenizer: the expected replies of a script and the replies
of the server. A line is a sequence of parts, text and `Literal`s (the `{N}` markers are
already taken out, by the script parser or by the client), so literal data is never scanned.

The rules follow Dovecot's IMAP parser with "atoms may hold any character": an atom runs to
the next space (or `)` inside a list), so `BODY[HEADER.FIELDS (FROM)]` is the atom
`BODY[HEADER.FIELDS`, the list `(FROM)` and the atom `]`, on both sides alike.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Literal:
    """Literal data inside a line: `{N}` (or `~{N}`, binary) followed by N bytes."""

    data: str
    binary: bool = False


Part = str | Literal
Line = tuple[Part, ...]


class Kind(enum.Enum):
    ATOM = "atom"
    STRING = "string"
    LITERAL = "literal"
    NIL = "nil"
    LIST = "list"


@dataclass(frozen=True)
class Arg:
    """One parsed IMAP argument; `text` for atoms/strings/literals, `items` for lists."""

    kind: Kind
    text: str = ""
    items: tuple[Arg, ...] = ()
    binary: bool = False

    @property
    def is_astring(self) -> bool:
        return self.kind in (Kind.ATOM, Kind.STRING, Kind.LITERAL)

    def atom(self) -> str | None:
        """The atom's text (NIL counts, as in Dovecot), else None."""
        return self.text if self.kind in (Kind.ATOM, Kind.NIL) else None


def atom(text: str) -> Arg:
    return Arg(Kind.NIL, "NIL") if text.upper() == "NIL" else Arg(Kind.ATOM, text)


class ArgSyntaxError(ValueError):
    """A line that Dovecot's parser would refuse too."""


class _Reader:
    def __init__(self, parts: Sequence[Part], lenient: bool) -> None:
        self.parts = [p for p in parts if p != ""]
        self.lenient = lenient
        self.index = 0
        self.pos = 0

    def parse(self) -> tuple[Arg, ...]:
        stack: list[list[Arg]] = [[]]
        while self.index < len(self.parts):
            part = self.parts[self.index]
            if isinstance(part, Literal):
                stack[-1].append(Arg(Kind.LITERAL, part.data, binary=part.binary))
                self.index += 1
                self.pos = 0
                continue
            if self.pos >= len(part):
                self.index += 1
                self.pos = 0
                continue
            char = part[self.pos]
            if char in " \r\n":
                self.pos += 1
            elif char == "(":
                stack.append([])
                self.pos += 1
            elif char == ")":
                self.pos += 1
                if len(stack) > 1:
                    items = tuple(stack.pop())
                    stack[-1].append(Arg(Kind.LIST, items=items))
                elif self.lenient:
                    stack[-1].append(Arg(Kind.ATOM, ")"))
                else:
                    raise ArgSyntaxError("unexpected ')'")
            elif char == '"':
                stack[-1].append(self._quoted(part))
            else:
                stack[-1].append(self._atom(part, inside_list=len(stack) > 1))
        if len(stack) > 1:
            if not self.lenient:
                raise ArgSyntaxError("missing ')'")
            while len(stack) > 1:
                items = tuple(stack.pop())
                stack[-1].append(Arg(Kind.LIST, items=items))
        return tuple(stack[0])

    def _quoted(self, part: str) -> Arg:
        start = self.pos
        out: list[str] = []
        i = start + 1
        while i < len(part):
            char = part[i]
            if char == "\\" and i + 1 < len(part):
                out.append(part[i + 1])
                i += 2
            elif char == '"':
                self.pos = i + 1
                return Arg(Kind.STRING, "".join(out))
            elif char in "\r\n":
                break
            else:
                out.append(char)
                i += 1
        if not self.lenient:
            raise ArgSyntaxError("unterminated quoted string")
        self.pos = i
        return Arg(Kind.ATOM, part[start:i])

    def _atom(self, part: str, inside_list: bool) -> Arg:
        end = self.pos
        while end < len(part) and part[end] not in " \r\n" and not (inside_list
                                                                    and part[end] == ")"):
            end += 1
        text = part[self.pos:end]
        self.pos = end
        return atom(text)


def parse_args(parts: Sequence[Part], lenient: bool = False) -> tuple[Arg, ...]:
    """Parse a line (text parts and literals). Lenient mode never raises: it keeps a stray
    `)` or `"` as an atom and closes open lists at the end (for human-readable reply text)."""
    return _Reader(parts, lenient).parse()


# ---------------------------------------------------------------------------- display

MAX_SHOWN = 120


def _escape(text: str, quoted: bool = False) -> str:
    out = []
    for char in text:
        code = ord(char)
        if quoted and char in '"\\':
            out.append("\\" + char)
        elif char == "\r":
            out.append("\\r")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code >= 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    return "".join(out)


def show_text(text: str) -> str:
    """Outside text made safe for one terminal line: control and 8-bit bytes escaped."""
    return _escape(text)


def render_arg(arg: Arg, directives: bool = True) -> str:
    if arg.kind is Kind.LIST:
        return "(" + render(arg.items, directives) + ")"
    if arg.kind is Kind.ATOM or arg.kind is Kind.NIL:
        return show_text(arg.text)
    shown = _escape(arg.text[:MAX_SHOWN], quoted=True) + ("..." if len(arg.text) > MAX_SHOWN
                                                         else "")
    if arg.kind is Kind.LITERAL:
        return f"{'~' if arg.binary else ''}{{{len(arg.text)}}}\"{shown}\""
    return f'"{shown}"'


def render(args: Iterable[Arg], directives: bool = True) -> str:
    """One printable line for messages (like Dovecot's imap_args_to_str, escaped); without
    `$!` directives if asked (they are mostly imaptest's implicit ones)."""
    shown = [render_arg(a, directives) for a in args
             if directives or not (a.atom() or "").startswith("$!")]
    return " ".join(shown)
