"""`mailgate deliver` killed with SIGKILL at random points never leaves a half-visible message,
and one that exited 0 is always there, byte for byte."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from mailgate import mime
from mailgate.db.schema import blobs, messages
from mailgate.directory import accounts
from mailgate.directory.authority import Actor
from mailgate.service import Service
from mailgate.store.messages import blob_store


def _message(n: int) -> bytes:
    body = (f"line {n} " * 12 + "\n").encode() * 4000  # ~400 KB, LF endings on purpose
    return (f"From: a@example.test\nTo: kim@example.test\nSubject: durability {n}\n"
            f"Message-ID: <{n}@example.test>\n\n").encode() + body


def test_deliver_killed_at_random_points_is_all_or_nothing(sqlite_svc: Service) -> None:
    svc = sqlite_svc
    accounts.create(svc, Actor.system(), "kim@example.test", "correct-horse")
    rng = random.Random(1234)
    acknowledged: set[str] = set()
    argv = [sys.executable, "-m", "mailgate", "--data", str(svc.settings.data_dir),
            "deliver", "kim@example.test"]
    killed = 0
    for n in range(24):
        raw = _message(n)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(raw)
        proc.stdin.close()
        if n % 4 == 0:  # some run to the end, however slow the machine is today
            proc.wait(timeout=120)
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        else:  # the rest are killed at random points, the first before they start
            time.sleep(0.0 if n % 4 == 1 else rng.uniform(0.05, 0.9))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.returncode == 0:
            acknowledged.add(hashlib.sha256(mime.to_crlf(raw)).hexdigest())
        else:
            killed += 1
    store = blob_store(svc)
    with svc.engine.connect() as conn:
        visible = conn.execute(select(messages.c.digest, messages.c.size, blobs.c.size)
                               .join(blobs, blobs.c.digest == messages.c.digest)).all()
    digests = {row.digest for row in visible}
    assert acknowledged <= digests, "a delivery that exited 0 is missing"
    assert len(acknowledged) >= 6 and killed >= 6, "both outcomes are covered"
    for row in visible:  # every visible message is whole
        data = store.read(row.digest)
        assert hashlib.sha256(data).hexdigest() == row.digest
        assert len(data) == row.size == row.size_1


def test_deliver_refuses_bad_input_and_changes_nothing(sqlite_svc: Service,
                                                       tmp_path: Path) -> None:
    svc = sqlite_svc
    accounts.create(svc, Actor.system(), "lee@example.test", "correct-horse")
    data = str(svc.settings.data_dir)
    env = dict(os.environ, MAILGATE_STORAGE_MAX_MESSAGE_BYTES="1000")

    def run(address: str, raw: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "mailgate", "--data", data, "deliver",
                               address], input=raw, capture_output=True, env=env, timeout=60)

    cases = [("lee@example.test", b"x" * 5000, "limit"),
             ("nobody@example.test", b"Subject: hi\n\nhello\n", "no such mailbox"),
             ("not-an-address", b"Subject: hi\n\nhello\n", "no such mailbox"),
             ("lee@example.test", b"", "no message")]
    for address, raw, words in cases:
        result = run(address, raw)
        err = result.stderr.decode()
        assert result.returncode != 0
        assert words in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    with svc.engine.connect() as conn:
        assert conn.execute(select(messages.c.id)).first() is None
    # Broken MIME is still mail: it is accepted and kept byte for byte (with CRLF).
    broken = b"Content-Type: multipart/mixed; boundary=\"x\"\n\n--x\nno end\xff\xfe\n"
    ok = run("lee@example.test", broken)
    assert ok.returncode == 0, ok.stderr
