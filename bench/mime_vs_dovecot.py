"""FETCH ENVELOPE, BODYSTRUCTURE, BODY and section boundaries: mailgate against Debian's Dovecot.

Starts dovecot-reference (PLAIN passwords, one user) and a real `mailgate serve` (imap and
http listeners, one account made with the CLI), APPENDs every message of
../shared/testdata/mime to a fresh mailbox on both (.eml files as they are, .mbox files split
with `mailgate.mime.split_mbox`), then FETCHes from both with the same raw-socket client
(tests/imaptest/client.py: values are never re-formatted):

* `(ENVELOPE BODYSTRUCTURE BODY)`,
* `BODY.PEEK[]`, `[HEADER]`, `[TEXT]` and, for every part `P` either side's BODYSTRUCTURE
  names, `[P]` and `[P.MIME]`, plus `[P.HEADER]` and `[P.TEXT]` when `P` is message/rfc822,

and compares the replies token by token: atoms (NIL, numbers) case-insensitively, a literal
equal to a quoted string with the same text, everything else exactly. One line per message:
`same`, or `differs` with the first difference (`--all` lists every one). The figures go
to bench/results/mime_vs_dovecot.json.

    .venv/bin/python bench/mime_vs_dovecot.py [--only SUBSTRING ...] [--all] [--keep]

Exit status 0 when every message is the same on both, 1 otherwise. Not part of `make test`:
it needs root (dovecot-reference installs Debian's Dovecot if missing). The differences and
who is right about each are in docs/mime-vs-dovecot.md.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

import benchlib as bl
from live_server import start_server

from imaptest.client import Connection, Response, quote
from imaptest.tokens import Arg, Kind, Literal, render_arg, show_text
from mailgate.mime import split_mbox

CORPUS = bl.REPO.parent / "shared" / "testdata" / "mime"
MAILBOX = "parity"
TIMEOUT = 120.0
SECTIONS_PER_FETCH = 40  # keeps every command line short on both servers
SHOWN = 100  # characters of a differing value shown


@dataclass(frozen=True)
class Message:
    label: str  # file name, and "#N" (from 1) for a message of an mbox
    data: bytes


@dataclass
class Side:
    """One server as the client sees it: a signed-in connection and our sequence numbers."""

    name: str
    conn: Connection
    numbers: dict[str, int]  # label -> sequence number, for the messages it took
    refused: dict[str, str]  # label -> why APPEND failed


def corpus(folder: Path, only: list[str]) -> list[Message]:
    messages = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".eml", ".mbox") or (only and not any(o in path.name
                                                                         for o in only)):
            continue
        data = path.read_bytes()
        if path.suffix == ".mbox":
            messages += [Message(f"{path.name}#{i}", m)
                         for i, m in enumerate(split_mbox(data), 1)]
        else:
            messages.append(Message(path.name, data))
    return messages


# ---------------------------------------------------------------------------- IMAP

def status(tagged: Response) -> str:
    return tagged.args[0].text.upper() if tagged.args else ""


def checked(conn: Connection, line: tuple[str | Literal, ...]) -> list[Response]:
    tagged, untagged = conn.call(line, TIMEOUT)
    if status(tagged) != "OK":
        raise RuntimeError(f"{show_text(str(line[0])[:60])} -> {show_text(tagged.text[:200])}")
    return untagged


def open_side(name: str, port: int, user: str, password: str,
              messages: list[Message]) -> Side:
    """Sign in, make an empty MAILBOX, APPEND every message, SELECT it."""
    conn = Connection("127.0.0.1", port, 0, TIMEOUT)
    checked(conn, (f"LOGIN {quote(user)} {quote(password)}",))
    checked(conn, ("CAPABILITY",))
    conn.call((f"DELETE {quote(MAILBOX)}",), TIMEOUT)
    checked(conn, (f"CREATE {quote(MAILBOX)}",))
    side = Side(name, conn, {}, {})
    for message in messages:
        tagged = append(conn, message.data, binary=False)
        if status(tagged) != "OK" and b"\0" in message.data:
            # A plain literal may not carry NUL (RFC 3501 §9, CHAR8); literal8 (RFC 3516)
            # may. Dovecot takes NUL in a plain literal, and a literal8 would make it
            # re-encode binary parts as base64: both then store the same bytes.
            tagged = append(conn, message.data, binary=True)
        if status(tagged) == "OK":
            side.numbers[message.label] = len(side.numbers) + 1
        else:
            side.refused[message.label] = tagged.text
    checked(conn, (f"SELECT {quote(MAILBOX)}",))
    return side


def append(conn: Connection, data: bytes, binary: bool) -> Response:
    literal = Literal(data.decode("latin-1"), binary=binary)
    return conn.call((f"APPEND {quote(MAILBOX)} ", literal), TIMEOUT)[0]


def fetch(side: Side, number: int, items: list[str]) -> dict[str, Arg]:
    """FETCH `items` of one message: reply item name (upper case) -> value."""
    found: dict[str, Arg] = {}
    for start in range(0, len(items), SECTIONS_PER_FETCH):
        wanted = " ".join(items[start:start + SECTIONS_PER_FETCH])
        for reply in checked(side.conn, (f"FETCH {number} ({wanted})",)):
            args = reply.args
            if (len(args) == 3 and reply.name == "FETCH" and reply.number == number
                    and args[2].kind is Kind.LIST):
                pairs = args[2].items
                for key, value in zip(pairs[::2], pairs[1::2], strict=False):
                    found[key.text.upper()] = value
    return found


# ---------------------------------------------------------------------------- sections

def _is_multipart(body: Arg) -> bool:
    return bool(body.items) and body.items[0].kind is Kind.LIST


def _is_message(body: Arg) -> bool:
    items = body.items
    return (len(items) > 8 and all(i.kind in (Kind.STRING, Kind.LITERAL) for i in items[:2])
            and items[0].text.lower() == "message" and items[1].text.lower() in ("rfc822",
                                                                              "global")
            and items[8].kind is Kind.LIST)


def part_paths(body: Arg, path: str = "") -> Iterator[tuple[str, bool]]:
    """(section path, is message/rfc822) of every part of a BODYSTRUCTURE, in order."""
    if body.kind is not Kind.LIST:
        return
    if _is_multipart(body):
        children = itertools.takewhile(lambda item: item.kind is Kind.LIST, body.items)
        for index, child in enumerate(children, 1):
            child_path = f"{path}.{index}" if path else str(index)
            yield child_path, _is_message(child)
            yield from _inside(child, child_path)
        return
    own = path or "1"
    if not path:
        yield own, _is_message(body)
    yield from _inside(body, own)


def _inside(part: Arg, path: str) -> Iterator[tuple[str, bool]]:
    if _is_multipart(part):
        yield from part_paths(part, path)
    elif _is_message(part):
        inner = part.items[8]
        if _is_multipart(inner):
            yield from part_paths(inner, path)
        else:
            yield f"{path}.1", _is_message(inner)
            yield from _inside(inner, f"{path}.1")


def section_items(*bodies: Arg | None) -> list[str]:
    """The BODY.PEEK[...] items for the parts any of the BODYSTRUCTUREs names."""
    items = ["BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]"]
    for body in bodies:
        if body is None:
            continue
        for path, message in part_paths(body):
            specs = [path, f"{path}.MIME"] + ([f"{path}.HEADER", f"{path}.TEXT"]
                                              if message else [])
            items += [f"BODY.PEEK[{spec}]" for spec in specs if f"BODY.PEEK[{spec}]" not in items]
    return items


# ---------------------------------------------------------------------------- comparison

def first_difference(a: Arg | None, b: Arg | None, where: str) -> str | None:
    """Where and how two values differ, or None when they are equivalent."""
    if a is None or b is None:
        return f"{where}: {_show(a)} | {_show(b)}"
    if a.kind is Kind.LIST or b.kind is Kind.LIST:
        if a.kind is not b.kind:
            return f"{where}: {_show(a)} | {_show(b)}"
        for index, (x, y) in enumerate(zip(a.items, b.items, strict=False)):
            found = first_difference(x, y, f"{where}[{index}]")
            if found:
                return found
        if len(a.items) != len(b.items):
            shorter = min(len(a.items), len(b.items))
            extra = a.items[shorter:] or b.items[shorter:]
            side = "Dovecot" if len(a.items) > shorter else "mailgate"
            return f"{where}[{shorter}]: only {side} has {_show(extra[0])}"
        return None
    strings = (Kind.STRING, Kind.LITERAL)
    if a.kind in strings and b.kind in strings:
        return None if a.text == b.text else _string_difference(a.text, b.text, where)
    if a.kind in strings or b.kind in strings or a.text.upper() != b.text.upper():
        return f"{where}: {_show(a)} | {_show(b)}"
    return None


def _string_difference(a: str, b: str, where: str) -> str:
    if a.lower() == b.lower():
        return f"{where}: case only: {_show_text(a)} | {_show_text(b)}"
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
              min(len(a), len(b)))
    start = max(0, at - 20)
    return (f"{where}: {len(a)} | {len(b)} bytes, first difference at {at}: "
            f"...{_show_text(a[start:at + 40])} | ...{_show_text(b[start:at + 40])}")


def _show(arg: Arg | None, limit: int | None = SHOWN) -> str:
    if arg is None:
        return "(missing)"
    shown = render_arg(arg)
    return shown if limit is None or len(shown) <= limit else shown[:limit] + "..."


def _show_text(text: str) -> str:
    return '"' + show_text(text[:SHOWN]) + '"'


def compare(dovecot: Side, mailgate: Side, message: Message, show: bool) -> list[str]:
    """Every difference between the two servers' answers for one message (empty: same)."""
    numbers = (dovecot.numbers.get(message.label), mailgate.numbers.get(message.label))
    if None in numbers:
        return [f"APPEND: {side.name} said {show_text(side.refused.get(message.label, ''))}"
                for side in (dovecot, mailgate) if message.label in side.refused]
    basic = ["ENVELOPE", "BODYSTRUCTURE", "BODY"]
    first = [fetch(side, number, basic) for side, number in zip((dovecot, mailgate), numbers,
                                                                strict=True)]
    items = section_items(first[0].get("BODYSTRUCTURE"), first[1].get("BODYSTRUCTURE"))
    sections = [fetch(side, number, items) for side, number in zip((dovecot, mailgate), numbers,
                                                                   strict=True)]
    found = []
    for answers, names in ((first, basic), (sections, [i.replace(".PEEK", "") for i in items])):
        for name in names:
            difference = first_difference(answers[0].get(name), answers[1].get(name), name)
            if difference:
                found.append(difference)
                if show:
                    found += [f"  {side.name}: {_show(answer.get(name), None)}"
                              for side, answer in zip((dovecot, mailgate), answers, strict=True)]
    return found


# ---------------------------------------------------------------------------- run

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, metavar="DIR",
                        help=f"the .eml and .mbox files to compare (default {CORPUS})")
    parser.add_argument("--only", action="append", default=[], metavar="SUBSTRING",
                        help="only the corpus files whose name contains this (repeatable)")
    parser.add_argument("--all", action="store_true", help="list every difference, not the first")
    parser.add_argument("--show", action="store_true",
                        help="with each difference, both whole values (implies --all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"no corpus at {args.corpus}")
    messages = corpus(args.corpus, args.only)
    results: dict[str, list[str]] = {}
    with bl.workspace("mime", keep=args.keep) as work:
        dovecot = bl.DovecotReference(work / "dovecot", users=1, scheme="PLAIN").start()
        mailgate = None
        try:
            mailgate = start_server(work / "mailgate", ("imap", "http"))
            mailgate.account(dovecot.user(1), bl.PASSWORD)
            started = time.monotonic()
            sides = [open_side("Dovecot", dovecot.imap, dovecot.user(1), bl.PASSWORD, messages),
                     open_side("mailgate", mailgate.ports["imap"], dovecot.user(1), bl.PASSWORD,
                               messages)]
            for message in messages:
                found = compare(*sides, message, args.show)
                results[message.label] = found
                verdict = "same" if not found else "differs  " + (
                    "\n    ".join(found) if args.all or args.show else found[0])
                print(f"{message.label:56} {verdict}", flush=True)
            seconds = time.monotonic() - started
        finally:
            if mailgate is not None:
                mailgate.stop()
            dovecot.stop()
    same = sum(1 for found in results.values() if not found)
    print(f"\n{len(results)} messages from {args.corpus}: {same} same, "
          f"{len(results) - same} differ ({seconds:.1f} s)")
    bl.write_results("mime_vs_dovecot", {
        "messages": len(results), "same": same, "seconds": seconds,
        "differences": {label: found for label, found in results.items() if found}})
    return 0 if same == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
