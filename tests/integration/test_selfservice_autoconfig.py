"""Client autoconfiguration against a real `mailgate serve`: Thunderbird's autoconfig document
(fetched with curl) and Autodiscover POX offer only open doors — for an account with POP off,
IMAP and SMTP but not POP; an unknown address gets the very same answer as a known one;
Autodiscover with the account's credentials answers for its own doors, wrong credentials get
401 alike for unknown accounts; malformed, hostile or huge requests get 400 and a fixed
message; `mailgate dns DOMAIN` prints the RFC 6186 SRV records."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
from live_server import RunningServer, start_server

from mailgate.clientconfig import autodiscover

PASSWORD = "correct-horse-battery"
OUTLOOK = "{" + autodiscover.OUTLOOK_NS + "}"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("autoconfig") / "data",
                           ("imap", "imaps", "pop3", "pop3s", "submission", "http"))
    running.account("ann@example.test", PASSWORD)  # POP off: the plan's default
    running.account("pat@example.test", PASSWORD)
    running.cli("protocol", "set", "pat@example.test", "pop", "on", "--reason", "test")
    yield running
    running.stop_cleanly()


def url(live: RunningServer, path: str) -> str:
    return f"http://127.0.0.1:{live.ports['http']}{path}"


def curl(target: str) -> bytes:
    done = subprocess.run(["curl", "--silent", "--show-error", "--fail", target],
                          capture_output=True, timeout=30, check=True)
    return done.stdout


def pox(address: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="'
            f'{autodiscover.REQUEST_NS}"><Request><EMailAddress>{address}</EMailAddress>'
            f"<AcceptableResponseSchema>{autodiscover.OUTLOOK_NS}</AcceptableResponseSchema>"
            "</Request></Autodiscover>").encode()


def protocols(body: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(body)
    return {p.findtext(f"{OUTLOOK}Type") or "": p
            for p in root.iter(f"{OUTLOOK}Protocol")}


@pytest.mark.parametrize("path", ["/.well-known/autoconfig/mail/config-v1.1.xml",
                                  "/mail/config-v1.1.xml"])
def test_thunderbird_offers_imap_and_smtp_but_not_pop(live: RunningServer, path: str) -> None:
    body = curl(url(live, path + "?emailaddress=ann%40example.test"))
    provider = ET.fromstring(body).find("emailProvider")
    assert provider is not None and provider.findtext("domain") == "example.test"
    incoming = {(s.get("type"), int(s.findtext("port") or 0))
                for s in provider.findall("incomingServer")}
    assert incoming == {("imap", live.ports["imaps"]), ("imap", live.ports["imap"])}
    outgoing = [(s.get("type"), int(s.findtext("port") or 0), s.findtext("socketType"))
                for s in provider.findall("outgoingServer")]
    assert outgoing == [("smtp", live.ports["submission"], "STARTTLS")]
    assert b"pop3" not in body


def test_thunderbird_tells_nothing_about_who_exists(live: RunningServer) -> None:
    path = "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="
    known = curl(url(live, path + "ann%40example.test"))
    assert curl(url(live, path + "nobody%40example.test")) == known
    assert curl(url(live, path + "pat%40example.test")) == known  # POP on: not said here
    assert curl(url(live, "/mail/config-v1.1.xml")) == known


def test_autodiscover_without_credentials_answers_the_defaults(live: RunningServer) -> None:
    known = requests.post(url(live, "/autodiscover/autodiscover.xml"),
                          data=pox("pat@example.test"), timeout=10)
    assert known.status_code == 200 and known.headers["content-type"].startswith(
        "application/xml")
    found = protocols(known.content)
    assert sorted(found) == ["IMAP", "SMTP"]
    assert found["IMAP"].findtext(f"{OUTLOOK}Port") == str(live.ports["imaps"])
    assert found["IMAP"].findtext(f"{OUTLOOK}LoginName") == "pat@example.test"
    unknown = requests.post(url(live, "/Autodiscover/Autodiscover.xml"),
                            data=pox("nobody@example.test"), timeout=10)
    assert unknown.content == known.content.replace(b"pat@", b"nobody@")


def test_autodiscover_with_credentials_answers_for_the_account(live: RunningServer) -> None:
    answer = requests.post(url(live, "/autodiscover/autodiscover.xml"),
                           data=pox("pat@example.test"), auth=("pat@example.test", PASSWORD),
                           timeout=10)
    assert answer.status_code == 200
    found = protocols(answer.content)
    assert sorted(found) == ["IMAP", "POP3", "SMTP"]
    assert found["POP3"].findtext(f"{OUTLOOK}Port") == str(live.ports["pop3s"])
    ann = requests.post(url(live, "/autodiscover/autodiscover.xml"), data=pox("ann@example.test"),
                        auth=("ann@example.test", PASSWORD), timeout=10)
    assert sorted(protocols(ann.content)) == ["IMAP", "SMTP"]
    wrong = requests.post(url(live, "/autodiscover/autodiscover.xml"),
                          data=pox("pat@example.test"), auth=("pat@example.test", "nope"),
                          timeout=10)
    nobody = requests.post(url(live, "/autodiscover/autodiscover.xml"),
                           data=pox("nobody@example.test"),
                           auth=("nobody@example.test", "nope"), timeout=10)
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.content == nobody.content and b"pat@" not in wrong.content
    assert wrong.headers["www-authenticate"].startswith("Basic")
    audit = json.loads(live.cli("audit", "--account", "pat@example.test", "--json").stdout)
    assert any(e["action"] == "signin" and e.get("client_id") == "autodiscover"
               for e in audit)


BOMB = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY a%d "%s">' % (i, (b"&a%d;" % (i - 1) if i > 1 else b"&a;") * 10)
                   for i in range(1, 9))
        + b']><Autodiscover xmlns="' + autodiscover.REQUEST_NS.encode()
        + b'"><Request><EMailAddress>&a8;</EMailAddress></Request></Autodiscover>')


@pytest.mark.parametrize("body", [
    b"",
    b"<Autodiscover><Request>",
    b"\xff\xfe not xml",
    BOMB,
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + pox("&x;").split(b"?>", 1)[1],
    pox("ann@example.test").replace(b"</Autodiscover>", b"<pad>" + b"x" * 20000
                                    + b"</pad></Autodiscover>"),
    pox("<script>@example.test"),
], ids=["empty", "truncated", "binary", "billion-laughs", "xxe", "huge", "markup"])
def test_bad_autodiscover_requests_get_400_and_nothing_else(live: RunningServer,
                                                            body: bytes) -> None:
    answer = requests.post(url(live, "/autodiscover/autodiscover.xml"), data=body, timeout=10)
    assert answer.status_code == 400
    ns = "{" + autodiscover.RESPONSE_NS + "}"
    error = ET.fromstring(answer.content).find(f"{ns}Response/{ns}Error")
    assert error is not None and error.findtext(f"{ns}ErrorCode") == "600"
    text = answer.text
    assert "Traceback" not in text and "passwd" not in text and "script" not in text
    assert "localhost" not in text and "aaaa" not in text


def test_autodiscover_beyond_the_listener_cap_is_413(live: RunningServer) -> None:
    answer = requests.post(url(live, "/autodiscover/autodiscover.xml"),
                           data=b"<" * (70 * 1024), timeout=10)
    assert answer.status_code == 413


def test_dns_prints_srv_records_for_open_doors(live: RunningServer) -> None:
    out = live.cli("dns", "example.test").stdout.splitlines()
    assert f"_imaps._tcp.example.test. 3600 IN SRV 0 1 {live.ports['imaps']} localhost." in out
    assert f"_imap._tcp.example.test. 3600 IN SRV 5 1 {live.ports['imap']} localhost." in out
    assert "_pop3s._tcp.example.test. 3600 IN SRV 0 0 0 ." in out  # off for new accounts
    assert "_submissions._tcp.example.test. 3600 IN SRV 0 0 0 ." in out  # listener off
    assert f"_submission._tcp.example.test. 3600 IN SRV 5 1 {live.ports['submission']} " \
        "localhost." in out
    assert "autoconfig.example.test. 3600 IN CNAME localhost." in out
    records = json.loads(live.cli("dns", "example.test", "--json").stdout)
    assert {r["type"] for r in records} == {"SRV", "CNAME"}
    refused = live.cli("dns", "not a domain", check=False)
    assert refused.returncode != 0 and "invalid domain" in refused.stderr
