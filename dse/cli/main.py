"""Entry point of the ``adapex`` program.

Each command group lives in its own module with a ``register(app)`` function; heavy
imports (torch, brevitas, optuna, dash) happen inside the commands, so that
``adapex --help`` and ``adapex hw ...`` start quickly.
"""

from __future__ import annotations

import sys

import typer

from dse.cli import hw, runtime, study, train, web
from hw_builders.errors import InputError

app = typer.Typer(
    name="adapex",
    help="Design-space exploration of pruning, early exits and FINN folding for FPGA CNN inference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (hw, train, study, runtime, web):
    _module.register(app)


def fail(message: str) -> None:
    """Print a one-line error and exit with status 2 (bad input)."""
    typer.echo(f"error: {message}", err=True)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; bad input ends with a one-line error and exit status 2."""
    try:
        app(args=argv, standalone_mode=True)
    except InputError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
