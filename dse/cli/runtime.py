"""CLI commands: ``adapex runtime table|simulate`` (the runtime manager)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from dse.cli.common import PEAK_FPS_OPT, STORAGE_HELP, STUDY_HELP, flags
from dse.jsonable import jsonable
from dse.runtime.errors import RuntimeManagerError
from dse.runtime.table import DEFAULT_SELECT

runtime_app = typer.Typer(
    rich_markup_mode=None,
    name="runtime",
    help="Runtime manager: the selection table and the workload simulation against baselines.",
    no_args_is_help=True,
)

STUDY_OPT = typer.Option(None, "--study", help=STUDY_HELP)
STORAGE_OPT = typer.Option(None, "--storage", help=STORAGE_HELP)
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON only.")
#: the flags of `runtime simulate` whose names differ from the library's arguments
SIMULATE_FLAGS = {"buffer_size": "--buffer", "hold_intervals": "--hold"}
SELECT_OPT = typer.Option(
    None,
    "--select",
    "--objective",
    help="What the runtime selects among the configurations that sustain the load above "
    "the accuracy threshold: energy (the least per inference), edp (the least service EDP: "
    "energy x latency), latency (the least) or accuracy (the highest guaranteed: spare "
    "capacity spent on accuracy). Default: the study's [runtime] select (energy).",
)


CONFIDENCE_OPT = typer.Option(
    None,
    "--confidence",
    help="Delta of the accuracy guarantees: a configuration serves an accuracy threshold "
    "only when its calibration accuracy holds it with probability 1 - delta (one-sided "
    "Clopper-Pearson, corrected for every configuration the study could choose). Default: "
    "the study's [runtime] confidence (0.05).",
)


def _load_study(
    storage: str | None, study: str | None, confidence: float | None = None
) -> tuple[str, Any]:
    """dse.runtime.load_study_library, with a note where the study has no guarantees."""
    from dse.runtime.study import load_study_library

    name, lib = load_study_library(storage, study, confidence)
    _note_estimates(name, lib)
    return name, lib


def _note_estimates(name: str, lib: Any) -> None:
    if lib.static_finn.guaranteed_accuracy is None:
        typer.echo(
            f"note: study {name} was profiled on its test split only (adapex before schema 3): "
            "its accuracies are estimates without guarantees; a new study gives them",
            err=True,
        )


def _design_name(e: dict[str, Any]) -> str:
    from dse.runtime.points import STATIC_BEST_ID, STATIC_FINN_ID

    return {STATIC_FINN_ID: "static FINN", STATIC_BEST_ID: "static best"}.get(
        int(e["design_id"]), f"#{e['design_id']}"
    )


def _note_unstored(storage: str | None, what: str) -> None:
    from dse.storage.engine import normalise_url

    typer.echo(
        f"note: the {what} is not stored: {normalise_url(storage)} is read-only (it is "
        "printed only)",
        err=True,
    )


def table_cmd(
    study: str | None = STUDY_OPT,
    storage: str | None = STORAGE_OPT,
    accuracy_threshold: float | None = typer.Option(
        None,
        "--accuracy-threshold",
        help="The user's accuracy threshold: show the configurations the runtime manager "
        "selects for it, per load (default: static FINN's accuracy minus 0.01).",
    ),
    show_all: bool = typer.Option(
        False, "--all", help="Show every accuracy threshold's rows (the whole table)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Also export the table to FILE.json or FILE.csv."
    ),
    select: str | None = SELECT_OPT,
    confidence: float | None = CONFIDENCE_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Build the selection table of a study, store it in the database and print it."""
    from dse.runtime.errors import RuntimeManagerError
    from dse.runtime.scenario import check_accuracy_threshold
    from dse.runtime.study import study_runtime_table
    from dse.runtime.table import check_objective

    check_accuracy_threshold(accuracy_threshold)
    if select is not None:
        check_objective(select)
    if out is not None and out.suffix.lower() not in (".json", ".csv"):
        raise RuntimeManagerError(f"--out {out}: unknown extension; use .json or .csv")
    if out is not None:
        from hw_builders import check_output_file

        check_output_file(out, "--out")  # before the table is computed and stored
    built = study_runtime_table(storage, study, select=select, confidence=confidence)
    study, lib, table = built.study, built.library, built.table
    _note_estimates(study, lib)
    library = table.points
    content = table.to_dict()
    if not built.stored:
        _note_unstored(storage, "table")
    if out is not None:
        table.save(out)
    entries = content["entries"]
    if accuracy_threshold is not None:
        entries = table.row_entries(accuracy_threshold)
    elif not show_all and not json_out:  # a person reads a few rows: the default threshold's
        from dse.runtime.sweep import default_threshold

        accuracy_threshold = default_threshold(lib)
        entries = table.row_entries(accuracy_threshold)
    if json_out:
        shown = dict(content, entries=entries)
        typer.echo(json.dumps(jsonable(shown), indent=2))
        return
    _print_table(study, lib, library, entries, accuracy_threshold)
    if not show_all and len(entries) < len(content["entries"]):
        typer.echo(
            f"{len(entries)} of the table's {len(content['entries'])} rows (accuracy threshold "
            f"{accuracy_threshold:.4f}); --all shows every threshold, --accuracy-threshold another"
        )


def _print_table(
    study: str,
    lib: Any,
    library: list[Any],
    entries: list[dict[str, Any]],
    accuracy_threshold: float | None,
) -> None:
    """The selection table's rows, what "guaranteed" means, and where nothing is."""
    from rich.table import Table

    from dse.cli.output import console

    t = Table(title=f"runtime selection table of {study} ({len(library)} operating points)")
    for col in (
        "acc >=",
        "rate (fps)",
        "design",
        "exit@threshold",
        "guaranteed",
        "calibration",
        "fps",
        "uJ/inf",
    ):
        t.add_column(col, justify="right")
    for e in entries:
        hi = e["rate_max_fps"]
        rate = (
            f"{e['rate_min_fps']:.4g} - {hi:.4g}"
            if hi is not None
            else f"> {e['rate_min_fps']:.4g}"
        )
        design = _design_name(e)
        thr = (
            " ".join(
                f"{x}@{t:g}" if t <= 1 else f"{x}@off"
                for x, t in zip(e.get("exits") or [], e["thresholds"], strict=False)
            )
            or "-"
        )
        g = e.get("guaranteed_accuracy")
        guaranteed = ("-" if g is None else f"{g:.4f}") + ("" if e["compliant"] else " (best)")
        t.add_row(
            f"{e['accuracy_threshold']:.4f}",
            rate + ("" if e["sustains"] else " (overload)"),
            design,
            thr,
            guaranteed,
            f"{e['accuracy']:.4f}",
            f"{e['throughput_fps']:.4g}",
            f"{e['energy_per_inference_j'] * 1e6:.4g}",
        )
    console().print(t)
    if any(not e["sustains"] for e in entries):
        typer.echo(
            "overload: a rate above every configuration's throughput; the fastest one that "
            "meets the threshold runs and the input buffer drops what it cannot hold"
        )
    bound: dict[str, Any] = next((p.bound for p in library if p.bound), {})
    if bound:
        typer.echo(
            f"guaranteed: the accuracy each configuration holds with confidence "
            f"{1 - lib.state.get('confidence', 0.05):.0%} (one-sided Clopper-Pearson on "
            f"{bound['samples']} calibration samples at alpha {bound['alpha']:.2g} per "
            "(trained model, exits) family, tested along the thresholds in a fixed order)"
        )
    if accuracy_threshold is not None and not any(e["compliant"] for e in entries):
        best = max(p.served_accuracy for p in library)
        typer.echo(
            f"no configuration is guaranteed an accuracy of {accuracy_threshold:g}; the "
            f"highest it can guarantee is {best:.4f} (the rows above hold the best it can do)"
        )


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
        help="The user's accuracy threshold (default: static FINN's accuracy minus 0.01).",
    ),
    peak_load: float | None = typer.Option(
        None,
        "--peak-load",
        help="Built-in traces: peak input rate as a multiple of the load basis (default 1.5).",
    ),
    peak_fps: float | None = PEAK_FPS_OPT,
    load_basis: str = typer.Option(
        "static_finn",
        "--load-basis",
        help="What --peak-load multiplies: static_finn (its throughput), static_best, or max "
        "(the fastest configuration of the study: --peak-load 1 reaches it).",
    ),
    duration_s: float = typer.Option(86_400.0, "--duration-s", help="Built-in trace length."),
    dt_s: float = typer.Option(1.0, "--dt-s", help="Simulation interval (seconds)."),
    buffer_size: int = typer.Option(1024, "--buffer", help="Input FIFO capacity (inferences)."),
    hold: int = typer.Option(3, "--hold", help="Intervals a new design must stay desired."),
    min_dwell_s: float = typer.Option(30.0, "--min-dwell-s", help="Min time between reconfigs."),
    seed: int = typer.Option(0, "--seed", help="Seed of the trace bursts and arrivals."),
    select: str | None = SELECT_OPT,
    confidence: float | None = CONFIDENCE_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Simulate the runtime manager and every baseline on a workload trace; store the result.

    Baselines: static FINN (FINN's SetFolding of the unpruned, exit-free network at the
    highest target fps that fits), static best (adapex's optimised folding of it), and the
    pruning-only and exit-only sub-spaces. Metrics: see `adapex runtime sweep --help`.
    """
    from dse.runtime.scenario import Scenario
    from dse.runtime.study import study_simulation

    if peak_load is not None and peak_fps is not None:
        raise RuntimeManagerError(
            "give --peak-load (a multiple of the load basis) or --peak-fps, not both"
        )
    peak: dict[str, float] = {} if peak_load is None else {"peak_load": peak_load}
    with flags(SIMULATE_FLAGS):
        scenario = Scenario(
            trace=trace,
            accuracy_threshold=accuracy_threshold,
            **peak,
            peak_fps=peak_fps,
            load_basis=load_basis,
            duration_s=duration_s,
            dt_s=dt_s,
            buffer_size=buffer_size,
            hold_intervals=hold,
            min_dwell_s=min_dwell_s,
            seed=seed,
            select=select or DEFAULT_SELECT,
        )
    study, lib, result, stored = study_simulation(
        storage, scenario, study, select=select, confidence=confidence
    )
    _note_estimates(study, lib)
    if not stored:
        _note_unstored(storage, "simulation")
    if json_out:
        typer.echo(json.dumps(result))
        return
    _print_simulation(result, study, lib)


def _print_simulation(result: dict[str, Any], study: str, lib: Any) -> None:
    """The comparison as a table of metrics per policy, then adapex against each baseline."""
    from rich.table import Table

    from dse.cli.output import console
    from dse.runtime.metrics import METRICS

    info = result["trace"]
    t = Table(
        title=f"{study}: trace {info['name']} ({info['duration_s'] / 3600:.3g} h, mean "
        f"{info['mean_fps']:.4g} fps, peak {info['peak_fps']:.4g} fps); accuracy >= "
        f"{result['accuracy_threshold']:.4f}; static FINN {lib.static_finn.throughput_fps:.4g} fps"
    )
    names = list(result["policies"])
    t.add_column("metric")
    for name in names:
        t.add_column(name, justify="right")
    for metric in METRICS:
        cells = []
        for name in names:
            m = result["policies"][name]
            cells.append(metric.format(m.get(metric.key)) if m.get("available", True) else "n/a")
        t.add_row(metric.label(), *cells)
    t.add_row("designs used", *(str(result["policies"][n].get("designs_used", "-")) for n in names))
    console().print(t)
    for name in names:
        m = result["policies"][name]
        if not m.get("available", True):
            typer.echo(f"{name}: {m.get('reason', 'not available')}")
    select = str((result.get("settings") or {}).get("objective") or DEFAULT_SELECT)
    _print_adapex_choices(result, select)
    _print_against_baselines(result["policies"], select)


def _print_adapex_choices(result: dict[str, Any], select: str) -> None:
    """What adapex selects by, and which configurations it ran for which share of the time."""
    from dse.runtime import OBJECTIVE_GOALS

    adapex = result["policies"].get("adapex") or {}
    if not adapex.get("available", True):
        return
    shares = adapex.get("time_share") or []
    ran = ", ".join(
        f"{s['label'] or '#' + str(s['design_id'])} {100 * s['share']:.0f}%" for s in shares[:6]
    )
    more = f" and {len(shares) - 6} more" if len(shares) > 6 else ""
    typer.echo(
        f"adapex selects {OBJECTIVE_GOALS[select]} (--select {select}) among the configurations "
        f"that sustain the load at accuracy >= {result['accuracy_threshold']:.4f}; share of "
        f"the time: {ran}{more}; {adapex.get('reconfigurations', 0)} reconfigurations"
    )


#: the metric each ``--select`` minimises, for the reasons printed where adapex loses
_MINIMISES = {"energy": "energy per inference", "edp": "service EDP", "latency": "latency"}


def _why(metric: str, select: str, adapex: dict[str, Any]) -> str:
    """Why adapex can come out worse than a baseline on ``metric``, and what to change."""
    if metric == "inferences processed":
        n = adapex.get("reconfigurations") or 0
        return (
            f"each of adapex's {n} reconfigurations serves nothing while the bitstream loads, "
            "and the accuracy threshold rules out faster configurations; raise --buffer or "
            "lower --accuracy-threshold"
        )
    from dse.runtime import OBJECTIVE_GOALS

    if metric != _MINIMISES.get(select):
        flag = "edp" if metric == "service EDP" else "energy"
        return (
            f"adapex selects {OBJECTIVE_GOALS[select]} (--select {select}), not the least "
            f"{metric}; --select {flag} minimises {metric}"
        )
    return (
        f"adapex stays on a design whose {metric} is within the hysteresis margin of the best "
        "and pays for its reconfigurations, to avoid switching on every change of load"
    )


def _print_against_baselines(policies: dict[str, Any], select: str = DEFAULT_SELECT) -> None:
    from dse.runtime.policies import baseline_names, policy_label

    adapex = policies.get("adapex", {})
    for base in baseline_names():
        b = policies.get(base, {})
        if not (adapex.get("available", True) and b.get("available", True)):
            continue
        processed = _ratio(adapex.get("processed"), b.get("processed"))
        edp = _ratio(b.get("edp_service_js"), adapex.get("edp_service_js"))
        energy = _ratio(b.get("energy_per_inference_j"), adapex.get("energy_per_inference_j"))
        typer.echo(
            f"adapex vs {policy_label(base)}: "
            f"{_fmt_ratio(processed, 'more', 'fewer')} inferences processed, "
            f"{_fmt_ratio(edp, 'better', 'worse')} service EDP, "
            f"{_fmt_ratio(energy, 'less', 'more')} energy per inference"
        )
        for metric, ratio in (
            ("inferences processed", processed),
            ("service EDP", edp),
            ("energy per inference", energy),
        ):
            if ratio is not None and ratio < 1 - 1e-9:
                typer.echo(f"  why {metric} is worse: {_why(metric, select, adapex)}")


def _ratio(num: Any, den: Any) -> float | None:
    """``num / den`` (None where either is missing, zero or not finite)."""
    if num is None or den is None or not den or not math.isfinite(num) or not math.isfinite(den):
        return None
    return float(num) / float(den)


def _fmt_ratio(ratio: float | None, up: str, down: str) -> str:
    """A ratio where above 1 favours adapex, said the right way round: "1.250x better",
    "1.271x worse" (for 0.787), "equal"."""
    if ratio is None:
        return "-"
    if abs(ratio - 1.0) < 5e-4:
        return "1.000x (equal)"
    if ratio > 1:
        return f"{ratio:.3f}x {up}"
    if ratio == 0:
        return f"none ({down})"
    return f"{1 / ratio:.3f}x {down}"


_SWEEP_HELP = (
    "Simulate constant loads and every built-in trace scaled to peak loads of 0.5x to 4x a load "
    "basis (static FINN's throughput and static best's by default; --load-basis), and print, "
    "per basis, trace, load and baseline (static_finn, static_best, pruning_only, exit_only), "
    "the ratios of adapex to the baseline (above 1: adapex is better): processed_ratio = "
    "inferences processed by adapex / by the baseline; service_edp_ratio = the baseline's "
    "service EDP / adapex's; energy_per_inference_ratio = the baseline's energy per inference "
    "/ adapex's; mean_accuracy = adapex's; then adapex's gain over static FINN at the highest "
    "load as folding x pruning x exits, and what limits it there. Metrics: "
)


def sweep_cmd(
    study: str | None = STUDY_OPT,
    storage: str | None = STORAGE_OPT,
    accuracy_threshold: float | None = typer.Option(
        None,
        "--accuracy-threshold",
        help="The user's accuracy threshold (default: static FINN's accuracy minus 0.01).",
    ),
    load_basis: list[str] | None = typer.Option(
        None,
        "--load-basis",
        help="What the loads are multiples of: static_finn, static_best or max (the "
        "library's highest-throughput configuration); repeat it for several. Default: "
        "static_finn and static_best.",
    ),
    select: str | None = SELECT_OPT,
    confidence: float | None = CONFIDENCE_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    from dse.runtime.scenario import check_accuracy_threshold
    from dse.runtime.study import study_select
    from dse.runtime.sweep import DEFAULT_LOAD_BASES, LOAD_BASES, cached_sweep
    from dse.runtime.table import check_objective

    check_accuracy_threshold(accuracy_threshold)
    bases = tuple(dict.fromkeys(load_basis or DEFAULT_LOAD_BASES))
    for basis in bases:
        if basis not in LOAD_BASES:
            raise RuntimeManagerError(
                f"--load-basis {basis!r} is unknown; use one of {', '.join(LOAD_BASES)}"
            )
    if select is not None:
        check_objective(select)
    study, lib = _load_study(storage, study, confidence)
    chosen = study_select(storage, study, select)
    result = cached_sweep(
        storage, lib, accuracy_threshold=accuracy_threshold, load_bases=bases, select=chosen
    )
    if json_out:
        typer.echo(json.dumps(jsonable(result)))
        return
    for basis in result["settings"]["load_bases"]:
        _print_sweep(result, study, basis)
    where = "" if storage is None else f" --storage {storage}"
    typer.echo(
        "each ratio is explained by the breakdown (configurations and their share of time per "
        f"policy): adapex runtime sweep --study {study}{where} --json | jq .breakdown"
    )


def _print_sweep(result: dict[str, Any], study: str, basis: str) -> None:
    """One load basis: the ratios per trace, load and baseline, then per trace the
    attribution at the highest load and what limits adapex there."""
    from rich.table import Table

    from dse.cli.output import console
    from dse.runtime.policies import baseline_names, policy_label

    fps = result["settings"]["load_basis_fps"][basis]
    t = Table(
        title=f"{study}: adapex / baseline, loads x {policy_label(basis) if basis != 'max' else 'the fastest configuration'} "
        f"({fps:.4g} fps); accuracy >= {result['accuracy_threshold']:.4f}; select "
        f"{result['select']} (x processed | x service EDP | x energy per inference)"
    )
    t.add_column("trace")
    t.add_column("load", justify="right")
    for base in baseline_names():
        t.add_column(policy_label(base), justify="right")
    t.add_column("adapex accuracy", justify="right")
    by_key: dict[tuple[str, float], dict[str, Any]] = {}
    for row in result["rows"]:
        if row["load_basis"] == basis:
            by_key.setdefault((row["trace"], row["load"]), {})[row["baseline"]] = row

    def r(x: Any) -> str:
        return "-" if x is None else f"{x:.2f}"

    for (trace, load), rows in by_key.items():
        cells = [
            f"{r(rows[b]['processed_ratio'])} | {r(rows[b]['service_edp_ratio'])} | "
            f"{r(rows[b]['energy_per_inference_ratio'])}"
            for b in baseline_names()
        ]
        acc = next(iter(rows.values()))["mean_accuracy"]
        t.add_row(trace, f"{load:g}x", *cells, "-" if acc is None else f"{acc:.4f}")
    console().print(t)
    top = max(load for _trace, load in by_key)
    for (trace, load), rows in by_key.items():
        if load != top:
            continue
        row = next(iter(rows.values()))
        a, bound = row["attribution"], row.get("limited_by") or {}
        typer.echo(
            f"  {trace} at {load:g}x: adapex / static FINN = folding {r(a['folding'])} x pruning "
            f"{r(a['pruning'])} x exits {r(a['exits'])} = {r(a['total'])}; limited by "
            f"{bound.get('detail', 'n/a')}"
        )
        for base_row in rows.values():
            if base_row.get("why"):
                typer.echo(f"    vs {policy_label(base_row['baseline'])}: {base_row['why']}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the ``adapex`` app."""
    runtime_app.command("table")(table_cmd)
    runtime_app.command("simulate")(simulate_cmd)
    from dse.runtime.metrics import metrics_help

    runtime_app.command("sweep", help=_SWEEP_HELP + metrics_help() + ".")(sweep_cmd)
    app.add_typer(runtime_app, name="runtime")
