"""CLI commands: ``adapex dashboard``, ``adapex report`` and ``adapex export``.

Each reads the study database without writing to it; dash, plotly, torch and qonnx are
imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dse.errors import DseError

_STORAGE_HELP = "Storage URL (sqlite:///studies.db, postgresql://user@host/db)."


def dashboard(
    storage: str = typer.Option("sqlite:///studies.db", "--storage", help=_STORAGE_HELP),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind (localhost by default; 0.0.0.0 exposes it)."
    ),
    port: int = typer.Option(8050, "--port", help="TCP port."),
    refresh_s: float = typer.Option(
        5.0, "--refresh-s", help="Seconds between re-reads of the database while a study runs."
    ),
) -> None:
    """Serve the read-only Pareto dashboard of a study database."""
    if not 0 < port < 65536:
        raise DseError(f"--port {port}: must be between 1 and 65535")
    if not refresh_s > 0:
        raise DseError(f"--refresh-s {refresh_s}: must be a positive number of seconds")
    from dse.dashboard.app import create_app, serve

    app = create_app(storage, refresh_s=refresh_s)  # validates the database first
    typer.echo(f"adapex dashboard on http://{host}:{port}/ (read-only; Ctrl-C stops it)", err=True)
    serve(app, host=host, port=port)


def report(
    study: str = typer.Option(..., "--study", help="The study to report."),
    out: Path = typer.Option(Path("report.html"), "--out", help="The HTML file to write."),
    storage: str = typer.Option("sqlite:///studies.db", "--storage", help=_STORAGE_HELP),
) -> None:
    """Write a self-contained HTML report of a study (opens offline)."""
    from dse.report import write_report

    path = write_report(storage, study, out)
    typer.echo(str(path))


def export(
    study: str = typer.Option(..., "--study", help="The study to export."),
    out: Path = typer.Option(..., "--out", help="The library folder to create."),
    storage: str = typer.Option("sqlite:///studies.db", "--storage", help=_STORAGE_HELP),
    tar: bool = typer.Option(False, "--tar", help="Also write DIR.tar.gz."),
    force: bool = typer.Option(False, "--force", help="Replace an existing DIR."),
    bitfile: bool = typer.Option(
        False, "--bitfile", help="Build configs run FINN through the bitfile (default: estimates)."
    ),
) -> None:
    """Export the design library of a study: one FINN build folder per Pareto design and stage."""
    from dse.export import export_library
    from dse.storage import Store

    with Store(storage, read_only=True) as store:
        path = export_library(
            store, study, out, tar=tar, force=force, steps="bitfile" if bitfile else "estimate"
        )
    typer.echo(str(path))
    if tar:
        typer.echo(f"{path}.tar.gz")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the ``adapex`` app."""
    app.command("dashboard")(dashboard)
    app.command("report")(report)
    app.command("export")(export)
