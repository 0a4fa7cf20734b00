"""The Typer app every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__

app = typer.Typer(
    name="mlt",
    help="The MLflow tutorial, made real: train, compare, register and serve models.\n\n"
    "Example: mlt train --alpha 0.5 && mlt register && mlt serve",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback(invoke_without_command=True)
def root(
    version: Annotated[
        bool, typer.Option("--version", "-V", help="Show the version and exit.", is_eager=True)
    ] = False,
) -> None:
    """The MLflow tutorial, made real: train, compare, register and serve models."""
    if version:
        typer.echo(f"mlt {__version__}")
        raise typer.Exit()
