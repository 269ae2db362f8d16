"""What our own SMTP-side parsing must always do, whatever the input: checked by the
hypothesis tests (tests/unit/test_smtp_parsing_properties.py) and the atheris target
(fuzz/fuzz_smtp.py) alike. Each check raises AssertionError when a property fails."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from mailgate.mail_auth import checks, dmarc, results
from mailgate.mail_auth.dkimcheck import DkimResult
from mailgate.mail_auth.dmarc import DmarcResult
from mailgate.mail_auth.spfcheck import SpfResult
from mailgate.protocols.smtp import addresses, chunking, dsn, senders, trace

OWN = "owner@example.test"
AUTHSERV_ID = "mx.example.test"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BDAT = re.compile(r"\d{1,18}( +LAST)?", re.IGNORECASE)
_REPLY = re.compile(r"^[2-5]\d\d [2-5]\.\d{1,3}\.\d{1,3} [^\r\n]*$")


def header_lines_ok(block: bytes) -> None:
    """Header fields we write: CRLF lines, continuations start with a tab, no bare CR/LF."""
    assert block.endswith(b"\r\n")
    for index, line in enumerate(block[:-2].split(b"\r\n")):
        assert b"\r" not in line and b"\n" not in line
        assert line[:1] == b"\t" if index else b":" in line


def check_address(address: str, smtputf8: bool) -> None:
    problem = addresses.problem(address, smtputf8)
    assert problem in (None, "utf8", "ascii", "control")
    assert (problem == "control") == bool(_CONTROL.search(address))
    shown = addresses.shown(address)
    assert len(shown) <= 320 and not _CONTROL.search(shown)
    shown.encode("utf-8")
    assert addresses.domain_of(address) == addresses.domain_of(address).lower()
    names = addresses.candidates(address)
    assert len(names) <= 2 and all("@" in name for name in names)
    for refusal in (senders.envelope_refusal(address, OWN),):
        assert refusal is None or _REPLY.match(refusal), refusal
    header_lines_ok(trace.return_path(address))
    header_lines_ok(trace.received(helo=address, peer=address, hostname="mx.example.test",
                                   protocol="ESMTP", queue_id="q1", recipient=address,
                                   when=datetime(2026, 12, 2, tzinfo=UTC)))


def check_message(content: bytes) -> None:
    block = senders.header_block(content)
    assert content.startswith(block)
    refusal = senders.from_refusal(content, OWN)
    assert refusal is None or _REPLY.match(refusal), refusal
    cleaned = results.without_ours(content, AUTHSERV_ID)
    assert len(cleaned) <= len(content)
    assert results.without_ours(cleaned, AUTHSERV_ID) == cleaned
    lines = content.split(b"\n")
    for index, line in enumerate(lines[:-1]):
        if line in (b"", b"\r"):  # the body, after the first empty line, never changes
            assert cleaned.endswith(b"\n".join(lines[index:]))
            break
    domain = checks.from_domain(content)
    assert domain == domain.lower() and "@" not in domain


def check_auth_text(text: str) -> None:
    value = results.value(text)
    assert not _CONTROL.search(value)
    assert value == text or value.startswith('"') or "?" in value
    results.authserv_id_of(text.encode("utf-8", "surrogateescape"))
    tags = dmarc.parse_record(text)
    assert tags is None or text.replace(" ", "").startswith("v=DMARC1")
    names = dmarc.tree_walk(text)
    assert len(names) <= dmarc.MAX_NAMES
    header_lines_ok(results.header(
        text, SpfResult("pass", "smtp.mailfrom", text, ""),
        [DkimResult("fail", text, text, text[:8])], DmarcResult("fail", text, "reject")))


def check_bdat(argument: str, content: bytes) -> None:
    """BDAT's argument is a size and LAST or nothing; the longest line is DATA's count."""
    chunk = chunking.parse(argument)
    assert (chunk is not None) == bool(_BDAT.fullmatch(argument.strip())), argument
    if chunk is not None:
        assert 0 <= chunk.size < 10**18
        assert chunk.last == argument.strip().upper().endswith("LAST")
    longest = chunking.longest_line(content)
    lines = content.split(b"\r\n")
    assert longest == max([len(line) + 2 for line in lines[:-1]] + [len(lines[-1])])
    assert longest <= len(content) and (longest > 0) == bool(content)


def check_dsn(params: str) -> None:
    """DSN parameters (MAIL's, RCPT's) are taken or refused with DsnSyntaxError, nothing
    else; what a next hop is told reads back the same, and the kept words are the others."""
    for take in (dsn.message_request, dsn.recipient_request):
        try:
            rest, request = take(params)
        except dsn.DsnSyntaxError:
            continue
        again = " ".join([rest, *request.words()]).strip()
        assert take(again) == (rest, request), params
        assert all(word.isprintable() and " " not in word for word in request.words())
