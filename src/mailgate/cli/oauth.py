"""`mailgate oauth client add|list|remove`: the OAuth clients the authorization server knows."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from mailgate.auth.tokens import STAFF_SCOPE
from mailgate.cli import output
from mailgate.cli.context import Context, pass_ctx
from mailgate.directory import oauth_clients


@click.group("oauth")
def oauth() -> None:
    """The built-in OAuth 2.0 / OpenID Connect provider."""


@oauth.group("client")
def client() -> None:
    """Applications that may ask users for tokens (registered by the mail team)."""


@client.command("add")
@click.argument("name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, metavar="URI",
              help="Where users are sent back, matched exactly; repeat for more (a device-"
                   "flow-only client needs none).")
@click.option("--public/--confidential", "public", default=True,
              help="A public app (on the user's device, uses PKCE) or a confidential one "
                   "(a server that keeps a secret). Default: public.")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help=f"A scope it may ask for; repeat for more (known: "
                   f"{' '.join(oauth_clients.SCOPES)}; default: all but "
                   f"{STAFF_SCOPE}, the admin API's).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def client_add(ctx: Context, name: str, redirect_uris: tuple[str, ...], public: bool,
               scopes: tuple[str, ...], as_json: bool) -> None:
    """Register a client; prints its client_id (and its secret, once, if confidential)."""
    made, secret = oauth_clients.add(ctx.service, ctx.actor(), name, redirect_uris,
                                     confidential=not public,
                                     scopes=scopes or oauth_clients.DEFAULT_SCOPES)
    if as_json:
        output.print_json({**made.as_json(), "client_secret": secret})
        return
    output.echo(f"OAuth client {made.name} ({'confidential' if secret else 'public'}), scopes "
                f"{' '.join(sorted(made.scopes))}")
    output.echo(f"client_id: {made.client_id}")
    if secret:
        output.echo(f"client_secret (shown only now): {secret}")


@client.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def client_list(ctx: Context, as_json: bool) -> None:
    """Every registered client (never its secret)."""
    found = oauth_clients.list_all(ctx.service, ctx.actor())
    if as_json:
        output.print_json([c.as_json() for c in found])
        return
    output.table(("client_id", "name", "type", "redirect URIs", "scopes", "created"),
                 [(c.client_id, c.name, "confidential" if c.confidential else "public",
                   " ".join(c.redirect_uris) or "-", " ".join(sorted(c.scopes)),
                   datetime.fromtimestamp(c.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC"))
                  for c in found])


@client.command("remove")
@click.argument("client_id", metavar="ID")
@pass_ctx
def client_remove(ctx: Context, client_id: str) -> None:
    """Remove a client: its codes and refresh tokens stop working at once."""
    oauth_clients.remove(ctx.service, ctx.actor(), client_id)
    output.echo(f"removed OAuth client {client_id}")


def register(cli: click.Group) -> None:
    cli.add_command(oauth)
