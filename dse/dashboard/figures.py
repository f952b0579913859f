"""Figure builders shared by the dashboard and the offline report (the record accessors and
tables they draw from are in :mod:`dse.dashboard.records`).

Pure functions: each takes designs (:class:`dse.storage.DesignRecord` objects or their
``to_dict()`` form), a runtime table or a simulation result (the dicts stored by the
runtime manager) and returns a ``plotly.graph_objects.Figure``. Nothing here reads a file
or the database, so the dashboard and ``adapex report`` draw exactly the same figures.

Text that comes from the database (study names, parameter values) is HTML-escaped before
it enters a title or a hover label: plotly renders a subset of HTML in those strings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dse.dashboard.records import (  # noqa: F401 - the record accessors, re-exported
    RESOURCE_KEYS,
    axis_label,
    axis_options,
    columns,
    design_dict,
    design_kind,
    design_summary,
    esc,
    finite,
    fmt,
    folding_rows,
    folding_summary,
    hover_text,
    layer_table,
    metric_labels,
    metric_value,
    pruning_rate,
    runtime_design_ids,
    stage_table,
    studies_rows,
)
from dse.objectives import get_objective, objective_names
from dse.pareto import pareto_mask
from dse.runtime.policies import baseline_names, get_policy

#: Metrics spanning decades: drawn on a log axis.
LOG_METRICS = frozenset({"throughput_fps", "energy_per_inference_j", "edp", "latency_s"})
#: Default axes of the 2D and 3D Pareto plots.
DEFAULT_AXES_2D = ("throughput_fps", "accuracy")
DEFAULT_AXES_3D = ("throughput_fps", "energy_per_inference_j", "accuracy")

#: Trace styles of the three kinds of design in a Pareto plot, in drawing order: the front
#: last, so that it is on top and wins hover and click where designs coincide.
_KINDS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("infeasible", "infeasible", {"color": "#7f7f7f", "size": 7, "symbol": "x", "opacity": 0.6}),
    ("dominated", "dominated", {"color": "#1f77b4", "size": 7, "symbol": "circle", "opacity": 0.6}),
    ("pareto", "Pareto front", {"color": "#d62728", "size": 11, "symbol": "diamond"}),
)
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def distinct_colours(n: int) -> list[str]:
    """``n`` colours no two of which are the same: the palette's ten, then hues a golden
    angle apart at three lightness levels (a heatmap of many designs never repeats one)."""
    import colorsys

    out = list(_PALETTE[:n])
    k = 0
    while len(out) < n:
        hue = (k * 0.618033988749895) % 1.0
        light = (0.35, 0.55, 0.75)[(k // 7) % 3]
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.65)
        colour = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
        if colour not in out:
            out.append(colour)
        k += 1
    return out


# -- access helpers ---------------------------------------------------------------------------


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=esc(title),
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": esc(message),
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14},
            }
        ],
        height=300,
    )
    return fig


# -- Pareto plots -----------------------------------------------------------------------------


def _points(dicts: Sequence[Mapping[str, Any]], axes: Sequence[str], kind: str) -> dict[str, list]:
    pts: dict[str, list] = {"coords": [[] for _ in axes], "ids": [], "text": []}
    for d in dicts:
        if design_kind(d) != kind:
            continue
        values = [metric_value(d, a) for a in axes]
        if any(v is None for v in values):
            continue
        for i, v in enumerate(values):
            pts["coords"][i].append(v)
        pts["ids"].append(int(d["id"]))
        pts["text"].append(hover_text(d))
    return pts


def staircase(
    xs: Sequence[float], ys: Sequence[float], x: str, y: str
) -> tuple[list[float], list[float], str] | None:
    """The non-dominated staircase of the points (xs, ys) in the (x, y) projection.

    A front of three objectives, projected on two, is not a line through its members: only
    the members non-dominated in the projection form its front there. Returns the
    staircase's points sorted along x and plotly's line shape (``"vh"`` when x is
    maximised, else ``"hv"``), or None when either metric has no known direction.
    """

    known = objective_names()
    if x not in known or y not in known or not xs:
        return None
    sx = 1.0 if get_objective(x).direction == "maximize" else -1.0
    sy = 1.0 if get_objective(y).direction == "maximize" else -1.0
    pts = sorted(set(zip(xs, ys, strict=True)))
    mask = pareto_mask(np.array([(-sx * a, -sy * b) for a, b in pts], dtype=float))
    keep = [p for p, m in zip(pts, mask, strict=True) if m]
    return [a for a, _ in keep], [b for _, b in keep], "vh" if sx > 0 else "hv"


def pareto_figure(
    designs: Iterable[Any],
    x: str = DEFAULT_AXES_2D[0],
    y: str = DEFAULT_AXES_2D[1],
    *,
    title: str = "Pareto front",
) -> go.Figure:
    """2D scatter of a study's designs: Pareto front, dominated and infeasible told apart.

    Each point carries its design id as ``customdata`` (the dashboard opens the design
    page on click). The Pareto designs are coloured by the third default objective, and
    the projection's own non-dominated staircase is drawn (a 3-objective front projected on
    two axes is no single line).

    Args:
        designs: The study's designs.
        x: Metric on the horizontal axis.
        y: Metric on the vertical axis.
        title: Figure title (escaped).
    """
    dicts = [design_dict(d) for d in designs]
    if not dicts:
        return _empty(title, "no designs yet")
    third = next((k for k in DEFAULT_AXES_3D if k not in (x, y)), None)
    fig = go.Figure()
    for kind, name, marker in _KINDS:
        pts = _points(dicts, (x, y), kind)
        if not pts["ids"]:
            continue
        xs, ys = pts["coords"]
        style = dict(marker)
        if kind == "pareto":
            stair = staircase(xs, ys, x, y)
            if stair is not None:
                sx, sy, shape = stair
                fig.add_trace(
                    go.Scatter(
                        x=sx,
                        y=sy,
                        mode="lines",
                        line={"color": marker["color"], "width": 1, "dash": "dot", "shape": shape},
                        name="front of this projection",
                        hoverinfo="skip",
                    )
                )
            with3 = _points(dicts, (x, y, third), kind) if third is not None else None
            if third is not None and with3 is not None and with3["ids"] == pts["ids"]:
                # every point has the third objective
                style.update(
                    color=with3["coords"][2],
                    colorscale="Viridis",
                    showscale=True,
                    colorbar={"title": {"text": esc(axis_label(third)), "side": "right"}},
                    line={"color": "#d62728", "width": 1},
                )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=f"{name} ({len(xs)})",
                marker=style,
                customdata=pts["ids"],
                hovertext=pts["text"],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    fig.update_layout(
        title=esc(title),
        xaxis_title=esc(axis_label(x)),
        yaxis_title=esc(axis_label(y)),
        xaxis_type="log" if x in LOG_METRICS else "linear",
        yaxis_type="log" if y in LOG_METRICS else "linear",
        hovermode="closest",
        legend={"orientation": "h", "y": -0.2, "traceorder": "reversed"},
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        height=480,
    )
    return fig


def pareto_figure_3d(
    designs: Iterable[Any],
    axes: Sequence[str] = DEFAULT_AXES_3D,
    *,
    title: str = "Pareto front (3D)",
) -> go.Figure:
    """3D scatter of a study's designs over three metrics (log axes where they span decades)."""
    if len(axes) != 3:
        raise ValueError(f"axes: give three metrics, got {list(axes)}")
    dicts = [design_dict(d) for d in designs]
    if not dicts:
        return _empty(title, "no designs yet")
    fig = go.Figure()
    for kind, name, marker in _KINDS:
        pts = _points(dicts, axes, kind)
        if not pts["ids"]:
            continue
        xs, ys, zs = pts["coords"]
        fig.add_trace(
            go.Scatter3d(
                x=xs,
                y=ys,
                z=zs,
                mode="markers",
                name=f"{name} ({len(xs)})",
                marker={**marker, "size": marker["size"] * 0.6},
                customdata=pts["ids"],
                hovertext=pts["text"],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    # one tick per decade on log axes (the minor ones crowd the axis titles out), and a
    # camera far enough that all three axis titles stay inside the figure
    scene = {
        f"{a}axis": {
            "title": {"text": esc(axis_label(k))},
            "type": "log" if k in LOG_METRICS else "linear",
            **({"dtick": 1} if k in LOG_METRICS else {}),
        }
        for a, k in zip("xyz", axes, strict=True)
    }
    fig.update_layout(
        title=esc(title),
        scene=scene,
        scene_camera={"eye": {"x": 1.7, "y": 1.7, "z": 1.05}},
        height=640,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        font={"size": 11},
        legend={"x": 0.99, "xanchor": "right", "y": 0.99},
    )
    return fig


# -- design page ------------------------------------------------------------------------------


def layer_cycles_figure(design: Any) -> go.Figure:
    """Per-layer cycles as bars, coloured by stage (the slowest layer bounds a stage)."""
    rows = layer_table(design)
    if not rows:
        return _empty("cycles per layer", "no hardware report stored")
    fig = go.Figure()
    for k in sorted({r["stage"] for r in rows}):
        mine = [r for r in rows if r["stage"] == k]
        fig.add_trace(
            go.Bar(
                x=[esc(r["name"]) for r in mine],
                y=[r["cycles"] for r in mine],
                name=f"stage {k}",
                marker_color=_PALETTE[k % len(_PALETTE)],
                hovertemplate="%{x}: %{y} cycles<extra>stage " + str(k) + "</extra>",
            )
        )
    fig.update_layout(
        title="cycles per layer",
        yaxis_title="cycles",
        yaxis_type="log",
        xaxis_tickangle=-45,
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 120},
    )
    return fig


def layer_resources_figure(design: Any) -> go.Figure:
    """Per-layer LUT, BRAM_18K, URAM and DSP as grouped bars (one subplot per resource)."""
    rows = layer_table(design)
    if not rows:
        return _empty("resources per layer", "no hardware report stored")
    keys = [k for k in RESOURCE_KEYS if any(r[k] for r in rows)] or ["LUT"]
    fig = make_subplots(rows=len(keys), cols=1, shared_xaxes=True, subplot_titles=keys)
    names = [esc(r["name"]) for r in rows]
    colours = [_PALETTE[r["stage"] % len(_PALETTE)] for r in rows]
    for i, key in enumerate(keys, start=1):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[r[key] for r in rows],
                name=key,
                marker_color=colours,
                showlegend=False,
                hovertemplate="%{x}: %{y} " + key + "<extra></extra>",
            ),
            row=i,
            col=1,
        )
    fig.update_layout(
        title="resources per layer (colour: stage)",
        height=180 * len(keys) + 160,
        margin={"l": 60, "r": 20, "t": 60, "b": 120},
    )
    fig.update_xaxes(tickangle=-45)
    return fig


def stage_figure(design: Any) -> go.Figure:
    """Stage breakdown: reach and exit fraction, own throughput, and resources per stage."""
    rows = stage_table(design)
    if not rows:
        return _empty("stages", "no staged hardware report stored")
    labels = [f"stage {r['stage']} (exit {r['exit']})" for r in rows]
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "reach and exit fraction",
            "own throughput (inferences/s)",
            "device utilisation (%)",
        ),
    )
    for key, colour in (("reach", "#1f77b4"), ("exit_fraction", "#ff7f0e")):
        fig.add_trace(
            go.Bar(x=labels, y=[r[key] for r in rows], name=key, marker_color=colour), 1, 1
        )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=[r["throughput_fps"] for r in rows],
            name="throughput_fps",
            marker_color="#2ca02c",
        ),
        1,
        2,
    )
    for j, key in enumerate(RESOURCE_KEYS):
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[100.0 * float(r["utilisation"].get(key, 0.0) or 0.0) for r in rows],
                customdata=[r[key] for r in rows],
                name=key,
                marker_color=_PALETTE[j + 4],
                hovertemplate="%{x}: %{y:.3g}% (%{customdata} " + key + ")<extra></extra>",
            ),
            1,
            3,
        )
    fig.update_layout(title="stage breakdown", barmode="group", height=400)
    fig.update_yaxes(type="log", row=1, col=2)
    return fig


def exit_curves(
    exit_profile: Mapping[str, Any], grid: Sequence[float] | None = None
) -> list[dict[str, Any]]:
    """Per exit and threshold: the fraction of samples confident there and their accuracy.

    Each exit is taken on its own (every sample enters it), as
    :meth:`dse.accuracy.profile.ExitProfile.table` defines it.
    """
    from dse.accuracy.profile import ExitProfile

    if not exit_profile or not exit_profile.get("exits"):
        return []
    grid = np.round(np.linspace(0.0, 1.0, 51), 4).tolist() if grid is None else list(grid)
    return ExitProfile.from_dict(exit_profile).table(grid)


def exit_profile_figure(design: Any) -> go.Figure:
    """Accuracy and exit fraction against threshold for each exit in use, thresholds marked."""
    d = design_dict(design)
    rows = exit_curves(d.get("exit_profile") or {})
    used = [int(e) for e in d.get("exits") or []]
    if not rows:
        return _empty("exit profile", "no exit profile stored")
    shown = used or sorted({r["exit"] for r in rows if r["exit"] != -1})
    if not shown:
        return _empty("exit profile", "this design uses no early exit")
    thresholds = dict(zip(used, d.get("thresholds") or [], strict=False))
    fig = go.Figure()
    for j, e in enumerate(shown):
        mine = [r for r in rows if r["exit"] == e]
        colour = _PALETTE[j % len(_PALETTE)]
        ts = [r["threshold"] for r in mine]
        fig.add_trace(
            go.Scatter(
                x=ts,
                y=[r["accuracy"] for r in mine],
                name=f"exit {e}: accuracy",
                mode="lines",
                line={"color": colour},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=ts,
                y=[r["fraction"] for r in mine],
                name=f"exit {e}: exit fraction",
                mode="lines",
                line={"color": colour, "dash": "dash"},
            )
        )
        if e in thresholds:
            # one label row per exit, so that close thresholds never print over each other
            fig.add_vline(
                x=float(thresholds[e]),
                line={"color": colour, "dash": "dot"},
                annotation_text=f"exit {e}: {float(thresholds[e]):.3g}",
                annotation_position="top left",
                annotation_yshift=-20 * j,
                annotation_font_color=colour,
            )
    fig.update_layout(
        title="exit profile (each exit on its own)",
        xaxis_title="confidence threshold (top-1 softmax)",
        yaxis_title="accuracy / fraction of samples",
        yaxis_range=[0, 1.05],
        height=420,
    )
    return fig


def folding_figure(design: Any) -> go.Figure:
    """The folding table (FINN's folding_config.json, one row per node) as a table figure."""
    rows = folding_rows(design_dict(design).get("folding") or {})
    if not rows:
        return _empty("folding", "no folding stored")
    cols = columns(rows)
    fig = go.Figure(
        go.Table(
            header={"values": [f"<b>{esc(c)}</b>" for c in cols], "align": "left"},
            cells={"values": [[esc(r.get(c, "")) for r in rows] for c in cols], "align": "left"},
        )
    )
    fig.update_layout(
        title="folding (folding_config.json)",
        height=min(120 + 26 * len(rows), 900),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


# -- runtime ----------------------------------------------------------------------------------


def _design_label(design_id: Any) -> str:
    return "static FINN" if design_id == -1 else f"design {design_id}"


def runtime_heatmap(table: Mapping[str, Any] | None) -> go.Figure:
    """The runtime selection table as a heatmap: accuracy threshold x input rate -> design.

    Columns are the distinct rate-bucket edges over all rows (the last column is "above
    every edge"); a cell shows the design (and thresholds) chosen for rates up to its edge.
    """
    entries = list((table or {}).get("entries") or [])
    if not entries:
        return _empty("runtime selection table", "no runtime table stored")
    accs = sorted({float(e["accuracy_threshold"]) for e in entries})
    edges = sorted({float(e["rate_max_fps"]) for e in entries if e.get("rate_max_fps") is not None})
    columns = [*edges, math.inf]
    designs = sorted({e["design_id"] for e in entries})
    index = {d: i for i, d in enumerate(designs)}
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    hover: list[list[str]] = []
    for a in accs:
        row_entries = [e for e in entries if float(e["accuracy_threshold"]) == a]
        zr: list[float | None] = []
        tr: list[str] = []
        hr: list[str] = []
        for hi in columns:
            chosen = None
            for e in row_entries:
                top = math.inf if e.get("rate_max_fps") is None else float(e["rate_max_fps"])
                if float(e["rate_min_fps"]) < hi <= top or (math.isinf(hi) and math.isinf(top)):
                    chosen = e
                    break
            if chosen is None:
                zr.append(None)
                tr.append("")
                hr.append("")
                continue
            zr.append(index[chosen["design_id"]])
            tr.append("FINN" if chosen["design_id"] == -1 else str(chosen["design_id"]))
            hr.append(
                esc(_design_label(chosen["design_id"]))
                + f"<br>thresholds: {esc(fmt(chosen.get('thresholds', [])))}"
                + f"<br>accuracy: {esc(fmt(chosen.get('accuracy')))}"
                + f"<br>throughput: {esc(fmt(chosen.get('throughput_fps')))} /s"
                + f"<br>energy: {esc(fmt(chosen.get('energy_per_inference_j')))} J"
                + ("" if chosen.get("compliant", True) else "<br>(no design meets the threshold)")
            )
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    n = max(len(designs), 1)
    scale = []
    for i, colour in enumerate(distinct_colours(n)):
        scale += [[i / n, colour], [(i + 1) / n, colour]]
    x_labels = [f"<= {c:.4g}" for c in edges] + [f"> {edges[-1]:.4g}" if edges else "any"]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=x_labels,
            y=[f"{a:.4g}" for a in accs],
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hovertemplate="rate %{x} /s, accuracy >= %{y}<br>%{hovertext}<extra></extra>",
            colorscale=scale,
            zmin=-0.5,
            zmax=n - 0.5,
            showscale=False,
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        title="runtime selection table (cell: design id; FINN = static FINN baseline)",
        xaxis_title="input rate (inferences/s)",
        yaxis_title="accuracy threshold",
        height=max(300, 40 + 28 * len(accs) + 120),
    )
    return fig


def simulation_figure(result: Mapping[str, Any] | None) -> go.Figure:
    """Simulation timeline: demand against served (and dropped), and the design in use."""
    timeline = (result or {}).get("timeline") or {}
    t = list(timeline.get("t_s") or [])
    if not t:
        return _empty("runtime simulation", "no simulation stored")
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.65, 0.35],
        subplot_titles=("demand and served (inferences/s)", "design in use"),
        vertical_spacing=0.1,
    )
    for key, colour, dash in (
        ("demand_fps", "#7f7f7f", "dot"),
        ("served_fps", "#2ca02c", "solid"),
        ("dropped_fps", "#d62728", "solid"),
    ):
        values = timeline.get(key)
        if values:
            fig.add_trace(
                go.Scatter(
                    x=t,
                    y=values,
                    name=key.replace("_fps", ""),
                    mode="lines",
                    line={"color": colour, "dash": dash, "shape": "hv"},
                ),
                1,
                1,
            )
    static = ((result or {}).get("policies") or {}).get("static_finn") or {}
    static_served = (static.get("timeline") or {}).get("served_fps")
    if static_served and len(static_served) == len(t):
        fig.add_trace(
            go.Scatter(
                x=t,
                y=static_served,
                name="served by static FINN",
                mode="lines",
                line={"color": "#1f77b4", "dash": "dash", "shape": "hv"},
            ),
            1,
            1,
        )
    ids = list(timeline.get("design_id") or [])
    if ids:
        labels = [_design_label(i) for i in ids]
        thresholds = timeline.get("thresholds") or [[] for _ in ids]
        fig.add_trace(
            go.Scatter(
                x=t,
                y=labels,
                name="design",
                mode="lines+markers",
                line={"shape": "hv", "color": "#9467bd"},
                marker={"size": 4},
                hovertext=[f"thresholds: {esc(fmt(th))}" for th in thresholds],
                hovertemplate="t=%{x}s: %{y}<br>%{hovertext}<extra></extra>",
            ),
            2,
            1,
        )
        fig.update_yaxes(type="category", row=2, col=1)
    ratios = (result or {}).get("ratios_vs_static") or {}
    summary = ", ".join(
        f"{label} {fmt(ratios[k])}x"
        for k, label in (("processed", "inferences processed"), ("edp_service", "service EDP"))
        if isinstance(ratios.get(k), (int, float))
    )
    if summary:
        summary = "adapex / static FINN: " + summary
    fig.update_layout(
        title="runtime simulation" + (f" ({esc(summary)})" if summary else ""),
        height=560,
        xaxis2_title="time (s)",
    )
    return fig


def sweep_figure(sweep: Mapping[str, Any] | None) -> go.Figure:
    """The load sweep: adapex / baseline ratios (processed and service EDP) against load, one
    column per trace, one line per baseline and load basis (solid: loads x static FINN,
    dashed: x static best, dotted: x the fastest configuration); the third row splits adapex's
    gain over static FINN into folding, pruning and exits."""
    if not sweep or not sweep.get("rows"):
        return _empty(
            "load sweep", "no load sweep stored yet: run `adapex runtime sweep --study NAME`"
        )
    rows = sweep["rows"]
    traces = list(dict.fromkeys(r["trace"] for r in rows))
    bases = list(dict.fromkeys(r.get("load_basis", "static_finn") for r in rows))
    fig = make_subplots(
        rows=3,
        cols=len(traces),
        shared_xaxes=True,
        subplot_titles=[esc(t) for t in traces],
        vertical_spacing=0.07,
        horizontal_spacing=0.03,
    )
    for c, trace in enumerate(traces, start=1):
        for basis in bases:
            _sweep_ratio_lines(fig, rows, trace, basis, c)
            _attribution_lines(fig, rows, trace, basis, c)
    fig.update_yaxes(title_text="x inferences processed", row=1, col=1)
    fig.update_yaxes(title_text="x service EDP", type="log", row=2, col=1)
    fig.update_yaxes(title_text="gain factor", type="log", row=3, col=1)
    for c in range(2, len(traces) + 1):
        fig.update_yaxes(type="log", row=2, col=c)
        fig.update_yaxes(type="log", row=3, col=c)
    fig.update_xaxes(title_text="peak load (x its basis)", row=3)
    fig.update_layout(
        title=esc(
            f"adapex / baseline per load (accuracy >= {sweep.get('accuracy_threshold', 0):.4f};"
            f" select {sweep.get('select', 'energy')}; above 1: adapex better)"
        ),
        height=720,
        # the legend (a dozen entries or more) in a column right of the plots: below them
        # it ran into the x-axis titles
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        legend={
            "orientation": "v",
            "x": 1.02,
            "xanchor": "left",
            "y": 1,
            "yanchor": "top",
            "font": {"size": 10},
            "tracegroupgap": 0,
        },
    )
    return fig


_BASIS_DASH = {"static_finn": "solid", "static_best": "dash", "max": "dot"}
_FACTOR_COLOURS = {"folding": "#8c564b", "pruning": "#2ca02c", "exits": "#1f77b4"}


def _sweep_ratio_lines(fig: go.Figure, rows: list[Any], trace: str, basis: str, c: int) -> None:
    """Rows 1 and 2: one line per baseline, for one trace and load basis."""
    for base in baseline_names():
        mine = sorted(
            (
                r
                for r in rows
                if r["trace"] == trace
                and r["baseline"] == base
                and r.get("load_basis", "static_finn") == basis
            ),
            key=lambda r: r["load"],
        )
        if not mine:
            continue
        name = f"{get_policy(base).label} (x {basis})"
        for r_i, key in ((1, "processed_ratio"), (2, "service_edp_ratio")):
            fig.add_trace(
                go.Scatter(
                    x=[r["load"] for r in mine],
                    y=[r[key] for r in mine],
                    mode="lines+markers",
                    name=esc(name),
                    legendgroup=f"{base}|{basis}",
                    showlegend=(c == 1 and r_i == 1),
                    line={"color": get_policy(base).color, "dash": _BASIS_DASH.get(basis)},
                    hovertemplate=f"{esc(name)}: %{{y:.3f}}x at %{{x}}x load<extra></extra>",
                ),
                row=r_i,
                col=c,
            )


def _attribution_lines(fig: go.Figure, rows: list[Any], trace: str, basis: str, c: int) -> None:
    """Row 3: adapex's gain over static FINN as folding x pruning x exits, per load."""
    seen: dict[float, dict[str, Any]] = {}
    bound: dict[float, str] = {}
    for r in rows:
        if (
            r["trace"] == trace
            and r.get("load_basis", "static_finn") == basis
            and "attribution" in r
        ):
            seen.setdefault(float(r["load"]), r["attribution"])
            bound.setdefault(float(r["load"]), str((r.get("limited_by") or {}).get("detail", "")))
    if not seen:
        return
    loads = sorted(seen)
    for factor, colour in _FACTOR_COLOURS.items():
        name = f"{factor} (x {basis})"
        fig.add_trace(
            go.Scatter(
                x=loads,
                y=[seen[x].get(factor) for x in loads],
                mode="lines+markers",
                name=esc(name),
                legendgroup=f"factor|{factor}|{basis}",
                showlegend=c == 1,
                line={"color": colour, "dash": _BASIS_DASH.get(basis)},
                customdata=[esc(bound[x]) for x in loads],
                hovertemplate=f"{esc(name)}: %{{y:.3f}}x at %{{x}}x load<br>limited by "
                "%{customdata}<extra></extra>",
            ),
            row=3,
            col=c,
        )


def design_figures(design: Any) -> dict[str, go.Figure]:
    """Every figure of a design page, by name (shared by the dashboard and the report)."""
    return {
        "cycles": layer_cycles_figure(design),
        "resources": layer_resources_figure(design),
        "stages": stage_figure(design),
        "exit_profile": exit_profile_figure(design),
        "folding": folding_figure(design),
    }
