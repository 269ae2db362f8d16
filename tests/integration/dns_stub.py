"""A tiny authoritative DNS server on loopback UDP for tests: answers from a table, NXDOMAIN
for any other name, so a real `mailgate serve` checks SPF, DKIM and DMARC without network
(point it here with MAILGATE_SERVER_NAMESERVERS=127.0.0.1:PORT)."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsStub:
    """Serve `records` ((name, type) -> record texts in zone-file form) until `close`."""

    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        self.records = {(name.lower().rstrip("."), kind): texts
                        for (name, kind), texts in records.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:  # closed
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue
            self.sock.sendto(self._answer(query).to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        kind = dns.rdatatype.to_text(question.rdtype)
        texts = self.records.get((name, kind))
        if texts:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", kind,
                                                            texts))
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response

    def close(self) -> None:
        self.sock.close()
