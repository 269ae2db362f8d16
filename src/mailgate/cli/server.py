"""`mailgate init|serve|sessions`: make a data directory, run the service, see who is on."""

from __future__ import annotations

import asyncio
import os
import sys

import click

from mailgate import config, logs, serve_lock, tls
from mailgate.audit.seal import seal
from mailgate.cli import output
from mailgate.cli.context import Context, fail, pass_ctx
from mailgate.db.engine import check_integrity, is_initialised, migrate
from mailgate.directory.bootstrap import create_demo, ensure_standard_plan
from mailgate.directory.errors import DirectoryError
from mailgate.directory.views import normalise_address
from mailgate.events.live import list_sessions
from mailgate.listening import ListenerError
from mailgate.service import Service


@click.command("init")
@click.option("--domain", default="example.test", show_default=True)
@click.option("--demo", is_flag=True, help="Also create demo accounts and a department.")
@pass_ctx
def init(ctx: Context, domain: str, demo: bool) -> None:
    """Create the data directory: configuration, database, self-signed TLS certificate."""
    domain = domain.strip().lower()
    try:
        normalise_address(f"postmaster@{domain}")
    except DirectoryError:
        fail(f"invalid domain '{domain}': expected a name such as example.org")
    ctx.data_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.data_dir / config.CONFIG_NAME
    if not path.exists():
        config.write_default(ctx.data_dir, domain, demo=demo)
    svc = Service.open(ctx.data_dir, require_init=False)
    if is_initialised(svc.engine) and demo:
        fail(f"{ctx.data_dir} is already initialised; use a new --data directory for a demo")
    migrate(svc.engine, svc.settings.blob_dir)
    ensure_standard_plan(svc)
    seal(svc)
    settings = svc.settings
    if not settings.cert_path.exists():
        tls.make_self_signed(settings.cert_path, settings.key_path,
                             settings.get("server", "hostname"))
    output.echo(f"initialised {ctx.data_dir} for {domain}")
    output.echo(f"  config: {path}")
    output.echo(f"  database: {settings.database_url.split('@')[-1]}")
    output.echo(f"  TLS certificate (self-signed): {settings.cert_path}")
    output.echo(f"  audit key (back it up; only this user may read it): {svc.audit_key.path}")
    if demo:
        output.echo("demo accounts (password in brackets):")
        for account in create_demo(svc, domain):
            output.echo(f"  {account.address:<28} [{account.password}]  {account.what}")


def _command() -> str:
    """How the operator ran us (e.g. .venv/bin/mailgate), to print commands they can paste."""
    name = sys.argv[0] if sys.argv and sys.argv[0].endswith("mailgate") else "mailgate"
    return os.path.relpath(name) if os.path.isabs(name) and name.startswith(os.getcwd()) \
        else name


def _how_to_connect(svc: Service) -> list[str]:
    s = svc.settings
    lines = []
    pop3, pop3s, http = s.listener("pop3"), s.listener("pop3s"), s.listener("http")
    imap, imaps = s.listener("imap"), s.listener("imaps")
    cert = s.cert_path
    if imaps:
        lines.append(f"  IMAPS:        curl --cacert {cert} imaps://{imaps[0]}:{imaps[1]}/INBOX "
                     "-u ADDRESS:PASSWORD")
    if imap:
        lines.append(f"  IMAP:         {imap[0]} port {imap[1]} with STARTTLS (any mail client; "
                     f"the CA is {cert})")
    if pop3:
        lines.append(f"  POP3 (STLS):  curl --cacert {cert} --ssl-reqd "
                     f"pop3://{pop3[0]}:{pop3[1]}/ -u ADDRESS:PASSWORD")
    if pop3s:
        lines.append(f"  POP3S:        curl --cacert {cert} pop3s://{pop3s[0]}:{pop3s[1]}/ "
                     "-u ADDRESS:PASSWORD")
    lines.extend(_how_to_send(s))
    if http:
        web = f"http://{http[0]}:{http[1]}"
        lines.append(f"  webmail:      {web}/mail in a browser")
        lines.append(f"  self-service: {web}/account (my doors, requests, app passwords, MFA)")
        lines.append(f"  staff:        {web}/console (as a helpdesk or admin account)")
        lines.append(f"  OAuth:        curl {web}/.well-known/openid-configuration")
        lines.append(f"  admin API:    {web}/api/admin/v1/openapi.json "
                     "(a key: mailgate api-key create ADDRESS, or a token: "
                     "mailgate token issue ADDRESS --staff)")
        lines.append(f"  health:       curl http://{http[0]}:{http[1]}/healthz")
    lines.append(f"  a door:       {_command()} --data {s.data_dir} account show ADDRESS")
    return lines


def _how_to_send(s: config.Settings) -> list[str]:
    """swaks command lines for the SMTP listeners that are on."""
    signed_in = "--auth-user ADDRESS --auth-password PASSWORD --from ADDRESS --to RECIPIENT"
    ways = (("submission", "SMTP (587):  ", f"--tls {signed_in}"),
            ("submissions", "SMTPS (465): ", f"--tlsc {signed_in}"),
            ("smtp", "inbound SMTP:", "--to ADDRESS"),
            ("lmtp", "LMTP:        ", "--protocol LMTP --to ADDRESS"))
    lines = []
    for name, label, options in ways:
        where = s.listener(name)
        if where:
            lines.append(f"  {label} swaks --server {where[0]}:{where[1]} {options}")
    return lines


@click.command("serve")
@pass_ctx
def serve(ctx: Context) -> None:
    """Run every listener in the foreground until SIGTERM or Ctrl-C."""
    from mailgate import server

    svc = ctx.service
    check_integrity(svc.reader)  # a damaged file is refused before anything listens
    try:
        with serve_lock.hold(svc) as sole_node:
            logs.setup(svc.settings.get("server", "log_level"))

            async def serve_and_say_how_to_connect() -> None:
                ready = asyncio.Event()
                serving = asyncio.create_task(server.serve(svc, ready, sole_node=sole_node))
                listening = asyncio.create_task(ready.wait())
                await asyncio.wait((serving, listening), return_when=asyncio.FIRST_COMPLETED)
                if ready.is_set():
                    output.echo("mailgate is serving; connect with:", err=True)
                    for line in _how_to_connect(svc):
                        output.echo(line, err=True)
                listening.cancel()
                await serving

            asyncio.run(serve_and_say_how_to_connect())
    except (ListenerError, serve_lock.ServeRefused) as exc:
        fail(str(exc))


@click.command("sessions")
@click.argument("address", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def sessions(ctx: Context, address: str | None, as_json: bool) -> None:
    """Signed-in sessions on every running node (optionally of one account)."""
    rows = list_sessions(ctx.service, ctx.actor(), address)
    if as_json:
        output.print_json(rows)
        return
    if not rows:
        output.echo("no live sessions")
    for r in rows:
        client = f"  {r['client']}" if r["client"] else ""
        output.echo(f"{r['account']:<32} {r['protocol']:<5} {r['peer']:<16} since "
                    f"{r['started_at']}  node {r['node']}  {r['id']}{client}")


def register(cli: click.Group) -> None:
    for command in (init, serve, sessions):
        cli.add_command(command)
