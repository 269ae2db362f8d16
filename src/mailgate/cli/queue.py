"""`mailgate queue list|retry|delete`: mail for other domains that has not left yet."""

from __future__ import annotations

import click

from mailgate.cli import output
from mailgate.cli.context import Context, fail, pass_ctx
from mailgate.outbound import operator


@click.group("queue")
def queue() -> None:
    """The outbound queue: mail for other domains waiting to be sent."""


@queue.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def queue_list(ctx: Context, as_json: bool) -> None:
    entries = operator.listing(ctx.service, ctx.actor())
    if as_json:
        output.print_json([operator.as_json(e) for e in entries])
        return
    if not entries:
        output.echo("the queue is empty")
        return
    output.table(("id", "queued at", "sender", "size", "recipient", "state", "tries",
                  "next try", "last error"),
                 [(e.queue_id, operator.when(e.queued_at), e.sender, e.size, r.address, r.state,
                   r.attempts, operator.when(r.next_attempt_at), r.last_error)
                  for e in entries for r in e.recipients])


@queue.command("retry")
@click.argument("queue_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Every queued message.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def queue_retry(ctx: Context, queue_id: str | None, all_: bool, as_json: bool) -> None:
    """Send a message (held ones too) at the runner's next look, whatever its wait."""
    if all_ == (queue_id is not None):
        fail("say what to retry: a queue id, or --all")
    count = operator.retry(ctx.service, ctx.actor(), queue_id)
    if as_json:
        output.print_json({"id": queue_id, "recipients": count})
        return
    output.echo(f"{count} recipient(s) due now" + (f" for {queue_id}" if queue_id else ""))


@queue.command("delete")
@click.argument("queue_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def queue_delete(ctx: Context, queue_id: str, as_json: bool) -> None:
    """Drop a queued message without sending it (no bounce; audited)."""
    entry = operator.delete(ctx.service, ctx.actor(), queue_id)
    if as_json:
        output.print_json(operator.as_json(entry))
        return
    output.echo(f"deleted {queue_id} from {entry.sender} to "
                f"{', '.join(r.address for r in entry.recipients)}")


def register(cli: click.Group) -> None:
    cli.add_command(queue)
