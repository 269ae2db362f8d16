"""Configuration (SPEC §11): DIR/mailgate.toml plus MAILGATE_<SECTION>_<KEY> overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mailgate import config
from mailgate.config import ConfigError


def test_init_file_has_the_five_sections_and_the_chosen_domain(tmp_path: Path):
    path = config.write_default(tmp_path, "uni.example")
    data = tomllib.loads(path.read_text())
    assert set(data) == {"server", "listen", "auth", "policy", "storage"}
    assert data["server"]["domain"] == "uni.example"
    assert data["policy"]["restricted_protocols"] == ["pop"]
    assert data["policy"]["deactivation_grace"] == "30d"


def test_defaults_listen_on_loopback_non_privileged_ports(tmp_path: Path):
    s = config.load(tmp_path, environ={})
    ports = {name: s.listener(name) for name in config.DEFAULTS["listen"]}
    assert ports == {
        "imap": ("127.0.0.1", 1143), "imaps": ("127.0.0.1", 1993),
        "pop3": ("127.0.0.1", 1110), "pop3s": ("127.0.0.1", 1995),
        "submission": ("127.0.0.1", 1587), "submissions": ("127.0.0.1", 1465),
        "smtp": ("127.0.0.1", 1025), "lmtp": ("127.0.0.1", 1024), "http": ("127.0.0.1", 8080),
        "https": None,
    }
    assert s.database_url == f"sqlite:///{tmp_path / 'mailgate.db'}"
    assert s.cert_path == tmp_path / "tls" / "cert.pem"


def test_environment_overrides_file_with_typed_values(tmp_path: Path):
    config.write_default(tmp_path, "uni.example")
    s = config.load(tmp_path, environ={
        "MAILGATE_LISTEN_IMAP": "127.0.0.1:20143",
        "MAILGATE_LISTEN_POP3": "",
        "MAILGATE_LISTEN_HTTP": "[::1]:8081",
        "MAILGATE_AUTH_ARGON2_TIME_COST": "7",
        "MAILGATE_POLICY_RESTRICTED_PROTOCOLS": "pop, imap,",
        "MAILGATE_SERVER_DOMAIN": "other.example",
    })
    assert s.listener("imap") == ("127.0.0.1", 20143)
    assert s.listener("pop3") is None  # an empty value turns the listener off
    assert s.listener("http") == ("::1", 8081)
    assert s.get("auth", "argon2_time_cost") == 7
    assert s.get("policy", "restricted_protocols") == ["pop", "imap"]
    assert s.get("server", "domain") == "other.example"


def test_file_values_are_read(tmp_path: Path):
    (tmp_path / config.CONFIG_NAME).write_text(
        '[policy]\ndeactivation_grace = "7d"\n[listen]\nimap = ""\n')
    s = config.load(tmp_path, environ={})
    assert s.get("policy", "deactivation_grace") == "7d"
    assert s.listener("imap") is None
    assert s.listener("imaps") == ("127.0.0.1", 1993)


@pytest.mark.parametrize("content,needle", [
    ("[nonsense]\nx = 1\n", "unknown section [nonsense]"),
    ("[server\n", "mailgate.toml"),
])
def test_broken_file_is_a_config_error_naming_the_problem(tmp_path: Path, content, needle):
    (tmp_path / config.CONFIG_NAME).write_text(content)
    with pytest.raises(ConfigError, match=None) as info:
        config.load(tmp_path, environ={})
    assert needle in str(info.value)


def test_non_number_override_for_a_number_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="MAILGATE_AUTH_ARGON2_TIME_COST"):
        config.load(tmp_path, environ={"MAILGATE_AUTH_ARGON2_TIME_COST": "three"})


@pytest.mark.parametrize("value", ["1143", "localhost", "127.0.0.1:http"])
def test_listener_without_a_port_is_a_config_error(tmp_path: Path, value):
    s = config.load(tmp_path, environ={"MAILGATE_LISTEN_IMAP": value})
    with pytest.raises(ConfigError, match=r"listen\.imap"):
        s.listener("imap")


@pytest.mark.parametrize("content,needle", [
    ('[policy]\nretention = 14\n', "policy.retention: invalid duration '14'"),
    ('[policy]\nretention = "1_4d"\n', "policy.retention: invalid duration '1_4d'"),
    ('[policy]\ndeactivation_grace = "9999d"\n',
     "policy.deactivation_grace: duration '9999d' is too long: at most 3650d"),
])
def test_duration_keys_use_the_cli_duration_parser(tmp_path: Path, content, needle):
    (tmp_path / config.CONFIG_NAME).write_text(content)
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path, environ={})
    assert needle in str(info.value)


def test_duration_keys_read_as_seconds(tmp_path: Path):
    s = config.load(tmp_path, environ={"MAILGATE_POLICY_RETENTION": "2w"})
    assert (s.seconds("policy", "retention"), s.seconds("policy", "deactivation_grace")) == (
        1209600, 2592000)
