"""CLI commands: ``adapex runtime table|simulate`` (the runtime manager)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from dse.cli.common import STUDY_HELP, resolve_study

runtime_app = typer.Typer(
    name="runtime",
    help="Runtime manager: the selection table and the workload simulation against baselines.",
    no_args_is_help=True,
)

STUDY_OPT = typer.Option(None, "--study", help=STUDY_HELP)
STORAGE_OPT = typer.Option(
    None, "--storage", help="Storage URL (default sqlite:///studies.db in this directory)."
)
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON only.")
OBJECTIVE_OPT = typer.Option(
    "energy",
    "--objective",
    help="What the table minimises among the designs that sustain a rate: energy "
    "(energy per inference, default) or edp (the design's energy x latency).",
)


def _jsonable(value: Any) -> Any:
    """NaN/inf become null, tuples lists, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _load_study(storage: str | None, study: str | None) -> tuple[str, list, Any]:
    """The study's name (``--study``, or the database's only study), its operating points
    and its static FINN point (read-only; validates)."""
    from dse.runtime.derive import study_points
    from dse.storage import Store

    with Store(storage, read_only=True) as store:
        name = resolve_study(store, study)
        return (name, *study_points(store, name))


def _save(storage: str | None, what: str, study: str, content: dict) -> None:
    from dse.storage import Store

    with Store(storage) as store:
        if what == "table":
            store.save_runtime_table(study, content)
        else:
            store.save_simulation(study, content)


def _check_threshold(value: float | None) -> None:
    from dse.runtime.errors import RuntimeManagerError

    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise RuntimeManagerError(
            f"--accuracy-threshold {value!r} is out of range; give a number in [0, 1], e.g. 0.9"
        )


def _check_objective(value: str) -> None:
    from dse.runtime.errors import RuntimeManagerError
    from dse.runtime.table import OBJECTIVES

    if value not in OBJECTIVES:
        raise RuntimeManagerError(
            f"--objective {value!r} is unknown; use one of {', '.join(OBJECTIVES)}"
        )


def table_cmd(
    study: str | None = STUDY_OPT,
    storage: str | None = STORAGE_OPT,
    accuracy_threshold: float | None = typer.Option(
        None, "--accuracy-threshold", help="Show only the row for this accuracy threshold."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Also export the table to FILE.json or FILE.csv."
    ),
    objective: str = OBJECTIVE_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Build the selection table of a study, store it in the database and print it."""
    from dse.runtime.errors import RuntimeManagerError
    from dse.runtime.table import SelectionTable

    _check_threshold(accuracy_threshold)
    _check_objective(objective)
    if out is not None and out.suffix.lower() not in (".json", ".csv"):
        raise RuntimeManagerError(f"--out {out}: unknown extension; use .json or .csv")
    study, points, static = _load_study(storage, study)
    table = SelectionTable([*points, static], objective=objective)
    content = table.to_dict()
    _save(storage, "table", study, content)
    if out is not None:
        table.save(out)
    entries = content["entries"]
    if accuracy_threshold is not None:
        entries = table.row_entries(accuracy_threshold)
    if json_out:
        shown = dict(content, entries=entries)
        typer.echo(json.dumps(_jsonable(shown), indent=2))
        return
    from rich.table import Table

    from dse.cli.output import console

    t = Table(title=f"runtime selection table of {study} ({len(points) + 1} operating points)")
    for col in ("acc >=", "rate (fps)", "design", "exit thresholds", "accuracy", "fps", "mJ/inf"):
        t.add_column(col, justify="right")
    for e in entries:
        hi = e["rate_max_fps"]
        rate = (
            f"{e['rate_min_fps']:.4g} - {hi:.4g}"
            if hi is not None
            else f"> {e['rate_min_fps']:.4g}"
        )
        design = "static FINN" if e["is_static_finn"] else f"#{e['design_id']}"
        thr = " ".join(f"{x:g}" if x <= 1 else "off" for x in e["thresholds"]) or "-"
        acc = f"{e['accuracy']:.4f}" + ("" if e["compliant"] else " (best)")
        t.add_row(
            f"{e['accuracy_threshold']:.4f}",
            rate + ("" if e["sustains"] else " (drops)"),
            design,
            thr,
            acc,
            f"{e['throughput_fps']:.4g}",
            f"{e['energy_per_inference_j'] * 1e3:.4g}",
        )
    console().print(t)


def simulate_cmd(
    study: str | None = STUDY_OPT,
    storage: str | None = STORAGE_OPT,
    trace: str | None = typer.Option(
        None,
        "--trace",
        help="Built-in trace (smart-iot, camera, traffic, bursty, constant) or FILE.csv "
        "(timestamp | start,rate | interval_s,rate). Default: smart-iot.",
    ),
    accuracy_threshold: float | None = typer.Option(
        None,
        "--accuracy-threshold",
        help="The user's accuracy threshold (default: static FINN's accuracy minus 0.02).",
    ),
    peak_load: float = typer.Option(
        1.5,
        "--peak-load",
        help="Built-in traces: peak input rate as a multiple of static FINN's throughput.",
    ),
    duration_s: float = typer.Option(86_400.0, "--duration-s", help="Built-in trace length."),
    dt_s: float = typer.Option(1.0, "--dt-s", help="Simulation interval (seconds)."),
    buffer_size: int = typer.Option(1024, "--buffer", help="Input FIFO capacity (inferences)."),
    hold: int = typer.Option(3, "--hold", help="Intervals a new design must stay desired."),
    min_dwell_s: float = typer.Option(30.0, "--min-dwell-s", help="Min time between reconfigs."),
    seed: int = typer.Option(0, "--seed", help="Seed of the trace bursts and arrivals."),
    objective: str = OBJECTIVE_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Simulate the runtime manager and the baselines on a workload trace; store the result."""
    from dse.runtime.compare import compare_policies, policy_point_sets
    from dse.runtime.errors import RuntimeManagerError
    from dse.runtime.simulator import HysteresisPolicy
    from dse.runtime.traces import get_trace

    _check_threshold(accuracy_threshold)
    _check_objective(objective)
    if not (math.isfinite(peak_load) and peak_load > 0):
        raise RuntimeManagerError(f"--peak-load {peak_load!r} must be a positive number, e.g. 1.5")
    if buffer_size < 0:
        raise RuntimeManagerError(f"--buffer {buffer_size} must be >= 0")
    policy = HysteresisPolicy(hold_intervals=hold, min_dwell_s=min_dwell_s)
    if trace is not None and trace.lower().endswith(".csv"):
        tr = get_trace(trace, dt_s=dt_s)  # validate a user file before touching the study
        study, points, static = _load_study(storage, study)
    else:
        study, points, static = _load_study(storage, study)
        tr = get_trace(
            trace,
            duration_s=duration_s,
            dt_s=dt_s,
            seed=seed,
            peak_fps=peak_load * static.throughput_fps,
        )
    threshold = (
        accuracy_threshold if accuracy_threshold is not None else max(0.0, static.accuracy - 0.02)
    )
    sets = policy_point_sets(points, static)
    result = compare_policies(
        sets,
        tr,
        accuracy_threshold=threshold,
        policy=policy,
        buffer_size=buffer_size,
        seed=seed,
        objective=objective,
    )
    result["study"] = study
    result["static_finn_point"] = static.to_dict()
    if trace is None or not trace.lower().endswith(".csv"):
        result["trace"]["peak_load_vs_static"] = peak_load
    result = _jsonable(result)
    _save(storage, "simulation", study, result)
    if json_out:
        typer.echo(json.dumps(result))
        return
    from rich.table import Table

    from dse.cli.output import console

    info = result["trace"]
    title = (
        f"{study}: trace {info['name']} ({info['duration_s'] / 3600:.3g} h, mean "
        f"{info['mean_fps']:.4g} fps, peak {info['peak_fps']:.4g} fps); accuracy >= "
        f"{threshold:.4f}; static FINN {static.throughput_fps:.4g} fps"
    )
    t = Table(title=title)
    names = list(result["policies"])
    t.add_column("metric")
    for name in names:
        t.add_column(name, justify="right")

    def fmt(x: Any, spec: str = ".4g", scale: float = 1.0) -> str:
        return "-" if x is None else format(x * scale, spec)

    rows = [
        ("processed", lambda m: f"{m['processed']:,}"),
        ("dropped", lambda m: f"{m['dropped']:,}"),
        ("mean accuracy", lambda m: fmt(m["mean_accuracy"], ".4f")),
        ("energy (J)", lambda m: fmt(m["energy_j"])),
        ("energy/inference (uJ)", lambda m: fmt(m["energy_per_inference_j"], ".4g", 1e6)),
        ("latency p50 (ms)", lambda m: fmt(m["latency_p50_s"], ".4g", 1e3)),
        ("latency p99 (ms)", lambda m: fmt(m["latency_p99_s"], ".4g", 1e3)),
        ("EDP (J*s)", lambda m: fmt(m["edp_js"])),
        ("service EDP (J*s)", lambda m: fmt(m["edp_service_js"])),
        ("reconfigurations", lambda m: str(m["reconfigurations"])),
        ("designs used", lambda m: str(m["designs_used"])),
        ("x processed vs static", lambda m: fmt(m["ratios_vs_static"]["processed"], ".3f")),
        ("x EDP vs static", lambda m: fmt(m["ratios_vs_static"]["edp"], ".3f")),
        ("x service EDP vs static", lambda m: fmt(m["ratios_vs_static"]["edp_service"], ".3f")),
    ]
    for label, get in rows:
        cells = []
        for name in names:
            m = result["policies"][name]
            cells.append(get(m) if m.get("available", True) else "n/a")
        t.add_row(label, *cells)
    console().print(t)
    for name in names:
        m = result["policies"][name]
        if not m.get("available", True):
            typer.echo(f"{name}: {m.get('reason', 'not available')}")
    ratios = result["ratios_vs_static"]
    typer.echo(
        f"adapex vs static FINN: {ratios['processed']:.3f}x inferences processed, "
        f"{ratios['edp']:.3f}x better EDP"
        if ratios.get("processed") is not None and ratios.get("edp") is not None
        else "adapex vs static FINN: not available"
    )


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the ``adapex`` app."""
    runtime_app.command("table")(table_cmd)
    runtime_app.command("simulate")(simulate_cmd)
    app.add_typer(runtime_app, name="runtime")
