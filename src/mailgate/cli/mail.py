"""`mailgate deliver|recover|import`: put mail in, bring deleted mail back, move in."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from mailgate import mime
from mailgate.cli import output
from mailgate.cli.context import Context, fail, pass_ctx
from mailgate.directory import authority, recovery
from mailgate.directory.views import account_row
from mailgate.store import importer, messages


@click.command("deliver")
@click.argument("address")
@click.option("--folder", default="INBOX", show_default=True)
@pass_ctx
def deliver(ctx: Context, address: str, folder: str) -> None:
    """Deliver one message from standard input (like dovecot-lda); exit 0 once durable."""
    authority.require_admin(ctx.actor(), "deliver mail from the command line")
    limit = int(ctx.service.settings.get("storage", "max_message_bytes"))
    raw = sys.stdin.buffer.read(limit + 1)
    if not raw.strip():
        fail("no message on standard input")
    # Like dovecot-lda: an mbox "From " envelope line handed over by an MTA is not content.
    stored = messages.deliver(ctx.service, address, mime.strip_from_line(raw), folder)
    output.echo(f"delivered to {address.strip().lower()} {stored.folder} uid {stored.uid}")


@click.group("recover")
def recover() -> None:
    """Recoverable Items: deleted mail kept for the retention period."""


@recover.command("list")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def recover_list(ctx: Context, address: str, as_json: bool) -> None:
    items = recovery.list_items(ctx.service, ctx.actor(), address)
    if as_json:
        output.print_json([i.as_json() for i in items])
        return
    if not items:
        output.echo("nothing to recover")
    for i in items:
        when = datetime.fromtimestamp(i.deleted_at, UTC).strftime("%Y-%m-%d %H:%M")
        output.echo(f"{i.id:>8}  {when}  {i.folder:<14} {i.subject}")


@recover.command("restore")
@click.argument("address")
@click.option("--all", "all_", is_flag=True, help="Every recoverable message.")
@click.option("--id", "ids", type=int, multiple=True, help="One message (repeatable).")
@pass_ctx
def recover_restore(ctx: Context, address: str, all_: bool, ids: tuple[int, ...]) -> None:
    count = recovery.restore(ctx.service, ctx.actor(), address, all_, list(ids))
    output.echo(f"restored {count} message(s) for {address.strip().lower()}")


@click.command("import")
@click.argument("address")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--folder", default="INBOX", show_default=True, help="Target folder for an mbox.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@pass_ctx
def import_(ctx: Context, address: str, path: Path, folder: str, quiet: bool) -> None:
    """Import a Maildir (Dovecot layout: folders and flags kept) or an mbox file."""
    authority.require_admin(ctx.actor(), "import mail")
    with ctx.service.reader.connect() as conn:
        account_row(conn, address)
    sources = importer.sources_for(path, folder)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), disable=quiet,
                  transient=False) as bar:
        task = bar.add_task(output.markup(f"importing into {address}"), total=len(sources))
        counts = importer.import_sources(ctx.service, address, sources,
                                         lambda n: bar.advance(task, n))
    for name, count in sorted(counts.items()):
        output.echo(f"{name}: {count}")
    output.echo(f"imported {sum(counts.values())} message(s) into {address.strip().lower()}")


def register(cli: click.Group) -> None:
    for command in (deliver, recover, import_):
        cli.add_command(command)
