"""Conformance tests for the authors of plugin objectives (``dse.objectives``).

Subclass :class:`ObjectiveConformance` in a test module of your own and set ``objective``;
every ``test_`` method checks one rule a study relies on (as Optuna's
``BasicSamplerTestCase`` does for samplers)::

    from dse.testing import ObjectiveConformance
    from my_pkg import FPS_PER_LUT

    class TestFpsPerLut(ObjectiveConformance):
        objective = FPS_PER_LUT

The checks cost the designs of a small graph with the FINN estimator (no torch).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from dse.objectives import DIRECTIONS, SCALES, Objective, get_objective, objective_names

__all__ = ["ObjectiveConformance"]


def _designs() -> list[tuple[Any, dict[str, Any]]]:
    """(report, metrics) of a few foldings of a small two-layer graph on a Pynq-Z1."""
    from dse.design import Hardware, cost
    from hw_builders import get_device, load_graph
    from hw_builders.folding import fold

    layer = {
        "op_type": "MVAU",
        "PE": 1,
        "SIMD": 1,
        "inputDataType": "UINT2",
        "weightDataType": "INT2",
        "outputDataType": "UINT2",
        "accDataType": "INT16",
    }
    graph = load_graph(
        {
            "name": "conformance",
            "layers": [
                {**layer, "name": "a", "inputs": [], "MW": 64, "MH": 32, "numInputVectors": 16},
                {**layer, "name": "b", "inputs": ["a"], "MW": 32, "MH": 10},
            ],
        }
    )
    device = get_device(board="Pynq-Z1")
    out = []
    for budget in (0.1, 0.3, 1.0):
        folding = fold(graph, strategy="optimised", device=device, budget=budget)
        report = cost(Hardware(graph=graph, folding=folding, device=device, clk_ns=10.0))
        metrics: dict[str, Any] = {
            "accuracy": 0.9,
            "throughput_fps": report.throughput_fps,
            "latency_s": report.mean_latency_s,
            "power_w": report.power_w,
            "energy_per_inference_j": report.energy_per_inference_j,
            "edp": report.edp,
            **{k: int(v) for k, v in report.total.items()},
            "utilisation": dict(report.utilisation),
        }
        out.append((report, metrics))
    return out


class ObjectiveConformance:
    """The rules every objective follows (subclass it with ``objective`` set)."""

    objective: ClassVar[Objective | None] = None

    def _objective(self) -> Objective:
        assert self.objective is not None, "set `objective` on the ObjectiveConformance subclass"
        return self.objective

    def test_registered_under_its_name(self) -> None:
        obj = self._objective()
        assert obj.name in objective_names(), f"{obj.name!r} is not registered"
        assert get_objective(obj.name) is obj

    def test_direction_scale_and_reference(self) -> None:
        obj = self._objective()
        assert obj.direction in DIRECTIONS and obj.scale in SCALES
        assert math.isfinite(obj.reference)
        if obj.scale == "log":
            assert obj.reference > 0
        spec = obj.spec()
        assert (spec.name, spec.direction) == (obj.name, obj.direction)

    def test_values_are_finite_numbers_of_each_design(self) -> None:
        obj = self._objective()
        for report, metrics in _designs():
            value = obj.value(report, metrics)
            assert isinstance(value, float) and math.isfinite(value), value
            if obj.scale == "log":
                assert value > 0, f"{obj.name}: {value} on a log scale"

    def test_value_is_a_function_of_the_design(self) -> None:
        obj = self._objective()
        for report, metrics in _designs():
            assert obj.value(report, metrics) == obj.value(report, dict(metrics))
