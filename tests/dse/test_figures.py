"""The figure builders shared by the dashboard and the report (pure functions)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.dashboard import figures as F

HOSTILE = st.sampled_from(["<script>alert(1)</script>", "<b>x</b>", "a&b", "plain", '"q"'])
_ALLOWED_TAGS = re.compile(r"</?b>|<br>")


def _design(i: int, kind: str, acc: float, fps: float, energy: float, name: str) -> dict:
    return {
        "id": i,
        "study": name,
        "trial_number": i,
        "params": {"pruning": [0.25, 0.5], "note": name},
        "objectives": {"accuracy": acc, "throughput_fps": fps, "energy_per_inference_j": energy},
        "metrics": {
            "accuracy": acc,
            "throughput_fps": fps,
            "energy_per_inference_j": energy,
            "LUT": 1000 + i,
            **({"test": {"accuracy": acc * 0.99}} if i % 2 else {}),
        },
        "feasible": kind != "infeasible",
        "pareto": kind == "pareto",
        "exits": [0],
        "thresholds": [0.9],
        "folding": {"Defaults": {}, f"MVAU_hls_0{name}": {"PE": 2, "SIMD": 4}},
    }


designs_strategy = st.lists(
    st.tuples(
        st.sampled_from(["pareto", "dominated", "infeasible"]),
        st.floats(0, 1),
        st.floats(1, 1e6),
        st.floats(1e-9, 1e-2),
        HOSTILE,
    ),
    max_size=25,
).map(lambda rows: [_design(i + 1, *row) for i, row in enumerate(rows)])


@settings(max_examples=60, deadline=None)
@given(designs_strategy)
def test_pareto_figure_draws_each_design_once_by_kind(designs: list[dict]) -> None:
    fig = F.pareto_figure(
        designs, "throughput_fps", "accuracy", title=designs[0]["study"] if designs else "t"
    )
    seen: dict[int, str] = {}
    for trace in fig.data:
        if trace.customdata is None:
            continue
        kind = trace.name.split(" (")[0]
        for i, text in zip(trace.customdata, trace.hovertext, strict=True):
            assert i not in seen
            seen[int(i)] = kind
            # database text never forms a tag in a hover label
            assert "<" not in _ALLOWED_TAGS.sub("", text)
            assert f"design {i}" in text and "pruning:" in text and "folding:" in text
            # the held-out figure beside the calibration one, where the design has it
            assert ("held-out test split" in text) == bool(int(i) % 2)
    expected = {"pareto": "Pareto front", "dominated": "dominated", "infeasible": "infeasible"}
    assert seen == {d["id"]: expected[F.design_kind(d)] for d in designs}
    assert "<" not in _ALLOWED_TAGS.sub("", fig.layout.title.text or "")
    if designs:
        assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "linear"
        # the front is drawn last: on top, and it wins hover where designs coincide
        marker_traces = [t for t in fig.data if t.customdata is not None]
        if any(d["pareto"] and d["feasible"] for d in designs):
            assert marker_traces[-1].name.startswith("Pareto front")


def test_pareto_3d_needs_three_axes_and_keeps_ids() -> None:
    designs = [
        _design(1, "pareto", 0.9, 100.0, 1e-5, "s"),
        _design(2, "dominated", 0.8, 50.0, 2e-5, "s"),
    ]
    fig = F.pareto_figure_3d(designs)
    ids = sorted(int(i) for t in fig.data for i in t.customdata)
    assert ids == [1, 2]
    assert fig.layout.scene.xaxis.type == "log" and fig.layout.scene.zaxis.type == "linear"
    with pytest.raises(ValueError, match="three metrics"):
        F.pareto_figure_3d(designs, ("accuracy", "LUT"))


def test_axis_options_are_metrics_every_design_has() -> None:
    a = _design(1, "pareto", 0.9, 100.0, 1e-5, "s")
    b = _design(2, "dominated", 0.8, 50.0, 2e-5, "s")
    del b["metrics"]["LUT"]
    options = F.axis_options([a, b])
    assert "LUT" not in options
    assert options[:3] == ["accuracy", "throughput_fps", "energy_per_inference_j"]
    assert "pruning_rate" in options
    assert F.metric_value(a, "pruning_rate") == pytest.approx(0.375)


def _points(rows: list[tuple[int, float, float, float]]) -> list:
    from dse.runtime import OperatingPoint

    return [
        OperatingPoint(
            design_id=d,
            thresholds=(),
            accuracy=acc,
            throughput_fps=fps,
            energy_per_inference_j=power / fps,
            power_w=power,
            idle_power_w=0.1,
            latency_s=1e-3,
        )
        for d, acc, fps, power in rows
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 6),
            st.sampled_from([0.6, 0.7, 0.8, 0.9]),
            st.sampled_from([100.0, 200.0, 400.0, 800.0]),
            st.floats(0.2, 3.0),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_runtime_heatmap_cells_are_the_table_lookups(rows: list) -> None:
    from dse.runtime import build_selection_table

    table = build_selection_table(_points(rows))
    fig = F.runtime_heatmap(table.to_dict())
    heat = fig.data[0]
    edges = [float(x.split()[-1]) for x in heat.x[:-1]]
    for yi, acc in enumerate(table.accuracy_thresholds):
        assert float(heat.y[yi]) == pytest.approx(acc, rel=1e-3)
        for xi, label in enumerate(heat.text[yi]):
            rate = edges[xi] if xi < len(edges) else (edges[-1] * 2 if edges else 1.0)
            chosen = table.lookup(rate, acc)
            assert label == str(chosen.design_id)


def test_runtime_heatmap_and_simulation_without_data_say_so() -> None:
    for fig in (F.runtime_heatmap(None), F.simulation_figure(None), F.pareto_figure([])):
        assert fig.layout.annotations and fig.layout.annotations[0].text.startswith("no ")


def test_simulation_figure_from_a_real_simulation() -> None:
    from dse.runtime import builtin_trace, compare_policies, point_sets

    points = _points([(1, 0.9, 100.0, 1.0), (2, 0.8, 400.0, 2.0)])
    trace = builtin_trace("smart-iot", duration_s=1800, dt_s=1.0, peak_fps=300.0)
    result = compare_policies(point_sets(points[:1], points[1]), trace, timeline_step_s=60)
    fig = F.simulation_figure(result)
    names = [t.name for t in fig.data]
    assert names[:2] == ["demand", "served"] and "design" in names
    t = result["timeline"]["t_s"]
    demand = next(tr for tr in fig.data if tr.name == "demand")
    assert list(demand.x) == t and list(demand.y) == result["timeline"]["demand_fps"]
    used = next(tr for tr in fig.data if tr.name == "design")
    assert set(used.y) <= {"design 1", "design 2"}
    assert "adapex / static FINN: inferences processed" in fig.layout.title.text


def test_exit_profile_figure_follows_the_profile_table() -> None:
    from dse.accuracy.profile import ExitProfile

    rng = np.random.default_rng(0)
    n = 200
    labels = rng.integers(0, 10, n)
    conf = rng.uniform(0.1, 1.0, (3, n)).astype(np.float32)
    pred = np.where(rng.uniform(size=(3, n)) < conf, labels, (labels + 1) % 10)
    profile = ExitProfile([0, 1, -1], conf, pred, labels).to_dict()
    design = {"exit_profile": profile, "exits": [1], "thresholds": [0.8]}
    fig = F.exit_profile_figure(design)
    assert [t.name for t in fig.data] == ["exit 1: accuracy", "exit 1: exit fraction"]
    table = ExitProfile.from_dict(profile).table([0.5])
    row = next(r for r in table if r["exit"] == 1)
    i = list(fig.data[1].x).index(0.5)
    assert fig.data[1].y[i] == pytest.approx(row["fraction"])
    assert fig.data[0].y[i] == pytest.approx(row["accuracy"])
    assert [s.x0 for s in fig.layout.shapes] == [0.8]


def test_design_figures_from_a_real_staged_report() -> None:
    from hw_builders import get_device
    from hw_builders.folding import fold
    from hw_builders.stages import staged_performance
    from search_spaces import get_family

    family = get_family("cnv")
    arch = family.default_arch((1, 16, 16), 10, width_mult=0.25, exits=[0, 1])
    graph = family.lower(arch, exits=[1])
    device = get_device(board="Pynq-Z1")
    folding = fold(graph, strategy="optimised", device=device, budget=0.5, reach=[1.0, 0.4])
    report = staged_performance(graph, [1.0, 0.4], device=device, folding=folding)
    design = {
        "id": 1,
        "exits": [1],
        "thresholds": [0.9],
        "hw_report": report.to_dict(),
        "folding": folding.to_dict(),
    }
    rows = F.layer_table(design)
    assert [r["name"] for r in rows] == [
        layer.name for stage in report.stages for layer in stage.layers
    ]
    assert len(rows) == len(graph.layers)
    cycles = F.layer_cycles_figure(design)
    assert [t.name for t in cycles.data] == ["stage 0", "stage 1"]
    assert sum(len(t.y) for t in cycles.data) == len(rows)
    assert max(max(t.y) for t in cycles.data) == max(
        s.performance["max_cycles"] for s in report.stages
    )
    stages = F.stage_table(design)
    assert [s["reach"] for s in stages] == [1.0, 0.4]
    assert [s["exit"] for s in stages] == [1, "final"]
    assert sum(s["LUT"] for s in stages) == report.total["LUT"]
    folding_fig = F.folding_figure(design)
    nodes = list(folding_fig.data[0].cells.values[0])
    assert nodes == [k for k in folding.to_dict() if k != "Defaults"]
    figs = F.design_figures(design)
    assert set(figs) == {"cycles", "resources", "stages", "exit_profile", "folding"}
    assert math.isclose(stages[0]["throughput_fps"], report.stage_throughput_fps[0], rel_tol=1e-12)


def test_projection_front_is_the_non_dominated_staircase() -> None:
    # throughput (max) x accuracy (max): (10, .9) and (30, .5) are non-dominated in 2-D;
    # (20, .4) is not (dominated by (30, .5)) though it may be on the 3-D front
    xs, ys = [10.0, 20.0, 30.0], [0.9, 0.4, 0.5]
    sx, sy, shape = F.staircase(xs, ys, "throughput_fps", "accuracy")
    assert (sx, sy, shape) == ([10.0, 30.0], [0.9, 0.5], "vh")
    # energy (min) x accuracy (max): lower energy and higher accuracy win
    sx, sy, shape = F.staircase(
        [1.0, 2.0, 3.0], [0.5, 0.9, 0.8], "energy_per_inference_j", "accuracy"
    )
    assert (sx, sy, shape) == ([1.0, 2.0], [0.5, 0.9], "hv")
    assert F.staircase(xs, ys, "throughput_fps", "pruning_rate") is None
    designs = [
        _design(i + 1, "pareto", y, x, 1e-6 * (i + 1), "d")
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    ]
    fig = F.pareto_figure(designs, "throughput_fps", "accuracy")
    line = next(t for t in fig.data if t.mode == "lines")
    assert list(line.x) == [10.0, 30.0] and line.line.shape == "vh"
    front = next(t for t in fig.data if t.customdata is not None and t.name.startswith("Pareto"))
    assert list(front.marker.color) == [1e-6, 2e-6, 3e-6]  # coloured by the third objective


def test_the_sweep_figure_plots_both_load_bases_and_the_attribution() -> None:
    rows = []
    for basis in ("static_finn", "static_best"):
        for load in (0.5, 4.0):
            for base in ("static_finn", "static_best", "pruning_only", "exit_only"):
                rows.append(
                    {
                        "trace": "constant",
                        "load": load,
                        "load_basis": basis,
                        "baseline": base,
                        "processed_ratio": 1.0 + load,
                        "service_edp_ratio": 2.0,
                        "energy_per_inference_ratio": 1.5,
                        "mean_accuracy": 0.9,
                        "attribution": {
                            "folding": 2.0,
                            "pruning": 1.5,
                            "exits": load,
                            "total": 3 * load,
                        },
                        "limited_by": {
                            "kind": "input_stream",
                            "detail": "<b>SWG</b> one pixel per cycle",
                        },
                    }
                )
    fig = F.sweep_figure({"rows": rows, "accuracy_threshold": 0.9, "select": "edp"})
    names = [t.name for t in fig.data]
    # one line per baseline and basis in each of the two ratio rows, and three factors per basis
    assert sum("(x static_best)" in n for n in names) == 4 * 2 + 3
    assert sum("(x static_finn)" in n for n in names) == 4 * 2 + 3
    dashes = {t.line.dash for t in fig.data if "(x static_best)" in t.name}
    assert dashes == {"dash"}
    exits = next(t for t in fig.data if t.name == "exits (x static_best)")
    assert list(exits.y) == [0.5, 4.0]
    # what limits the configuration is in the hover, escaped
    assert "&lt;b&gt;SWG&lt;/b&gt;" in exits.customdata[0]
    assert "select edp" in fig.layout.title.text
