"""`mailgate serve`: every listener in one event loop, stopped cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from dataclasses import dataclass, field

from starlette.applications import Starlette

from mailgate.audit.recorder import Recorder
from mailgate.audit.seal import seal
from mailgate.auth.gate import Gate
from mailgate.collector import freeze_startup_objects
from mailgate.db.engine import migrate
from mailgate.events.sessions import EventFollower, SessionRegistry
from mailgate.http.admin.app import build_admin_api
from mailgate.http.app import EmbeddedServer, build_app, http_server
from mailgate.http.oauth.provider import Provider
from mailgate.http.websession import WebSessions
from mailgate.listening import bind_listeners
from mailgate.nodes import Heartbeat
from mailgate.outbound.runner import QueueRunner
from mailgate.periodic import Periodic
from mailgate.protocols.imap.watcher import FolderWatcher
from mailgate.protocols.preauth import PreauthLimiter
from mailgate.service import Service
from mailgate.store.commits import GroupCommit
from mailgate.store.messages import purge_expired
from mailgate.tls import server_context

log = logging.getLogger("mailgate.server")
PURGE_EVERY = 3600.0
LISTENERS = ("imap", "imaps", "pop3", "pop3s", "submission", "submissions", "smtp", "lmtp",
             "http", "https")  # the listeners this release serves


@dataclass
class Runtime:
    """The running parts of one node."""

    svc: Service
    node: str = field(default_factory=lambda: f"{socket.gethostname()[:50]}-{os.getpid()}")
    servers: list[asyncio.AbstractServer] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)


async def _start_pop3(rt: Runtime, gate: Gate, registry: SessionRegistry,
                      sockets: dict[str, socket.socket], preauth: PreauthLimiter) -> None:
    from mailgate.protocols.pop3.listener import start_pop3_server
    from mailgate.protocols.pop3.service import Pop3Service

    backend = Pop3Service(rt.svc, gate, registry)
    tls = server_context(rt.svc.settings.cert_path, rt.svc.settings.key_path)
    for name, implicit in (("pop3", False), ("pop3s", True)):
        where = rt.svc.settings.listener(name)
        if where is None:
            continue
        server = await start_pop3_server(backend, None, None, tls, implicit, sock=sockets[name],
                                         preauth=preauth)
        rt.servers.append(server)
        rt.endpoints.append(f"{name} {where[0]}:{where[1]}")


async def _start_imap(rt: Runtime, gate: Gate, registry: SessionRegistry,
                      sockets: dict[str, socket.socket], preauth: PreauthLimiter
                      ) -> FolderWatcher:
    from mailgate.protocols.imap.listener import start_imap_server
    from mailgate.protocols.imap.service import ImapService

    watcher = FolderWatcher(rt.svc)
    backend = ImapService(rt.svc, gate, registry, watcher)
    tls = server_context(rt.svc.settings.cert_path, rt.svc.settings.key_path)
    for name, implicit in (("imap", False), ("imaps", True)):
        where = rt.svc.settings.listener(name)
        if where is None:
            continue
        server = await start_imap_server(backend, sockets[name], tls, implicit, preauth)
        rt.servers.append(server)
        rt.endpoints.append(f"{name} {where[0]}:{where[1]}")
    watcher.start()
    return watcher


async def _start_smtp(rt: Runtime, gate: Gate, registry: SessionRegistry,
                      sockets: dict[str, socket.socket], preauth: PreauthLimiter,
                      outbound: QueueRunner, commits: GroupCommit) -> None:
    from mailgate.protocols.smtp.inbound import InboundHandler, LmtpHandler
    from mailgate.protocols.smtp.listener import start_smtp_server
    from mailgate.protocols.smtp.submission import SubmissionHandler

    settings = rt.svc.settings
    most = int(settings.get("server", "max_recipients_per_message"))
    submission = SubmissionHandler(rt.svc, gate, registry, max_recipients=most,
                                   commits=commits, queued=outbound.wake)
    handlers = {"submission": submission, "submissions": submission,
                "smtp": InboundHandler(rt.svc, max_recipients=most, commits=commits),
                "lmtp": LmtpHandler(rt.svc, max_recipients=most, commits=commits)}
    tls = server_context(settings.cert_path, settings.key_path)
    limit = int(settings.get("storage", "max_message_bytes"))
    for name, handler in handlers.items():
        where = settings.listener(name)
        if where is None:
            continue
        server = await start_smtp_server(name, handler, sockets[name], tls, preauth, limit)
        rt.servers.append(server)
        rt.endpoints.append(f"{name} {where[0]}:{where[1]}")


async def _start_http(rt: Runtime, app: Starlette, name: str,
                      sockets: dict[str, socket.socket]
                      ) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    """uvicorn on the `http` listener, or with the server's certificate on `https`."""
    where = rt.svc.settings.listener(name)
    assert where is not None
    settings = rt.svc.settings
    tls = (settings.cert_path, settings.key_path) if name == "https" else None
    http = http_server(app, where[0], where[1], tls)
    task = asyncio.get_running_loop().create_task(http.serve([sockets[name]]))
    while not http.started:
        if task.done():
            task.result()
            raise OSError(f"the {name.upper()} listener could not start on "
                          f"{where[0]}:{where[1]}")
        await asyncio.sleep(0.01)
    rt.endpoints.append(f"{name} {where[0]}:{where[1]}")
    return http, task


async def _purge(svc: Service) -> None:
    removed = await asyncio.to_thread(purge_expired, svc)
    if removed:
        log.info("purged expired recoverable items", extra={"count": removed})


async def serve(svc: Service, ready: asyncio.Event | None = None, sole_node: bool = False
                ) -> None:
    """Run until SIGTERM/SIGINT (or until the returned task is cancelled). `sole_node`: no
    other node can use this database (see `serve_lock`)."""
    await asyncio.to_thread(migrate, svc.engine, svc.settings.blob_dir)
    await asyncio.to_thread(seal, svc)
    # every port first: one in use stops us (ListenerError) before anything has started
    sockets = bind_listeners(svc.settings, LISTENERS)
    rt = Runtime(svc)
    preauth = PreauthLimiter.from_settings(svc.settings)  # one for every door
    recorder = Recorder(svc)
    registry = SessionRegistry(rt.node, recorder)
    gate = Gate(svc, recorder)
    follower = EventFollower(svc, registry)
    heartbeat = Heartbeat(svc, rt.node)
    await heartbeat.start(sole=sole_node)
    recorder.start()
    await follower.start()
    await _start_pop3(rt, gate, registry, sockets, preauth)
    watcher = await _start_imap(rt, gate, registry, sockets, preauth)
    outbound = QueueRunner(svc, rt.node)  # sends only on the node that holds its duty
    commits = GroupCommit(svc.engine)  # the deliveries of every SMTP door commit together
    await _start_smtp(rt, gate, registry, sockets, preauth, outbound, commits)
    outbound.start()
    app = build_app(registry.count, Provider(svc, gate, WebSessions(svc)),
                    build_admin_api(svc, registry), registry, commits=commits,
                    queued=outbound.wake)
    web = [await _start_http(rt, app, name, sockets) for name in ("http", "https")
           if svc.settings.listener(name) is not None]
    purge = Periodic("purging Recoverable Items", PURGE_EVERY, lambda: _purge(svc),
                     immediately=True)
    purge.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("mailgate serving", extra={"node": rt.node, "listeners": rt.endpoints,
                                         "data": str(svc.settings.data_dir)})
    freeze_startup_objects()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("mailgate stopping")
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await purge.stop()
        for server in rt.servers:
            server.close()
        await outbound.stop()
        for http, http_task in web:
            http.should_exit = True
            await http_task
        await watcher.stop()
        await follower.stop()
        await recorder.stop()
        await heartbeat.stop()
        commits.close()
        gate.close()
        log.info("mailgate stopped")
