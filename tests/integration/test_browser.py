"""The browser test setup itself: Debian's chromium, driven by Playwright, reads a page of a
real `mailgate serve` and leaves a screenshot in the test artifacts directory."""

from __future__ import annotations

import json

from browser import screenshot_path
from live_server import RunningServer


def test_chromium_reads_healthz(server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(f"http://127.0.0.1:{server.ports['http']}/healthz")
    assert response is not None and response.status == 200
    assert json.loads(page.inner_text("body"))["status"] == "ok"
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    shot = screenshot_path("chromium reads healthz (explicit)")
    page.screenshot(path=str(shot))
    assert shot.name == "chromium_reads_healthz_explicit.png"
    assert shot.read_bytes().startswith(b"\x89PNG")
