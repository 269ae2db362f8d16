"""Delivery reports (`bounce.report`: failures, delays, deliveries, relayings) put in the
sender's INBOX, with `Return-Path: <>` so that nothing ever answers them."""

from __future__ import annotations

from sqlalchemy import Connection

from mailgate import mime
from mailgate.outbound import bounce
from mailgate.protocols.smtp.dsn import MessageRequest
from mailgate.service import Service
from mailgate.store import messages
from mailgate.store.messages import Incoming, MessageRejected

Prepared = tuple[str, mime.ParsedMessage, Incoming]


def prepare(svc: Service, report: bytes) -> Prepared:
    """The report's file, written durably before the transaction that shows it."""
    digest, _, parsed = messages.prepare(svc, b"Return-Path: <>\r\n" + report)
    return digest, parsed, Incoming(report)


def put(conn: Connection, sender: str, report: Prepared, now: float) -> bool:
    """Into the sender's INBOX; False when there is no such account any more."""
    try:
        account_id = messages.recipient(conn, sender, now)
    except MessageRejected:
        return False
    messages.store_prepared(conn, account_id, "INBOX", [report], now)
    return True


def build(svc: Service, sender: str, told: list[bounce.Notice], original: bytes,
          queue_id: str, request: MessageRequest, arrived_at: float) -> bytes:
    return bounce.report(hostname=str(svc.settings.get("server", "hostname")), sender=sender,
                         notices=told, original=original, queue_id=queue_id,
                         arrived_at=arrived_at, now=svc.clock(),
                         envelope_id=request.envelope_id, whole=request.ret == "FULL")


def send(svc: Service, sender: str, told: list[bounce.Notice], original: bytes,
         queue_id: str, request: MessageRequest) -> bool:
    """Report what became of a message that arrived just now to its sender, in a
    transaction of its own."""
    now = svc.clock()
    report = prepare(svc, build(svc, sender, told, original, queue_id, request, now))
    with svc.engine.begin() as conn:
        return put(conn, sender, report, now)
