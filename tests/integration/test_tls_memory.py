"""TLS sessions cost `mailgate serve` little memory, and leave little behind (defect 11).

asyncio gave every TLS connection a 256 KiB receive buffer of its own: 300 TLS sessions held
about 90 MiB, and 1 500 left about 400 MiB behind once closed. The bounds below are generous
(several times what the server uses now) and far below what it used then.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from live_server import RunningServer, start_server

SESSIONS = 300
MIB = 1024


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


async def tls_session(server: RunningServer, context: ssl.SSLContext, stls: bool
                      ) -> asyncio.StreamWriter:
    """A greeted TLS session, on pop3s or upgraded with STLS on pop3."""
    if stls:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.ports["pop3"])
        assert (await reader.readline()).startswith(b"+OK")
        writer.write(b"STLS\r\n")
        assert (await reader.readline()).startswith(b"+OK")
        await writer.start_tls(context, server_hostname="127.0.0.1")
    else:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.ports["pop3s"], ssl=context, server_hostname="127.0.0.1")
        assert (await reader.readline()).startswith(b"+OK")
    writer.write(b"CAPA\r\n")
    await reader.readuntil(b"\r\n.\r\n")
    return writer


async def sessions(server: RunningServer, count: int) -> list[asyncio.StreamWriter]:
    context = ssl.create_default_context(cafile=str(server.cert))
    return list(await asyncio.wait_for(
        asyncio.gather(*(tls_session(server, context, n % 2 == 1) for n in range(count))),
        120))


async def close(writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.close()
    await asyncio.gather(*(writer.wait_closed() for writer in writers),
                         return_exceptions=True)


async def test_tls_sessions_hold_little_memory_and_leave_little_behind(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        await close(await sessions(server, 20))  # warm-up: one-time allocations
        before = rss_kib(server.proc.pid)
        writers = await sessions(server, SESSIONS)
        held = rss_kib(server.proc.pid) - before
        await close(writers)
        await close(await sessions(server, 1))  # the server has handled the closes
        left = rss_kib(server.proc.pid) - before
    finally:
        code = server.stop()
    log = server.log.read_text(errors="replace")
    assert code == 0 and "Traceback" not in log, log
    print(f"{SESSIONS} TLS sessions: +{held / MIB:.1f} MiB open, +{left / MIB:.1f} MiB closed")
    assert held < 40 * MIB, f"{SESSIONS} open TLS sessions took {held / MIB:.0f} MiB"
    assert left < 40 * MIB, f"{SESSIONS} closed TLS sessions left {left / MIB:.0f} MiB"
