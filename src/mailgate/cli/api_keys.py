"""`mailgate api-key ...`: operator keys for the admin REST API (docs/admin-api.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from mailgate.cli import output
from mailgate.cli.context import Context, pass_ctx
from mailgate.directory import api_keys
from mailgate.durations import parse_duration


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


@click.group("api-key")
def api_key() -> None:
    """Keys for the admin REST API: each acts as one staff account, with its role's limits."""


@api_key.command("create")
@click.argument("address")
@click.option("--label", default="", help="What it is for, e.g. 'ticketing'.")
@click.option("--expires", default=None, metavar="DURATION",
              help="Valid only this long, e.g. 90d (default: until revoked).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def api_key_create(ctx: Context, address: str, label: str, expires: str | None,
                   as_json: bool) -> None:
    """Make a key acting as ADDRESS; its secret is printed once, as the last word of the
    last line."""
    seconds = parse_duration(expires) if expires is not None else None
    svc = ctx.service
    made, secret = api_keys.create(svc, ctx.actor(), address, label, seconds)
    if as_json:
        output.print_json({**made.as_json(svc.clock()), "secret": secret})
        return
    output.echo(f"API key {made.id} ({made.label or 'no label'}) acting as {made.account}"
                + (f", until {_when(made.expires_at)}" if made.expires_at else ""))
    output.echo(f"It is shown only now: {secret}")


@api_key.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def api_key_list(ctx: Context, as_json: bool) -> None:
    """The keys you may see (the mail team: every key), never their secrets."""
    svc = ctx.service
    found = api_keys.list_keys(svc, ctx.actor())
    now = svc.clock()
    if as_json:
        output.print_json([key.as_json(now) for key in found])
        return
    output.table(("id", "account", "label", "created by", "created", "expires", "last used",
                  "status"),
                 [(k.id, k.account, k.label, k.created_by, _when(k.created_at),
                   _when(k.expires_at), _when(k.last_used_at), k.status(now)) for k in found])


@api_key.command("revoke")
@click.argument("key_id", metavar="ID", type=int)
@pass_ctx
def api_key_revoke(ctx: Context, key_id: int) -> None:
    """Revoke one key (by the id `list` shows); it is refused from the next request on."""
    revoked = api_keys.revoke(ctx.service, ctx.actor(), key_id)
    output.echo(f"revoked API key {key_id} of {revoked.account}")


def register(cli: click.Group) -> None:
    cli.add_command(api_key)
