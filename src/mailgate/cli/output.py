"""The one way the CLI prints. Text from outside is shown with its control characters as
visible escapes (`safetext.visible`) and never read as Rich markup, so a name such as
`[red]x[/red]` or an ESC sequence in a sign-in user name prints literally, on one line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mailgate.safetext import json_text, visible

WIDTH = 120


def echo(message: str = "", *, err: bool = False) -> None:
    """One line to stdout (stderr with err=True); a newline inside it prints as `\\x0a`."""
    click.echo(visible(message), err=err)


def when(ts: float | None) -> str:
    """A moment for people, in UTC to the minute; `-` for none."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def print_json(value: Any) -> None:
    """Machine-readable output: valid JSON that round-trips every string."""
    click.echo(json_text(value))


def cell(value: object) -> Text:
    """A table cell or line part: literal text, never markup."""
    return Text(visible(str(value)))


def styled(*parts: str | tuple[str, str]) -> None:
    """One line of parts, each plain or (text, Rich style), e.g. a bold address."""
    line = Text()
    for part in parts:
        text, style = (part, "") if isinstance(part, str) else part
        line.append(visible(text), style=style)
    Console(width=WIDTH).print(line)


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    grid = Table()
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(cell(value) for value in row))
    Console(width=WIDTH).print(grid)


def markup(text: str) -> str:
    """For the few Rich widgets that parse markup themselves (a progress bar's label)."""
    return escape(visible(text))
