"""Match a server reply against an expected pattern, the way imaptest does.

- Atoms, quoted strings and literals are interchangeable: only their text counts, compared
  without regard to ASCII case. NIL matches only NIL.
- `$name` binds to the text it meets the first time and must meet the same text afterwards
  (compared exactly); `${name}` delimits a name; `$$` is a dollar; `$N` (a number) is the
  current sequence number of the message that had number N when the step began; a bare `$`
  matches any text or list; `$]` skips atoms up to one that holds `]`.
- A list is matched in order, item for item, unless it starts with `$!unordered[=N]`: then
  every expected item (or chain of N items) must appear somewhere, and extra items are allowed
  unless `$!noextra` (minus `$!ignore=X`), and `$!ban=X` forbids an extra X.
- Texts count up to their first NUL, as C strings do in imaptest.
- A tagged result, and an untagged OK/NO/BAD/BYE, is matched as a prefix: the human-readable
  text after it is ignored, and the last expected item only has to start the real one.

A failed match leaves no binding behind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from imaptest.tokens import Arg, Kind, render, render_arg

_VAR_NAME = re.compile(r"[A-Za-z0-9_]*")
_FOLD = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
STATUS_REPLIES = frozenset({"OK", "NO", "BAD", "BYE"})


def fold(text: str) -> str:
    """ASCII upper case (imaptest compares with the C locale's toupper)."""
    return text.translate(_FOLD)


class UnboundVariable(LookupError):
    """A command or output line uses a variable that nothing has bound yet."""


@dataclass
class Variables:
    """The variables of one group run, plus the sequence map of the current step."""

    values: dict[str, str] = field(default_factory=dict)
    seqmap: list[int] = field(default_factory=list)

    def start_step(self, exists: int) -> None:
        self.seqmap = list(range(1, exists + 1))

    def relative_seq(self, seq: int) -> str:
        if seq == 0:
            return "<zero seq>"
        if seq > len(self.seqmap):
            return "<out of range>"
        current = self.seqmap[seq - 1]
        return str(current) if current else "<expunged>"

    def expunged(self, seq: int) -> None:
        """Follow `* seq EXPUNGE` in the sequence map."""
        if not 0 < seq <= len(self.seqmap):
            return
        for i in range(seq - 1, len(self.seqmap)):
            if self.seqmap[i] == seq:
                self.seqmap[i] = 0
            elif self.seqmap[i] > seq:
                self.seqmap[i] -= 1

    def lookup(self, name: str) -> str | None:
        if name.isdigit():
            return self.relative_seq(int(name))
        return self.values.get(name) if name else None


def _variable_at(text: str, start: int) -> tuple[str, int] | None:
    """(name, end) of the variable reference after the `$` at start-1; None for `${` unclosed."""
    if text[start:start + 1] == "{":
        close = text.find("}", start + 1)
        if close < 0:
            return None
        return text[start + 1:close], close + 1
    match = _VAR_NAME.match(text, start)
    assert match is not None
    return match.group(), match.end()


def expand(variables: Variables, text: str, keep_unbound: bool = False) -> str:
    """Substitute variables in a command (or for display, keeping unbound ones as `$`)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i == len(text) - 1:
            out.append(char)
            i += 1
            continue
        following = text[i + 1]
        if following == "$":
            out.append("$")
            i += 2
            continue
        if following == "!":  # a $! directive: dropped from commands
            end = text.find(" ", i)
            i = len(text) if end < 0 else end
            continue
        reference = _variable_at(text, i + 1)
        if reference is None:
            raise UnboundVariable("missing '}'")
        name, i = reference
        value = variables.lookup(name)
        if value is None:
            if not keep_unbound:
                raise UnboundVariable(f"variable ${name} is not bound yet")
            value = "$"
        out.append(value)
    return "".join(out)


def _stop_char(variables: Variables, template: str, t: int) -> str | None:
    """The character that ends an unbound variable's text: whatever comes next in the
    template (the first character of a following bound variable), None for 'the rest'."""
    if t >= len(template):
        return None
    if template[t] != "$":
        return template[t]
    if template[t + 1:t + 2] == "$":
        return "$"
    reference = _variable_at(template, t + 1)
    value = variables.lookup(reference[0]) if reference else None
    return value[0] if value else None


def _expand_against(variables: Variables, template: str, actual: str) -> str | None:
    """Walk template and actual text together, binding unbound variables to what they meet;
    return the template with every variable substituted, or None at a mismatch."""
    out: list[str] = []
    t = a = 0
    while t < len(template):
        char = template[t]
        if char != "$" or template[t + 1:t + 2] == "$":
            if char == "$":
                t += 1
            if a >= len(actual) or fold(template[t]) != fold(actual[a]):
                return None
            out.append(template[t])
            t += 1
            a += 1
            continue
        reference = _variable_at(template, t + 1)
        if reference is None:
            return None
        name, t = reference
        value = variables.lookup(name)
        if value is None:
            stop = _stop_char(variables, template, t)
            end = a
            if stop is None:
                end = len(actual)
            else:
                while end < len(actual) and fold(actual[end]) != fold(stop):
                    end += 1
            value = actual[a:end]
            if name:
                variables.values[name] = value
        if actual[a:a + len(value)] != value:
            return None
        out.append(value)
        a += len(value)
    return "".join(out)


@dataclass(frozen=True)
class Outcome:
    """A match result: `depth` counts the items matched before the first difference
    (to pick the closest reply when reporting a missing one), `why` describes it."""

    ok: bool
    depth: int = 0
    why: str = ""


MATCHED = Outcome(True)


def _c_string(text: str) -> str:
    """Text up to its first NUL: imaptest compares C strings, so a literal holding NUL only
    counts up to it (append-binary's expected BINARY[1] is off by one byte after its NUL and
    passes on Dovecot only because of this)."""
    return text.split("\0", 1)[0]


def _show(arg: Arg | None) -> str:
    return "end of reply" if arg is None else render_arg(arg)


def _match_seq(variables: Variables, pattern: Sequence[Arg], actual: Sequence[Arg],
               limit: int | None, prefix: bool) -> Outcome:
    count = j = 0
    for i, expected in enumerate(pattern):
        if limit is not None and count >= limit:
            break
        got = actual[j] if j < len(actual) else None
        if expected.kind is Kind.NIL:
            if got is None or got.kind is not Kind.NIL:
                return Outcome(False, count, f"expected NIL, got {_show(got)}")
        elif expected.kind is Kind.LIST:
            if got is None or got.kind is not Kind.LIST:
                return Outcome(False, count, f"expected a list {render_arg(expected)}, got "
                                             f"{_show(got)}")
            inner = _match_list(variables, expected.items, got.items)
            if not inner.ok:
                return Outcome(False, count + inner.depth, inner.why)
        elif expected.text == "$" and got is not None and got.kind is Kind.LIST:
            pass
        elif expected.text == "$]":
            while j < len(actual) and actual[j].atom() is not None and "]" not in actual[j].text:
                j += 1
        else:
            if got is None or not got.is_astring:
                return Outcome(False, count, f"expected {render_arg(expected)}, got {_show(got)}")
            wanted, text = _c_string(expected.text), _c_string(got.text)
            expanded = _expand_against(variables, wanted, text)
            last = i == len(pattern) - 1
            if expanded is None or not (fold(text).startswith(fold(expanded)) if prefix
                                        and last else fold(text) == fold(expanded)):
                shown = render_arg(expected) if expanded is None or expanded == expected.text \
                    else f"{render_arg(expected)} (= {render_arg(Arg(expected.kind, expanded))})"
                return Outcome(False, count, f"expected {shown}, got {_show(got)}")
        count += 1
        j += 1
    if prefix or j >= len(actual) or (limit is not None and count >= limit):
        return MATCHED
    return Outcome(False, count, f"unexpected {render(actual[j:])}")


def _match_list(variables: Variables, items: Sequence[Arg], actual: Sequence[Arg]) -> Outcome:
    unordered, chain, noextra = False, 1, -1
    ignores: list[str] = []
    bans: list[str] = []
    start = 0
    for arg in items:
        text = arg.atom()
        if text is None or not text.startswith("$!"):
            break
        start += 1
        name = text[2:]
        if name.startswith("unordered"):
            unordered = True
            noextra = 0 if noextra == -1 else noextra
            chain = int(name[10:]) if name[9:10] == "=" else 1
        elif name == "ordered":
            unordered = False
        elif name == "extra":
            noextra = 0
        elif name == "noextra":
            noextra = 1
        elif name.startswith("ignore="):
            ignores.append(fold(name[7:]))
        elif name.startswith("ban="):
            bans.append(fold(name[4:]))
    pattern = items[start:]
    if not unordered:
        return _match_seq(variables, pattern, actual, None, False)
    if len(actual) % chain:
        return Outcome(False, 0, f"({render(actual)}) does not split into chains of {chain}")
    matched = [False] * len(actual)
    count = 0
    for k in range(0, len(pattern), chain):
        wanted = pattern[k:k + chain]
        for i in range(0, len(actual), chain):
            if _attempt(variables, wanted, actual[i:], chain).ok:
                matched[i] = True
                break
        else:
            shown = render(wanted, directives=False)
            expanded = expand(variables, shown, keep_unbound=True)
            if expanded != shown:
                shown += f" (= {expanded})"
            return Outcome(False, count, f"no {shown} in ({render(actual)})")
        count += 1
    if noextra == 1 or bans:
        for i in range(0, len(actual), chain):
            if matched[i] or not actual[i].is_astring:
                continue
            extra = fold(actual[i].text)
            if noextra == 1 and extra not in ignores:
                return Outcome(False, count, f"unexpected {render_arg(actual[i])} in "
                                             f"({render(actual)})")
            if noextra != 1 and extra in bans:
                return Outcome(False, count, f"banned {render_arg(actual[i])} in "
                                             f"({render(actual)})")
    return MATCHED


def _attempt(variables: Variables, pattern: Sequence[Arg], actual: Sequence[Arg],
             limit: int | None, prefix: bool = False) -> Outcome:
    """One match attempt; its bindings are undone if it fails."""
    saved = dict(variables.values)
    outcome = _match_seq(variables, pattern, actual, limit, prefix)
    if not outcome.ok:
        variables.values = saved
    return outcome


def is_status(reply: Sequence[Arg]) -> bool:
    """OK/NO/BAD/BYE replies carry human-readable text: they are matched as prefixes."""
    first = reply[0].atom() if reply else None
    return first is not None and fold(first) in STATUS_REPLIES


def match(variables: Variables, pattern: Sequence[Arg], reply: Sequence[Arg],
          prefix: bool = False) -> Outcome:
    """Match a whole reply (after its tag) against an expected pattern."""
    return _attempt(variables, pattern, reply, None, prefix)
