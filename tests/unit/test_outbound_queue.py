"""The outbound queue's parts on each database: the runner's duty, waiting times, held
attempts, deleting one being sent, the DSN a bounce carries, DATA's dot-stuffing and the MX
hosts of a domain."""

from __future__ import annotations

import email
from pathlib import Path

import pytest

from mailgate import config, duties
from mailgate.config import ConfigError
from mailgate.db.schema import nodes
from mailgate.directory.authority import Actor
from mailgate.directory.errors import Conflict
from mailgate.mail_auth.lookup import DnsTemporaryError, Lookup
from mailgate.outbound import bounce, mx, operator, queue, transport
from mailgate.service import Service


def _node(svc: Service, name: str, last_seen: float) -> None:
    with svc.engine.begin() as conn:
        conn.execute(nodes.insert().values(name=name, started_at=0.0, last_seen=last_seen))


def test_one_live_node_holds_the_duty_and_a_dead_ones_is_taken_over(svc: Service) -> None:
    _node(svc, "a", 1000.0)
    _node(svc, "b", 1030.0)
    with svc.engine.begin() as conn:
        assert duties.take(conn, "outbound-queue", "a", 1000.0, 990.0)
        assert duties.take(conn, "outbound-queue", "a", 1001.0, 990.0)  # kept
        assert not duties.take(conn, "outbound-queue", "b", 1001.0, 990.0)
        # a's heartbeat is older than the window: gone, its duty goes to b
        assert duties.take(conn, "outbound-queue", "b", 1040.0, 1010.0)
        assert not duties.take(conn, "outbound-queue", "a", 1040.0, 1010.0)


def test_waits_double_up_to_the_longest_and_never_pass_the_lifetime(svc: Service) -> None:
    with svc.engine.begin() as conn:
        queue.enqueue(conn, "0123456789ab", "a@example.test", {"x@out.example": ""}, "", 10, 0.0)
    waits = []
    now = 0.0
    for _ in range(6):
        with svc.engine.begin() as conn:
            [entry] = queue.due(conn, now, 10)
            queue.defer(conn, entry.recipients, "451 later", now, 60, 600, 1500.0)
            now = queue.next_due(conn) or 0.0
            waits.append(now)
    assert waits == [60.0, 180.0, 420.0, 900.0, 1500.0, 1500.0]


def test_a_cut_off_sending_is_held_and_retry_releases_it(svc: Service) -> None:
    with svc.engine.begin() as conn:
        queue.enqueue(conn, "0123456789ab", "a@example.test", {"x@out.example": "",
                                                                "y@out.example": ""}, "", 10, 0.0)
        [entry] = queue.due(conn, 0.0, 10)
        queue.set_state(conn, [entry.recipients[0].row_id], queue.SENDING)
        assert queue.hold_interrupted(conn) == ["0123456789ab"]
        [entry] = queue.due(conn, 5.0, 10)
        assert [r.address for r in entry.recipients] == ["y@out.example"]
        assert queue.retry_now(conn, "0123456789ab", 6.0) == 2
        [entry] = queue.due(conn, 6.0, 10)
        assert len(entry.recipients) == 2 and queue.in_use(conn, "0123456789ab")


def test_a_message_being_sent_is_a_conflict_to_delete_and_stays(svc: Service) -> None:
    with svc.engine.begin() as conn:
        queue.enqueue(conn, "0123456789ab", "a@example.test", {"x@out.example": ""}, "", 10, 0.0)
        [entry] = queue.due(conn, 0.0, 10)
        queue.set_state(conn, [entry.recipients[0].row_id], queue.SENDING)
    with pytest.raises(Conflict, match="is being sent right now; try again"):
        operator.delete(svc, Actor.system(), "0123456789ab")
    with svc.reader.connect() as conn:
        assert queue.entry(conn, "0123456789ab") is not None


def test_a_bounce_is_a_multipart_report_with_a_status_per_recipient() -> None:
    original = b"From: a@example.test\r\nSubject: hello\r\n\r\nsecret body\r\n"
    raw = bounce.report(hostname="mx.example.test", sender="a@example.test", notices=[
        bounce.permanent("x@out.example", "550 5.1.1 <x@out.example>: no such user"),
        bounce.expired("y@out.example", "451 4.3.0 later")], original=original,
        queue_id="0123456789ab", arrived_at=0.0, now=100.0)
    report = email.message_from_bytes(raw)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert report["Auto-Submitted"] == "auto-replied"
    kinds = [p.get_content_type() for p in report.get_payload()]  # type: ignore[union-attr]
    assert kinds == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    text = raw.decode()
    assert "Status: 5.1.1" in text and "Status: 4.4.7" in text
    assert "Diagnostic-Code: smtp; 550 5.1.1" in text
    assert "Diagnostic-Code: smtp; 451" not in text  # expired: said here, not by a remote
    assert "Subject: hello" in text and "secret body" not in text  # the header only


def test_data_doubles_dots_at_line_starts_and_ends_with_crlf() -> None:
    assert transport.stuffed(b".a\r\nb.\r\n..c") == b"..a\r\nb.\r\n...c\r\n"


def test_relay_tls_takes_only_known_modes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="relay_tls"):
        config.load(tmp_path, environ={"MAILGATE_SERVER_RELAY_TLS": "maybe"})
    assert config.load(tmp_path, environ={}).seconds("server", "queue_lifetime") == 5 * 86400


def _table(answers: dict[tuple[str, str], list[str]]) -> Lookup:
    def lookup(name: str, rrtype: str) -> list[str]:
        if name == "down.example":
            raise DnsTemporaryError(f"DNS {rrtype} {name}: timed out")
        return answers.get((name, rrtype), [])

    return lookup


def test_mx_hosts_by_preference_the_implicit_mx_and_the_domains_taking_none() -> None:
    lookup = _table({("a.example", "MX"): ["20 two.a.example.", "10 one.a.example."],
                     ("b.example", "A"): ["192.0.2.1"],
                     ("null.example", "MX"): ["0 ."]})
    assert mx.hosts("a.example", lookup) == ["one.a.example", "two.a.example"]
    assert mx.hosts("b.example", lookup) == ["b.example"]
    with pytest.raises(mx.NoMailHere, match=r"5\.1\.10"):
        mx.hosts("null.example", lookup)
    with pytest.raises(mx.NoMailHere, match=r"5\.1\.2"):
        mx.hosts("nowhere.example", lookup)
    with pytest.raises(mx.LookupFailed, match=r"4\.4\.3"):
        mx.hosts("down.example", lookup)


def test_mx_host_addresses_ipv4_first_and_a_dns_failure_is_temporary() -> None:
    lookup = _table({("mx.a.example", "A"): ["192.0.2.7"],
                     ("mx.a.example", "AAAA"): ["2001:db8::7"]})
    assert mx.addresses("mx.a.example", lookup) == ["192.0.2.7", "2001:db8::7"]
    assert mx.addresses("none.a.example", lookup) == []
    with pytest.raises(mx.LookupFailed, match=r"4\.4\.3"):
        mx.addresses("down.example", lookup)


def test_a_failure_found_here_is_no_remote_diagnostic() -> None:
    said = "5.1.2 elsewhere.example has no MX and no address: no mail goes there"
    failure = bounce.permanent("x@elsewhere.example", said)
    assert (failure.status, failure.remote) == ("5.1.2", False)
    assert bounce.permanent("x@out.example", "550 5.1.1 no (in reply to RCPT TO)").remote
