"""Entry point of the ``adapex`` program.

Each command group lives in its own module with a ``register(app)`` function; heavy
imports (torch, brevitas, optuna, dash) happen inside the commands, so that
``adapex --help`` and ``adapex hw ...`` start quickly.
"""

from __future__ import annotations

import sys

import typer

from dse.cli import deploy, export, hw, runtime, study, train, web
from dse.errors import StateError
from hw_builders.errors import InputError

app = typer.Typer(
    rich_markup_mode=None,  # plain help: no "<bool>" after flags, no boxes in a pipe
    name="adapex",
    help="Design-space exploration of pruning, early exits and FINN folding for FPGA CNN inference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (hw, train, study, runtime, web, export, deploy):
    _module.register(app)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("adapex")
        except PackageNotFoundError:  # run from a checkout that was never installed
            text = "unknown (not installed)"
        typer.echo(f"adapex {text}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print adapex's version and exit.",
    ),
) -> None:
    """Design-space exploration of pruning, early exits and FINN folding for FPGA CNN
    inference."""


#: The modules of ``pip install 'adapex[study]'`` that ``pip install adapex`` (the host
#: runtime of an exported library) leaves out.
STUDY_MODULES = frozenset(
    {
        "torch",
        "brevitas",
        "qonnx",
        "onnxoptimizer",
        "onnxruntime",
        "optuna",
        "plotly",
        "sqlalchemy",
        "psycopg2",
        "sklearn",
        "scipy",
        "dash",
        "PIL",
        "filelock",
    }
)


def fail(message: str) -> None:
    """Print a one-line error and exit with status 2 (bad input)."""
    typer.echo(f"error: {message}", err=True)
    raise SystemExit(2)


def _os_error_line(exc: OSError) -> str:
    """One line for a file-system failure the inputs could not foresee (a full disk, a
    folder that became read-only); completed work is kept by the atomic writes."""
    import errno

    where = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"{where}: {reason}; free some space and run the command again "
            "(what was completed is kept)"
        )
    return f"{where}: {reason}; check the path and its permissions, then run the command again"


def _database_error_line(exc: Exception) -> str | None:
    """One line for a database failure (SQLAlchemy's wrapper of the driver's error), or None
    for anything else."""
    seen: Exception | None = exc
    while seen is not None and not type(seen).__module__.startswith("sqlalchemy"):
        # Optuna wraps the database's error in its own (StorageInternalError)
        nxt = seen.__cause__ or seen.__context__
        seen = nxt if isinstance(nxt, Exception) else None
    if seen is None:
        return None
    exc = seen
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    detail = text[0] if text else type(exc).__name__
    lowered = detail.lower()
    if "full" in lowered:
        fix = "free some space and run the command again (what was completed is kept)"
    elif "readonly" in lowered or "read-only" in lowered or "permission" in lowered:
        fix = "make the database and its folder writable, or pass --storage with another"
    else:
        fix = "check --storage and that the database server is up"
    return f"storage: {detail}; {fix}"


def _usage_line(exc: typer.TyperException) -> str:
    """One line for what the command-line parser refused: the option and the fix."""
    message = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "adapex"
    return f"{message} (see `{where} --help`)"


def _run(argv: list[str] | None) -> None:
    """The app, its parser's refusals as one-line errors (exit 2) instead of usage boxes."""
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        # the parse and the call without typer's own wrapper, which turns Ctrl-C into a
        # silent exit status 130: a KeyboardInterrupt reaches main() and says "interrupted"
        with command.make_context("adapex", args) as ctx:
            code = command.invoke(ctx)
    except EOFError:  # a prompt's input closed
        raise KeyboardInterrupt from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        raise KeyboardInterrupt from None
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group named without a command
            exc.show()  # type: ignore[attr-defined]  # its help, as typer shows it
            raise SystemExit(2) from None
        fail(_usage_line(exc))
    raise SystemExit(code if isinstance(code, int) else 0)  # as click's standalone mode ends


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; bad input ends with a one-line error and exit status 2, and so do file
    system and database failures (a full disk, a read-only folder); stale or conflicting
    state ends with one line and exit status 1; Ctrl-C with exit status 130."""
    try:
        _run(argv)
    except InputError as exc:
        fail(exc.for_cli())
    except StateError as exc:
        lines = str(exc).splitlines()
        typer.echo(f"error: {lines[0] if lines else type(exc).__name__}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in STUDY_MODULES:
            raise
        fail(
            f"this command needs adapex's study dependencies ({exc.name} is not installed); "
            "install them with: pip install 'adapex[study]'"
        )
    except OSError as exc:
        fail(_os_error_line(exc))
    except Exception as exc:
        line = _database_error_line(exc)
        if line is None:
            raise
        fail(line)


if __name__ == "__main__":
    main()
