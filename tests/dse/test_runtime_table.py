"""Selection table: never below the accuracy threshold, least energy among the sustaining."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.runtime import OperatingPoint, RuntimeManagerError, SelectionTable, non_dominated

IDLE_W = 0.5  # one device per study: every design has the same static power


def point(
    design: int, acc: float, fps: float, dyn_j: float, thr: float = 0.9, latency: float = 1e-3
) -> OperatingPoint:
    power = IDLE_W + dyn_j * fps
    return OperatingPoint(
        design_id=design,
        thresholds=(thr,),
        exits=(0,),
        accuracy=acc,
        throughput_fps=fps,
        energy_per_inference_j=power / fps if fps > 0 else 0.0,
        power_w=power,
        idle_power_w=IDLE_W,
        latency_s=latency,
    )


def cost(p: OperatingPoint, rate: float, objective: str) -> tuple[float, ...]:
    """What the table minimises, stated independently: the design's own EDP or latency, the
    energy at the rate, or (selecting by accuracy) the accuracy's complement, then the
    energy at the rate."""
    if objective == "edp":
        return (p.energy_per_inference_j * p.latency_s,)
    if objective == "latency":
        return (p.latency_s,)
    if objective == "accuracy":
        return (1.0 - p.accuracy, p.energy_at_rate(rate))
    return (p.energy_at_rate(rate),)


def at_most(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """``a <= b`` lexicographically, each figure within a relative 1e-9."""
    for x, y in zip(a, b, strict=True):
        if x < y - 1e-9 * abs(y) - 1e-15:
            return True
        if x > y + 1e-9 * abs(y) + 1e-15:
            return False
    return True


OBJECTIVES_ST = st.sampled_from(["energy", "edp", "latency", "accuracy"])

points_st = st.lists(
    st.builds(
        point,
        design=st.integers(1, 4),
        acc=st.integers(10, 20).map(lambda k: k / 20),
        fps=st.sampled_from([100.0, 250.0, 400.0, 1000.0, 1500.0, 5000.0, 9000.0]),
        dyn_j=st.floats(1e-5, 1e-2),
        thr=st.sampled_from([0.5, 0.8, 0.95, 2.0]),
        latency=st.sampled_from([1e-4, 5e-4, 1e-3, 4e-3]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(points_st, st.floats(1.0, 12000.0), st.floats(0.3, 1.05), OBJECTIVES_ST)
def test_lookup_meets_threshold_and_minimises_energy(points, rate, threshold, objective):
    table = SelectionTable(points, objective=objective)
    chosen = table.lookup(rate, threshold)
    compliant = [p for p in points if p.accuracy >= threshold - 1e-9]
    if not compliant:
        # nothing meets it: the most accurate configurations are the best the library can do
        assert chosen.accuracy == max(p.accuracy for p in points)
        return
    assert chosen.accuracy >= threshold - 1e-9
    sustaining = [p for p in compliant if p.throughput_fps >= rate]
    if sustaining:
        assert chosen.throughput_fps >= rate
        assert all(
            at_most(cost(chosen, rate, objective), cost(p, rate, objective)) for p in sustaining
        )
    else:
        # nothing sustains the rate: the highest-throughput compliant design (shortfall dropped)
        assert chosen.throughput_fps == max(p.throughput_fps for p in compliant)


@settings(max_examples=100, deadline=None)
@given(points_st, st.floats(0.3, 1.0))
def test_design_rows_stay_on_the_design(points, threshold):
    table = SelectionTable(points)
    for design in {p.design_id for p in points}:
        row = table.design_row(design, threshold)
        for idx in row.choice:
            assert table.points[idx].design_id == design
        mine = [p for p in points if p.design_id == design]
        if any(p.accuracy >= threshold - 1e-9 for p in mine):
            assert row.compliant
            assert all(table.points[i].accuracy >= threshold - 1e-9 for i in row.choice)


@settings(max_examples=150, deadline=None)
@given(
    points_st,
    st.floats(1.0, 12000.0),
    OBJECTIVES_ST,
    st.data(),
)
def test_a_design_row_chooses_within_the_design_as_the_table_does(points, rate, objective, data):
    """A design's row (threshold changes only, no reconfiguration) picks, among that
    design's configurations meeting the threshold (exactly at it included), the least costly
    that sustains the rate by the table's objective, else the fastest; where none meets it,
    the design's most accurate ones, flagged as not compliant."""
    table = SelectionTable(points, objective=objective)
    design = data.draw(st.sampled_from(sorted({p.design_id for p in points})))
    mine = [p for p in points if p.design_id == design]
    # a threshold exactly at one of the design's accuracies, or above all of them
    threshold = data.draw(st.sampled_from([*(p.accuracy for p in mine), 1.01]))
    row = table.design_row(design, threshold)
    assert table.design_row(design, threshold) is row  # cached
    chosen = table.points[row.lookup_index(rate)]
    assert chosen.design_id == design

    ok = [p for p in mine if p.accuracy >= threshold - 1e-9]
    assert row.compliant == bool(ok)
    if not ok:
        assert chosen.accuracy == max(p.accuracy for p in mine)
        return
    assert chosen.accuracy >= threshold - 1e-9
    sustaining = [p for p in ok if p.throughput_fps >= rate]
    if sustaining:
        assert chosen.throughput_fps >= rate
        assert all(
            at_most(cost(chosen, rate, objective), cost(p, rate, objective)) for p in sustaining
        )
    else:
        assert chosen.throughput_fps == max(p.throughput_fps for p in ok)


def test_a_design_without_points_has_no_row():
    table = SelectionTable([point(1, 0.9, 1000.0, 1e-3)])
    with pytest.raises(RuntimeManagerError, match="^design 7 has no operating point$"):
        table.design_row(7, 0.5)


def test_buckets_are_exact_at_the_edges():
    pts = [
        point(1, 0.95, 1000.0, 1e-3),
        point(2, 0.95, 2000.0, 2e-3),
        point(3, 0.90, 4000.0, 1e-4),
    ]
    table = SelectionTable(pts)
    assert table.lookup(1000.0, 0.95).design_id == 1  # sustains exactly its throughput
    assert table.lookup(1000.001, 0.95).design_id == 2
    assert table.lookup(2500.0, 0.95).design_id == 2  # nothing sustains: fastest compliant
    assert table.lookup(10.0, 0.9).design_id == 3  # cheapest overall once 0.90 is allowed
    assert table.lookup(10.0, 0.99).accuracy == 0.95  # above every design: the most accurate
    entries = [e for e in table.entries() if e["accuracy_threshold"] == 0.95]
    assert [(e["rate_min_fps"], e["rate_max_fps"], e["design_id"]) for e in entries] == [
        (0.0, 1000.0, 1),
        (1000.0, 2000.0, 2),
        (2000.0, None, 2),
    ]
    assert [e["sustains"] for e in entries] == [True, True, False]


def test_round_trip_json_and_csv(tmp_path):
    pts = [point(1, 0.9, 1000.0, 1e-3), point(1, 0.85, 1500.0, 8e-4, thr=0.5)]
    pts.append(point(2, 0.97, 500.0, 2e-3))
    table = SelectionTable(pts, objective="edp")
    again = SelectionTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again.objective == "edp"
    for rate in (1.0, 600.0, 1200.0, 5000.0):
        for a in (0.8, 0.88, 0.95, 0.99):
            assert again.lookup(rate, a) == table.lookup(rate, a)
    out = table.save(tmp_path / "t.csv")
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == len(table.entries())
    assert rows[-1]["rate_max_fps"] == "inf"
    assert json.loads(table.save(tmp_path / "t.json").read_text())["version"] == 1
    with pytest.raises(RuntimeManagerError, match="use .json or .csv"):
        table.save(tmp_path / "t.txt")
    assert not (tmp_path / "t.txt").exists()
    # thresholds of the user's own (not the points' accuracies) survive the round trip, and
    # the CSV spells a configuration's thresholds and exits as space-separated lists
    own = SelectionTable(pts, [0.8, 0.95], objective="edp")
    back = SelectionTable.from_dict(json.loads(json.dumps(own.to_dict())))
    assert back.accuracy_thresholds == own.accuracy_thresholds == [0.8, 0.95]
    assert back.entries() == own.entries()
    two_exits = OperatingPoint(3, (0.9, 0.8), 0.96, 800.0, 1e-3, 0.8, IDLE_W, 1e-3, exits=(0, 2))
    rows = list(csv.DictReader(io.StringIO(SelectionTable([two_exits]).to_csv())))
    assert {(r["design_id"], r["thresholds"], r["exits"]) for r in rows} == {
        ("3", "0.9 0.8", "0 2")
    }


def test_bad_points_and_thresholds_are_rejected():
    with pytest.raises(RuntimeManagerError, match="none available"):
        SelectionTable([])
    with pytest.raises(RuntimeManagerError, match="throughput_fps"):
        point(1, 0.9, 0.0, 1e-3)
    with pytest.raises(RuntimeManagerError, match="objective 'speed' is unknown"):
        SelectionTable([point(1, 0.9, 10.0, 1e-3)], objective="speed")
    with pytest.raises(RuntimeManagerError, match=r"in \[0, 1\]"):
        SelectionTable([point(1, 0.9, 10.0, 1e-3)], accuracy_thresholds=[1.5])


def test_non_dominated_drops_only_dominated_points():
    a = point(1, 0.9, 1000.0, 1e-3)
    b = point(2, 0.9, 900.0, 2e-3)  # worse in throughput and energy, same accuracy
    c = point(3, 0.95, 500.0, 3e-3)  # more accurate: kept
    kept = non_dominated([a, b, c, a])
    assert a in kept and c in kept and b not in kept
    assert len(kept) == 2
    assert math.isclose(a.energy_at_rate(1000.0), a.energy_per_inference_j)


def test_ties_go_to_headroom_then_accuracy_by_hand():
    """Worked by hand: at 50/s, designs 1 (100/s) and 2 (1000/s) cost the same energy per
    inference (0.5 W / 50 + 1 mJ), so the faster one is chosen (headroom for bursts); a more
    accurate design of equal cost wins before that; above 100/s only design 2 sustains;
    beyond 1000/s nothing does, and the fastest compliant design serves (and drops)."""
    table = SelectionTable([point(1, 0.95, 100.0, 1e-3), point(2, 0.95, 1000.0, 1e-3)])
    assert table.lookup(50.0, 0.9).design_id == 2
    assert table.lookup(150.0, 0.9).design_id == 2
    assert table.lookup(5000.0, 0.9).design_id == 2
    table = SelectionTable(
        [point(1, 0.97, 100.0, 1e-3), point(2, 0.95, 1000.0, 1e-3), point(3, 0.96, 90.0, 1e-3)]
    )
    assert table.lookup(50.0, 0.9).design_id == 1  # same cost, more accurate than 2 and 3
    assert table.lookup(95.0, 0.9).design_id == 1
    assert table.lookup(100.5, 0.9).design_id == 2


def test_the_top_bucket_is_the_fastest_by_hand():
    """Above every design's throughput the table names the fastest compliant design, even
    when a slower one is cheaper and more accurate (it would drop more)."""
    table = SelectionTable([point(1, 0.99, 500.0, 1e-4), point(2, 0.95, 800.0, 5e-3)])
    assert table.lookup(400.0, 0.9).design_id == 1  # cheapest that sustains 400/s
    assert table.lookup(600.0, 0.9).design_id == 2
    assert table.lookup(10_000.0, 0.9).design_id == 2
    # the rows are per accuracy threshold the designs offer (0.95 admits both)
    top = [e for e in table.entries() if e["accuracy_threshold"] == 0.95][-1]
    assert top["rate_max_fps"] is None and top["design_id"] == 2 and not top["sustains"]
    # two equally fast designs: the cheaper serves every rate they sustain, the more
    # accurate one the rates beyond them (both drop the same share then)
    table = SelectionTable([point(1, 0.95, 800.0, 1e-4), point(2, 0.99, 800.0, 5e-3)])
    assert table.lookup(700.0, 0.95).design_id == 1
    assert table.lookup(10_000.0, 0.95).design_id == 2


def test_a_stored_table_keeps_its_objective_and_confidence():
    pts = [point(1, 0.95, 1000.0, 1e-3), point(2, 0.9, 4000.0, 1e-4)]
    table = SelectionTable(pts, objective="edp", confidence=0.05)
    back = SelectionTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert (back.objective, back.confidence) == ("edp", 0.05)
    assert back.row_entries(0.9) == table.row_entries(0.9)
    # a table stored before objectives existed was selected by energy, without a confidence
    old = {k: v for k, v in table.to_dict().items() if k not in ("objective", "confidence")}
    legacy = SelectionTable.from_dict(old)
    assert (legacy.objective, legacy.confidence) == ("energy", None)
    line = "^runtime table: unknown format; rebuild it with `adapex runtime table`$"
    for bad in ([], {**table.to_dict(), "version": 99}, {"version": table.to_dict()["version"]}):
        with pytest.raises(RuntimeManagerError, match=line):
            SelectionTable.from_dict(bad)  # type: ignore[arg-type]


def with_idle(design: int, thr: float, idle_w: float, dyn_j: float, fps: float = 1000.0):
    """A configuration whose idle power is its own (the others share IDLE_W)."""
    power = idle_w + dyn_j * fps
    return OperatingPoint(
        design_id=design,
        thresholds=(thr,),
        exits=(0,),
        accuracy=0.9,
        throughput_fps=fps,
        energy_per_inference_j=power / fps,
        power_w=power,
        idle_power_w=idle_w,
        latency_s=1e-3,
    )


def test_idle_power_counts_per_inference_at_the_rate_by_hand():
    """Energy at the bucket's rate is idle / rate + dynamic energy, by hand: at 1000/s,
    (0.1 W, 3 mJ) costs 3.1 mJ and (0.5 W, 2 mJ) 2.5 mJ, so the second serves, although its
    idle power is five times the first's; the overload row, equally fast and accurate,
    breaks the tie the same way; a design's own row too."""
    low_idle, low_dyn = with_idle(1, 0.5, 0.1, 3e-3), with_idle(1, 0.8, 0.5, 2e-3)
    table = SelectionTable([low_idle, low_dyn])
    assert table.lookup(1000.0, 0.9) == low_dyn
    assert table.lookup(5000.0, 0.9) == low_dyn
    assert table.points[table.design_row(1, 0.9).lookup_index(1000.0)] == low_dyn
    # overload: (0.1 W, 2.0 mJ) costs 2.1 mJ at full throughput, (0.5 W, 1.7 mJ) 2.2 mJ
    a, b = with_idle(2, 0.5, 0.1, 2.0e-3), with_idle(3, 0.8, 0.5, 1.7e-3)
    assert SelectionTable([a, b]).lookup(5000.0, 0.9) == a
    assert SelectionTable([b, a]).lookup(5000.0, 0.9) == a


def test_rows_are_cached_and_keep_the_threshold_asked_for():
    pts = [point(1, 0.95, 1000.0, 1e-3), point(2, 0.9, 4000.0, 1e-4)]
    table = SelectionTable(pts)
    row = table.row(0.92)
    assert row.accuracy_threshold == 0.92  # not the 0.95 it shares its candidates with
    assert table.row(0.95).accuracy_threshold == 0.95
    assert table.row(0.95) is table.row(0.95)  # computed once
    assert table.row(0.92).choice == table.row(0.95).choice
    assert table.design_row(1, 0.7).accuracy_threshold == 0.7
    assert table.design_row(1, 0.99).accuracy_threshold == 0.99
    # above every point (not compliant) and exactly at the best (compliant) share a
    # canonical accuracy but not a row
    assert not table.row(0.99).compliant and table.row(0.95).compliant
    fresh = SelectionTable(pts)
    assert fresh.row(0.95).compliant and not fresh.row(0.99).compliant
    # 0.0 is a threshold like any other
    assert SelectionTable(pts, [0.0]).accuracy_thresholds == [0.0]


def test_entries_name_their_point_and_guarantee():
    bound = {"correct": 90, "lower": 0.85}
    p = OperatingPoint(4, (0.9,), 0.9, 1000.0, 1e-3, 1.0, IDLE_W, 1e-3, exits=(0,), bound=bound)
    table = SelectionTable([p, point(5, 0.8, 3000.0, 1e-4)])
    for e in table.entries():
        assert table.points[e["point"]].design_id == e["design_id"]
        assert e["bound"] == dict(table.points[e["point"]].bound)
    assert table.row_entries(0.9)[0]["bound"] == bound
    d = table.to_dict()
    assert d["entries"] == table.entries()
    assert json.loads(table.to_json()) == d and table.to_json().startswith('{\n  "version"')
    assert "\r" not in table.to_csv() and table.to_csv().count("\n") == len(d["entries"]) + 1


def test_check_objective_and_build_selection_table():
    from dse.runtime.table import OBJECTIVES, build_selection_table, check_objective

    for name in OBJECTIVES:
        check_objective(name)
    with pytest.raises(RuntimeManagerError) as info:
        check_objective("speed")
    assert str(info.value) == "`select` 'speed' is unknown; use one of " + ", ".join(OBJECTIVES)
    assert info.value.arguments == ("select",)
    with pytest.raises(RuntimeManagerError) as info:
        check_objective("speed", argument="objective")
    assert info.value.arguments == ("objective",)
    with pytest.raises(RuntimeManagerError) as info:
        SelectionTable([point(1, 0.9, 10.0, 1e-3)], objective="speed")
    assert str(info.value) == "objective 'speed' is unknown; use one of " + ", ".join(OBJECTIVES)
    pts = [point(1, 0.95, 1000.0, 1e-3), point(2, 0.9, 4000.0, 1e-4)]
    built = build_selection_table(pts, [0.9], objective="latency", confidence=0.1)
    assert (built.objective, built.confidence, built.accuracy_thresholds) == ("latency", 0.1, [0.9])
    assert built.points == pts


def test_a_design_row_selects_by_the_tables_objective_by_hand():
    """One design, two threshold settings at 1000/s: (1 mJ, 4 ms) costs less energy, (2 mJ,
    1 ms) less EDP (0.5 W idle: 1.5 mJ x 4 ms = 6e-6 against 2.5 mJ x 1 ms = 2.5e-6). By EDP
    the design's row picks the second, whether the threshold is met or above both."""
    a = point(1, 0.9, 1000.0, 1e-3, thr=0.5, latency=4e-3)
    b = point(1, 0.9, 1000.0, 2e-3, thr=0.8, latency=1e-3)
    for objective, want in (("energy", a), ("edp", b), ("latency", b)):
        table = SelectionTable([a, b], objective=objective)
        for threshold in (0.9, 0.95):
            row = table.design_row(1, threshold)
            assert table.points[row.lookup_index(500.0)] == want, (objective, threshold)
            assert table.points[row.lookup_index(5000.0)] == want, (objective, threshold)
