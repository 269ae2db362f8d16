"""The queue runner inside `mailgate serve`: one per cluster sends what waits in the queue.

Every round it takes (or keeps) the `outbound-queue` duty (`mailgate.duties`); a node that
does not hold it only waits. A node that takes the duty over first holds whatever a dead
runner left `sending` (see `queue.INTERRUPTED`). Then each due message goes to the smarthost
(`server.relay_host`) or to its recipients' MX hosts (their addresses from the same DNS, port
`server.outbound_port`); a temporary failure waits longer each time (`queue_retry_min`
doubling up to `queue_retry_max`), a 5xx bounces at once, and a message still queued
`queue_lifetime` after it arrived bounces too. A bounce is a DSN in the
sender's INBOX (unless it said NOTIFY=NEVER), audited (`queue.bounce`) in the same
transaction that drops the rows; a next hop without DSN means a `relayed` report for the
recipients that asked NOTIFY=SUCCESS, and a message still waiting `queue_delay_warning`
after it arrived a `delayed` report, once (unless NOTIFY left DELAY out).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, replace

from mailgate import duties
from mailgate.audit import log as audit_log
from mailgate.mail_auth.lookup import resolver_lookup
from mailgate.nodes import seen_since
from mailgate.outbound import bounce, mx, queue, reports, transport
from mailgate.outbound.queue import Entry, Recipient
from mailgate.outbound.spool import Spool
from mailgate.protocols.smtp import dsn
from mailgate.service import Service

log = logging.getLogger("mailgate.outbound")
DUTY = "outbound-queue"
BATCH = 20
LONGEST_NAP = 5.0  # other nodes and `queue retry` change the queue: look this often


@dataclass(frozen=True)
class Timing:
    lifetime: float
    first_wait: float
    longest_wait: float
    delay_warning: float

    @classmethod
    def of(cls, svc: Service) -> Timing:
        s = svc.settings
        return cls(s.seconds("server", "queue_lifetime"), s.seconds("server", "queue_retry_min"),
                   s.seconds("server", "queue_retry_max"),
                   s.seconds("server", "queue_delay_warning"))


class QueueRunner:
    """Sends the queue while this node holds the duty."""

    def __init__(self, svc: Service, node: str) -> None:
        self.svc = svc
        self.node = node
        self.timing = Timing.of(svc)
        self.spool = Spool.of(svc)
        self.hostname = str(svc.settings.get("server", "hostname"))
        relay = str(svc.settings.get("server", "relay_host")).strip()
        self.relay = transport.Target(
            relay, int(svc.settings.get("server", "relay_port")),
            str(svc.settings.get("server", "relay_tls")),
            str(svc.settings.get("server", "relay_username")),
            str(svc.settings.get("server", "relay_password"))) if relay else None
        self.lookup = resolver_lookup(svc.settings.get("server", "nameservers"))
        self.outbound_port = int(svc.settings.get("server", "outbound_port"))
        self._wake = asyncio.Event()
        self._stopping = threading.Event()  # read by the round between two messages
        self._task: asyncio.Task[None] | None = None
        self._holding = False
        self._longest_nap = min(LONGEST_NAP, self.timing.first_wait)

    def wake(self) -> None:
        """Something was queued here: look now."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbound queue")

    async def stop(self) -> None:
        """Let the message being sent finish (its outcome recorded), then stop."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                nap = await asyncio.to_thread(self.round)
            except Exception:
                log.exception("the outbound queue round failed; trying again")
                nap = self._longest_nap
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=nap)
            except TimeoutError:
                pass

    def round(self) -> float:
        """Send what is due; the seconds until something may be due again."""
        if not self._take_duty():
            return self._longest_nap
        while True:
            now = self.svc.clock()
            with self.svc.reader.connect() as conn:
                entries = queue.due(conn, now, BATCH)
            for entry in entries:
                if self._stopping.is_set():
                    return 0.0
                self._attempt(entry)
            if len(entries) < BATCH:
                break
        with self.svc.reader.connect() as conn:
            upcoming = queue.next_due(conn)
        wait = self._longest_nap if upcoming is None else upcoming - self.svc.clock()
        return max(0.05, min(self._longest_nap, wait))

    def _take_duty(self) -> bool:
        now = self.svc.clock()
        with self.svc.engine.begin() as conn:
            holding = duties.take(conn, DUTY, self.node, now, seen_since(self.svc))
            if holding and not self._holding:
                held = queue.hold_interrupted(conn)
                if held:
                    audit_log.append(conn, at=now, actor="system", role="system",
                                     action="queue.hold", account=None,
                                     details={"queue_ids": held, "reason": queue.INTERRUPTED})
                    log.warning("held %d message(s) whose sending was cut off: %s",
                                len(held), " ".join(held))
        self._holding = holding
        return holding

    def _attempt(self, entry: Entry) -> None:
        now = self.svc.clock()
        give_up_at = entry.queued_at + self.timing.lifetime
        data, unreadable = self._spooled(entry.queue_id)
        if now >= give_up_at:
            self._bounce(entry, [bounce.expired(r.address, r.last_error)
                                 for r in entry.recipients], data or b"")
            return
        if data is None:
            with self.svc.engine.begin() as conn:
                queue.defer(conn, entry.recipients, unreadable, now, self.timing.first_wait,
                            self.timing.longest_wait, give_up_at)
            return
        outcome = self._deliver(entry, data)
        with self.svc.engine.begin() as conn:
            queue.remove(conn, [r.row_id for r in outcome.delivered])
            for r, said in outcome.deferred:
                queue.defer(conn, [r], said, self.svc.clock(), self.timing.first_wait,
                            self.timing.longest_wait, give_up_at)
            if outcome.uncertain:
                queue.set_state(conn, [r.row_id for r in outcome.uncertain], queue.HELD,
                                queue.NO_ANSWER)
                audit_log.append(conn, at=now, actor="system", role="system",
                                 action="queue.hold", account=entry.sender,
                                 details={"queue_ids": [entry.queue_id],
                                          "reason": queue.NO_ANSWER})
        for r in outcome.delivered:
            log.info("message %s delivered to %s", entry.queue_id, r.address)
        self._report_relayed(entry, outcome.unreported, data)
        self._warn_delayed(entry, outcome.deferred, data, give_up_at)
        if outcome.failed:
            self._bounce(entry, [bounce.permanent(r.address, said)
                                 for r, said in outcome.failed], data)
        self._drop_spool_if_done(entry.queue_id)

    def _spooled(self, queue_id: str) -> tuple[bytes | None, str]:
        """The queued message, or None and why (e.g. it was queued on a node whose blob
        store this one lacks: a temporary failure, bounced only when its lifetime ends)."""
        try:
            return self.spool.read(queue_id), ""
        except OSError as exc:
            why = (f"4.3.0 the queued copy {self.spool.path(queue_id)} cannot be read here "
                   f"({exc.strerror}); every node needs the shared blob store")
            log.error("%s", why)
            return None, why

    def _deliver(self, entry: Entry, data: bytes) -> transport.Outcome:
        options = entry.mail_options.split()
        if self.relay is not None:
            return transport.send(self.relay, self.hostname, entry.sender, entry.recipients,
                                  data, options, self._mark_sending)
        total = transport.Outcome()
        by_domain: dict[str, list[Recipient]] = {}
        for r in entry.recipients:
            by_domain.setdefault(r.address.rpartition("@")[2].lower(), []).append(r)
        for domain, recipients in by_domain.items():
            outcome = self._to_mx(domain, entry.sender, recipients, data, options)
            total.delivered += outcome.delivered
            total.failed += outcome.failed
            total.deferred += outcome.deferred
            total.uncertain += outcome.uncertain
            total.unreported += outcome.unreported
        return total

    def _to_mx(self, domain: str, sender: str, recipients: list[Recipient], data: bytes,
               options: list[str]) -> transport.Outcome:
        """Offer the message to the domain's mail hosts, best first, each at its addresses
        (`server.outbound_port`), until one answers."""
        outcome = transport.Outcome()
        try:
            hosts = mx.hosts(domain, self.lookup)
            for host in hosts:
                for address in mx.addresses(host, self.lookup):
                    target = transport.Target(address, self.outbound_port, "opportunistic",
                                              name=host)
                    outcome = transport.send(target, self.hostname, sender, recipients,
                                             data, options, self._mark_sending)
                    if not outcome.unreachable:
                        return outcome
        except mx.NoMailHere as exc:
            outcome.failed = [(r, str(exc)) for r in recipients]
            return outcome
        except mx.LookupFailed as exc:
            outcome.deferred = [(r, str(exc)) for r in recipients]
            return outcome
        if not outcome.unreachable:  # no host had an address
            outcome.deferred = [(r, f"4.4.4 no address for the mail hosts of {domain}: "
                                    f"{' '.join(hosts)}") for r in recipients]
        return outcome

    def _mark_sending(self, recipients: list[Recipient]) -> None:
        with self.svc.engine.begin() as conn:
            queue.set_state(conn, [r.row_id for r in recipients], queue.SENDING)

    def _report_relayed(self, entry: Entry, recipients: list[Recipient], original: bytes
                        ) -> None:
        """A next hop that does not offer DSN took the message: the recipients whose
        sender asked NOTIFY=SUCCESS get a `relayed` report (RFC 3461 §6.2.2)."""
        told = [bounce.relayed(r.address, "passed on to a mail system without DSN",
                               _asked(r).original)
                for r in recipients if _asked(r).wants(dsn.SUCCESS)]
        if not told:
            return
        try:
            report = self._report(entry, told, original)
            with self.svc.engine.begin() as conn:
                reports.put(conn, entry.sender, report, self.svc.clock())
        except Exception:  # sent already: nothing to undo, and nothing is sent twice
            log.exception("the relaying report of message %s could not be stored",
                          entry.queue_id)

    def _warn_delayed(self, entry: Entry, deferred: list[tuple[Recipient, str]],
                      original: bytes, give_up_at: float) -> None:
        """Recipients still waiting `queue_delay_warning` after the message was queued: the
        sender is told once, with a `delayed` report, unless its NOTIFY left DELAY out."""
        now = self.svc.clock()
        due = [(r, said) for r, said in deferred if not r.delay_warned]
        if not due or now < entry.queued_at + self.timing.delay_warning:
            return
        told = [bounce.delayed(r.address, said, give_up_at, _asked(r).original)
                for r, said in due if _asked(r).wants(dsn.DELAY)]
        report = self._report(entry, told, original) if told else None
        with self.svc.engine.begin() as conn:
            if report is not None:
                reports.put(conn, entry.sender, report, now)
            queue.mark_delay_warned(conn, [r.row_id for r, _ in due])
        if told:
            log.info("message %s delayed: its sender was told (%d recipient(s))",
                     entry.queue_id, len(told))

    def _bounce(self, entry: Entry, failures: list[bounce.Notice], original: bytes) -> None:
        """Tell the sender (a DSN in its INBOX) of the failures it wants to hear of (all,
        unless it said NOTIFY otherwise) and drop the failed recipients' rows."""
        now = self.svc.clock()
        asked = {r.address: _asked(r) for r in entry.recipients}
        told = [replace(f, original=asked[f.recipient].original) for f in failures
                if asked[f.recipient].wants(dsn.FAILURE)]
        report = self._report(entry, told, original) if told else None
        failed = {f.recipient for f in failures}
        rows = [r.row_id for r in entry.recipients if r.address in failed]
        with self.svc.engine.begin() as conn:
            # a sender gone or NOTIFY=NEVER: the audit entry is all that is left
            returned = report is not None and reports.put(conn, entry.sender, report, now)
            queue.remove(conn, rows)
            audit_log.append(conn, at=now, actor="system", role="system",
                             action="queue.bounce", account=entry.sender, details={
                                 "queue_id": entry.queue_id, "returned": returned,
                                 "recipients": [{"address": f.recipient, "status": f.status,
                                                 "reason": f.reason} for f in failures],
                                 **({} if len(told) == len(failures) else {
                                     "not_told": sorted(failed - {f.recipient for f in told})
                                 })})
        log.warning("message %s bounced for %d recipient(s)", entry.queue_id, len(failures))
        self._drop_spool_if_done(entry.queue_id)

    def _report(self, entry: Entry, told: list[bounce.Notice], original: bytes
                ) -> reports.Prepared:
        """The report to the message's sender about `told`, its file written, as the
        sender asked with MAIL (RET, ENVID)."""
        return reports.prepare(self.svc, reports.build(
            self.svc, entry.sender, told, original, entry.queue_id,
            dsn.message_request(entry.mail_options)[1], entry.queued_at))

    def _drop_spool_if_done(self, queue_id: str) -> None:
        with self.svc.reader.connect() as conn:
            if queue.in_use(conn, queue_id):
                return
        self.spool.remove(queue_id)


def _asked(recipient: Recipient) -> dsn.RecipientRequest:
    """What the sender asked to be told about this recipient (RCPT's NOTIFY, ORCPT)."""
    return dsn.recipient_request(recipient.options)[1]
