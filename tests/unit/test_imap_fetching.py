"""FETCH rendering from stored rows: sections by offset, header fields, BINARY decoding."""

from __future__ import annotations

import json

import pytest

from mailgate import mime
from mailgate.protocols.imap.fetch import FetchAttribute, FetchBody, Section
from mailgate.protocols.imap.fetching import (
    UnknownEncoding,
    binary_part,
    decode_quoted_printable,
    header_fields,
    internal_date,
    plan,
    render,
)
from mailgate.store.selected import FetchRow

MESSAGE = (b"From: a@example.org\r\nSubject: two\r\n parts\r\nX-Tag: 1\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8Ad29ybGQ=\r\n--b\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak=3D\r\n"
           b"--b\r\nContent-Transfer-Encoding: x-unknown\r\n\r\n??\r\n--b--\r\n")


def _row(raw: bytes = MESSAGE) -> FetchRow:
    parsed = mime.parse(raw)
    return FetchRow(uid=7, flags="\\Seen", modseq=3, internal_date=0.0, size=parsed.size,
                    digest="d", envelope=parsed.envelope, bodystructure=parsed.bodystructure,
                    body=parsed.body, header_size=parsed.header_size,
                    parts=json.dumps(parsed.parts))


def _read(digest: str, start: int, end: int) -> bytes:
    return MESSAGE[start:end]


def _text(chunks: list[bytes]) -> bytes:
    return b"".join(chunks)


def test_header_fields_keep_continuations_and_end_with_a_blank_line() -> None:
    block = MESSAGE[:MESSAGE.index(b"\r\n\r\n") + 4]
    assert header_fields(block, ("SUBJECT",), keep=True) == b"Subject: two\r\n parts\r\n\r\n"
    assert header_fields(block, ("SUBJECT", "FROM", "CONTENT-TYPE"), keep=False) == \
        b"X-Tag: 1\r\n\r\n"


def test_binary_undoes_the_transfer_encoding() -> None:
    row = _row()
    assert binary_part(row, (1,), _read) == b"hello\x00world"
    assert binary_part(row, (2,), _read) == b"softbreak="
    assert binary_part(row, (9,), _read) is None
    with pytest.raises(UnknownEncoding):
        binary_part(row, (3,), _read)


def test_binary_with_nul_is_sent_as_literal8() -> None:
    fetch_plan = plan((FetchBody(Section((1,)), binary=True),), uid=False)
    out = _text(render(1, _row(), fetch_plan, _read, lambda uid, flags: flags))
    assert out == b"* 1 FETCH (BINARY[1] ~{11}\r\nhello\x00world)\r\n"


def test_uid_fetch_names_the_uid_first_and_partial_says_its_origin() -> None:
    fetch_plan = plan((FetchAttribute("FLAGS"), FetchBody(Section(), partial=(0, 4), peek=True)),
                      uid=True)
    out = _text(render(1, _row(), fetch_plan, _read, lambda uid, flags: flags))
    assert out == b"* 1 FETCH (UID 7 FLAGS (\\Seen) BODY[]<0> {4}\r\nFrom)\r\n"


def test_quoted_printable_follows_rfc_2045() -> None:
    assert decode_quoted_printable(b"a  \r\nb=\r\nc =41\r\n") == b"a\r\nbc A\r\n"


def test_internal_date_is_imap_date_time() -> None:
    assert internal_date(86400 * 365) == '"01-Jan-1971 00:00:00 +0000"'
