"""ExitProfile maths: property tests on random profiles, and hand-checked cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.accuracy.profile import ExitProfile
from dse.accuracy.prune import normalise_rates, pruning_chain, target_widths
from dse.errors import DseError


@st.composite
def profiles(draw: st.DrawFn) -> ExitProfile:
    n_exits = draw(st.integers(1, 4))
    n = draw(st.integers(1, 60))
    classes = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    e = n_exits + 1
    conf = rng.uniform(1.0 / classes, 1.0, size=(e, n)).astype(np.float64)
    pred = rng.integers(0, classes, size=(e, n))
    labels = rng.integers(0, classes, size=n)
    return ExitProfile(list(range(n_exits)) + [-1], conf, pred, labels)


@st.composite
def profile_and_query(draw: st.DrawFn) -> tuple[ExitProfile, list[int], list[float]]:
    prof = draw(profiles())
    used = draw(st.lists(st.sampled_from(prof.candidate_exits), unique=True))
    thr = draw(st.lists(st.floats(0.0, 1.2), min_size=len(used), max_size=len(used)))
    return prof, used, thr


@settings(max_examples=150, deadline=None)
@given(profile_and_query())
def test_fractions_sum_to_one_and_reach_non_increasing(
    q: tuple[ExitProfile, list[int], list[float]],
) -> None:
    prof, used, thr = q
    ev = prof.evaluate(dict(zip(used, thr, strict=True)), used)
    assert ev.exits[-1] == -1 and len(ev.exits) == len(used) + 1
    assert sum(ev.exit_fraction) == pytest.approx(1.0)
    assert ev.reach[0] == 1.0
    assert all(a >= b - 1e-12 for a, b in zip(ev.reach, ev.reach[1:], strict=False))
    # reach_k+1 = reach_k - fraction_k
    for k in range(len(ev.reach) - 1):
        assert ev.reach[k + 1] == pytest.approx(ev.reach[k] - ev.exit_fraction[k])
    # overall accuracy is the fraction-weighted mean of the per-exit accuracies
    total = sum(f * a for f, a in zip(ev.exit_fraction, ev.exit_accuracy, strict=True) if f > 0)
    assert ev.accuracy == pytest.approx(total)


@settings(max_examples=100, deadline=None)
@given(profiles(), st.floats(1.0001, 5.0))
def test_threshold_above_one_sends_everything_to_the_final(prof: ExitProfile, t: float) -> None:
    ev = prof.evaluate(t)
    assert ev.exit_fraction[-1] == 1.0
    assert all(r == 1.0 for r in ev.reach)
    assert ev.accuracy == pytest.approx(prof.exit_accuracies()[-1])


@settings(max_examples=100, deadline=None)
@given(profiles())
def test_threshold_zero_everything_leaves_at_first_exit(prof: ExitProfile) -> None:
    ev = prof.evaluate(0.0)
    assert ev.exit_fraction[0] == 1.0
    assert ev.reach[1:] == [0.0] * (len(ev.reach) - 1)
    assert ev.accuracy == pytest.approx(prof.exit_accuracies()[prof.exits[0]])


@settings(max_examples=60, deadline=None)
@given(profiles())
def test_dict_roundtrip_is_json_and_preserves_evaluation(prof: ExitProfile) -> None:
    text = json.dumps(prof.to_dict())
    back = ExitProfile.from_dict(json.loads(text))
    assert back.exits == prof.exits
    np.testing.assert_array_equal(back.predictions, prof.predictions)
    np.testing.assert_allclose(back.confidences, prof.confidences, atol=1e-5)
    ev_a = prof.evaluate(1.5)
    ev_b = back.evaluate(1.5)
    assert ev_a.accuracy == ev_b.accuracy


def test_hand_checked_example() -> None:
    # 4 samples, exits 0 and 2, final -1
    conf = np.array(
        [
            [0.95, 0.40, 0.80, 0.99],  # exit 0
            [0.90, 0.85, 0.50, 0.10],  # exit 2
            [0.70, 0.70, 0.70, 0.70],  # final
        ],
        dtype=np.float64,
    )
    pred = np.array([[1, 0, 2, 3], [1, 1, 2, 0], [1, 1, 0, 3]])
    labels = np.array([1, 1, 2, 0])
    prof = ExitProfile([0, 2, -1], conf, pred, labels)
    ev = prof.evaluate({0: 0.9, 2: 0.8})
    # sample0 leaves at exit0 (correct); sample3 leaves at exit0 (wrong: 3 vs 0);
    # sample1 leaves at exit2 (0.85 >= 0.8, correct); sample2 goes to final (wrong)
    assert ev.exits == [0, 2, -1]
    assert ev.exit_fraction == [0.5, 0.25, 0.25]
    assert ev.reach == [1.0, 0.5, 0.25]
    assert ev.exit_accuracy == [0.5, 1.0, 0.0]
    assert ev.accuracy == 0.5
    # only exit 2 in use, threshold given as a sequence
    ev2 = prof.evaluate([0.8], exits=[2])
    assert ev2.exits == [2, -1]
    assert ev2.exit_fraction == [0.5, 0.5]  # samples 0 and 1 leave at exit 2
    assert ev2.accuracy == 0.5 and ev2.exit_accuracy == [1.0, 0.0]
    # no exit in use: the final alone
    ev3 = prof.evaluate([], exits=[])
    assert ev3.exits == [-1] and ev3.exit_fraction == [1.0]
    assert ev3.accuracy == 0.5
    d = ev.to_dict()
    assert json.loads(json.dumps(d)) == d


def test_table_rows() -> None:
    conf = np.array([[0.6, 0.9, 0.95], [0.8, 0.8, 0.8]], dtype=np.float64)
    pred = np.array([[0, 1, 0], [0, 1, 1]])
    prof = ExitProfile([0, -1], conf, pred, np.array([0, 1, 1]))
    rows = prof.table([0.5, 0.9, 1.0])
    exit0 = [r for r in rows if r["exit"] == 0]
    assert [r["fraction"] for r in exit0] == [1.0, pytest.approx(2 / 3), 0.0]
    assert exit0[1]["accuracy"] == 0.5 and exit0[2]["accuracy"] is None
    final = [r for r in rows if r["exit"] == -1]
    assert len(final) == 1 and final[0]["accuracy"] == 1.0


def test_bad_queries_raise_one_line_errors() -> None:
    prof = ExitProfile(
        [0, 1, -1], np.ones((3, 2), np.float64), np.zeros((3, 2), int), np.zeros(2, int)
    )
    with pytest.raises(DseError, match="exit 5 is not a candidate"):
        prof.evaluate(0.5, exits=[5])
    with pytest.raises(DseError, match="thresholds"):
        prof.evaluate([0.5], exits=[0, 1])
    with pytest.raises(DseError, match="no threshold for exit"):
        prof.evaluate({0: 0.5}, exits=[0, 1])
    with pytest.raises(DseError, match="final classifier"):
        ExitProfile([0, 1], np.ones((2, 2)), np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(DseError, match="malformed"):
        ExitProfile.from_dict({"exits": [0, -1]})


@settings(max_examples=100, deadline=None)
@given(st.floats(0.0, 0.99), st.sampled_from([0.1, 0.125, 0.25, 0.3]))
def test_pruning_chain_is_ascending_and_ends_at_the_rate(rate: float, step: float) -> None:
    r = normalise_rates(rate)
    chain = pruning_chain(r, step)
    if r == 0.0:
        assert chain == []
        return
    assert chain[-1] == r
    assert all(a < b for a, b in zip(chain, chain[1:], strict=False))
    # the chain of any rung is a prefix of this chain (so steps are shared)
    for i, rung in enumerate(chain[:-1]):
        assert pruning_chain(rung, step) == chain[: i + 1]


def test_per_layer_chain_and_widths() -> None:
    chain = pruning_chain((0.5, 0.25, 0.0), 0.25)
    assert chain == [(0.25, 0.125, 0.0), (0.5, 0.25, 0.0)]
    assert target_widths((64, 64, 3), 0.5, multiple_of=4) == (32, 32, 3)
    assert target_widths((64, 30), (0.9, 0.5), multiple_of=8) == (8, 16)
    with pytest.raises(DseError, match=r"\[0, 1\)"):
        normalise_rates(1.0)
    with pytest.raises(DseError, match="prunable layers"):
        normalise_rates([0.1, 0.2], n_layers=3)
