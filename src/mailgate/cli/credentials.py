"""`mailgate token ...` and `mailgate app-password ...`: the credentials that are not the
account's password (SPEC §6, §10)."""

from __future__ import annotations

import click

from mailgate.cli import output
from mailgate.cli.context import Context, pass_ctx
from mailgate.directory import app_passwords, tokens
from mailgate.durations import parse_duration


@click.group("token")
def token() -> None:
    """OAuth access tokens, for automation and tests."""


@token.command("issue")
@click.argument("address")
@click.option("--protocol", "protocols", multiple=True, metavar="P",
              help="A door the token opens (imap, pop, smtp); repeat for more.")
@click.option("--staff", is_flag=True,
              help="It also acts in the admin API (scope mailgate.admin), within ADDRESS's "
                   "staff roles.")
@click.option("--lifetime", default=None, metavar="DURATION",
              help="How long it is valid, e.g. 15m, 12h (default: auth.token_lifetime).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def token_issue(ctx: Context, address: str, protocols: tuple[str, ...], staff: bool,
                lifetime: str | None, as_json: bool) -> None:
    """Print an access token for ADDRESS (alone on the last line); audited."""
    seconds = parse_duration(lifetime) if lifetime is not None else None
    issued = tokens.issue(ctx.service, ctx.actor(), address, protocols, seconds, staff)
    claims = issued.claims
    if as_json:
        output.print_json({"token": issued.token, "token_type": "Bearer", "jti": claims.token_id,
                           "address": claims.subject, "scope": " ".join(sorted(claims.scopes)),
                           "expires_at": claims.expires_at})
        return
    output.echo(f"access token for {claims.subject} ({' '.join(sorted(claims.scopes))}), valid "
                f"until {output.when(claims.expires_at)}, id {claims.token_id}:", err=True)
    output.echo(issued.token)


@token.command("revoke")
@click.argument("address")
@click.argument("token_id", metavar="JTI")
@pass_ctx
def token_revoke(ctx: Context, address: str, token_id: str) -> None:
    """Revoke one access token of ADDRESS by its id (the jti of `token issue --json`)."""
    tokens.revoke(ctx.service, ctx.actor(), address, token_id)
    output.echo(f"revoked token {token_id}")


@click.group("app-password")
def app_password() -> None:
    """App passwords: one secret per device, for the doors it needs."""


@app_password.command("create")
@click.argument("address")
@click.option("--protocol", "protocols", multiple=True, required=True, metavar="P",
              help="A door it opens (imap, pop, smtp); repeat for more.")
@click.option("--label", default="", help="What it is for, e.g. 'phone'.")
@click.option("--expires", default=None, metavar="DURATION",
              help="Valid only this long, e.g. 90d (default: until revoked).")
@click.option("--network", "networks", multiple=True, metavar="CIDR",
              help="Only from this client network; repeat for more (default: anywhere).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def app_password_create(ctx: Context, address: str, protocols: tuple[str, ...], label: str,
                        expires: str | None, networks: tuple[str, ...], as_json: bool) -> None:
    """Make an app password; its secret is printed once, as the last word of the last line."""
    seconds = parse_duration(expires) if expires is not None else None
    svc = ctx.service
    made, secret = app_passwords.create(svc, ctx.actor(), address, protocols, label, seconds,
                                        networks)
    if as_json:
        output.print_json({**made.as_json(svc.clock()), "secret": secret})
        return
    output.echo(f"app password {made.id} ({made.label or 'no label'}) for "
                f"{address.strip().lower()}: {', '.join(made.protocols)}"
                + (f", until {output.when(made.expires_at)}" if made.expires_at else "")
                + (f", from {' '.join(made.networks)}" if made.networks else ""))
    output.echo(f"It is shown only now: {secret}")


@app_password.command("list")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def app_password_list(ctx: Context, address: str, as_json: bool) -> None:
    """Every app password of ADDRESS, with its doors and last use (never the secret)."""
    svc = ctx.service
    found = app_passwords.list_for(svc, ctx.actor(), address)
    now = svc.clock()
    if as_json:
        output.print_json([entry.as_json(now) for entry in found])
        return
    output.table(("id", "label", "doors", "networks", "created", "expires", "last used",
                  "status"),
                 [(e.id, e.label, " ".join(e.protocols), " ".join(e.networks) or "anywhere",
                   output.when(e.created_at), output.when(e.expires_at),
                   output.when(e.last_used_at), e.status(now)) for e in found])


@app_password.command("revoke")
@click.argument("address")
@click.argument("app_password_id", metavar="ID", type=int)
@pass_ctx
def app_password_revoke(ctx: Context, address: str, app_password_id: int) -> None:
    """Revoke one app password of ADDRESS (by the id `list` shows)."""
    app_passwords.revoke(ctx.service, ctx.actor(), address, app_password_id)
    output.echo(f"revoked app password {app_password_id} of {address.strip().lower()}")


def register(cli: click.Group) -> None:
    cli.add_command(token)
    cli.add_command(app_password)
