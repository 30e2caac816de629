"""What both CLI modules share: the terminal (results on stdout, errors and progress on
stderr), the config option, and how a user's mistake ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from monitor.cli.inputs import InputError
from monitor.settings import ConfigError
from monitor.stream.broker import BrokerError
from monitor.text.sentiment import ModelError
from monitor.text.training import TrainingError

# No emoji codes: a message quoting `host:x:` or copy with `:ok:` in it is printed as given.
err = Console(stderr=True, soft_wrap=True, emoji=False)
out = Console(highlight=False, soft_wrap=True, emoji=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="GUANCHAO_CONFIG",
        help="YAML config file (default: the packaged one).",
        dir_okay=False,
    ),
]


def fail(message: str) -> NoReturn:
    """A mistake the user can fix: one line on stderr, exit code 2, never a traceback."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can fix become one line and exit code 2."""
    try:
        yield
    except (InputError, BrokerError, ConfigError, ModelError, TrainingError) as error:
        fail(str(error))
