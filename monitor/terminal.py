"""The terminal both CLI modules write to: results on stdout, errors and progress on stderr."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """A mistake the user can fix: one line on stderr, exit code 2, never a traceback."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(2)
