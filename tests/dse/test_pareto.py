"""Pareto dominance, the feasible front and the exact hypervolume (property tests)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna._hypervolume import compute_hypervolume

from dse.errors import DseError
from dse.objectives import get_objective
from dse.pareto import (
    ObjectiveSpec,
    dominates,
    feasible_front,
    front_hypervolume,
    hypervolume,
    pareto_mask,
    reference_point,
    to_min_space,
)

coord = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, width=32)


def points(dim: int, max_size: int = 12) -> st.SearchStrategy[np.ndarray]:
    return st.lists(st.lists(coord, min_size=dim, max_size=dim), min_size=1, max_size=max_size).map(
        lambda rows: np.asarray(rows, dtype=float)
    )


@given(st.integers(2, 4).flatmap(lambda d: points(d)))
def test_pareto_mask_keeps_exactly_the_non_dominated(pts: np.ndarray) -> None:
    mask = pareto_mask(pts)
    for i, p in enumerate(pts):
        dominated = any(dominates(q, p) for q in pts)
        assert mask[i] == (not dominated)
    # every dropped point is dominated by a kept one (dominance is transitive)
    kept = pts[mask]
    for p in pts[~mask]:
        assert any(dominates(q, p) for q in kept)


@given(st.integers(1, 4).flatmap(lambda d: st.tuples(points(d, 1), points(d, 1))))
def test_dominance_is_irreflexive_and_antisymmetric(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair[0][0], pair[1][0]
    assert not dominates(a, a)
    assert not (dominates(a, b) and dominates(b, a))


@settings(max_examples=60)
@given(st.integers(2, 4).flatmap(lambda d: points(d, 10)))
def test_hypervolume_matches_optuna_reference(pts: np.ndarray) -> None:
    ref = np.full(pts.shape[1], 1.1)
    ours = hypervolume(pts, ref)
    theirs = compute_hypervolume(pts, ref, assume_pareto=False)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


@settings(max_examples=60)
@given(
    st.integers(2, 4).flatmap(
        lambda d: st.tuples(points(d, 10), st.lists(coord, min_size=d, max_size=d))
    )
)
def test_hypervolume_is_monotone_when_adding_a_point(data: tuple[np.ndarray, list[float]]) -> None:
    pts, extra = data
    ref = np.full(pts.shape[1], 1.0)
    before = hypervolume(pts, ref)
    after = hypervolume(np.vstack([pts, extra]), ref)
    assert after >= before - 1e-12
    # a dominated point never changes it
    worst = np.minimum(pts.max(axis=0) + 0.0, 1.0)
    assert hypervolume(np.vstack([pts, worst]), ref) == pytest.approx(before)


def test_hypervolume_of_boxes() -> None:
    assert hypervolume(np.array([[0.0, 0.0, 0.0]]), [1.0, 2.0, 3.0]) == pytest.approx(6.0)
    # two 2-D points: union of two rectangles
    assert hypervolume(np.array([[0.0, 1.0], [1.0, 0.0]]), [2.0, 2.0]) == pytest.approx(3.0)
    # points outside the reference box contribute nothing; non-finite rows are ignored
    assert hypervolume(np.array([[3.0, 0.0], [np.inf, 0.0]]), [2.0, 2.0]) == 0.0


def test_directions_scales_and_reference() -> None:
    specs = [
        get_objective(n).spec() for n in ("accuracy", "throughput_fps", "energy_per_inference_j")
    ]
    objs = [
        {"accuracy": 0.9, "throughput_fps": 1000.0, "energy_per_inference_j": 1e-3},
        {"accuracy": 0.8, "throughput_fps": 100.0, "energy_per_inference_j": 1e-2},  # dominated
    ]
    m = to_min_space(objs, specs)
    assert m[0].tolist() == pytest.approx([-0.9, -3.0, -3.0])
    assert reference_point(specs).tolist() == pytest.approx([0.0, 0.0, 0.0])
    # box from the reference (0, 1 fps, 1 J) to the best point: 0.9 * 3 decades * 3 decades
    assert front_hypervolume(objs, specs) == pytest.approx(0.9 * 3 * 3)
    assert feasible_front(objs, [True, True], specs).tolist() == [True, False]
    # the dominating design is infeasible: the other one is the feasible front
    assert feasible_front(objs, [False, True], specs).tolist() == [False, True]
    assert ObjectiveSpec.from_dict(specs[2].to_dict()) == specs[2]


@given(st.lists(st.tuples(coord, coord, st.booleans()), min_size=1, max_size=15))
def test_feasible_front_brute_force(rows: list[tuple[float, float, bool]]) -> None:
    specs = [ObjectiveSpec("a", "maximize"), ObjectiveSpec("b", "minimize")]
    objs = [{"a": a, "b": b} for a, b, _ in rows]
    feas = [f for _, _, f in rows]
    mask = feasible_front(objs, feas, specs)
    for i, j in itertools.product(range(len(rows)), repeat=2):
        if mask[i] and feas[j]:
            a_i, b_i = rows[i][:2]
            a_j, b_j = rows[j][:2]
            assert not (a_j >= a_i and b_j <= b_i and (a_j > a_i or b_j < b_i))
    for i in range(len(rows)):
        if not feas[i]:
            assert not mask[i]


def test_objective_spec_defaults_and_the_log_scale() -> None:
    """A stored spec without scale or reference reads as linear with reference 0; on a log
    scale, a value of 0 is the worst a maximised objective can be (+inf when minimised)."""
    spec = ObjectiveSpec.from_dict({"name": "fps", "direction": "maximize"})
    assert (spec.scale, spec.reference) == ("linear", 0.0)
    assert ObjectiveSpec.from_dict(spec.to_dict()) == spec
    up = ObjectiveSpec("fps", "maximize", "log")
    down = ObjectiveSpec("energy", "minimize", "log")
    got = to_min_space([{"fps": 100.0, "energy": 1e-3}, {"fps": 0.0, "energy": 0.0}], [up, down])
    assert got[0].tolist() == [-2.0, -3.0]
    assert got[1].tolist() == [np.inf, -np.inf]
    with pytest.raises(DseError, match="^objective 'fps' missing from a design; re-run the trial$"):
        to_min_space([{"energy": 1.0}], [up, down])


def test_hypervolume_of_one_objective_and_of_nothing() -> None:
    assert hypervolume(np.array([[0.5], [0.25], [0.75]]), [1.0]) == pytest.approx(0.75)
    assert hypervolume(np.array([[2.0, 0.1]]), [1.0, 1.0]) == 0.0  # beyond the reference
    assert hypervolume(np.array([[0.5, np.nan]]), [1.0, 1.0]) == 0.0  # not finite
    # only the offending point is left out, the others still count
    mixed = np.array([[0.5, 0.5], [0.25, np.nan], [2.0, 0.1], [0.1, np.inf]])
    assert hypervolume(mixed, [1.0, 1.0]) == pytest.approx(0.25)
    assert hypervolume(mixed[:, [1, 0]], [1.0, 1.0]) == pytest.approx(0.25)
    assert hypervolume(np.array([[0.5, 0.5, 0.5], [0.1, 0.1, np.nan]]), [1, 1, 1]) == (
        pytest.approx(0.125)
    )
    spec = [ObjectiveSpec("a", "minimize", reference=1.0)]
    assert front_hypervolume([], spec) == 0.0
    assert front_hypervolume([{"a": 0.25}], spec) == pytest.approx(0.75)
