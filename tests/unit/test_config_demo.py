"""A demo's OAuth issuer is its own http listener on loopback (discovery and the device flow
work there as they are); a real server's stays empty until the operator names its https URL."""

from __future__ import annotations

from pathlib import Path

from mailgate.config import load, write_default


def test_a_demo_names_its_http_listener_as_the_issuer(tmp_path: Path) -> None:
    write_default(tmp_path, "example.test", demo=True)
    settings = load(tmp_path)
    assert settings.get("auth", "oauth_issuer") == \
        f"http://{settings.get('listen', 'http')}" == "http://127.0.0.1:8080"


def test_a_real_server_leaves_it_to_the_operator(tmp_path: Path) -> None:
    write_default(tmp_path, "example.test")
    assert load(tmp_path).get("auth", "oauth_issuer") == ""
