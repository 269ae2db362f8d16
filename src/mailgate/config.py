"""Settings: `DIR/mailgate.toml` plus `MAILGATE_<SECTION>_<KEY>` overrides (SPEC §11)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailgate.durations import parse_duration

CONFIG_NAME = "mailgate.toml"

DEFAULTS: dict[str, dict[str, Any]] = {
    "server": {
        "domain": "example.test",
        "hostname": "localhost",
        "log_level": "info",
        "heartbeat_seconds": 5,
        "node_timeout_seconds": 30,
        "max_recipients_per_message": 100,
        "smtp_idle_timeout_seconds": 300,
        "nameservers": [],
        "relay_host": "",
        "relay_port": 25,
        "relay_username": "",
        "relay_password": "",
        "relay_tls": "starttls",
        "outbound_port": 25,
        "queue_lifetime": "5d",
        "queue_retry_min": "5m",
        "queue_retry_max": "1h",
        "queue_delay_warning": "4h",
    },
    "listen": {
        "imap": "127.0.0.1:1143",
        "imaps": "127.0.0.1:1993",
        "pop3": "127.0.0.1:1110",
        "pop3s": "127.0.0.1:1995",
        "submission": "127.0.0.1:1587",
        "submissions": "127.0.0.1:1465",
        "smtp": "127.0.0.1:1025",
        "lmtp": "127.0.0.1:1024",
        "http": "127.0.0.1:8080",
        "https": "",
    },
    "auth": {
        "argon2_time_cost": 3,
        "argon2_memory_kib": 65536,
        "argon2_parallelism": 1,
        "credential_cache_seconds": 300,
        "signin_deadline_seconds": 60,
        "max_unauthenticated_per_address": 10,
        "throttle_free_failures": 5,
        "throttle_max_delay_ms": 3000,
        "oauth_issuer": "",
        "token_lifetime": "1h",
        "refresh_token_lifetime": "30d",
    },
    "policy": {
        "restricted_protocols": ["pop"],
        "deactivation_grace": "30d",
        "retention": "14d",
        "propagation_poll_ms": 100,
    },
    "storage": {
        "database_url": "",
        "tls_cert": "",
        "tls_key": "",
        "max_message_bytes": 52428800,
        "quota_mib": 10240,
    },
}

#: What `init` writes above a key in mailgate.toml, for keys whose name does not say it all.
NOTES: dict[tuple[str, str], str] = {
    ("listen", "https"):
        "The http listener's pages and OAuth endpoints over TLS (the certificate above), e.g. "
        "\"127.0.0.1:8443\"; empty: off. Clients then reach the OAuth server at "
        "auth.oauth_issuer = \"https://HOST:PORT\".",
    ("auth", "signin_deadline_seconds"):
        "A connection not signed in this many seconds after it opened is closed, "
        "however busy the client keeps it.",
    ("auth", "max_unauthenticated_per_address"):
        "Connections not signed in yet from one client address, at most, every door "
        "counted together (loopback too); more are refused at once.",
    ("server", "max_recipients_per_message"):
        "Recipients of one message, at most; more get a temporary 452 4.5.3 "
        "(the client sends them in another message).",
    ("auth", "throttle_free_failures"):
        "Wrong passwords per account and per client address that cost nothing; each further "
        "one makes password sign-ins for that account or from that address wait twice as "
        "long (from 250 ms), up to throttle_max_delay_ms. Tokens are never slowed.",
    ("auth", "throttle_max_delay_ms"):
        "The longest wait before a password is checked after many failures; 0 turns the "
        "throttling off.",
    ("auth", "oauth_issuer"):
        "The OAuth issuer URL in every token, and where clients find the OAuth server "
        "(ISSUER/.well-known/openid-configuration); it must be the URL the http listener is "
        "reached at. Empty: https://<server.hostname>.",
    ("auth", "refresh_token_lifetime"):
        "How long a refresh token from the OAuth server is valid; each use rotates it.",
    ("auth", "token_lifetime"):
        "How long an access token from 'mailgate token issue' is valid unless --lifetime says.",
    ("server", "smtp_idle_timeout_seconds"):
        "An SMTP/LMTP connection that sends nothing for this long (also in the middle of a "
        "message) gets 421 4.4.2 and is closed; RFC 5321 asks for at least 5 minutes.",
    ("server", "nameservers"):
        "DNS servers for the SPF, DKIM and DMARC checks of inbound mail and for the MX "
        "hosts of outbound mail, as \"HOST\" or \"HOST:PORT\"; empty: the system's resolver.",
    ("server", "relay_host"):
        "Mail to other domains goes through this smarthost (HOST, port relay_port); empty: "
        "straight to each domain's MX hosts.",
    ("server", "relay_username"):
        "AUTH at the smarthost (sent only over TLS); empty: no AUTH.",
    ("server", "relay_tls"):
        "starttls (required), tls (implicit, as on port 465) or none.",
    ("server", "outbound_port"):
        "The port of the MX hosts when mail goes straight to them (no relay_host): 25; "
        "another only to test against a receiver on an unprivileged port.",
    ("server", "queue_lifetime"):
        "A message not delivered this long after it was queued goes back to its sender as "
        "a bounce (a 5xx from the remote bounces it at once).",
    ("server", "queue_retry_min"):
        "Wait before the first retry; each retry waits twice as long, up to queue_retry_max.",
    ("server", "queue_delay_warning"):
        "A message still waiting this long after it was queued: its sender is told once "
        "(a 'delayed' report, unless NOTIFY said otherwise); at least queue_lifetime: never.",
}


DURATION_KEYS = (("policy", "deactivation_grace"), ("policy", "retention"),
                 ("server", "queue_lifetime"), ("server", "queue_retry_min"),
                 ("server", "queue_retry_max"), ("server", "queue_delay_warning"),
                 ("auth", "token_lifetime"),
                 ("auth", "refresh_token_lifetime"))

RELAY_TLS = ("starttls", "tls", "none")


class ConfigError(ValueError):
    """The configuration file or an override is not valid."""


@dataclass(frozen=True)
class Settings:
    """The effective configuration of one data directory."""

    data_dir: Path
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def seconds(self, section: str, key: str) -> int:
        """A duration setting (`30d`), read with the CLI's own duration parser."""
        try:
            return parse_duration(str(self.get(section, key)))
        except ValueError as exc:
            raise ConfigError(f"{section}.{key}: {exc}") from None

    @property
    def database_url(self) -> str:
        url = self.get("storage", "database_url")
        return url or f"sqlite:///{self.data_dir / 'mailgate.db'}"

    @property
    def cert_path(self) -> Path:
        return Path(self.get("storage", "tls_cert") or self.data_dir / "tls" / "cert.pem")

    @property
    def key_path(self) -> Path:
        return Path(self.get("storage", "tls_key") or self.data_dir / "tls" / "key.pem")

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def listener(self, name: str) -> tuple[str, int] | None:
        """The (host, port) of a listener, or None when it is turned off (empty value)."""
        value = str(self.values["listen"].get(name, "") or "").strip()
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"listen.{name}: expected HOST:PORT, got {value!r}")
        return host.strip("[]") or "127.0.0.1", int(port)


def _coerce(value: str, default: Any, name: str) -> Any:
    """Turn an environment string into the type of the default it overrides."""
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: expected a whole number, got {value!r}") from exc
    if isinstance(default, list):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def load(data_dir: Path, environ: dict[str, str] | None = None) -> Settings:
    """Read DIR/mailgate.toml (if present), then apply environment overrides."""
    environ = dict(os.environ if environ is None else environ)
    values = {section: dict(keys) for section, keys in DEFAULTS.items()}
    path = data_dir / CONFIG_NAME
    if path.exists():
        try:
            loaded = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        for section, keys in loaded.items():
            if section not in values or not isinstance(keys, dict):
                raise ConfigError(f"{path}: unknown section [{section}]")
            values[section].update(keys)
    for section, keys in values.items():
        for key in list(keys):
            name = f"MAILGATE_{section.upper()}_{key.upper()}"
            if name in environ:
                keys[key] = _coerce(environ[name], DEFAULTS[section].get(key, ""), name)
    settings = Settings(data_dir=data_dir, values=values)
    for section, key in DURATION_KEYS:
        settings.seconds(section, key)  # a bad duration is refused now, not at first use
    if settings.get("server", "relay_tls") not in RELAY_TLS:
        raise ConfigError(f"server.relay_tls: expected one of {', '.join(RELAY_TLS)}, got "
                          f"{settings.get('server', 'relay_tls')!r}")
    return settings


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_default(data_dir: Path, domain: str, demo: bool = False) -> Path:
    """Write a commented default configuration for a new data directory. A demo's OAuth
    issuer is its own http listener on loopback, so the device flow and discovery work
    there as they are (a real server names the https URL its clients reach)."""
    lines = ["# mailgate configuration. Every key can be overridden by MAILGATE_<SECTION>_<KEY>.",
             "# An empty listen value turns that listener off."]
    for section, keys in DEFAULTS.items():
        lines.append(f"\n[{section}]")
        for key, value in keys.items():
            if section == "server" and key == "domain":
                value = domain
            if demo and (section, key) == ("auth", "oauth_issuer") and \
                    DEFAULTS["listen"]["http"]:
                value = f"http://{DEFAULTS['listen']['http']}"
            if (section, key) in NOTES:
                lines.append(f"# {NOTES[section, key]}")
            lines.append(f"{key} = {_toml_value(value)}")
    path = data_dir / CONFIG_NAME
    path.write_text("\n".join(lines) + "\n")
    return path
