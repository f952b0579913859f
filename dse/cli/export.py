"""CLI command: ``adapex export``, a thin wrapper over :func:`dse.export.export_library`
(torch and qonnx are imported inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dse.cli.common import STORAGE_HELP, STUDY_HELP


def export(
    study: str | None = typer.Option(None, "--study", help=STUDY_HELP),
    out: Path = typer.Option(..., "--out", help="The library folder to create."),
    storage: str = typer.Option("sqlite:///studies.db", "--storage", help=STORAGE_HELP),
    tar: bool = typer.Option(False, "--tar", help="Also write DIR.tar.gz."),
    force: bool = typer.Option(False, "--force", help="Replace an existing DIR."),
    bitfile: bool = typer.Option(
        False, "--bitfile", help="Build configs run FINN through the bitfile (default: estimates)."
    ),
    target: str = typer.Option(
        "finn",
        "--target",
        help="Export target (dse.export.targets): finn, one FINN build folder per design.",
    ),
) -> None:
    """Export the design library of a study: one FINN build folder (one accelerator) per design."""
    import json

    from dse.cli.output import progress_bar
    from dse.export import export_library
    from dse.storage import Store

    bar: list[Any] = []

    def progress(done: int, total: int, record: object) -> None:
        if not bar:
            bar.append(progress_bar(total, "export", "design"))
        bar[0].n = done
        if record is not None:
            bar[0].set_postfix_str(f"design {getattr(record, 'id', '?')}")
        bar[0].refresh()

    from dse.study.status import resolve_study

    with Store(storage, read_only=True) as store:
        study = resolve_study(store, study)
        try:
            path = export_library(
                store,
                study,
                out,
                tar=tar,
                force=force,
                steps="bitfile" if bitfile else "estimate",
                progress=progress,
                target=target,
            )
        finally:
            if bar:
                bar[0].close()
    index = json.loads((path / "library.json").read_text())
    n_designs = len(index.get("designs", []))
    n_distinct = int(index.get("distinct_designs", n_designs))
    n_streams = sum(
        len(json.loads(p.read_text()).get("inputs", []))
        for p in path.glob("design_*/deployment.json")
    )
    also = f" and {path}.tar.gz" if tar else ""
    shared = (
        f", {n_designs - n_distinct} sharing another's folders (thresholds only differ)"
        if n_distinct != n_designs
        else ""
    )
    typer.echo(
        f"exported {n_designs} designs ({n_distinct} distinct builds{shared}: one FINN "
        f"accelerator each, {n_streams} stage input streams in all) of study {study} to "
        f"{path}{also}"
    )


def register(app: typer.Typer) -> None:
    """Attach ``adapex export`` to the ``adapex`` app."""
    app.command("export")(export)
