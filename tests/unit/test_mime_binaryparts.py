"""Binary parts of a literal8 APPEND re-encoded in base64 (outputs checked against Dovecot
2.3.19 on the same input), and BINARY[part] giving back the octets that were sent."""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate import mime
from mailgate.mime.binaryparts import encode_binary_parts
from mailgate.protocols.imap.fetching import binary_part
from mailgate.store.selected import FetchRow

SINGLE = (b"From: a@b\r\nContent-Transfer-Encoding: binary\r\nContent-Type: application/x-foo"
          b"\r\nMime-Version: 1.0\r\n\r\n")
MULTIPART = (b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n"
             b"\r\npre\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX\r\n"
             b"Content-Type: image/png\r\nContent-Transfer-Encoding: Binary\r\n\r\n"
             b"\x00\x01\x02\n\rabc\r\n--XX\r\nContent-Type: text/plain\r\n"
             b"Content-Transfer-Encoding: 8bit\r\n\r\nh\x00\xe4llo\r\n--XX--\r\nepi\r\n")


def _stored(raw: bytes) -> tuple[bytes, FetchRow]:
    """What APPEND of a literal8 stores, and its FETCH row."""
    data = mime.to_crlf(encode_binary_parts(raw))
    parsed = mime.parse(data)
    return data, FetchRow(uid=1, flags="", modseq=1, internal_date=0.0, size=parsed.size,
                          digest="d", envelope=parsed.envelope,
                          bodystructure=parsed.bodystructure, body=parsed.body,
                          header_size=parsed.header_size, parts=json.dumps(parsed.parts))


def _binary(raw: bytes, part: tuple[int, ...]) -> bytes | None:
    data, row = _stored(raw)
    return binary_part(row, part, lambda _digest, start, end: data[start:end])


def test_a_binary_body_becomes_base64_in_lines_of_76_without_a_final_line_break() -> None:
    payload = bytes(range(256))
    encoded = base64.b64encode(payload)
    lines = b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
    assert encode_binary_parts(SINGLE + payload) == SINGLE.replace(b": binary", b": base64") \
        + lines
    assert _binary(SINGLE + payload, (1,)) == payload


def test_in_a_multipart_only_the_binary_part_changes_and_its_boundary_keeps_its_line_break(
        ) -> None:
    assert encode_binary_parts(MULTIPART) == MULTIPART.replace(
        b"Content-Transfer-Encoding: Binary\r\n\r\n\x00\x01\x02\n\rabc\r\n",
        b"Content-Transfer-Encoding: base64\r\n\r\nAAECCg1hYmM=\r\n")
    assert _binary(MULTIPART, (2,)) == b"\x00\x01\x02\n\rabc"
    assert _binary(MULTIPART, (3,)) == b"h\x00\xe4llo"


def test_a_binary_part_of_an_attached_message_is_converted_too() -> None:
    raw = (b"From: a@b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d\r\nMime-Version: 1.0"
           b"\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\r\n")
    assert encode_binary_parts(raw).endswith(b"Content-Transfer-Encoding: base64\r\n\r\nAAENCg==")


def test_a_folded_field_is_replaced_whole_and_the_other_fields_stay() -> None:
    raw = (b"Mime-Version: 1.0\r\nContent-Transfer-Encoding:\r\n  binary\r\nX-After: 1\r\n\r\n"
           b"\x00")
    assert encode_binary_parts(raw) == (b"Mime-Version: 1.0\r\nContent-Transfer-Encoding: "
                                        b"base64\r\nX-After: 1\r\n\r\nAA==")


def test_bare_lf_line_ends_are_read_and_the_octets_kept() -> None:
    raw = b"Mime-Version: 1.0\nContent-Transfer-Encoding: binary\n\n\x00-\xe4\n\r\n\n"
    assert _binary(raw, (1,)) == b"\x00-\xe4\n\r\n\n"


def test_what_is_not_a_binary_mime_part_is_kept_byte_for_byte() -> None:
    not_mime = b"From: a@b\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\r\n"
    eight_bit = b"Mime-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\nbinary\x00\r\n"
    multipart = (b"Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: "
                 b"binary\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n")
    for raw in (not_mime, eight_bit, multipart, b"", b"binary"):
        assert encode_binary_parts(raw) == raw


def test_an_empty_binary_body_stays_empty() -> None:
    assert encode_binary_parts(SINGLE) == SINGLE.replace(b": binary", b": base64")


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=600))
def test_binary_fetch_gives_back_any_octets_appended_as_a_binary_part(payload: bytes) -> None:
    assert _binary(SINGLE + payload, (1,)) == payload
    inner = b"x" + payload.replace(b"\n--", b"\n-+")  # no boundary line inside
    wrapped = MULTIPART.replace(b"\x00\x01\x02\n\rabc", inner)
    assert _binary(wrapped, (2,)) == inner
    data, _ = _stored(wrapped)
    assert b"\x00" not in data.split(b"\r\n--XX\r\nContent-Type: text/plain\r\nContent-"
                                     b"Transfer-Encoding: 8bit")[0]
