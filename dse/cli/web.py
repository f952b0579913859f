"""CLI commands: ``adapex dashboard`` and ``adapex report``.

Each reads the study database without writing to it; dash, plotly, torch and qonnx are
imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dse.cli.common import STORAGE_HELP, STUDY_HELP
from dse.errors import DseError


def _check_port(host: str, port: int) -> None:
    """Fail with one line when the server could not listen on ``host:port``."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise DseError(f"--host {host}: not an address of this machine; use 127.0.0.1") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            sock.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DseError(
                    f"--port {port}: {host}:{port} is already in use (another dashboard?); "
                    f"pass another port, e.g. --port {port + 1 if port < 65535 else 8050}"
                ) from None
            raise DseError(
                f"--host {host} --port {port}: cannot listen there ({exc.strerror}); "
                "use --host 127.0.0.1 and a free --port above 1024"
            ) from None


def dashboard(
    storage: str = typer.Option("sqlite:///studies.db", "--storage", help=STORAGE_HELP),
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
    _check_port(host, port)
    from dse.dashboard.app import create_app, serve

    app = create_app(storage, refresh_s=refresh_s)  # validates the database first
    typer.echo(f"adapex dashboard on http://{host}:{port}/ (read-only; Ctrl-C stops it)", err=True)
    serve(app, host=host, port=port)


def report(
    study: str | None = typer.Option(None, "--study", help=STUDY_HELP),
    out: Path = typer.Option(Path("report.html"), "--out", help="The HTML file to write."),
    storage: str = typer.Option("sqlite:///studies.db", "--storage", help=STORAGE_HELP),
) -> None:
    """Write a self-contained HTML report of a study (opens offline)."""
    from dse.cli.common import resolve_study_at
    from dse.study_report import write_report

    study = resolve_study_at(storage, study)
    path = write_report(storage, study, out)
    typer.echo(f"report of study {study} written to {path} (self-contained; opens offline)")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the ``adapex`` app."""
    app.command("dashboard")(dashboard)
    app.command("report")(report)
