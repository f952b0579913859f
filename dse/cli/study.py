"""CLI commands: ``adapex run``, ``adapex worker``, ``adapex study list|status|pareto`` and
``adapex db upgrade``."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from dse.cli.common import STORAGE_HELP, STUDY_HELP
from dse.objectives import objective_names

study_app = typer.Typer(
    rich_markup_mode=None, help="Inspect studies: list, status, Pareto front.", no_args_is_help=True
)
db_app = typer.Typer(
    rich_markup_mode=None, help="Database maintenance (schema upgrade).", no_args_is_help=True
)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if unit == "%":
            return f"{100 * value:.1f}%"
        if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5):
            return f"{value:.3g}{unit}"
        return f"{value:.4g}{unit}"
    return f"{value}{unit}"


def pareto_rows(designs: list[Any]) -> list[dict[str, Any]]:
    """The JSON form of a Pareto front: design id, trial, objectives, parameters, key metrics."""
    rows = []
    for d in designs:
        m = d.metrics
        rows.append(
            {
                "design_id": d.id,
                "trial_number": d.trial_number,
                "objectives": d.objectives,
                "params": d.params,
                "feasible": d.feasible,
                "metrics": {k: m.get(k) for k in (*objective_names(), "URAM", "fits")},
            }
        )
    return rows


def _si(value: float | None) -> str:
    if value is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _short(value: float) -> str:
    text = f"{value:g}"
    return text[1:] if text.startswith("0.") else text


#: The Pareto table's footer: every column in words.
PARETO_COLUMNS = (
    "id          design id; a,b: designs that build the same accelerator with the same "
    "figures (only their exit thresholds differ)",
    "W/A         weight / activation bits",
    "acc %       accuracy on the calibration split (every choice is made on it)",
    "test %      accuracy on the held-out test split",
    "fps         inferences per second sustained",
    "uJ/inf      energy per inference, microjoules",
    "limited by  what caps fps: a layer type and its stage (s0 first), the input stream or "
    "the host link",
    "exits@thr   each early exit and its confidence threshold",
    "prune       pruning rate (per block: one rate per block, a/b/...)",
    "budget      share of the usable resources ([hardware] max_utilisation) the folding may "
    "use; sampled: folding drawn per layer",
    "clk ns      clock period",
    "LUT, BRAM   share of the device used",
)


def _limited(m: dict[str, Any]) -> str:
    lim = m.get("limited_by") or {}
    kind = lim.get("kind")
    if kind == "layer":
        return f"{lim.get('op_type', 'layer')} s{lim.get('stage', 0)}"
    if kind == "input_stream":
        return "input stream"
    if kind == "host_link":
        return "host link"
    return "-"


def _pareto_row(d: Any, ids: str) -> tuple[str, ...]:
    m, p = d.metrics, d.params
    util = m.get("utilisation") or {}
    exits = " ".join(f"{e}@{_short(t)}" for e, t in zip(d.exits, d.thresholds, strict=False))
    pruning = p.get("pruning")
    pruning_s = (
        "/".join(_short(v) for v in pruning) if isinstance(pruning, list) else _short(pruning)
    )
    energy = m.get("energy_per_inference_j")
    arch = d.arch or {}
    wb, ab = p.get("weight_bits", arch.get("weight_bits")), p.get("act_bits", arch.get("act_bits"))
    return (
        ids,
        f"W{wb}A{ab}",
        "-" if m.get("accuracy") is None else f"{100 * m['accuracy']:.1f}",
        "-" if not isinstance(m.get("test"), dict) else f"{100 * m['test']['accuracy']:.1f}",
        _si(m.get("throughput_fps")),
        "-" if energy is None else f"{energy * 1e6:.3g}",
        _limited(m),
        exits or "none",
        pruning_s,
        _short(p["budget"]) if p.get("folding") == "optimised" and p.get("budget") else "sampled",
        f"{d.clk_ns:g}" + ("!" if d.clock_note else ""),
        "-" if "LUT" not in util else f"{100 * util['LUT']:.0f}%",
        "-" if "BRAM_18K" not in util else f"{100 * util['BRAM_18K']:.0f}%",
    )


def print_pareto_table(designs: list[Any], title: str, *, ordered: bool = False) -> None:
    """A compact rich table of Pareto designs (to stdout), every column explained below it.

    Designs that build the same accelerator and show the same figures (their exit
    thresholds alone differ) share a row; a design drawn again by later trials shows its
    repeats. Rows follow ``designs``' order when ``ordered``, else throughput, highest first.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from dse.cli.output import console
    from dse.export.library import build_key
    from dse.study.status import distinct_designs

    table = Table(
        title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True
    )
    columns = ("id", "W/A", "acc %", "test %", "fps", "uJ/inf", "limited by", "exits@thr")
    for col in (*columns, "prune", "budget", "clk ns", "LUT", "BRAM"):
        left = col in ("exits@thr", "limited by")
        table.add_column(col, justify="left" if left else "right", no_wrap=True)
    # a design sampled again by later trials is evaluated once and answers them all
    # ("12 +2": design 12, and two later trials that drew the same parameters)
    distinct = distinct_designs(designs)
    repeats = {d.id: n for d, n in distinct}
    firsts = [d for d, _ in distinct]
    if ordered:
        place = {d.id: i for i, d in enumerate(designs)}
        firsts.sort(key=lambda r: place[r.id])
    else:
        firsts.sort(key=lambda r: -float(r.metrics.get("throughput_fps") or 0.0))
    rows: dict[tuple[Any, ...], list[Any]] = {}
    for d in firsts:
        shown = _pareto_row(d, "")[1:]
        same = (build_key(d), shown[:6], shown[7:])  # all but the thresholds
        rows.setdefault(same, []).append(d)
    notes = list(PARETO_COLUMNS)
    fast = sorted({d.clock_note for d in firsts if d.clock_note})
    notes.extend(f"clk ns !    {note}" for note in fast)
    if any(repeats.values()):
        notes.append("id +N       N later trials drew the same design and were answered from it")
    table.caption = Text("\n".join(notes), justify="left")
    for group in rows.values():
        ids = ",".join(f"{d.id} +{repeats[d.id]}" if repeats[d.id] else str(d.id) for d in group)
        row = list(_pareto_row(group[0], ids))
        if len(group) > 1:  # the thresholds that give these figures
            row[7] = " | ".join(
                " ".join(f"{e}@{_short(t)}" for e, t in zip(d.exits, d.thresholds, strict=False))
                for d in group
            )
        table.add_row(*row)
    console().print(table)


def _next_commands(study: str, storage: str, cache_dir: str | None = None) -> list[str]:
    import os

    where = "" if storage == "sqlite:///studies.db" else f" --storage {storage}"
    # a worker trains into the same cache as this run, wherever it was started from
    cache = f" --cache-dir {os.path.abspath(cache_dir)}" if cache_dir else ""
    return [
        f"adapex study pareto --study {study}{where} --json",
        f"adapex study status --study {study}{where}",
        f"adapex worker --study {study}{where}{cache}   # more workers",
        f"adapex runtime table --study {study}{where}",
        f"adapex dashboard{where}",
        f"adapex export --study {study}{where} --out library",
    ]


class _Progress:
    """A progress bar with ETA (interactive) or plain log lines (workers, pipes)."""

    def __init__(self, bar: bool, label: str) -> None:
        self.bar_enabled = bar
        self.label = label
        self.bar: Any = None

    def start(self, name: str, n_complete: int, target: int) -> None:
        import logging

        self.label = name if self.label == "?" else self.label
        log = logging.getLogger("dse.study")
        if n_complete >= target:
            log.info("%s: already %d/%d trained models", self.label, n_complete, target)
            return
        if self.bar_enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=target,
                initial=n_complete,
                desc=self.label,
                unit="training",
                dynamic_ncols=True,
                file=sys.stderr,
            )
        else:
            log.info("%s: %d/%d trained models, starting", self.label, n_complete, target)

    def trial(self, frozen: Any, n_complete: int) -> None:
        import logging

        knobs = ", ".join(f"{k}={v:g}" for k, v in sorted(frozen.params.items())) or "-"
        designs = frozen.user_attrs.get("designs", 1)
        if self.bar is not None:
            self.bar.n = min(n_complete, self.bar.total)
            self.bar.set_postfix_str(f"trial {frozen.number}: {knobs}, {designs} designs")
            self.bar.refresh()
        else:
            logging.getLogger("dse.study").info(
                "trial %d %s: trained model %s, %s designs on its front (%d trained)",
                frozen.number,
                frozen.state.name.lower(),
                knobs,
                designs,
                n_complete,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _finish(summary: Any, *, show_table: bool) -> None:
    from dse.storage.engine import redact

    url = redact(summary.url)
    if summary.stopped_by:
        typer.echo(
            f"stopped ({summary.stopped_by}) after {summary.trials_run} trial(s); "
            f"{summary.n_complete}/{summary.target} complete; resume with the same command",
            err=True,
        )
    hv = "-" if summary.hypervolume is None else f"{summary.hypervolume:.4g}"
    typer.echo(
        f"study {summary.study}: {summary.n_complete} trained models "
        f"({summary.trials_run} here, {summary.seconds:.0f} s), {summary.n_designs} designs, "
        f"{len(summary.pareto)} on the Pareto front, hypervolume {hv} [{url}]"
    )
    if summary.exhausted and summary.n_complete < summary.target:
        typer.echo(
            f"every one of the {summary.space_size} distinct models of the space is trained "
            f"(the target was {summary.target}); widen the config's knobs to train more",
            err=True,
        )
    if show_table and summary.pareto:
        print_pareto_table(summary.pareto, f"Pareto front of {summary.study}")
        typer.echo("next:")
        for line in _next_commands(summary.study, url, getattr(summary, "cache_dir", None)):
            typer.echo(f"  {line}")


def run_cmd(
    config: str = typer.Option(
        None, "--config", "-c", help="Study TOML (default: the built-in quickstart)."
    ),
    study: str = typer.Option(
        None,
        "--study",
        help="Study name (default: the config's study name; quickstart for the built-in one).",
    ),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    trials: int = typer.Option(
        None,
        "--trials",
        "-n",
        help="Run until the study holds N trained models (each trial trains one model; the "
        "inner step then finds that model's designs).",
    ),
    cache_dir: str = typer.Option(None, "--cache-dir", help="Checkpoint cache directory."),
    progress: bool = typer.Option(
        None, "--progress/--no-progress", help="Progress bar (default: when interactive)."
    ),
) -> None:
    """Create or resume a study and train models until it holds --trials of them
    (Ctrl-C stops after the running training)."""
    from dse.study.logs import configure_worker_logging
    from dse.study.run import run_study

    configure_worker_logging()
    bar = sys.stderr.isatty() if progress is None else progress
    prog = _Progress(bar, "?")
    try:
        summary = run_study(
            config,
            study=study,
            storage=storage,
            trials=trials,
            cache_dir=cache_dir,
            on_trial=prog.trial,
            on_start=prog.start,
        )
    finally:
        prog.close()
    _finish(summary, show_table=True)
    if summary.stopped_by in ("SIGINT", "SIGTERM"):
        raise typer.Exit(130)


def worker_cmd(
    study: str = typer.Option(..., "--study", help="Name of an existing study."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    trials: int = typer.Option(
        None, "--trials", "-n", help="Stop when the study holds N trained models."
    ),
    cache_dir: str = typer.Option(None, "--cache-dir", help="Checkpoint cache directory."),
) -> None:
    """Join an existing study from another process or machine (plain logs)."""
    from dse.storage import DEFAULT_STORAGE
    from dse.study.logs import configure_worker_logging
    from dse.study.run import join_study

    configure_worker_logging()
    prog = _Progress(False, f"worker {study}")
    summary = join_study(
        study,
        storage or DEFAULT_STORAGE,
        trials=trials,
        cache_dir=cache_dir,
        on_trial=prog.trial,
        on_start=prog.start,
    )
    _finish(summary, show_table=False)
    if summary.stopped_by in ("SIGINT", "SIGTERM"):
        raise typer.Exit(130)


def list_cmd(
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output only."),
) -> None:
    """List the studies of a database."""
    from rich.table import Table

    from dse.cli.output import console
    from dse.study.status import list_studies

    studies = list_studies(storage)
    if as_json:
        _echo_json([s.to_dict() for s in studies])
        return
    table = Table(title="studies")
    for col in (
        "study",
        "trials",
        "complete",
        "running",
        "failed",
        "designs",
        "pareto",
        "hypervolume",
    ):
        table.add_column(col, justify="left" if col == "study" else "right")
    for s in studies:
        table.add_row(
            s.name,
            str(s.n_trials),
            str(s.n_complete),
            str(s.n_running),
            str(s.n_failed),
            str(s.n_designs),
            str(s.n_pareto),
            _fmt(s.hypervolume),
        )
    console().print(table)


def status_cmd(
    study: str = typer.Option(None, "--study", help=STUDY_HELP),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output only."),
) -> None:
    """Progress of a study: trials by state, designs, Pareto size, hypervolume, best values."""
    from dse.study.status import study_status

    data = study_status(storage, study)
    name, states, n_repeats = data["name"], data["states"], data["n_repeats"]
    if as_json:
        _echo_json(data)
        return
    typer.echo(f"study {name} ({data['sampler']}, target {data['target_trials']} trained models)")
    if data.get("layout") == 1:
        typer.echo("  made by an adapex whose trials were single designs (read-only)")
    else:
        sec = data["seconds"]
        typer.echo(
            f"  trained models: {data['trainings']} ({sec['training']:.0f} s training, "
            f"{data['designs_evaluated']} designs estimated in {sec['estimating']:.1f} s)"
        )
    typer.echo(
        "  Optuna trials: "
        + (", ".join(f"{k.lower()} {v}" for k, v in sorted(states.items())) or "none")
    )
    repeats = (
        f" (+{n_repeats} completed trials that drew an evaluated design again and were "
        "answered from it)"
        if n_repeats
        else ""
    )
    typer.echo(
        f"  designs: {data['n_designs']}{repeats}, Pareto: {data['n_pareto']}, "
        f"hypervolume: {_fmt(data['hypervolume'])}"
    )
    from dse.dashboard.records import axis_label

    for key, value in data["best"].items():  # named and in units as the dashboard's axes
        typer.echo(f"  best {axis_label(key)}: {_fmt(value)}")
    for note in data["clock_notes"]:
        typer.echo(f"  clock: {note}")


def pareto_cmd(
    study: str = typer.Option(None, "--study", help=STUDY_HELP),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    min_accuracy: float = typer.Option(
        None, "--min-accuracy", help="Only designs with at least this calibration accuracy (0-1)."
    ),
    sort: str = typer.Option(
        "fps", "--sort", help="Order: fps, accuracy (highest first), energy, latency, lut."
    ),
    top: int = typer.Option(None, "--top", help="Only the first N designs of that order."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output only."),
) -> None:
    """The feasible Pareto front of a study (JSON: designs with objectives, params, id)."""
    from dse.cli.common import flags
    from dse.study.status import pareto_front, select_front

    with flags({}):
        name, designs = pareto_front(storage, study)
        shown = select_front(designs, min_accuracy=min_accuracy, sort=sort, top=top)
    if as_json:
        _echo_json(pareto_rows(shown))
        return
    title = f"Pareto front of {name} ({len(designs)} designs"
    if len(shown) < len(designs):
        title += f", {len(shown)} shown"
    print_pareto_table(shown, title + ")", ordered=True)


def upgrade_cmd(
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
) -> None:
    """Upgrade adapex's tables in a database to this version's schema."""
    from dse.storage import SCHEMA_VERSION, normalise_url, upgrade
    from dse.storage.engine import check_reachable, create_engine, redact
    from dse.storage.schema import is_current

    url = normalise_url(storage)
    check_reachable(url, must_exist=True)
    reader = create_engine(url, read_only=True)
    try:  # a current schema needs no write: a read-only file or folder is fine then
        current = is_current(reader, url)
    finally:
        reader.dispose()
    if current:
        typer.echo(
            f"{redact(url)}: adapex schema is current (version {SCHEMA_VERSION}); nothing to upgrade"
        )
        return
    engine = create_engine(url)
    try:
        old, new = upgrade(engine, url)
    finally:
        engine.dispose()
    if old == new:
        typer.echo(f"{redact(url)}: adapex schema is current (version {new}); nothing to upgrade")
    else:
        typer.echo(f"{redact(url)}: adapex schema upgraded from {old} to {new}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the ``adapex`` app."""
    app.command("run")(run_cmd)
    app.command("worker")(worker_cmd)
    study_app.command("list")(list_cmd)
    study_app.command("status")(status_cmd)
    study_app.command("pareto")(pareto_cmd)
    db_app.command("upgrade")(upgrade_cmd)
    app.add_typer(study_app, name="study")
    app.add_typer(db_app, name="db")
