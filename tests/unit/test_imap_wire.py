"""IMAP values on the wire: mailbox name encodings, reply writers, sequence sets."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgate.mime.imapwire import string
from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap.framer import NEED_DATA, CommandFramer, Received
from mailgate.protocols.imap.names import (
    InvalidMailboxName,
    decode_mailbox_name,
    encode_mailbox_name,
)
from mailgate.protocols.imap.parser import parse_command
from mailgate.protocols.imap.sequences import SAVED_RESULT, SequenceSet
from mailgate.protocols.imap.wire import Atom, compact_set, mailbox, render, text_string

# RFC 3501 §5.1.3 and RFC 2152-style examples, plus the edge cases of the shift rules.
MODIFIED_UTF7 = [
    ("INBOX", "INBOX"),
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("Entwürfe", "Entw&APw-rfe"),
    ("a&b", "a&-b"),
    ("&", "&-"),
    ("Ünïcödé", "&ANw-n&AO8-c&APY-d&AOk-"),
    ("😀", "&2D3eAA-"),
    ("tab\there", "tab&AAk-here"),
    ("", ""),
]


@pytest.mark.parametrize(("name", "wire"), MODIFIED_UTF7)
def test_modified_utf7_examples(name: str, wire: str) -> None:
    assert encode_mailbox_name(name) == wire
    assert decode_mailbox_name(wire.encode()) == name


@pytest.mark.parametrize(
    "wire",
    [
        b"&AOQ",  # no terminating "-"
        b"a&b",  # "&" must be written "&-"
        b"&AGE-",  # "a" must represent itself
        b"&AOR-",  # non-zero padding bits
        b"&AOQ-&AOQ-",  # two adjacent shifts must be one
        b"&2D0-",  # a lone high surrogate
        b"&A-",  # too short for a UTF-16 unit
        b"&AOQA-",  # a trailing half unit
        b"&Jjo=-",  # base64 padding is not part of modified BASE64
        b"&Jj/-",  # "/" is written ","
        b"tab\there",  # control characters must be shifted
        "Entwürfe".encode(),  # 8-bit octets in IMAP4rev1
    ],
)
def test_anything_but_the_canonical_modified_utf7_is_refused(wire: bytes) -> None:
    with pytest.raises(InvalidMailboxName):
        decode_mailbox_name(wire)


def test_utf8_names_travel_as_they_are() -> None:
    assert encode_mailbox_name("Entwürfe & Co", utf8=True) == "Entwürfe & Co"
    assert decode_mailbox_name(b"a&b&AOQ-", utf8=True) == "a&b&AOQ-"
    with pytest.raises(InvalidMailboxName):
        decode_mailbox_name(b"\xc3", utf8=True)


_names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(_names, st.booleans())
def test_mailbox_names_round_trip(name: str, utf8: bool) -> None:
    wire = encode_mailbox_name(name, utf8=utf8)
    assert utf8 or wire.isascii()
    assert decode_mailbox_name(wire.encode(), utf8=utf8) == name


@given(st.binary(max_size=40), st.booleans())
def test_decoding_arbitrary_octets_only_ever_refuses_them(data: bytes, utf8: bool) -> None:
    try:
        name = decode_mailbox_name(data, utf8=utf8)
    except InvalidMailboxName:
        return
    assert encode_mailbox_name(name, utf8=utf8).encode() == data


def test_render_values() -> None:
    value = [Atom("\\Seen"), Atom("$Forwarded"), "a b", 'say "hi"', "é", b"\x01\x02", None, 42]
    assert (
        render(value)
        == b'(\\Seen $Forwarded "a b" "say \\"hi\\"" {2}\r\n\xc3\xa9 {2}\r\n\x01\x02 NIL 42)'
    )
    assert render([]) == b"()"
    assert render((Atom("\\*"), [1, [2]])) == b"(\\* (1 (2)))"
    assert render("line\r\nbreak") == b"{11}\r\nline\r\nbreak"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (Atom("two words"), ValueError),
        (Atom("ünï"), ValueError),
        (Atom(""), ValueError),
        (-1, ValueError),
        ("nul\x00", ValueError),
        (True, TypeError),
        (1.5, TypeError),
    ],
)
def test_render_refuses_what_has_no_wire_form(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        render(value)  # type: ignore[arg-type]


def test_text_string_is_the_envelope_writers_quoting() -> None:
    assert text_string("plain") == string("plain") == '"plain"'
    assert text_string('a\\"b') == '"a\\\\\\"b"'
    assert text_string('"""""') == '{5}\r\n"""""'  # more than four escapes: a literal


@given(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))))
def test_what_render_writes_the_parser_reads_back(text: str) -> None:
    framer = CommandFramer()
    framer.receive_data(b"a LOGIN " + render(text) + b" " + render(text) + b"\r\n")
    while (event := framer.next_event()) is not NEED_DATA:
        if isinstance(event, Received):
            assert parse_command(event.command) == c.Login("a", text, text)
            return
    raise AssertionError("no command framed")


def test_mailbox_names_in_replies() -> None:
    assert mailbox("Entwürfe") == '"Entw&APw-rfe"'
    assert mailbox("Entwürfe", utf8=True) == "{9}\r\nEntwürfe"
    assert mailbox('say "x"') == '"say \\"x\\""'


def test_compact_sets() -> None:
    assert compact_set([5, 1, 2, 3, 9, 10, 3]) == "1:3,5,9:10"
    assert compact_set([7]) == "7"
    assert compact_set([]) == ""


@given(st.sets(st.integers(min_value=1, max_value=10_000), max_size=200))
def test_compact_sets_name_exactly_their_numbers(numbers: set[int]) -> None:
    text = compact_set(numbers)
    named: set[int] = set()
    for item in filter(None, text.split(",")):
        low, _, high = item.partition(":")
        named.update(range(int(low), int(high or low) + 1))
    assert named == numbers


def test_sequence_sets_resolve_star_and_merge() -> None:
    written = SequenceSet(((5, 1), (None, None), (3, 4), (9, None), (20, 20)))
    assert written.resolve(12) == ((1, 5), (9, 12), (20, 20))
    assert SequenceSet(((None, 5),)).resolve(3) == ((3, 5),)
    assert SequenceSet(((None, None),)).resolve(0) == ()
    assert SequenceSet(((1, None),)).resolve(0) == ((1, 1),)
    assert str(written) == "5:1,*,3:4,9:*,20"
    assert str(SAVED_RESULT) == "$"
    with pytest.raises(ValueError):
        SAVED_RESULT.resolve(5)


@given(
    st.lists(
        st.tuples(st.integers(1, 60) | st.none(), st.integers(1, 60) | st.none()),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 50),
)
def test_resolved_ranges_hold_the_same_numbers(
    ranges: list[tuple[int | None, int | None]], largest: int
) -> None:
    expected: set[int] = set()
    for first, last in ranges:
        low, high = (largest if first is None else first), (largest if last is None else last)
        expected.update(range(max(1, min(low, high)), max(low, high) + 1))
    resolved = SequenceSet(tuple(ranges)).resolve(largest)
    assert {n for low, high in resolved for n in range(low, high + 1)} == expected
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(resolved))
