"""`mailgate dkim generate DOMAIN`: a signing key for a domain, and its DNS record."""

from __future__ import annotations

import click

from mailgate.cli import output
from mailgate.cli.context import Context, pass_ctx
from mailgate.mail_auth import dkim_operator, dkimkeys


@click.group("dkim")
def dkim() -> None:
    """DKIM keys: mail submitted from a domain with a key leaves signed."""


@dkim.command("generate")
@click.argument("domain")
@click.option("--selector", default=dkimkeys.DEFAULT_SELECTOR, show_default=True,
              help="A new selector rotates the key (the newest key signs).")
@pass_ctx
def dkim_generate(ctx: Context, domain: str, selector: str) -> None:
    """Make an RSA 2048 key for DOMAIN and print the TXT record to publish."""
    key = dkim_operator.generate(ctx.service, ctx.actor(), domain, selector)
    output.echo(f"Publish this TXT record in the DNS of {key.domain}; mail submitted from "
                f"@{key.domain} is signed from now on:", err=True)
    output.echo(dkimkeys.dns_record(key))


def register(cli: click.Group) -> None:
    cli.add_command(dkim)
