"""CLI commands: ``adapex deploy run|verify``, thin wrappers over :mod:`dse.deploy` (the host
runtime; it reads the exported library only, never the study database)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import typer

from dse.cli.common import PEAK_FPS_OPT, PEAK_LOAD_OPT
from dse.jsonable import jsonable

deploy_app = typer.Typer(
    rich_markup_mode=None,
    name="deploy",
    help="Run an exported design library as its host program does, and verify it.",
    no_args_is_help=True,
)

LIBRARY_OPT = typer.Option(..., "--library", help="The exported library folder (adapex export).")
DATA_OPT = typer.Option(
    None,
    "--data",
    help="Where the study's dataset lies when not where the study read it: PATH, or "
    "NAME:PATH (default: the dataset named in library.json).",
)
BACKEND_OPT = typer.Option("software", "--backend", help="software (qonnx) or pynq (a board).")
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON only.")


def _bar(total: int, desc: str, quiet: bool, unit: str = "sample") -> Any:
    from dse.cli.output import progress_bar

    return progress_bar(total, desc, unit, quiet=quiet)


SPLIT_OPT = typer.Option(
    "calibration",
    "--split",
    help="calibration: serve the split every choice was made on and require every design's "
    "stored accuracy, per-exit accuracy and exit fractions exactly; test: serve the held-out "
    "split, show each design's measured figures beside its calibration ones (its stored test "
    "figures exactly), and check every accuracy the runtime table guarantees.",
)


def verify(
    library: Path = LIBRARY_OPT,
    data: str | None = DATA_OPT,
    backend: str = BACKEND_OPT,
    split: str = SPLIT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Serve every design of a library as its host does and check what the study stored
    (exit 1 on any difference; with --split test, also when fewer guarantees of the runtime
    table hold than its confidence promises)."""
    from dse.deploy import check_guarantees, load_deployed_library, load_split, verify_library

    lib = load_deployed_library(library)
    bar: list[Any] = []

    def progress(done: int, total: int) -> None:
        if not bar:
            bar.append(_bar(total, f"verify ({split})", as_json))
        bar[0].update(done)

    try:
        checks = verify_library(lib, data=data, backend=backend, split=split, progress=progress)
        rows = None
        if split == "test":
            x, y, _ = load_split(lib, data, "test")
            rows = check_guarantees(lib, x, y, backend=backend)
    finally:
        if bar:
            bar[0].close()
    ok = all(c.ok for c in checks)
    report: dict[str, Any] = {"split": split, "ok": ok, "designs": [c.to_dict() for c in checks]}
    if rows is not None:
        report["guarantees"] = _guarantees(lib, rows)
        report["rows"] = [r.to_dict() for r in rows]
        ok = ok and report["guarantees"]["held_share"] >= report["guarantees"]["confidence"]
        report["ok"] = ok
    if as_json:
        typer.echo(json.dumps(jsonable(report)))
    else:
        _print_checks(checks, split)
        if rows is not None:
            _print_guarantees(report["guarantees"], rows)
    if not ok:
        raise typer.Exit(1)


def _guarantees(lib: Any, rows: list[Any]) -> dict[str, Any]:
    """How many of the runtime table's guarantees held on the held-out split."""
    measured = [r for r in rows if r.held is not None]
    held = sum(1 for r in measured if r.held)
    delta = float((lib.runtime_table or {}).get("confidence", 0.05))
    return {
        "held": held,
        "total": len(measured),
        "confidence": 1.0 - delta,
        "held_share": held / len(measured) if measured else 1.0,
        "not_measured": len(rows) - len(measured),
    }


def _print_checks(checks: list[Any], split: str) -> None:
    for c in checks:
        fr_s = ", ".join(f"{f:.4f}" for f in c.stored["exit_fraction"] or [])
        fr_m = ", ".join(f"{f:.4f}" for f in c.measured["exit_fraction"])
        verdict = "ok" if c.ok else "DIFFERS: " + "; ".join(c.differences)
        cal = c.calibration.get("accuracy") if split == "test" else None
        beside = "" if cal is None else f" (calibration {cal:.4f})"
        typer.echo(
            f"design {c.design_id} thresholds {c.thresholds}: {split} accuracy stored "
            f"{c.stored['accuracy']:.4f} measured {c.measured['accuracy']:.4f}{beside}; exit "
            f"fractions stored [{fr_s}] measured [{fr_m}] ({c.samples} samples): {verdict}"
        )


def _print_guarantees(summary: dict[str, Any], rows: list[Any]) -> None:
    for r in rows:
        if r.held is None:
            continue
        if not r.held:
            typer.echo(
                f"guarantee not held: accuracy >= {r.accuracy_threshold:.4f} with design "
                f"{r.design_id} thresholds {r.thresholds}: {r.measured:.4f} on "
                f"{r.samples} test samples"
            )
    typer.echo(
        f"guarantees held on the test split: {summary['held']} of {summary['total']} "
        f"({summary['held_share']:.1%}; promised with confidence {summary['confidence']:.0%})"
        + (
            f"; {summary['not_measured']} row(s) of static accelerators the library does not "
            "hold were not measured"
            if summary["not_measured"]
            else ""
        )
    )


def _thresholds(text: str | None) -> list[float] | None:
    from dse.deploy import DeployError

    if text is None:
        return None
    values = []
    for t in (t.strip() for t in text.split(",")):
        if not t:
            continue
        if t.lower() == "off":
            values.append(2.0)  # no confidence reaches it: the exit never answers
            continue
        try:
            value = float(t)
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 1.0:
            raise DeployError(
                f"--thresholds {text!r}: give one number in [0, 1] (or off) per exit, "
                "comma-separated, e.g. 0.9,0.95"
            )
        values.append(value)
    return values


def run(
    library: Path = LIBRARY_OPT,
    design: int | None = typer.Option(
        None, "--design", help="Serve this design (default: live, with the runtime table)."
    ),
    thresholds: str | None = typer.Option(
        None, "--thresholds", help="Exit thresholds of --design, comma-separated."
    ),
    data: str | None = DATA_OPT,
    backend: str = BACKEND_OPT,
    trace: str | None = typer.Option(
        None,
        "--trace",
        help="Serve this workload live: a CSV trace file or a built-in trace name (with "
        "--duration-s and --peak-load or --peak-fps).",
    ),
    rate: float | None = typer.Option(None, "--rate", help="Serve a constant rate (req/s) live."),
    duration_s: float = typer.Option(
        600.0, "--duration-s", help="Duration of --rate or a built-in trace."
    ),
    peak_load: float | None = PEAK_LOAD_OPT,
    peak_fps: float | None = PEAK_FPS_OPT,
    accuracy_threshold: float | None = typer.Option(
        None,
        "--accuracy-threshold",
        help="The user's accuracy threshold, served live (default: static FINN's accuracy "
        "minus 0.01, as the runtime commands).",
    ),
    execute: int = typer.Option(
        8, "--execute", help="Requests run on the backend per interval at most (0: all served)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Serve the test split through one design (--design), or a workload live (--trace or
    --rate) with the runtime table switching designs."""
    from dse.deploy import AdaptiveRunner, DeployError, load_deployed_library, load_split

    _check_run_numbers(
        accuracy_threshold,
        execute,
        {
            "--duration-s": duration_s,
            "--peak-load": peak_load,
            "--peak-fps": peak_fps,
            "--rate": rate,
        },
    )
    lib = load_deployed_library(library)
    live = trace is not None or rate is not None
    if live == (design is not None):
        raise DeployError(
            "give either --design (serve one design) or --trace or --rate (serve live)"
        )
    x, y, _ = load_split(lib, data)
    if not live:
        assert design is not None  # not live: --design was given
        runner = AdaptiveRunner(lib, design, _thresholds(thresholds), backend)
        _emit(_serve_split(runner, x, y, as_json), as_json)
        return
    _run_live(
        lib,
        trace,
        rate,
        duration_s,
        (peak_load, peak_fps),
        x,
        y,
        backend,
        accuracy_threshold,
        execute,
        as_json,
    )


def _check_run_numbers(
    accuracy_threshold: float | None, execute: int, positive: dict[str, float | None]
) -> None:
    """``deploy run``'s numbers checked before the library is read (one line each)."""
    from dse.deploy import DeployError
    from dse.runtime.scenario import check_accuracy_threshold

    if accuracy_threshold is not None:
        check_accuracy_threshold(accuracy_threshold)
    if execute < 0:
        raise DeployError(
            f"--execute {execute}: give the most requests run per interval (0: every one)"
        )
    for flag, value in positive.items():
        if value is not None and not (math.isfinite(value) and value > 0):
            raise DeployError(f"{flag} {value!r}: give a positive number")


def _serve_split(runner: Any, x: Any, y: Any, quiet: bool) -> dict[str, Any]:
    """The test split through one design, with a progress bar."""
    import numpy as np

    bar = _bar(len(y), "serve", quiet)
    labels, stages = [], []
    for start in range(0, len(y), 64):
        res = runner.serve(x[start : start + 64])
        labels.append(res.labels)
        stages.append(res.stage)
        bar.update(len(res.labels))
    bar.close()
    lab, st = np.concatenate(labels), np.concatenate(stages)
    return {
        "design_id": runner.design.id,
        "thresholds": runner.thresholds,
        "samples": len(y),
        "accuracy": float(np.mean(lab == y)),
        "exit_fraction": [float(np.mean(st == k)) for k in range(len(runner.design.stages))],
        "load_s": runner.load_seconds,
    }


def _run_live(
    lib: Any,
    trace: str | None,
    rate: float | None,
    duration_s: float,
    peak: tuple[float | None, float | None],
    x: Any,
    y: Any,
    backend: str,
    accuracy_threshold: float | None,
    execute: int,
    as_json: bool,
) -> None:
    import logging

    from dse.deploy import serve_trace
    from dse.deploy.manager import default_accuracy_threshold, peak_rate
    from dse.runtime import get_trace
    from dse.runtime.traces import builtin_trace, is_trace_file

    if accuracy_threshold is None:
        accuracy_threshold = default_accuracy_threshold(lib)
    if trace is not None:
        if is_trace_file(trace):
            workload = get_trace(trace, duration_s=duration_s)
        else:
            workload = get_trace(trace, duration_s=duration_s, peak_fps=peak_rate(lib, *peak))
    else:
        workload = builtin_trace("constant", duration_s=duration_s, peak_fps=float(rate or 0))
    if not as_json:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    bar = _bar(workload.n_intervals, "live", as_json, unit="interval")

    def progress(done: int, _total: int) -> None:
        bar.n = done
        bar.refresh()

    try:
        result = serve_trace(
            lib,
            workload,
            x,
            y,
            accuracy_threshold=accuracy_threshold,
            backend=backend,
            execute=None if execute == 0 else execute,
            progress=progress,
        )
    finally:
        bar.close()
    _emit(result.to_dict(), as_json, skip=("configurations",))


def _emit(out: dict[str, Any], as_json: bool, skip: tuple[str, ...] = ()) -> None:
    if as_json:
        typer.echo(json.dumps(jsonable(out)))
        return
    for key, value in out.items():
        if key in skip:
            continue
        typer.echo(f"{key}: {json.dumps(jsonable(value))}")


def register(app: typer.Typer) -> None:
    """Attach ``adapex deploy`` to the ``adapex`` app."""
    deploy_app.command("run")(run)
    deploy_app.command("verify")(verify)
    app.add_typer(deploy_app)
