"""The client autoconfiguration builders: which endpoints a set of open doors gives, and the
Thunderbird, Autodiscover, Apple profile and DNS documents built from them (escaped, only
the open doors, hostile requests refused)."""

from __future__ import annotations

import plistlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgate.clientconfig import autodiscover, dns, mobileconfig, thunderbird
from mailgate.clientconfig.endpoints import Endpoint, endpoints, preferred
from mailgate.config import load

OUTLOOK = "{" + autodiscover.OUTLOOK_NS + "}"


def settings(tmp_path: Path, **listen: str):  # type: ignore[no-untyped-def]
    env = {"MAILGATE_SERVER_HOSTNAME": "mail.example.org"}
    env.update({f"MAILGATE_LISTEN_{k.upper()}": v for k, v in listen.items()})
    return load(tmp_path, env)


def request_xml(address: str = "ann@example.org", schema: str = autodiscover.OUTLOOK_NS,
                prolog: str = "") -> bytes:
    return (f'<?xml version="1.0"?>{prolog}<Autodiscover xmlns="{autodiscover.REQUEST_NS}">'
            f"<Request><EMailAddress>{address}</EMailAddress><AcceptableResponseSchema>"
            f"{schema}</AcceptableResponseSchema></Request></Autodiscover>").encode()


def test_endpoints_follow_the_open_doors_and_the_listeners(tmp_path: Path) -> None:
    found = endpoints(settings(tmp_path, pop3s=""), frozenset({"imap", "pop", "smtp"}))
    assert [(e.door, e.listener, e.port, e.socket) for e in found] == [
        ("imap", "imaps", 1993, "SSL"), ("imap", "imap", 1143, "STARTTLS"),
        ("pop", "pop3", 1110, "STARTTLS"),
        ("smtp", "submissions", 1465, "SSL"), ("smtp", "submission", 1587, "STARTTLS")]
    assert {e.host for e in found} == {"mail.example.org"}
    assert endpoints(settings(tmp_path), frozenset({"imap"}))[0].door == "imap"
    assert [e.door for e in endpoints(settings(tmp_path), frozenset({"smtp"}))] == ["smtp"] * 2
    assert preferred(found, "pop") is not None and preferred(found, "web") is None


def _imap_smtp(tmp_path: Path) -> list[Endpoint]:
    return endpoints(settings(tmp_path), frozenset({"imap", "smtp"}))


def test_thunderbird_lists_only_what_it_is_given(tmp_path: Path) -> None:
    root = ET.fromstring(thunderbird.config_xml("example.org", _imap_smtp(tmp_path)))
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider is not None and provider.findtext("domain") == "example.org"
    incoming = provider.findall("incomingServer")
    assert [(s.get("type"), s.findtext("port"), s.findtext("socketType")) for s in incoming] == [
        ("imap", "1993", "SSL"), ("imap", "1143", "STARTTLS")]
    assert {s.findtext("username") for s in incoming} == {"%EMAILADDRESS%"}
    assert [s.findtext("port") for s in provider.findall("outgoingServer")] == ["1465", "1587"]
    assert b"pop3" not in thunderbird.config_xml("example.org", _imap_smtp(tmp_path))


def test_thunderbird_escapes_the_domain() -> None:
    body = thunderbird.config_xml('a<b>&"c', [])
    assert ET.fromstring(body).find("emailProvider").get("id") == 'a<b>&"c'  # type: ignore[union-attr]
    assert b"<b>" not in body


def test_autodiscover_reads_a_pox_request() -> None:
    assert autodiscover.parse_request(request_xml()) == "ann@example.org"


@pytest.mark.parametrize("body", [
    b"",
    b"not xml at all",
    b"<Autodiscover><Request>",  # truncated
    request_xml(schema="http://example.org/other"),
    request_xml(address=""),
    request_xml(address="x" * 400 + "@example.org"),
    b'<?xml version="1.0"?><Other xmlns="urn:x"/>',
    # a billion laughs: refused for its DTD before any entity is expanded
    request_xml(address="&lol9;", prolog='<!DOCTYPE l [<!ENTITY lol "lol">'
                + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'
                          if i > 1 else '<!ENTITY lol1 "&lol;&lol;&lol;">' for i in range(1, 10))
                + "]>"),
    # an external entity (XXE): refused too
    request_xml(address="&x;", prolog='<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
    request_xml() + b" " * autodiscover.MAX_REQUEST_BYTES,
])
def test_autodiscover_refuses_what_is_not_a_small_pox_request(body: bytes) -> None:
    with pytest.raises(autodiscover.BadRequest):
        autodiscover.parse_request(body)


def test_autodiscover_answer_has_one_protocol_per_open_door(tmp_path: Path) -> None:
    root = ET.fromstring(autodiscover.response_xml("a&b<c@example.org", _imap_smtp(tmp_path)))
    assert root.tag == "{" + autodiscover.RESPONSE_NS + "}Autodiscover"
    account = root.find(f"{OUTLOOK}Response/{OUTLOOK}Account")
    assert account is not None and account.findtext(f"{OUTLOOK}Action") == "settings"
    protocols = {p.findtext(f"{OUTLOOK}Type"): p for p in account.findall(f"{OUTLOOK}Protocol")}
    assert sorted(protocols) == ["IMAP", "SMTP"]
    imap = protocols["IMAP"]
    assert imap.findtext(f"{OUTLOOK}Port") == "1993"
    assert imap.findtext(f"{OUTLOOK}Encryption") == "SSL"
    assert imap.findtext(f"{OUTLOOK}LoginName") == "a&b<c@example.org"


def test_autodiscover_error_is_fixed_text() -> None:
    root = ET.fromstring(autodiscover.error_xml(600, "Invalid Request"))
    ns = "{" + autodiscover.RESPONSE_NS + "}"
    assert root.findtext(f"{ns}Response/{ns}Error/{ns}ErrorCode") == "600"


def test_apple_profile_prefers_imap_and_implicit_tls(tmp_path: Path) -> None:
    found = endpoints(settings(tmp_path), frozenset({"imap", "pop", "smtp"}))
    top = plistlib.loads(mobileconfig.profile("ann@example.org", "Ann", found))
    assert top["PayloadType"] == "Configuration"
    mail = top["PayloadContent"][0]
    assert mail["PayloadType"] == "com.apple.mail.managed"
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    assert (mail["IncomingMailServerPortNumber"], mail["OutgoingMailServerPortNumber"]) == \
        (1993, 1465)
    assert "IncomingPassword" not in mail
    again = plistlib.loads(mobileconfig.profile("ann@example.org", "Ann", found))
    assert again["PayloadUUID"] == top["PayloadUUID"]  # installing again replaces it


def test_apple_profile_falls_back_to_pop_and_needs_smtp(tmp_path: Path) -> None:
    pop_only = endpoints(settings(tmp_path), frozenset({"pop", "smtp"}))
    mail = plistlib.loads(mobileconfig.profile("a@example.org", "", pop_only))["PayloadContent"][0]
    assert mail["EmailAccountType"] == "EmailTypePOP"
    with pytest.raises(mobileconfig.NothingToConfigure):
        mobileconfig.profile("a@example.org", "", endpoints(settings(tmp_path),
                                                            frozenset({"imap"})))


def test_dns_publishes_closed_doors_as_not_provided(tmp_path: Path) -> None:
    lines = [dns.zone_line(r) for r in dns.srv_records("example.org", _imap_smtp(tmp_path))]
    assert lines == [
        "_imaps._tcp.example.org. 3600 IN SRV 0 1 1993 mail.example.org.",
        "_imap._tcp.example.org. 3600 IN SRV 5 1 1143 mail.example.org.",
        "_pop3s._tcp.example.org. 3600 IN SRV 0 0 0 .",
        "_pop3._tcp.example.org. 3600 IN SRV 0 0 0 .",
        "_submissions._tcp.example.org. 3600 IN SRV 0 1 1465 mail.example.org.",
        "_submission._tcp.example.org. 3600 IN SRV 5 1 1587 mail.example.org."]
    hints = [dns.zone_line(r) for r in dns.hint_records("example.org.", "mail.example.org", 443)]
    assert hints == ["autoconfig.example.org. 3600 IN CNAME mail.example.org.",
                     "autodiscover.example.org. 3600 IN CNAME mail.example.org.",
                     "_autodiscover._tcp.example.org. 3600 IN SRV 0 1 443 mail.example.org."]


@pytest.mark.parametrize("name", ["example.org\n", "not a domain", "example..org", "-a.org"])
def test_dns_refuses_a_name_that_is_not_a_domain(name: str) -> None:
    with pytest.raises(ValueError, match="invalid domain"):
        dns.client_records(None, name)  # type: ignore[arg-type]  # refused before any read


POX = ('<?xml version="1.0"?><Autodiscover xmlns="{ns}"><Request><EMailAddress>{address}'
       '</EMailAddress><AcceptableResponseSchema>{schema}</AcceptableResponseSchema></Request>'
       '</Autodiscover>')


def _address_or_bad_request(body: bytes) -> None:
    try:
        address = autodiscover.parse_request(body)
    except autodiscover.BadRequest as refused:
        assert str(refused) and "\n" not in str(refused)
        return
    assert "@" in address and 0 < len(address) <= autodiscover.MAX_ADDRESS
    assert address == address.strip()


@given(st.binary(max_size=6000))
def test_any_bytes_give_an_address_or_bad_request(body: bytes) -> None:
    _address_or_bad_request(body)


@given(st.text(max_size=400), st.sampled_from([autodiscover.OUTLOOK_NS, "", "x"]))
def test_any_text_where_the_address_goes_gives_an_address_or_bad_request(
        address: str, schema: str) -> None:
    body = POX.format(ns=autodiscover.REQUEST_NS, address=address, schema=schema)
    _address_or_bad_request(body.encode("utf-8", "surrogatepass"))
