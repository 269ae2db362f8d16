"""Tests for mailgate.mime: the corpus in ../shared/testdata/mime (skipped without it), the
repository's own fixtures in tests/fixtures/mime, RFC-shaped cases and properties."""

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate import mime
from mailgate.mime import (
    ParsedMessage,
    parse,
    section_range,
    split_mbox,
    strip_from_line,
    to_crlf,
)
from support import FIXTURES, shared_files, shared_path

MIME = "testdata/mime"  # in ../shared: real-world messages
OWN = FIXTURES / "mime"  # hand-written: the same risks, in every clone
OWN_FILES = sorted(p for p in OWN.iterdir() if p.suffix in (".eml", ".mbox"))


def corpus_messages(path: Path) -> list[bytes]:
    data = path.read_bytes()
    messages = split_mbox(data) if path.suffix == ".mbox" else [strip_from_line(data)]
    return [to_crlf(message) for message in messages]


def load(name: str, index: int = 0) -> tuple[bytes, ParsedMessage]:
    """A message of the shared corpus, parsed."""
    return load_file(shared_path(MIME) / name, index)


def load_file(path: Path, index: int = 0) -> tuple[bytes, ParsedMessage]:
    raw = corpus_messages(path)[index]
    return raw, parse(raw)


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def section(raw: bytes, parsed: ParsedMessage, spec: str) -> bytes:
    found = section_range(parsed, spec)
    assert found is not None, spec
    return raw[found[0] : found[1]]


# --------------------------------------------------------------------------------------
# A small reader for IMAP values (RFC 3501 §9): lists, NIL, numbers, quoted strings and
# literals.  Lists are Python lists, NIL is None, strings are str, numbers are int.

Sexp = list["Sexp"] | str | int | None


class SexpError(AssertionError):
    pass


def read_sexp(text: str) -> Sexp:
    data = text.encode("utf-8")
    value, end = _read_value(data, 0)
    if end != len(data):
        raise SexpError(f"trailing data at {end}: {data[end : end + 20]!r}")
    return value


def _read_value(data: bytes, pos: int) -> tuple[Sexp, int]:
    if data.startswith(b"(", pos):
        return _read_list(data, pos + 1)
    if data.startswith(b'"', pos):
        return _read_quoted(data, pos + 1)
    if data.startswith(b"{", pos):
        match = re.compile(rb"\{(\d+)\}\r\n").match(data, pos)
        if match is None:
            raise SexpError(f"bad literal at {pos}")
        end = match.end() + int(match.group(1))
        if end > len(data) or b"\x00" in data[match.end() : end]:
            raise SexpError(f"bad literal content at {pos}")
        return data[match.end() : end].decode("utf-8"), end
    if data.startswith(b"NIL", pos):
        return None, pos + 3
    match = re.compile(rb"\d+").match(data, pos)
    if match is None:
        raise SexpError(f"unexpected {data[pos : pos + 20]!r} at {pos}")
    return int(match.group()), match.end()


def _read_list(data: bytes, pos: int) -> tuple[Sexp, int]:
    items: list[Sexp] = []
    while True:
        if data.startswith(b")", pos):
            return items, pos + 1
        if items:  # items are separated by one space, except "1*body" and "1*address"
            if data.startswith(b" ", pos):
                pos += 1
            elif not (data.startswith(b"(", pos) and isinstance(items[-1], list)):
                raise SexpError(f"missing separator at {pos}")
        value, pos = _read_value(data, pos)
        items.append(value)


def _read_quoted(data: bytes, pos: int) -> tuple[Sexp, int]:
    out = bytearray()
    while pos < len(data):
        byte = data[pos]
        if byte == 0x22:
            return out.decode("ascii"), pos + 1
        if byte == 0x5C:
            if pos + 1 >= len(data) or data[pos + 1] not in b'"\\':
                raise SexpError(f"bad escape at {pos}")
            out.append(data[pos + 1])
            pos += 2
            continue
        if byte in (0, 0x0A, 0x0D) or byte >= 0x80:
            raise SexpError(f"byte {byte:#x} in quoted string at {pos}")
        out.append(byte)
        pos += 1
    raise SexpError("unterminated quoted string")


def test_sexp_reader() -> None:
    assert read_sexp('(("a\\"b" NIL 12)(NIL) {3}\r\nxyz)') == [['a"b', None, 12], [None], "xyz"]
    for bad in ['("a" "b"', '("a""b")', '"\xe9"', "{5}\r\nab", "(NIL)x"]:
        with pytest.raises(SexpError):
            read_sexp(bad)


# --------------------------------------------------------------------------------------
# Structural checks on ENVELOPE and BODY/BODYSTRUCTURE.


def check_nstring(value: Sexp) -> None:
    assert value is None or isinstance(value, str), value


def check_envelope(envelope: Sexp) -> None:
    assert isinstance(envelope, list) and len(envelope) == 10, envelope
    for index in (0, 1, 8, 9):
        check_nstring(envelope[index])
    for addresses in envelope[2:8]:
        if addresses is None:
            continue
        assert isinstance(addresses, list) and addresses
        open_groups = 0
        for address in addresses:
            assert isinstance(address, list) and len(address) == 4, address
            for item in address:
                check_nstring(item)
            if address[3] is None:  # group syntax
                open_groups += 1 if address[2] is not None else -1
                assert 0 <= open_groups <= 1
        assert open_groups == 0


def check_params(value: Sexp) -> None:
    if value is not None:
        assert isinstance(value, list) and value and len(value) % 2 == 0
        for item in value:
            assert isinstance(item, str)


def check_extension(items: list[Sexp]) -> None:
    disposition, language, location = items
    if disposition is not None:
        assert isinstance(disposition, list) and len(disposition) == 2
        assert isinstance(disposition[0], str)
        check_params(disposition[1])
    if language is not None:
        assert isinstance(language, list) and all(isinstance(tag, str) for tag in language)
    check_nstring(location)


def is_multipart(body: Sexp) -> bool:
    return isinstance(body, list) and isinstance(body[0], list)


def children_of(multipart: list[Sexp]) -> list[list[Sexp]]:
    """The leading body lists of a multipart (the extension data may hold lists too)."""
    children: list[list[Sexp]] = []
    for item in multipart:
        if not isinstance(item, list):
            break
        children.append(item)
    return children


def media_type(body: list[Sexp]) -> tuple[str, str]:
    assert isinstance(body[0], str) and isinstance(body[1], str)
    return body[0].lower(), body[1].lower()


def check_body(body: Sexp, extended: bool) -> None:
    assert isinstance(body, list) and body
    if is_multipart(body):
        children = children_of(body)
        for child in children:
            check_body(child, extended)
        rest = body[len(children) :]
        assert isinstance(rest[0], str)
        assert len(rest) == (5 if extended else 1), rest
        if extended:
            check_params(rest[1])
            check_extension(rest[2:])
        return
    kind = media_type(body)
    check_params(body[2])
    for item in body[3:6]:
        check_nstring(item)
    assert isinstance(body[5], str)
    assert isinstance(body[6], int)
    rest = body[7:]
    if kind == ("message", "rfc822"):
        check_envelope(rest[0])
        check_body(rest[1], extended)
        assert isinstance(rest[2], int)
        rest = rest[3:]
    elif kind[0] == "text":
        assert isinstance(rest[0], int)
        rest = rest[1:]
    if extended:
        assert len(rest) == 4, rest
        check_nstring(rest[0])
        check_extension(rest[1:])
    else:
        assert rest == []


def check_numbering(body: Sexp, parts: dict[str, tuple[int, int, int]], raw: bytes) -> None:
    """Walk BODYSTRUCTURE with RFC 3501 part numbering; sizes and lines must match parts."""
    seen = {""}

    def walk_message(body: Sexp, prefix: str) -> None:
        assert isinstance(body, list)
        if is_multipart(body):
            children = children_of(body)
            for index, child in enumerate(children, 1):
                walk_part(child, f"{prefix}.{index}" if prefix else str(index))
        else:
            walk_part(body, f"{prefix}.1" if prefix else "1")

    def walk_part(body: Sexp, path: str) -> None:
        assert isinstance(body, list)
        assert path in parts, path
        seen.add(path)
        _, start, end = parts[path]
        if is_multipart(body):
            children = children_of(body)
            for index, child in enumerate(children, 1):
                walk_part(child, f"{path}.{index}")
            return
        assert body[6] == end - start, path
        if media_type(body)[0] == "text":
            assert body[7] == raw.count(b"\n", start, end), path
        if media_type(body) == ("message", "rfc822"):
            assert body[9] == raw.count(b"\n", start, end), path
            inner = parts[path + ".0"]
            seen.add(path + ".0")
            assert (inner[0], inner[2]) == (start, end)
            walk_message(body[8], path)

    walk_message(body, "")
    assert seen == set(parts)


def check_boundaries(body: Sexp, parts: dict[str, tuple[int, int, int]], raw: bytes) -> None:
    """No line of a leaf part may start with the boundary of an enclosing multipart."""

    def boundary(multipart: list[Sexp]) -> bytes | None:
        params = multipart[len(children_of(multipart)) + 1]
        if not isinstance(params, list):
            return None
        for name, value in zip(params[::2], params[1::2], strict=True):
            if isinstance(name, str) and isinstance(value, str) and name.lower() == "boundary":
                return value.encode()[:80] if value.isascii() and value else None
        return None

    def walk(body: Sexp, path: str, enclosing: list[bytes], message_prefix: bool) -> None:
        assert isinstance(body, list)
        if is_multipart(body):
            inner = enclosing + [b for b in [boundary(body)] if b is not None]
            children = children_of(body)
            for index, child in enumerate(children, 1):
                child_path = f"{path}.{index}" if path else str(index)
                walk(child, child_path, inner, False)
            return
        if message_prefix:
            path = f"{path}.1" if path else "1"
        start, _, end = parts[path]
        text = raw[start:end]
        for line in enclosing:
            assert not text.startswith(b"--" + line) and b"\n--" + line not in text, path
        if media_type(body) == ("message", "rfc822"):
            walk(body[8], path, enclosing, True)

    walk(body, "", [], True)


def check_parsed(raw: bytes, parsed: ParsedMessage) -> None:
    assert parsed.size == len(raw)
    assert parsed.parts[""] == (0, parsed.header_size, parsed.size)
    for key, (header_start, body_start, end) in parsed.parts.items():
        assert 0 <= header_start <= body_start <= end <= parsed.size, key
    check_envelope(read_sexp(parsed.envelope))
    bodystructure = read_sexp(parsed.bodystructure)
    check_body(bodystructure, extended=True)
    check_body(read_sexp(parsed.body), extended=False)
    check_numbering(bodystructure, parsed.parts, raw)
    check_boundaries(bodystructure, parsed.parts, raw)
    header = raw[: parsed.header_size]
    assert header == raw or header.endswith(b"\n") or header == b""
    assert section_range(parsed, "HEADER") == (0, parsed.header_size)
    assert section_range(parsed, "TEXT") == (parsed.header_size, parsed.size)
    assert section_range(parsed, "") == (0, parsed.size)


# --------------------------------------------------------------------------------------
# The corpora: every message of the shared corpus and of the repository's own fixtures.


def check_file(path: Path) -> None:
    """Every message parses consistently; a single part is the whole body as section 1."""
    for raw in corpus_messages(path):
        parsed = parse(raw)
        check_parsed(raw, parsed)
        if not is_multipart(read_sexp(parsed.body)):
            assert section(raw, parsed, "1") == raw[parsed.header_size :]
            assert section(raw, parsed, "TEXT") == raw[parsed.header_size :]


@pytest.mark.parametrize("name", shared_files(MIME, ".eml", ".mbox"), ids=lambda n: Path(n).name)
def test_corpus_parses_consistently(name: str) -> None:
    check_file(shared_path(name))


@pytest.mark.parametrize("path", OWN_FILES, ids=lambda p: p.name)
def test_own_fixture_parses_consistently(path: Path) -> None:
    check_file(path)


# --------------------------------------------------------------------------------------
# Dovecot imaptest mailboxes: expected values from imaptest's scripts and lib-imap tests.


def test_imaptest_bodystructure_folded_boundary() -> None:
    _, parsed = load("imaptest-fetch-bodystructure.mbox")
    assert parsed.bodystructure == (
        '(("text" "x-myown" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL)'
        ' "mixed" ("boundary" "foo bar") NIL NIL NIL)'
    )
    assert parsed.body == '(("text" "x-myown" ("charset" "us-ascii") NIL NIL "7bit" 7 1) "mixed")'


def test_imaptest_envelopes() -> None:
    date = '"Thu, 15 Feb 2007 01:02:03 +0200"'
    user = '((NIL NIL "user" "domain"))'
    real = '(("Real Name" NIL "user" "domain"))'
    route = '((NIL "@route" "user" "domain"))'
    expected = [
        f'({date} "subject header" (("From Real" NIL "fromuser" "fromdomain.org"))'
        ' (("Sender Real" NIL "senderuser" "senderdomain.org"))'
        ' (("ReplyTo Real" NIL "replytouser" "replytodomain.org"))'
        ' (("To Real" NIL "touser" "todomain.org")) (("Cc Real" NIL "ccuser" "ccdomain.org"))'
        ' (("Bcc Real" NIL "bccuser" "bccdomain.org")) "<reply@to.id>" "<msg@id>")',
        f"({date} NIL {user} {user} {user} NIL NIL NIL NIL NIL)",
        f"({date} NIL {user} {user} {user} NIL NIL NIL NIL NIL)",
        f"({date} NIL {real} {real} {real}"
        ' ((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)'
        '(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL))'
        ' ((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL))'
        " NIL NIL NIL)",
        f"({date} NIL {real} {real} {real} NIL NIL NIL NIL NIL)",
        f"({date} NIL {route} {route} {route} NIL NIL NIL NIL NIL)",
    ]
    messages = corpus_messages(shared_path(MIME) / "imaptest-fetch-envelope.mbox")
    assert [parse(raw).envelope for raw in messages] == expected


def test_imaptest_search_addresses() -> None:
    envelopes = [
        read_sexp(parse(raw).envelope)
        for raw in corpus_messages(shared_path(MIME) / "imaptest-search-addresses.mbox")
    ]
    assert envelopes[2][2] == [[None, None, "user-from", "domain.org"]]  # comments in addr-spec
    assert envelopes[3][5] == [["RealTo", None, "user-to", "domain.org"]]  # (comment) name
    assert envelopes[4][2] == [
        [None, None, "user-from1", "domain.org"],
        [None, None, "user-from2", "domain.org"],
    ]
    assert envelopes[5][5] == [
        [None, None, "groupname", None],
        [None, None, "groupuser1", "domain.org"],
        [None, None, "groupuser2", "domain.org"],
        [None, None, None, None],
        [None, None, "groupname2", None],
        [None, None, "groupuser3", "domain.org"],
        [None, None, None, None],
    ]


def test_imaptest_nil_subject_is_a_string() -> None:
    _, parsed = load("imaptest-nil.mbox")
    assert parsed.envelope.startswith('("Sat, 24 Mar 2007 23:00:00 +0200" "NiL" NIL')
    assert parsed.subject == "NiL"


def test_imaptest_binary_mime_section_sizes() -> None:
    raw, parsed = load("imaptest-fetch-binary-mime.mbox")
    sizes = {
        "": 602, "TEXT": 466, "1": 7, "1.MIME": 48, "2": 298, "2.MIME": 32, "2.HEADER": 134,
        "2.TEXT": 164, "2.1.MIME": 27, "2.1": 20, "2.2.MIME": 28, "2.2": 21,
    }  # fmt: skip
    assert {spec: len(section(raw, parsed, spec)) for spec in sizes} == sizes
    assert section(raw, parsed, "1") == b"hello\r\n"
    assert section(raw, parsed, "2.1") == b"<p>Hello world</p>\r\n"
    assert section(raw, parsed, "2.MIME") == b"Content-Type: message/rfc822\r\n\r\n"


def test_imaptest_message_rfc822_digest_sections() -> None:
    raw, parsed = load("imaptest-fetch-body-message-rfc822-mime.mbox")
    submessage = crlf(
        "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n"
        'Content-Type: multipart/digest; boundary="foo"\n\n'
    )
    m1 = crlf("From: m1@example.com\nSubject: m1\n\nm1 body\n")
    assert section(raw, parsed, "1").startswith(submessage)
    assert section(raw, parsed, "1.HEADER") == submessage
    assert section(raw, parsed, "1.TEXT").startswith(b"prologue\r\n")
    assert section(raw, parsed, "1.1") == m1
    assert section(raw, parsed, "1.1.MIME") == b"\r\n"
    assert section(raw, parsed, "1.1.HEADER") == crlf("From: m1@example.com\nSubject: m1\n\n")
    assert section(raw, parsed, "1.1.TEXT") == b"m1 body\r\n"
    assert section(raw, parsed, "1.2.MIME") == b"X-Mime: m2 header\r\n\r\n"
    assert section(raw, parsed, "1.2.TEXT") == b"m2 body\r\n"
    digest = read_sexp(parsed.bodystructure)[8]  # parts without Content-Type: message/rfc822
    assert [child[:2] for child in digest[:2]] == [["message", "rfc822"]] * 2
    assert digest[2] == "digest"


def test_imaptest_nested_message_rfc822_sections() -> None:
    raw, parsed = load("imaptest-fetch-body-message-rfc822-x2.mbox")
    inner = crlf("From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\n")
    middle_header = crlf(
        "From: user2@domain.org\nDate: Fri, 23 Mar 2007 11:22:33 +0200\nMime-Version: 1.0\n"
        "Content-Type: message/rfc822\n\n"
    )
    assert section(raw, parsed, "1") == middle_header + inner + b"Hello world\r\n"
    assert section(raw, parsed, "1.HEADER") == middle_header
    assert section(raw, parsed, "1.TEXT") == inner + b"Hello world\r\n"
    assert section(raw, parsed, "1.1") == inner + b"Hello world\r\n"
    assert section(raw, parsed, "1.1.HEADER") == inner
    assert section(raw, parsed, "1.1.TEXT") == b"Hello world\r\n"
    assert section(raw, parsed, "1.1.1") == b"Hello world\r\n"
    outer = read_sexp(parsed.bodystructure)
    assert outer[:2] == ["message", "rfc822"]
    assert outer[8][:2] == ["message", "rfc822"]
    assert outer[8][7][1] == "submsg"
    assert outer[8][8][:2] == ["text", "plain"]


def test_rfc2047_subjects_are_decoded_but_envelope_keeps_them() -> None:
    messages = corpus_messages(shared_path(MIME) / "imaptest-sort-subject.mbox")
    subjects = [parse(raw).subject for raw in messages]
    assert {"Re: b", "RE: C", "Re: c", "_", ""} <= set(subjects)  # "=?iso-8859-1?q?_?=" is ""
    assert not any("=?" in subject for subject in subjects)
    _, japanese = load("mimekit-japanese.eml")
    assert japanese.subject == "日本語メールテスト (testing Japanese emails)"
    assert (
        '"=?ISO-2022-JP?B?GyRCRnxLXDhsJWEhPCVrJUYlOSVIGyhCICh0ZXN0aW5nIEph?= ' in japanese.envelope
    )


# --------------------------------------------------------------------------------------
# Real-world shapes from the corpus.


def test_multipart_alternative_inside_mixed() -> None:
    raw, parsed = load("mime4j-boundary-name-clash.eml")  # inner boundary extends the outer one
    top = read_sexp(parsed.bodystructure)
    alternative, attachment = top[0], top[1]
    assert top[2:4] == ["mixed", ["boundary", "--boundary.1652331600846930886"]]
    assert [part[:2] for part in alternative[:2]] == [["text", "plain"], ["text", "html"]]
    assert alternative[2:4] == ["alternative", ["boundary", "--boundary.1652331600846930886-1"]]
    assert attachment[:2] == ["application", "pdf"] and attachment[5] == "base64"
    assert attachment[8] == ["Attachment", ["filename", "Daily_Stats-2022-05-12-0700.pdf"]]
    assert section(raw, parsed, "1.1").endswith(b"report Daily_Stats-2022-05-12-0700")
    assert section(raw, parsed, "2") == b"JVBERi0xLj4Kc3RhcnR4cmVmCjUzNjEwCiUlRU9GCg==\r\n"


def test_group_syntax_in_envelope() -> None:
    _, parsed = load("rubymail-empty_group_lists.eml")
    assert read_sexp(parsed.envelope)[5] == [
        [None, None, "undisclosed recipients", None],
        [None, None, None, None],
    ]


def test_missing_final_boundary_runs_to_end_of_message() -> None:
    raw, parsed = load("flanker-missing-final-boundary.eml")
    assert section(raw, parsed, "1") == b"Some body\r\n"
    assert parsed.parts["1"][2] == parsed.size
    raw, parsed = load("mimekit-multipart-no-end-boundary.eml")
    assert len(read_sexp(parsed.body)) == 3  # two parts and the subtype
    assert parsed.parts["2"][2] == parsed.size


def test_no_content_type_means_text_plain_us_ascii() -> None:
    _, parsed = load("flanker-no-ctype.eml")
    assert parsed.bodystructure == (
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 52 4 NIL NIL NIL NIL)'
    )


def test_unusable_boundaries() -> None:
    # the boundary parameter never starts a part: one empty text/plain part, as Dovecot
    _, parsed = load("cpython-msg_31.eml")
    assert parsed.bodystructure == (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'
        ' "mixed" ("boundary" "BOUNDARY_") NIL NIL NIL)'
    )
    assert parsed.parts["1"][1] == parsed.parts["1"][2]
    _, parsed = load("mime4j-multipartnopart.eml")
    assert parsed.body.startswith('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)')
    # an RFC 2231 boundary* is decoded (Dovecot would not find a boundary at all)
    raw, parsed = load("cpython-msg_33.eml")
    assert section(raw, parsed, "1") == b"part 1\r\n"
    assert section(raw, parsed, "2") == b"part 2\r\n"


def test_part_headers_without_blank_line() -> None:
    raw, parsed = load("cpython-msg_47.eml")
    # the empty line is followed by a boundary: its line break is the boundary's
    assert section(raw, parsed, "1.MIME") == b"Content-Type: text/plain\r\nbar\r\n"
    assert section(raw, parsed, "1") == b""
    raw, parsed = load("cpython-msg_35.eml")  # no blank line at all: all header
    assert parsed.header_size == parsed.size


def test_raw_utf8_headers_become_literals() -> None:
    _, parsed = load("rubymail-utf8_headers.eml")
    assert parsed.subject == "Säying Hello"
    assert "(NIL {13}\r\nSäying Hello (({9}\r\nJöhn Doe NIL {5}\r\njdöe" in parsed.envelope


def test_split_mbox_on_corpus() -> None:
    def count(name: str) -> int:
        return len(split_mbox((shared_path(MIME) / name).read_bytes()))

    assert count("imaptest-default.mbox") == 6
    assert count("imaptest-sort-subject.mbox") == 15
    assert count("mimekit-content-length.mbox") == 29
    assert count("mimekit-issue1189.mbox") == 4
    unmunged = split_mbox((shared_path(MIME) / "mimekit-unmunged.mbox").read_bytes())
    assert len(unmunged) == 2  # "From Russia with love" in the bodies is not a separator
    assert all(message.startswith(b"From: Jeffrey Stedfast") for message in unmunged)
    first = split_mbox((shared_path(MIME) / "imaptest-fetch-binary-mime.mbox").read_bytes())[0]
    assert len(to_crlf(first)) == 602  # imaptest's BINARY.SIZE[]


# --------------------------------------------------------------------------------------
# The repository's own fixtures (tests/fixtures/mime/README.md says what each one covers).


def test_own_fixtures_are_described() -> None:
    readme = (OWN / "README.md").read_text()
    assert len(OWN_FILES) >= 10
    for path in OWN_FILES:
        assert f"`{path.name}`" in readme, path.name


def test_own_nested_multiparts() -> None:
    raw, parsed = load_file(OWN / "nested-multipart.eml")
    assert parsed.bodystructure == (
        '((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 11 0 NIL NIL NIL NIL)'
        '(("text" "html" ("charset" "utf-8") NIL NIL "7bit" 44 0 NIL NIL NIL NIL)'
        '("image" "png" NIL "<logo@example.org>" NIL "base64" 12 NIL NIL NIL NIL)'
        ' "related" ("boundary" "rel") NIL NIL NIL) "alternative" ("boundary" "alt") NIL NIL NIL)'
        '("application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 8 NIL'
        ' ("attachment" ("filename" "data.bin")) NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)'
    )
    assert read_sexp(parsed.envelope)[1:3] == [
        "Nested multiparts", [["Ann Example", None, "ann", "example.org"]]
    ]
    assert sorted(parsed.parts) == ["", "1", "1.1", "1.2", "1.2.1", "1.2.2", "2"]
    assert section(raw, parsed, "TEXT").startswith(b"This is the preamble.\r\n\r\n--outer\r\n")
    assert section(raw, parsed, "TEXT").endswith(b"--outer--\r\nThis is the epilogue.\r\n")
    assert section(raw, parsed, "1").startswith(b"--alt\r\n")
    assert section(raw, parsed, "1").endswith(b"--rel--\r\n--alt--\r\n")
    assert section(raw, parsed, "1.MIME") == (
        b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
    )
    assert section(raw, parsed, "1.1") == b"Plain text."
    assert section(raw, parsed, "1.2.1") == b'<p>HTML <img src="cid:logo@example.org"></p>'
    assert section(raw, parsed, "1.2.2") == b"iVBORw0KGgo="
    assert section(raw, parsed, "1.2.2.MIME").startswith(b"Content-Type: image/png\r\n")
    assert section(raw, parsed, "2") == b"AAECAw=="


def test_own_missing_final_boundaries() -> None:
    raw, parsed = load_file(OWN / "missing-final-boundary.eml")
    assert section(raw, parsed, "1") == b"first"
    assert section(raw, parsed, "2.1") == b"inner, and no close delimiter follows\r\n"
    assert parsed.parts["2"][2] == parsed.parts["2.1"][2] == parsed.size
    assert read_sexp(parsed.body)[1][1:] == ["alternative"]


def test_own_bad_boundaries() -> None:
    path = OWN / "bad-boundaries.mbox"
    empty_part = '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")'
    for index, params in enumerate([None, ["boundary", "absent"], ["boundary", ""], None]):
        raw, parsed = load_file(path, index)
        assert parsed.body == empty_part, index
        assert read_sexp(parsed.bodystructure)[2] == params, index
        assert section(raw, parsed, "1") == b"", index
        assert section(raw, parsed, "TEXT").startswith(b"--"), index  # the body is kept whole
    raw, parsed = load_file(path, 4)
    assert section(raw, parsed, "1") == b"one"  # "--pad \t": transport padding
    assert section(raw, parsed, "2") == b"two"
    assert parsed.parts["2"][2] < parsed.size  # "--pad-- junk" still closes the multipart
    assert len(read_sexp(parsed.body)) == 3


def test_own_encoded_words() -> None:
    _, parsed = load_file(OWN / "encoded-words.eml")
    assert parsed.subject == "Grüße aus Köln and café €"
    envelope = read_sexp(parsed.envelope)
    assert envelope[1] == (
        "=?utf-8?b?R3LDvMOfZQ==?= =?utf-8?q?_aus_K=C3=B6ln?= and =?iso-8859-1?q?caf=E9?="
        " =?UTF-8?B?IOKCrA==?="
    )  # ENVELOPE sends the field unfolded but not decoded
    assert envelope[2] == [["=?utf-8?q?Andr=C3=A9_M=C3=BCller?=", None, "andre", "example.org"]]
    assert envelope[5] == [
        ["=?ISO-8859-1?B?SvZyZw==?=", None, "joerg", "example.org"],
        [None, None, "plain", "example.org"],
    ]


def test_own_broken_encoded_words() -> None:
    path = OWN / "broken-encoded-words.mbox"
    subjects = [parse(raw).subject for raw in corpus_messages(path)]
    assert subjects == [
        "café",  # unknown charset: UTF-8
        "Grüße",  # missing base64 padding
        "=?utf-8?q?not closed",
        "bad =ZZ hex",
        "\ufffd bytes",
        "beforeinsideafter",  # decoded even inside a word, as Dovecot does
        "=?utf-8?x?unknown-encoding?=",
    ]
    raw, parsed = load_file(path, 2)
    assert read_sexp(parsed.envelope)[1] == "=?utf-8?q?not closed"
    assert section(raw, parsed, "TEXT").startswith(b"an encoded word that never ends")


def test_own_raw_8bit_headers() -> None:
    raw, parsed = load_file(OWN / "raw-8bit-headers.eml")
    assert b"Gr\xc3\xbc\xc3\x9fe \xff and Latin-1 caf\xe9" in raw
    assert parsed.subject == "Grüße \ufffd and Latin-1 caf\ufffd"
    assert parsed.envelope.startswith(
        '("Tue, 1 Oct 2024 10:00:00 +0000" {30}\r\nGrüße \ufffd and Latin-1 caf\ufffd'
        ' (({13}\r\nJörg Müller NIL "joerg" "example.org"))'
    )
    assert read_sexp(parsed.envelope)[5] == [["Ren\ufffd", None, "rene", "example.org"]]


def test_own_bare_lf_and_cr() -> None:
    original = (OWN / "bare-lf-and-cr.eml").read_bytes()
    assert b"1.0\rContent-Type" in original and b"CR\rend\n" in original  # not CRLF
    raw, parsed = load_file(OWN / "bare-lf-and-cr.eml")
    assert raw == to_crlf(original)
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", raw) is None
    assert parsed.header_size == raw.index(b"\r\n\r\n") + 4
    assert read_sexp(parsed.bodystructure)[2:4] == ["mixed", ["boundary", "b"]]
    assert section(raw, parsed, "1") == b"bare LF\r\nthen CRLF\r\nthen CR\r\nend"
    assert section(raw, parsed, "2") == b"second"
    assert read_sexp(parsed.body)[0][6:8] == [len(b"bare LF\r\nthen CRLF\r\nthen CR\r\nend"), 3]


def test_own_mbox_from_lines_and_quoting() -> None:
    data = (OWN / "quoting.mbox").read_bytes()
    first, second, third = split_mbox(data)
    assert first.startswith(b"From: ann@example.org\n")
    assert b"\n>From here on," in first and b"\n>>From nested" in first  # quoting is kept
    assert b"\nFrom Russia with love:" in first  # an unquoted body line, no separator
    assert first.endswith(b"no separator.\n\n")  # the blank line before a separator stays
    assert second.endswith(b"two-space separator\n\n")
    assert third == (
        b'From: carol@example.org\nSubject: third, after a Thunderbird "From -" line\n\nlast\n'
    )
    raw, parsed = load_file(OWN / "quoting.mbox")
    assert read_sexp(parsed.envelope)[1] == "first"
    assert section(raw, parsed, "1").count(b"From ") == 3
    raw, parsed = load_file(OWN / "quoting.mbox", 1)
    assert section(raw, parsed, "TEXT") == b""


def test_own_forwarded_message() -> None:
    raw, parsed = load_file(OWN / "forwarded-message.eml")
    forwarded = read_sexp(parsed.bodystructure)[1]
    assert forwarded[:2] == ["message", "rfc822"]
    assert forwarded[6] == len(section(raw, parsed, "2"))
    assert forwarded[7] == [
        "Mon, 30 Sep 2024 09:00:00 +0000", "the report",
        [["Carol", None, "carol", "example.org"]], [["Carol", None, "carol", "example.org"]],
        [["Carol", None, "carol", "example.org"]], [["Ann", None, "ann", "example.org"]],
        None, None, None, "<report@example.org>",
    ]  # fmt: skip
    assert [child[:2] for child in forwarded[8][:2]] == [["text", "plain"], ["text", "html"]]
    assert forwarded[9] == section(raw, parsed, "2").count(b"\n") == 17
    assert section(raw, parsed, "1") == b"See below."
    assert section(raw, parsed, "2.MIME") == b"Content-Type: message/rfc822\r\n\r\n"
    assert section(raw, parsed, "2.HEADER").startswith(b"From: Carol <carol@example.org>\r\n")
    assert section(raw, parsed, "2.HEADER").endswith(b'boundary="inner"\r\n\r\n')
    assert section(raw, parsed, "2.TEXT").startswith(b"--inner\r\n")
    assert section(raw, parsed, "2") == section(raw, parsed, "2.HEADER") + section(
        raw, parsed, "2.TEXT")
    assert section(raw, parsed, "2.1") == b"report"
    assert section(raw, parsed, "2.2") == b"<b>report</b>"
    assert section(raw, parsed, "2.2.MIME") == b"Content-Type: text/html\r\n\r\n"


def test_own_empty_body() -> None:
    raw, parsed = load_file(OWN / "empty-body.eml")
    assert raw.endswith(b"+0000\r\n\r\n")
    assert parsed.header_size == parsed.size == len(raw)
    assert parsed.bodystructure == (
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'
    )
    assert read_sexp(parsed.envelope)[1] == "nothing to say"
    assert section(raw, parsed, "1") == section(raw, parsed, "TEXT") == b""


# --------------------------------------------------------------------------------------
# Hand-written messages.


def test_bodystructure_extension_data_and_nested_message() -> None:
    note = "hello\n"
    inner = (
        'From: Bob <bob@example.org>\nTo: ann@example.org, "Carol C." <carol@example.org>\n'
        "Subject: inner\nContent-Type: multipart/alternative; boundary=alt\n\n"
        "--alt\nContent-Type: text/plain\n\nplain\n"
        "--alt\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: ?bogus\n\n"
        "<p>html</p>\n--alt--\n"
    )
    message = crlf(
        "From: Ann <ann@example.org>\nDate: Tue, 1 Oct 2024 10:00:00 +0000\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="outer\n line"\n\npreamble\n\n--outer line\n'
        'Content-Type: text/x-note; charset=utf-8; title="say \\"hi\\""\n'
        "Content-ID: <note@example.org>\nContent-MD5: aGVsbG8gd29ybGQ=\n"
        "Content-Disposition: inline; size=6\nContent-Description: a note\n"
        "Content-Language: en, de-CH\nContent-Location: http://example.org/note.txt\n\n"
        f"{note}\n--outer line\nContent-Type: message/rfc822; name=fwd.eml\n"
        f"Content-Transfer-Encoding: 8bit\n\n{inner}\n--outer line--\nepilogue\n"
    )
    parsed = parse(message)
    check_parsed(message, parsed)
    inner_bytes = crlf(inner)
    inner_lines = inner_bytes.count(b"\n")
    envelope = (
        '(NIL "inner" (("Bob" NIL "bob" "example.org")) (("Bob" NIL "bob" "example.org"))'
        ' (("Bob" NIL "bob" "example.org"))'
        ' ((NIL NIL "ann" "example.org")("Carol C." NIL "carol" "example.org")) NIL NIL NIL NIL)'
    )
    assert parsed.bodystructure == (
        '(("text" "x-note" ("charset" "utf-8" "title" "say \\"hi\\"") "<note@example.org>"'
        ' "a note" "7bit" 7 1 "aGVsbG8gd29ybGQ=" ("inline" ("size" "6")) ("en" "de-CH")'
        ' "http://example.org/note.txt")'
        '("message" "rfc822" ("name" "fwd.eml") NIL NIL "8bit"'
        f" {len(inner_bytes)} {envelope}"
        ' (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL)'
        '("text" "html" ("charset" "utf-8") NIL NIL "7bit" 11 0 NIL NIL NIL NIL)'
        ' "alternative" ("boundary" "alt") NIL NIL NIL)'
        f" {inner_lines} NIL NIL NIL NIL)"
        ' "mixed" ("boundary" "outer line") NIL NIL NIL)'
    )
    assert parsed.body == (
        '(("text" "x-note" ("charset" "utf-8" "title" "say \\"hi\\"") "<note@example.org>"'
        ' "a note" "7bit" 7 1)'
        '("message" "rfc822" ("name" "fwd.eml") NIL NIL "8bit"'
        f" {len(inner_bytes)} {envelope}"
        ' (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0)'
        '("text" "html" ("charset" "utf-8") NIL NIL "7bit" 11 0) "alternative")'
        f' {inner_lines}) "mixed")'
    )
    assert section(message, parsed, "2") == inner_bytes
    assert section(message, parsed, "2.1") == b"plain"
    assert section(message, parsed, "2.2.MIME").startswith(b"Content-Type: text/html")
    assert parsed.subject == "" and parsed.date == "Tue, 1 Oct 2024 10:00:00 +0000"


def test_multipart_without_parts_reports_an_empty_text_part() -> None:
    message = crlf('Content-Type: multipart/mixed; boundary="foo"\n\n')
    parsed = parse(message)
    assert parsed.bodystructure == (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'
        ' "mixed" ("boundary" "foo") NIL NIL NIL)'
    )
    assert parsed.parts["1"] == (parsed.size, parsed.size, parsed.size)
    assert section(message, parsed, "1") == b""


def test_empty_and_degenerate_input() -> None:
    for raw in [b"", b"\r\n", b"--", b"x", b"\r\n\r\n", b"Subject:", b"\x00\xff\r\n\r\n\x00"]:
        parsed = parse(raw)
        check_parsed(raw, parsed)
    empty = parse(b"")
    assert empty.envelope == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    assert empty.bodystructure == (
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'
    )
    assert (empty.subject, empty.message_id, empty.date) == ("", None, None)


def test_header_strings_quoting() -> None:
    message = crlf(
        'Subject: \t a  "quoted"\tsubject  \nMessage-ID: <a\\b@c>\n'
        'In-Reply-To: "1" "2" "3"\nFrom: "A \\"B\\" C" <a@b>\n\nbody\n'
    )
    envelope = parse(message).envelope
    assert envelope.startswith('(NIL "a \\"quoted\\" subject" (("A \\"B\\" C" NIL "a" "b"))')
    assert envelope.endswith(' {11}\r\n"1" "2" "3" "<a\\\\b@c>")')  # more than 4 escapes
    raw = b"Subject: caf\xc3\xa9 \xff\x00!\r\n\r\n"
    parsed = parse(raw)
    assert parsed.subject == "café \ufffd\ufffd!"
    assert parsed.envelope.startswith("(NIL {13}\r\ncafé \ufffd\ufffd! NIL")
    check_parsed(raw, parsed)


def test_address_edge_cases() -> None:
    message = crlf(
        "From: user\nSender: Just Words\nReply-To: <>\n"
        'To: <@a.example,@b.example:joe@c.example>, "quoted local"@x.example, , joe@[10.0.0.1]\n'
        "Cc: =?utf-8?q?J=C3=B6rg?= <j@x.example>, group: ;\n\n"
    )
    envelope = read_sexp(parse(message).envelope)
    assert envelope[2] == [[None, None, "user", "MISSING_DOMAIN"]]
    assert envelope[3] == [["Just Words", None, "MISSING_MAILBOX", "MISSING_DOMAIN"]]
    assert envelope[4] == [[None, None, "MISSING_MAILBOX", "MISSING_DOMAIN"]]
    assert envelope[5] == [
        [None, "@a.example,@b.example", "joe", "c.example"],
        [None, None, "quoted local", "x.example"],
        [None, None, "MISSING_MAILBOX", "MISSING_DOMAIN"],  # the empty element, as Dovecot
        [None, None, "joe", "[10.0.0.1]"],
    ]
    assert envelope[6] == [
        ["=?utf-8?q?J=C3=B6rg?=", None, "j", "x.example"],
        [None, None, "group", None],
        [None, None, None, None],
    ]


def test_last_envelope_field_wins_and_first_content_type_wins() -> None:
    message = crlf(
        "Subject: one\nSubject: two\nContent-Type: text/html\nContent-Type: image/png\n"
        "MIME-Version: 1.0\n\nx"
    )
    parsed = parse(message)
    assert parsed.subject == "two" and '"two"' in parsed.envelope
    assert parsed.body == '("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 1 0)'


def test_content_fields_need_mime() -> None:
    not_mime = parse(crlf("Content-Transfer-Encoding: base64\nContent-ID: <x>\n\nx"))
    assert not_mime.body == '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0)'
    mime_part = parse(crlf("MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\nx"))
    assert mime_part.body == '("text" "plain" ("charset" "us-ascii") NIL NIL "base64" 1 0)'


def test_rfc2231_parameters_are_merged_not_decoded() -> None:
    message = crlf(
        "Content-Type: application/x-stuff;\n title*0*=us-ascii'en'This%20is%20even%20more%20;\n"
        ' title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"; plain*0=a; plain*1=b;'
        " gap*0=x; gap*2=y\n\n"
    )
    params = read_sexp(parse(message).body)[2]
    assert params == [
        "gap*0", "x", "gap*2", "y", "plain", "ab",
        "title*", "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!",
    ]  # fmt: skip


def test_unquoted_boundary_with_equals_sign() -> None:
    message = crlf(
        "Content-Type: multipart/mixed; boundary=----=_Part_1\n\n"
        "------=_Part_1\n\none\n------=_Part_1\n\ntwo\n------=_Part_1--\n"
    )
    parsed = parse(message)
    assert section(message, parsed, "1") == b"one"
    assert section(message, parsed, "2") == b"two"


def test_outer_boundary_closes_inner_parts() -> None:
    message = crlf(
        "Content-Type: multipart/mixed; boundary=outer\n\n--outer\n"
        "Content-Type: multipart/alternative; boundary=inner\n\n--inner\n\nnever closed\n"
        "--outer\nContent-Type: message/rfc822\n\nSubject: cut\n"
        "--outer\n\nlast\n--outer--\n"
    )
    parsed = parse(message)
    check_parsed(message, parsed)
    assert section(message, parsed, "1.1") == b"never closed"
    assert section(message, parsed, "2.HEADER") == b"Subject: cut"  # header cut by boundary
    assert section(message, parsed, "2.TEXT") == b""
    assert section(message, parsed, "3") == b"last"


def test_longest_boundary_wins_and_transport_padding() -> None:
    message = crlf(
        "Content-Type: multipart/mixed; boundary=a\n\n--a \t\n"
        "Content-Type: multipart/mixed; boundary=ab\n\n--ab\n\ninner\n--ab--\n"
        "--a\n\nsecond\n--a--  trailing junk\nepilogue\n"
    )
    parsed = parse(message)
    assert section(message, parsed, "1.1") == b"inner"
    assert section(message, parsed, "2") == b"second"
    assert len(read_sexp(parsed.body)) == 3


def test_nesting_is_capped() -> None:
    depth = 100
    opening = "".join(
        f"Content-Type: multipart/mixed; boundary=b{level}\n\n--b{level}\n"
        for level in range(depth)
    )
    closing = "".join(f"\n--b{level}--" for level in reversed(range(depth)))
    message = crlf(opening + "\ndeep" + closing + "\n")
    parsed = parse(message)
    check_parsed(message, parsed)
    path = ".".join(["1"] * mime.structure.MAX_DEPTH)
    assert path in parsed.parts and path + ".1" not in parsed.parts
    assert '"application" "octet-stream" NIL NIL NIL "7bit"' in parsed.body


def test_part_count_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime.structure, "MAX_PARTS", 4)
    message = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n"
        + "".join(f"--b\n\npart {n}\n" for n in range(10))
        + "--b--\n"
    )
    parsed = parse(message)
    check_parsed(message, parsed)
    assert sorted(parsed.parts) == ["", "1", "2", "3"]


def test_base64_message_rfc822_is_parsed_as_a_message() -> None:
    message = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n"
        "Content-Transfer-Encoding: base64\n\nU3ViamVjdDogaGkKCmJvZHkK\n--b--\n"
    )
    parsed = parse(message)
    check_parsed(message, parsed)
    assert section(message, parsed, "1.HEADER") == b"U3ViamVjdDogaGkKCmJvZHkK"


def test_section_range_rejects_bad_sections() -> None:
    parsed = parse(crlf("Subject: x\n\nbody\n"))
    for spec in ["0", "1.0", "2", "1.2", "MIME", "1.HEADER", "X", "1.", ".1", "1.MIME.TEXT"]:
        assert section_range(parsed, spec) is None, spec
    assert section_range(parsed, "header.fields (subject)") == (0, parsed.header_size)
    assert section_range(parsed, "1.MIME") == (0, parsed.header_size)


# --------------------------------------------------------------------------------------
# to_crlf, strip_from_line, split_mbox.


def test_to_crlf() -> None:
    assert to_crlf(b"a\nb\rc\r\nd") == b"a\r\nb\r\nc\r\nd"
    assert to_crlf(b"\r\r\n\n\r") == b"\r\n\r\n\r\n\r\n"
    assert to_crlf(b"\xef\xbb\xbf\x00x\n") == b"\xef\xbb\xbf\x00x\r\n"
    assert to_crlf(b"no newline") == b"no newline"
    assert to_crlf(b"") == b""


def test_strip_from_line() -> None:
    assert strip_from_line(b"From a@b  Mon Jan  1 00:00:00 2024\nSubject: x\n") == b"Subject: x\n"
    assert strip_from_line(b"From: a@b\n") == b"From: a@b\n"
    assert strip_from_line(b"From : a@b\n") == b"From : a@b\n"
    assert strip_from_line(b"From a@b") == b""
    assert strip_from_line(b"Subject: x\n") == b"Subject: x\n"


def test_split_mbox() -> None:
    mbox = (
        b"\xef\xbb\xbfFrom a@b Mon Jan  1 00:00:00 2024\nSubject: 1\n\nFrom Russia with love\n\n"
        b"From -\nSubject: 2\n\n>From quoted\nFrom 123@xxx\nFrom - Tue Jan  2 10:00:00 2024\n"
        b"Subject: 3\r\n"
    )
    assert split_mbox(mbox) == [
        b"Subject: 1\n\nFrom Russia with love\n\n",
        b"Subject: 2\n\n>From quoted\n",
        b"Subject: 3\r\n",
    ]
    assert split_mbox(b"") == []
    assert split_mbox(b"Subject: no separator\n") == [b"Subject: no separator\n"]


# --------------------------------------------------------------------------------------
# Properties.

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=300))
def test_to_crlf_properties(raw: bytes) -> None:
    once = to_crlf(raw)
    assert to_crlf(once) == once
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", once) is None
    assert once.replace(b"\r\n", b"") == re.sub(rb"\r\n|\r|\n", b"", raw)
    assert once.endswith((b"\r", b"\n")) == raw.endswith((b"\r", b"\n"))


@FAST
@given(st.binary(max_size=2000))
def test_parse_arbitrary_bytes(raw: bytes) -> None:
    for data in (raw, to_crlf(raw)):
        check_parsed(data, parse(data))


SOUP_FRAGMENTS = [
    b"\r\n", b"\r\n\r\n", b"\n", b"\r", b" ", b"\t", b"--", b"--a", b"--a--", b"--ab", b"--b",
    b"--b--", b"Content-Type: multipart/mixed; boundary=a\r\n",
    b"Content-Type: multipart/digest; boundary=ab\r\n",
    b'Content-Type: multipart/alternative; boundary="b"\r\n',
    b"Content-Type: message/rfc822\r\n", b'Content-Type: text/plain; charset="x\r\n',
    b"MIME-Version: 1.0\r\n", b"Subject: =?utf-8?b?w7Y=?=\r\n", b"From: a@b\r\n",
    b"To: g: a@b, <c@d>;\r\n", b"Cc: (\r\n", b'"', b"\\", b"\x00", b"\xff", b"x: y\r\n",
    b"Content-Disposition: attachment; filename*0*=x; filename*1=y\r\n",
    b"Content-Language: en, (c) fr\r\n", b"text line\r\n",
]  # fmt: skip
MIME_SOUP = st.lists(st.sampled_from(SOUP_FRAGMENTS), max_size=60).map(b"".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MIME_SOUP)
def test_parse_mime_soup(raw: bytes) -> None:
    check_parsed(raw, parse(raw))


# Well-formed generated messages: the parse must reproduce the generated structure exactly.
# A node is ("leaf", header, body), ("multipart", header, preamble, children, epilogue) or
# ("message", header, inner node); every header includes its blank line.

TEXT_LINE = st.text(st.sampled_from("abc xyz019é=?;:\"'<>@\t"), max_size=20).map(
    lambda text: text.encode()
)  # no line starts with "-": no boundary look-alikes
BODY = st.lists(TEXT_LINE, max_size=4).map(b"\r\n".join)


def header_for(content_type: str) -> st.SearchStrategy[bytes]:
    folded = content_type.replace("; ", ";\r\n\t")
    field = st.sampled_from([f"Content-Type: {content_type}\r\n", f"content-type:{folded}\r\n"])
    extra = st.sampled_from(["", "X-Extra: 1\r\n", "Content-ID: <id@x>\r\n"])
    return st.tuples(extra, field).map(lambda parts: ("".join(parts) + "\r\n").encode())


@st.composite
def mime_node(draw: st.DrawFn, path: str = "1") -> tuple:
    kinds = ["leaf"] if len(path) > 9 else ["leaf", "leaf", "multipart", "message"]
    kind = draw(st.sampled_from(kinds))
    if kind == "leaf":
        media = draw(st.sampled_from(["text/plain", "application/octet-stream", "text/html"]))
        return ("leaf", draw(header_for(media)), draw(BODY))
    if kind == "message":
        inner = draw(mime_node(path + ".1"))
        subject = f"Subject: inner {path}\r\n".encode()
        inner = (inner[0], subject + inner[1], *inner[2:])
        return ("message", draw(header_for("message/rfc822")), inner)
    boundary = f"=_{path}x"
    header = draw(header_for(f'multipart/mixed; boundary="{boundary}"'))
    count = draw(st.integers(1, 3))
    children = [draw(mime_node(f"{path}.{index}")) for index in range(1, count + 1)]
    return ("multipart", header, draw(BODY), boundary, children, draw(BODY))


def render(node: tuple) -> bytes:
    kind, header = node[0], node[1]
    if kind == "leaf":
        return header + node[2]
    if kind == "message":
        return header + render(node[2])
    _, _, preamble, boundary, children, epilogue = node
    delimiter = b"--" + boundary.encode()
    body = preamble + b"\r\n" if preamble else b""
    for child in children:
        body += delimiter + b"\r\n" + render(child) + b"\r\n"
    return header + body + delimiter + b"--" + (b"\r\n" + epilogue if epilogue else b"")


def ends_with_close_delimiter(node: tuple) -> bool:
    if node[0] == "message":
        return ends_with_close_delimiter(node[2])
    return node[0] == "multipart" and not node[5]


def body_of(node: tuple, followed: bool) -> bytes:
    """The parsed body of a node.  Like Dovecot, a close-delimiter line keeps its line
    break even when a boundary line follows at once ("--in--\r\n--out")."""
    extra = b"\r\n" if followed and ends_with_close_delimiter(node) else b""
    return render(node)[len(node[1]) :] + extra


def check_generated(
    node: tuple, path: str, parts: dict[str, tuple[int, int, int]], raw: bytes, followed: bool
) -> None:
    header_start, body_start, end = parts[path]
    assert raw[header_start:body_start] == node[1], path
    assert raw[body_start:end] == body_of(node, followed), path
    if node[0] == "multipart":
        for index, child in enumerate(node[4], 1):
            check_generated(child, f"{path}.{index}", parts, raw, True)
        assert f"{path}.{len(node[4]) + 1}" not in parts
    elif node[0] == "message":
        inner = node[2]
        assert parts[path + ".0"][:2] == (body_start, body_start + len(inner[1]))
        if inner[0] == "multipart":
            for index, child in enumerate(inner[4], 1):
                check_generated(child, f"{path}.{index}", parts, raw, True)
        else:
            assert parts[path + ".1"] == parts[path + ".0"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mime_node(), st.sampled_from([b"\r\n", b"\n", b"\r"]))
def test_generated_messages_round_trip(node: tuple, newline: bytes) -> None:
    top = (node[0], b"From: gen@example.org\r\nMIME-Version: 1.0\r\n" + node[1], *node[2:])
    message = render(top)
    raw = to_crlf(message.replace(b"\r\n", newline))
    assert raw == message
    parsed = parse(raw)
    check_parsed(raw, parsed)
    assert parsed.header_size == len(top[1])
    if top[0] == "multipart":
        for index, child in enumerate(top[4], 1):
            check_generated(child, str(index), parsed.parts, raw, True)
    else:
        check_generated(top, "1", parsed.parts, raw, False)
