"""Runtime policies and baselines, defined once: what each may use, by hand, and one
registered from Python reaching the comparison."""

from __future__ import annotations

import pytest

from dse.runtime import (
    Policy,
    baseline_names,
    builtin_trace,
    compare_policies,
    point_sets,
    policy_label,
    policy_names,
    register_policy,
)
from dse.runtime import policies as P
from dse.runtime.errors import RuntimeManagerError
from dse.runtime.points import OperatingPoint


def op(
    design: int, *, pruning: float, exits: tuple[int, ...], thr: tuple[float, ...]
) -> OperatingPoint:
    return OperatingPoint(
        design_id=design,
        thresholds=thr,
        exits=exits,
        accuracy=0.9,
        throughput_fps=100.0 * design,
        energy_per_inference_j=1e-3,
        power_w=0.1 * design,
        idle_power_w=0.05,
        latency_s=1e-3,
        pruning_rate=pruning,
    )


SF = OperatingPoint(-1, (), 0.9, 50.0, 1e-3, 0.05, 0.05, 1e-3, is_static_finn=True)
SB = OperatingPoint(-2, (), 0.9, 80.0, 1e-3, 0.08, 0.05, 1e-3)
PLAIN = op(1, pruning=0.0, exits=(), thr=())
PRUNED = op(2, pruning=0.5, exits=(), thr=())
EXIT = op(3, pruning=0.0, exits=(0,), thr=(0.9,))
# exit heads in hardware with the exit switched off: not a pruning-only accelerator
HEADS_OFF = op(4, pruning=0.5, exits=(0,), thr=(1.5,))
BOTH = op(5, pruning=0.5, exits=(0,), thr=(0.8,))
POINTS = [PLAIN, PRUNED, EXIT, HEADS_OFF, BOTH]


def test_each_policy_uses_what_its_definition_says() -> None:
    sets = point_sets(POINTS, SF, SB)
    assert list(sets) == policy_names() == [*baseline_names(), "adapex"]
    assert sets["static_finn"] == [SF] and sets["static_best"] == [SB]
    assert sets["pruning_only"] == [PLAIN, PRUNED, SF]  # no exit heads at all
    assert sets["exit_only"] == [PLAIN, EXIT, SF]  # unpruned, any exits
    assert sets["adapex"] == [*POINTS, SF, SB]  # holds every baseline's configurations
    for name in baseline_names():
        assert set(sets[name]) <= set(sets["adapex"])
    # without a static best, static FINN stands in for it, once
    alone = point_sets(POINTS, SF)
    assert alone["static_best"] == [SF] and alone["adapex"] == [*POINTS, SF]
    assert policy_label("pruning_only") == "pruning-only" and policy_label("other") == "other"


def test_a_policy_registered_from_python_is_compared() -> None:
    before = dict(P._POLICIES)  # noqa: SLF001 - restored below
    try:
        register_policy(
            Policy(
                "fastest",
                "fastest only",
                "#000000",
                lambda pts, sf, sb: [max(pts, key=lambda p: p.throughput_fps)],
            )
        )
        assert baseline_names()[-1] == "fastest" and policy_names()[-1] == "adapex"
        sets = point_sets(POINTS, SF, SB)
        assert sets["fastest"] == [BOTH]
        trace = builtin_trace("constant", duration_s=60, peak_fps=50.0)
        result = compare_policies(sets, trace)
        assert set(result["policies"]) == set(policy_names())
        with pytest.raises(RuntimeManagerError, match="'fastest' is registered already"):
            register_policy(Policy("fastest", "x", "#000000", lambda pts, sf, sb: []))
    finally:
        P._POLICIES.clear()  # noqa: SLF001
        P._POLICIES.update(before)  # noqa: SLF001
    assert "fastest" not in policy_names()
