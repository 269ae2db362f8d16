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


def test_the_admin_api_docs_page_loads_swagger_ui_from_this_server_only(  # type: ignore[no-untyped-def]
        server: RunningServer, page) -> None:
    base = f"http://127.0.0.1:{server.ports['http']}"
    elsewhere: list[str] = []
    complaints: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(base)
            else elsewhere.append(request.url))
    page.on("console", lambda message: complaints.append(message.text)
            if message.type in ("error", "warning") else None)
    response = page.goto(f"{base}/api/admin/v1/docs")
    assert response is not None and response.status == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page.get_by_text("mailgate admin API").first.wait_for()
    page.locator(".opblock-tag", has_text="accounts").first.wait_for()
    assert elsewhere == []
    assert not [c for c in complaints if "Content Security Policy" in c], complaints
