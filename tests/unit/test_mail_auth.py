"""DKIM signing and the inbound checks (SPF, DKIM, DMARC, Authentication-Results), with DNS
answered from a table."""

from __future__ import annotations

import stat
from pathlib import Path

import dkim
import pytest

from mailgate.mail_auth import dkimkeys, results
from mailgate.mail_auth.checks import Arrival, authenticate, from_domain
from mailgate.mail_auth.dkimcheck import DkimResult, verify
from mailgate.mail_auth.dmarc import evaluate, organizational_domain, tree_walk
from mailgate.mail_auth.lookup import DnsTemporaryError, nameserver
from mailgate.mail_auth.signing import signed
from mailgate.mail_auth.spfcheck import SpfResult, check

MESSAGE = (b"From: Ann <ann@example.org>\r\nTo: bob@example.test\r\nSubject: hello\r\n"
           b"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n"
           b"Hello Bob.\r\n")


class FakeDns:
    """A DNS table: (name, type) -> records; names in `broken` time out."""

    def __init__(self, records: dict[tuple[str, str], list[str]] | None = None,
                 broken: tuple[str, ...] = ()) -> None:
        self.records = dict(records or {})
        self.broken = broken
        self.asked: list[tuple[str, str]] = []

    def __call__(self, name: str, rrtype: str) -> list[str]:
        name = name.lower().rstrip(".")
        self.asked.append((name, rrtype))
        if name in self.broken:
            raise DnsTemporaryError(f"timeout for {name}")
        return self.records.get((name, rrtype), [])

    def dnsfunc(self, name: bytes, timeout: float = 5) -> bytes | None:
        found = self(name.decode(), "TXT")
        return found[0].encode() if found else None


@pytest.fixture
def key(tmp_path: Path) -> dkimkeys.SigningKey:
    return dkimkeys.generate(tmp_path, "Example.org", "sel1")


def published(key: dkimkeys.SigningKey, **more: list[str]) -> FakeDns:
    return FakeDns({(f"{key.selector}._domainkey.{key.domain}", "TXT"):
                    [dkimkeys.txt_value(key)]})


# --- DKIM keys and signing ------------------------------------------------------------------

def test_generated_key_is_private_and_signs_verifiably(tmp_path: Path,
                                                        key: dkimkeys.SigningKey) -> None:
    path = tmp_path / "dkim" / "example.org" / "sel1.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "dkim").stat().st_mode) == 0o700
    out = signed(MESSAGE, "example.org", tmp_path)
    assert out.startswith(b"DKIM-Signature: ") and out.endswith(MESSAGE)
    assert dkim.verify(out, dnsfunc=published(key).dnsfunc)
    assert not dkim.verify(out.replace(b"Hello Bob", b"Hello Eve"),
                           dnsfunc=published(key).dnsfunc)


def test_dns_record_names_the_selector_and_splits_long_strings(
        key: dkimkeys.SigningKey) -> None:
    record = dkimkeys.dns_record(key)
    assert record.startswith("sel1._domainkey.example.org. IN TXT ( \"v=DKIM1; k=rsa; p=")
    strings = record.split("( ", 1)[1].rstrip(" )").split('" "')
    assert all(len(s.strip('"')) <= 255 for s in strings)
    assert "".join(s.strip('"') for s in strings) == dkimkeys.txt_value(key)


def test_no_key_no_signature_and_no_second_key_with_the_same_selector(
        tmp_path: Path, key: dkimkeys.SigningKey) -> None:
    assert signed(MESSAGE, "example.net", tmp_path) == MESSAGE
    with pytest.raises(dkimkeys.DkimKeyError):
        dkimkeys.generate(tmp_path, "example.org", "sel1")
    with pytest.raises(dkimkeys.DkimKeyError):
        dkimkeys.generate(tmp_path, "../etc", "sel1")


def test_the_newest_key_signs(tmp_path: Path, key: dkimkeys.SigningKey) -> None:
    newer = dkimkeys.generate(tmp_path, "example.org", "sel2")
    found = dkimkeys.signing_key(tmp_path, "example.org")
    assert found is not None and found.selector == newer.selector


# --- DKIM verification ------------------------------------------------------------------

def test_verify_reports_each_signature(tmp_path: Path, key: dkimkeys.SigningKey) -> None:
    out = signed(MESSAGE, "example.org", tmp_path)
    [result] = verify(out, published(key))
    assert (result.result, result.domain, result.selector) == ("pass", "example.org", "sel1")
    assert len(result.b) == 8
    assert verify(out.replace(b"Hello", b"Bye"), published(key))[0].result == "fail"
    assert verify(out, FakeDns(broken=("sel1._domainkey.example.org",)))[0].result \
        == "temperror"
    assert verify(MESSAGE, FakeDns()) == []


# --- SPF --------------------------------------------------------------------------------

SPF_DNS = {("example.org", "TXT"): ["v=spf1 ip4:192.0.2.0/24 mx -all"],
           ("example.org", "MX"): ["10 mx.example.org."],
           ("mx.example.org", "A"): ["198.51.100.7"],
           ("helo.example.net", "TXT"): ["v=spf1 a ~all"],
           ("helo.example.net", "A"): ["203.0.113.9"]}


@pytest.mark.parametrize(("ip", "sender", "helo", "expected"), [
    ("192.0.2.5", "ann@example.org", "x", ("pass", "smtp.mailfrom", "ann@example.org")),
    ("198.51.100.7", "ann@example.org", "x", ("pass", "smtp.mailfrom", "ann@example.org")),
    ("203.0.113.1", "ann@example.org", "x", ("fail", "smtp.mailfrom", "ann@example.org")),
    ("203.0.113.9", "", "helo.example.net", ("pass", "smtp.helo", "helo.example.net")),
    ("192.0.2.1", "", "helo.example.net", ("softfail", "smtp.helo", "helo.example.net")),
    ("192.0.2.1", "x@nowhere.example", "x", ("none", "smtp.mailfrom", "x@nowhere.example")),
])
def test_spf(ip: str, sender: str, helo: str, expected: tuple[str, str, str]) -> None:
    result = check(ip, sender, helo, FakeDns(SPF_DNS))
    assert (result.result, result.identity, result.value) == expected


def test_spf_temperror_and_bad_input() -> None:
    assert check("192.0.2.1", "a@example.org", "x",
                 FakeDns(broken=("example.org",))).result == "temperror"
    assert check("192.0.2.1", "a@example.org", "x",
                 FakeDns({("example.org", "TXT"): ["v=spf1 moo -all"]})).result == "permerror"
    assert check("not-an-ip", "a@example.org", "x", FakeDns(SPF_DNS)).result == "permerror"


# --- DMARC ------------------------------------------------------------------------------

def test_tree_walk_and_organizational_domain() -> None:
    assert tree_walk("a.b.example.org") == ["a.b.example.org", "b.example.org", "example.org",
                                            "org"]
    assert len(tree_walk(".".join("abcdefghijkl"))) == 8
    dns = FakeDns({("_dmarc.example.org", "TXT"): ["v=DMARC1; p=none"],
                   ("_dmarc.org", "TXT"): ["v=DMARC1; p=none; psd=y"]})
    assert organizational_domain("a.b.example.org", dns) == "example.org"
    assert organizational_domain("other.org", dns) == "other.org"
    assert organizational_domain("nothing.example", FakeDns()) == "nothing.example"


def _spf(result: str, value: str) -> SpfResult:
    return SpfResult(result, "smtp.mailfrom", value, "")


DMARC_DNS = {("_dmarc.example.org", "TXT"): ["v=DMARC1; p=reject; sp=quarantine"],
             ("_dmarc.strict.example", "TXT"): ["v=DMARC1; p=quarantine; adkim=s; aspf=s"]}


@pytest.mark.parametrize(("domain", "spf", "dkim_domain", "expected"), [
    ("example.org", _spf("pass", "a@example.org"), "", ("pass", "reject")),
    ("example.org", _spf("pass", "a@bounce.example.org"), "", ("pass", "reject")),
    ("example.org", _spf("fail", "a@example.org"), "mail.example.org", ("pass", "reject")),
    ("example.org", _spf("pass", "a@example.net"), "example.net", ("fail", "reject")),
    ("news.example.org", _spf("fail", "a@x.example"), "", ("fail", "quarantine")),
    ("strict.example", _spf("pass", "a@sub.strict.example"), "sub.strict.example",
     ("fail", "quarantine")),
    ("strict.example", _spf("none", "a@x.example"), "strict.example", ("pass", "quarantine")),
    ("example.net", _spf("pass", "a@example.net"), "", ("none", "")),
])
def test_dmarc(domain: str, spf: SpfResult, dkim_domain: str,
               expected: tuple[str, str]) -> None:
    signatures = [DkimResult("pass", dkim_domain)] if dkim_domain else []
    result = evaluate(domain, spf, signatures, FakeDns(DMARC_DNS))
    assert (result.result, result.policy) == expected


def test_dmarc_without_from_domain_or_dns() -> None:
    assert evaluate("", _spf("pass", "a@b.c"), [], FakeDns()).result == "permerror"
    assert evaluate("example.org", _spf("pass", "a@example.org"), [],
                    FakeDns(broken=("_dmarc.example.org",))).result == "temperror"


# --- Authentication-Results ---------------------------------------------------------------

def test_header_quotes_what_is_not_a_plain_value() -> None:
    text = results.header("mx.example.test", _spf("pass", 'we"ird x@example.org'),
                          [DkimResult("fail", "example.org", "s1", "abcdefgh")],
                          evaluate("", _spf("pass", ""), [], FakeDns())).decode()
    assert text == ("Authentication-Results: mx.example.test;\r\n"
                    "\tspf=pass smtp.mailfrom=\"we\\\"ird x@example.org\";\r\n"
                    "\tdkim=fail header.d=example.org header.s=s1 header.b=abcdefgh;\r\n"
                    "\tdmarc=permerror\r\n")
    assert results.value("a\r\nb") == "a??b"
    assert results.value("a b") == '"a b"'


def test_incoming_results_claiming_our_name_are_removed() -> None:
    content = (b"Authentication-Results: (spoof) MX.example.test;\r\n\tspf=pass\r\n"
               b"Authentication-Results: other.example; dkim=pass\r\n"
               b"authentication-results:\"mx.example.test\"; dmarc=pass\r\n"
               b"Subject: x\r\n\r\nAuthentication-Results: mx.example.test; body\r\n")
    assert results.without_ours(content, "mx.example.test") == (
        b"Authentication-Results: other.example; dkim=pass\r\nSubject: x\r\n\r\n"
        b"Authentication-Results: mx.example.test; body\r\n")
    assert results.authserv_id_of(b" (a (nested) comment) id.example (c); x") == "id.example"


def test_authenticate_a_signed_message(tmp_path: Path, key: dkimkeys.SigningKey) -> None:
    content = b"Authentication-Results: mx.example.test; dkim=pass\r\n" + signed(
        MESSAGE, "example.org", tmp_path)
    dns = published(key)
    dns.records.update(SPF_DNS)
    dns.records.update(DMARC_DNS)
    header, cleaned = authenticate(content, Arrival("192.0.2.9", "mail.example.org",
                                                    "ann@example.org"), "mx.example.test", dns)
    text = header.decode()
    assert "spf=pass smtp.mailfrom=ann@example.org" in text
    assert "dkim=pass header.d=example.org header.s=sel1" in text
    assert "dmarc=pass (p=reject) header.from=example.org" in text
    assert not cleaned.startswith(b"Authentication-Results")
    assert len({q for q in dns.asked}) == len(dns.asked)  # each question asked once


def test_from_domain_needs_exactly_one_address() -> None:
    assert from_domain(MESSAGE) == "example.org"
    assert from_domain(b"From: a@x.example, b@y.example\r\n\r\n") == ""
    assert from_domain(b"Subject: none\r\n\r\n") == ""


def test_nameserver_specs() -> None:
    assert (nameserver("127.0.0.1:5353").address, nameserver("127.0.0.1:5353").port) \
        == ("127.0.0.1", 5353)
    assert nameserver("[::1]:53").address == "::1"
    assert nameserver("192.0.2.53").port == 53
    with pytest.raises(ValueError):
        nameserver("127.0.0.1:x")


def test_after_a_dns_failure_no_more_questions_for_that_message() -> None:
    dns = FakeDns(SPF_DNS, broken=("example.org",))
    header, _ = authenticate(MESSAGE, Arrival("192.0.2.9", "h.example", "ann@example.org"),
                             "mx.example.test", dns)
    assert b"spf=temperror" in header and b"dmarc=temperror" in header
    assert dns.asked == [("example.org", "TXT")]
