"""CLI commands: ``adapex hw estimate | fold | boards``.

Thin wrappers over hw_builders: ``estimate`` (FINN's estimate reports for a graph and a
folding, or the staged early-exit figures with ``--reach``), ``fold`` (the "finn" or
"optimised" strategy) and ``boards`` (the device catalogue). Bad input ends with one line
``error: ...`` on stderr and exit status 2; nothing is written before validation passes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from hw_builders.devices import DEFAULT_BOARD
from hw_builders.errors import HwError, InputError

hw_app = typer.Typer(
    rich_markup_mode=None,
    name="hw",
    help="Hardware cost of a FINN dataflow graph: estimates, folding, device catalogue.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(exc: BaseException) -> None:
    """One error line: a library error names its arguments as this command's flags
    (``InputError.for_cli``, the one mapping every command uses)."""
    if isinstance(exc, InputError):
        msg = exc.for_cli()
    else:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _console() -> Any:
    from dse.cli.output import console

    return console()


# the target options of `hw estimate` and `hw fold`
_BOARD_OPT = typer.Option(None, "--board", help="board name (adapex hw boards; default Pynq-Z1)")
_PART_OPT = typer.Option(None, "--part", help="FPGA part string, as FINN takes it")
_RESOURCES_OPT = typer.Option(
    None,
    "--resources",
    help="with --part, for a part the catalogue lacks: LUT=..,BRAM_18K=..,URAM=..,DSP=..",
)


def _device(board: str | None, part: str | None, resources: str | None = None) -> Any:
    """The target: --board, or --part (with --resources for a part the catalogue lacks);
    Pynq-Z1 when neither is given."""
    from hw_builders import get_device

    if board and part:
        raise HwError("give either --board or --part, not both")
    if resources is not None and not part:
        raise HwError("--resources describes a part: give it with --part PART")
    if not board and not part:
        board = DEFAULT_BOARD
    return get_device(board=board, part=part, resources=resources)


def _parse_reach(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise HwError(f"--reach {text!r}: give comma-separated fractions, e.g. 1,0.4,0.1") from None


def _print_report(report: Any, folded: Any, console: Any) -> None:
    from rich.table import Table

    attrs = {layer.name: layer.attrs for layer in folded.layers}
    t = Table(title=f"{folded.name}: per-layer FINN estimates")
    for col in ("layer", "op", "exit", "PE", "SIMD", "cycles", "LUT", "BRAM_18K", "URAM", "DSP"):
        t.add_column(col, justify="left" if col in ("layer", "op") else "right")
    for lr in report.layers:
        a = attrs.get(lr.name, {})
        t.add_row(
            lr.name,
            lr.op_type,
            "" if lr.exit is None else str(lr.exit),
            str(a.get("PE", "")),
            str(a.get("SIMD", "")),
            str(lr.cycles),
            str(lr.LUT),
            str(lr.BRAM_18K),
            str(lr.URAM),
            str(lr.DSP),
        )
    tot = report.total
    t.add_row(
        "total",
        "",
        "",
        "",
        "",
        "",
        *(str(tot.get(k, 0)) for k in ("LUT", "BRAM_18K", "URAM", "DSP")),
    )
    console.print(t)
    perf = report.performance
    util = ", ".join(
        f"{k} {100 * v:.1f}%"
        for k, v in report.utilisation.items()
        if k in tot and math.isfinite(v)
    )
    console.print(
        f"device {report.device} @ {report.clk_ns} ns: throughput "
        f"{perf['estimated_throughput_fps']:.1f} fps (bottleneck {perf['max_cycles_node_name']}, "
        f"{perf['max_cycles']} cycles), latency {perf['estimated_latency_ns'] / 1e3:.2f} us, "
        f"power {report.power_w:.3f} W, energy {report.energy_per_inference_j * 1e6:.3f} uJ/inference"
    )
    console.print(f"utilisation: {util}; fits: {'yes' if report.fits else 'NO'}")


def _print_staged(rep: Any, console: Any) -> None:
    from rich.table import Table

    t = Table(title="early-exit stages")
    for col in ("stage", "exit", "reach", "exit fraction", "stage fps", "activity", "latency us"):
        t.add_column(col, justify="right")
    for k in range(len(rep.stages)):
        t.add_row(
            str(k),
            "final" if rep.exits[k] is None else str(rep.exits[k]),
            f"{rep.reach[k]:.3f}",
            f"{rep.exit_fraction[k]:.3f}",
            f"{rep.stage_throughput_fps[k]:.1f}",
            f"{rep.activity[k]:.3f}",
            f"{rep.latency_s_per_exit[k] * 1e6:.2f}",
        )
    console.print(t)
    console.print(
        f"sustained throughput {rep.throughput_fps:.1f} fps (buffers {rep.buffer_depth:g} "
        f"frames; unbounded-buffer bound {rep.unbuffered_bound_fps:.1f}), mean latency "
        f"{rep.mean_latency_s * 1e6:.2f} us, power {rep.power_w:.3f} W, energy "
        f"{rep.energy_per_inference_j * 1e6:.3f} uJ/inference, EDP {rep.edp:.3e} J s"
    )
    console.print(
        "total "
        + ", ".join(f"{k} {v}" for k, v in rep.total.items())
        + f"; fits: {'yes' if rep.fits else 'NO'}"
    )


def estimate_cmd(
    graph_path: Path = typer.Argument(..., metavar="GRAPH.json", help="hardware graph JSON"),
    folding: Path | None = typer.Option(None, "--folding", help="FINN folding_config.json"),
    board: str | None = _BOARD_OPT,
    part: str | None = _PART_OPT,
    resources: str | None = _RESOURCES_OPT,
    clk_ns: float | None = typer.Option(None, "--clk-ns", help="clock period in ns"),
    reach: str | None = typer.Option(
        None, "--reach", help="early exits: fraction entering each stage, e.g. 1,0.4"
    ),
    buffer_depth: float | None = typer.Option(
        None, "--buffer-depth", help="frames per inter-stage FIFO (with --reach; inf allowed)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON only"),
) -> None:
    """FINN's estimates (cycles, resources, throughput, latency, power) for a graph."""
    try:
        from dse.design import Hardware, cost
        from hw_builders import estimate, load_graph
        from hw_builders.folding import FoldingConfig
        from hw_builders.stages import split_stages

        graph = load_graph(graph_path)
        dev = _device(board, part, resources)
        _warn_clock(dev, clk_ns)
        cfg = FoldingConfig.load(folding) if folding is not None else None
        folded = cfg.apply(graph) if cfg is not None else graph
        if reach is not None or buffer_depth is not None:
            rep = cost(
                Hardware(
                    graph,
                    cfg,
                    dev,
                    clk_ns if clk_ns is not None else dev.default_clk_ns,
                    buffer_depth=buffer_depth,
                ),
                _parse_reach(reach) if reach is not None else None,
            )
            if as_json:
                typer.echo(json.dumps(rep.to_dict(), indent=2, default=str))
                return
            console = _console()
            for st, sub in zip(rep.stages, split_stages(folded), strict=False):
                _print_report(st, sub, console)
            _print_staged(rep, console)
            return
        report = estimate(folded, clk_ns=clk_ns, device=dev)
    except InputError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    _print_report(report, folded, _console())
    if cfg is None:
        typer.echo(
            "note: no --folding given: each layer is costed at the PE/SIMD in the graph "
            "(1 where absent); pass --folding FOLDING.json, or choose one with `adapex hw fold`",
            err=True,
        )


def _warn_clock(dev: Any, clk_ns: float | None) -> None:
    """A line on stderr when the clock is faster than FINN's builds close on the part."""
    from hw_builders.devices import clock_note

    note = clock_note(dev, dev.default_clk_ns if clk_ns is None else clk_ns)
    if note:
        typer.echo(f"note: {note}", err=True)


def _usable_shares(text: str | None) -> dict[str, float]:
    """``--max-utilisation`` as a share per resource (1.0 for every one not given)."""
    from hw_builders.folding import RESOURCES

    out = {r: 1.0 for r in RESOURCES}
    if text is None:
        return out
    for chunk in (c.strip() for c in text.split(",")):
        name, _, value = chunk.partition("=")
        try:
            share = float(value)
        except ValueError:
            share = float("nan")
        if name.strip() not in RESOURCES or not 0 < share <= 1:
            raise HwError(
                f"--max-utilisation {chunk!r}: give RESOURCE=SHARE with a share in (0, 1] "
                f"for {', '.join(RESOURCES)}, e.g. LUT=0.85,BRAM_18K=0.9"
            )
        out[name.strip()] = share
    return out


def _fold_shares(
    dev: Any,
    budget: float | None,
    usable: dict[str, float],
    limited: bool,
    counts: tuple[int | None, int | None, int | None, int | None],
) -> dict[str, float] | None:
    """``hw fold``'s budget as a share of the device per resource: --budget of the usable
    amount (--max-utilisation), then --max-lut/--max-bram/--max-uram/--max-dsp as counts."""
    from hw_builders.folding import RESOURCES

    shares: dict[str, float] | None = None
    if budget is not None:
        if not 0 <= budget <= 1:
            raise HwError(
                f"--budget {budget}: give a share of the usable amount in [0, 1], e.g. 0.8"
            )
        shares = {r: float(budget) * usable.get(r, 1.0) for r in RESOURCES}
    elif limited:
        shares = {r: usable.get(r, 1.0) for r in RESOURCES}
    flags = ("--max-lut", "--max-bram", "--max-uram", "--max-dsp")
    for res, val, flag in zip(("LUT", "BRAM_18K", "URAM", "DSP"), counts, flags, strict=True):
        if val is None:
            continue
        avail = dev.resources.get(res, 0)
        if not 0 <= val <= avail:
            raise HwError(f"{flag} {val}: give a count between 0 and {avail} ({dev.name}'s {res})")
        shares = dict(shares or {})
        shares[res] = (val / avail) if avail else (0.0 if val == 0 else 1.0)
    return shares


def fold_cmd(
    graph_path: Path = typer.Argument(..., metavar="GRAPH.json", help="hardware graph JSON"),
    target_fps: float | None = typer.Option(None, "--target-fps", help="frames per second"),
    max_lut: int | None = typer.Option(None, "--max-lut", help="LUT budget (count)"),
    max_bram: int | None = typer.Option(None, "--max-bram", help="BRAM_18K budget (count)"),
    max_uram: int | None = typer.Option(None, "--max-uram", help="URAM budget (count)"),
    max_dsp: int | None = typer.Option(None, "--max-dsp", help="DSP budget (count)"),
    budget: float | None = typer.Option(
        None,
        "--budget",
        help="share of each resource's usable amount, e.g. 0.8 (the usable amount: the "
        "device times --max-utilisation, as a study's [folding] budget is of its [hardware] "
        "max_utilisation)",
    ),
    max_utilisation: str | None = typer.Option(
        None,
        "--max-utilisation",
        help="usable share of each resource, e.g. LUT=0.85,BRAM_18K=0.9,URAM=0.9,DSP=0.9 "
        "(default: the whole device)",
    ),
    board: str | None = _BOARD_OPT,
    part: str | None = _PART_OPT,
    resources: str | None = _RESOURCES_OPT,
    clk_ns: float | None = typer.Option(None, "--clk-ns", help="clock period in ns"),
    strategy: str = typer.Option("optimised", "--strategy", help="finn | optimised"),
    reach: str | None = typer.Option(
        None, "--reach", help="early exits: fraction entering each stage, e.g. 1,0.4"
    ),
    out: Path | None = typer.Option(None, "--out", help="write folding_config.json here"),
    as_json: bool = typer.Option(False, "--json", help="print the folding config as JSON only"),
) -> None:
    """Choose a folding (PE/SIMD per layer) for a target fps or a resource budget."""
    try:
        from hw_builders import check_output_file, estimate, load_graph
        from hw_builders.folding import fold

        if out is not None:
            check_output_file(out, "--out")
        graph = load_graph(graph_path)
        dev = _device(board, part, resources)
        _warn_clock(dev, clk_ns)
        usable = _usable_shares(max_utilisation)
        shares = _fold_shares(
            dev, budget, usable, max_utilisation is not None, (max_lut, max_bram, max_uram, max_dsp)
        )
        cfg = fold(
            graph,
            strategy=strategy,
            device=dev,
            clk_ns=clk_ns,
            target_fps=target_fps,
            budget=shares,
            reach=_parse_reach(reach),
        )
        folded = cfg.apply(graph)
        report = estimate(folded, clk_ns=clk_ns, device=dev, limits=usable)
        if out is not None:
            cfg.save(out)
    except InputError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(cfg.to_dict(), indent=2))
        return
    console = _console()
    _print_report(report, folded, console)
    if out is not None:
        console.print(f"folding written to {out}")


def boards_cmd(
    as_json: bool = typer.Option(False, "--json", help="print the catalogue as JSON only"),
) -> None:
    """List the device catalogue (resources, default clock, reconfiguration time)."""
    from hw_builders import BOARDS

    if as_json:
        typer.echo(json.dumps({k: d.to_dict() for k, d in BOARDS.items()}, indent=2))
        return
    from rich.table import Table

    t = Table(title="boards")
    for col in (
        "board",
        "part",
        "LUT",
        "BRAM_18K",
        "URAM",
        "DSP",
        "clk ns",
        "reconfig s",
        "static W",
    ):
        t.add_column(col, justify="left" if col in ("board", "part") else "right")
    for name, d in BOARDS.items():
        r = d.resources
        t.add_row(
            name,
            d.part,
            str(r.get("LUT", 0)),
            str(r.get("BRAM_18K", 0)),
            str(r.get("URAM", 0)),
            str(r.get("DSP", 0)),
            f"{d.default_clk_ns:g}",
            f"{d.reconfig_time_s:.3f}",
            f"{d.power.static_w:g}",
        )
    _console().print(t)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the ``adapex`` app."""
    hw_app.command("estimate")(estimate_cmd)
    hw_app.command("fold")(fold_cmd)
    hw_app.command("boards")(boards_cmd)
    app.add_typer(hw_app, name="hw")
