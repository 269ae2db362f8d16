"""A change made by another process (the CLI) ends live sessions within one second."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from mailgate.directory import accounts, doors
from mailgate.directory.authority import Actor
from mailgate.events.sessions import EventFollower, LiveSession, SessionRegistry
from mailgate.policy.decision import Decision
from mailgate.service import Service

SYSTEM = Actor.system()


async def _cli(svc: Service, *args: str, stdin: bytes | None = None) -> float:
    """Run the real CLI in another process; return the time it exited."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mailgate", "--data", str(svc.settings.data_dir), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=_env(svc))
    _, err = await proc.communicate(stdin)
    assert proc.returncode == 0, err.decode()
    return time.monotonic()


def _env(svc: Service) -> dict[str, str]:
    import os

    env = dict(os.environ)
    url = svc.settings.database_url
    if url.startswith("postgresql"):
        env["MAILGATE_STORAGE_DATABASE_URL"] = svc.engine.url.render_as_string(
            hide_password=False)
    return env


class Watch:
    """A fake live session that records when and why it was closed."""

    def __init__(self, registry: SessionRegistry, account_id: int, address: str,
                 protocol: str = "pop", session_id: str = "s1", method: str = "password",
                 credential_epoch: int | None = None) -> None:
        self.closed = asyncio.Event()
        self.decision: Decision | None = None
        self.at = 0.0

        def close(decision: Decision) -> None:
            self.decision, self.at = decision, time.monotonic()
            self.closed.set()

        registry.register(LiveSession(session_id, account_id, address, protocol, method,
                                      "127.0.0.1", close, credential_epoch=credential_epoch))


async def _setup(svc: Service, address: str, department: str | None = None
                 ) -> tuple[SessionRegistry, EventFollower, int]:
    accounts.create(svc, SYSTEM, address, "correct-horse", department=department)
    doors.set_protocol(svc, SYSTEM, address, "pop", True)
    with svc.engine.connect() as conn:
        from mailgate.directory.views import account_row

        account_id = account_row(conn, address).id
    registry = SessionRegistry("test-node")
    follower = EventFollower(svc, registry)
    await follower.start()
    return registry, follower, account_id


@pytest.mark.parametrize("change", [
    ("account", "compromise", "{a}", "--reason", "phished"),
    ("protocol", "set", "{a}", "pop", "off"),
    ("account", "deactivate", "{a}", "--now"),
])
async def test_cli_change_in_another_process_ends_live_session_within_a_second(
        svc: Service, change: tuple[str, ...]) -> None:
    address = "dana@example.test"
    registry, follower, account_id = await _setup(svc, address)
    watch = Watch(registry, account_id, address)
    other = Watch(registry, account_id, address, protocol="imap", session_id="s2")
    try:
        exited = await _cli(svc, *[part.format(a=address) for part in change])
        await asyncio.wait_for(watch.closed.wait(), timeout=1.0)
        assert watch.at - exited < 1.0
        assert watch.decision is not None and not watch.decision.allowed
        if change[1] == "set":  # only the POP door closed: the IMAP session lives on
            assert not other.closed.is_set()
            assert registry.count() == 1
    finally:
        await follower.stop()


async def test_department_denial_ends_sessions_of_its_accounts_only(svc: Service) -> None:
    doors.create_department(svc, SYSTEM, "Physics")
    registry, follower, physicist = await _setup(svc, "erin@example.test", "Physics")
    accounts.create(svc, SYSTEM, "finn@example.test", "correct-horse")
    doors.set_protocol(svc, SYSTEM, "finn@example.test", "pop", True)
    with svc.engine.connect() as conn:
        from mailgate.directory.views import account_row

        outsider = account_row(conn, "finn@example.test").id
    inside = Watch(registry, physicist, "erin@example.test")
    outside = Watch(registry, outsider, "finn@example.test", session_id="s9")
    try:
        await _cli(svc, "department", "policy", "Physics", "pop", "deny")
        await asyncio.wait_for(inside.closed.wait(), timeout=1.0)
        assert inside.decision is not None and inside.decision.reason == "department_policy"
        await asyncio.sleep(0.3)
        assert not outside.closed.is_set()
    finally:
        await follower.stop()


async def test_expiring_grant_ends_session_without_any_change_event(svc: Service) -> None:
    address = "gail@example.test"
    accounts.create(svc, SYSTEM, address, "correct-horse")
    doors.set_protocol(svc, SYSTEM, address, "pop", True, seconds=60)
    with svc.engine.connect() as conn:
        from mailgate.directory.views import account_row

        account_id = account_row(conn, address).id
    registry = SessionRegistry("test-node")
    follower = EventFollower(svc, registry)
    await follower.start()
    watch = Watch(registry, account_id, address)
    try:
        await asyncio.sleep(0.3)
        assert not watch.closed.is_set()
        svc.clock = lambda: time.time() + 61  # jump past the expiry
        await asyncio.wait_for(watch.closed.wait(), timeout=1.0)
        assert watch.decision is not None and watch.decision.reason == "plan_default"
    finally:
        await follower.stop()


async def test_password_change_ends_sessions_signed_in_with_the_old_password_only(
        svc: Service) -> None:
    address = "hal@example.test"
    registry, follower, account_id = await _setup(svc, address)
    old = Watch(registry, account_id, address, credential_epoch=0)
    app = Watch(registry, account_id, address, session_id="s2", method="app_password",
                credential_epoch=0)
    new = Watch(registry, account_id, address, session_id="s3", credential_epoch=1)
    try:
        exited = await _cli(svc, "account", "password", address, "--password-stdin",
                            stdin=b"a-new-password-42\n")
        await asyncio.wait_for(old.closed.wait(), timeout=1.0)
        assert old.at - exited < 1.0
        assert old.decision is not None and old.decision.reason == "password_changed"
        await asyncio.sleep(0.3)  # several follower ticks
        assert not app.closed.is_set()  # another credential
        assert not new.closed.is_set()  # signed in with the new password (epoch 1)
        assert registry.count() == 2
    finally:
        await follower.stop()
