"""The runtime metrics: one name, one unit and one definition each, everywhere.

Every command, the report and the dashboard print the simulation's metrics through this
table, so that a figure reads the same wherever it appears. Energies per inference are in
microjoules (uJ) throughout, latencies in milliseconds, EDPs in uJ x ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["METRICS", "Metric", "metrics_help"]


@dataclass(frozen=True)
class Metric:
    """A simulation metric as shown to people.

    Attributes:
        key: its key in the simulator's metrics.
        name: its name in tables and plots.
        unit: the unit it is shown in ("" for counts and shares).
        scale: factor from the simulator's SI value to ``unit``.
        definition: one sentence.
    """

    key: str
    name: str
    unit: str
    scale: float
    definition: str

    def label(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def format(self, value: Any, spec: str = ".4g") -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "-"
        if isinstance(value, int) and not self.unit:
            return f"{value:,}"
        return format(float(value) * self.scale, spec)


METRICS: tuple[Metric, ...] = (
    Metric(
        "processed",
        "inferences processed",
        "",
        1.0,
        "inferences served over the whole trace (the rest were dropped or still queued)",
    ),
    Metric(
        "drop_rate",
        "drop rate",
        "",
        1.0,
        "share of the arrivals dropped because the input buffer was full",
    ),
    Metric(
        "mean_accuracy",
        "mean accuracy",
        "",
        1.0,
        "expected top-1 accuracy averaged over the inferences processed",
    ),
    Metric(
        "energy_per_inference_j",
        "energy per inference",
        "uJ",
        1e6,
        "all energy drawn over the trace (busy, idle, reconfiguring) / inferences processed",
    ),
    Metric(
        "edp_service_js",
        "service EDP",
        "uJ*ms",
        1e9,
        "energy per inference x the accelerator's own mean latency per inference (no queueing)",
    ),
    Metric(
        "edp_js",
        "EDP with queueing",
        "uJ*ms",
        1e9,
        "energy per inference x mean latency including the wait in the input buffer",
    ),
    Metric(
        "latency_p99_s",
        "latency p99",
        "ms",
        1e3,
        "99th percentile of queueing plus service latency",
    ),
    Metric(
        "reconfigurations",
        "reconfigurations",
        "",
        1.0,
        "bitstream loads (threshold changes are free and not counted)",
    ),
)

BY_KEY = {m.key: m for m in METRICS}


def metrics_help() -> str:
    """The definitions, for ``--help`` texts."""
    return "; ".join(f"{m.label()}: {m.definition}" for m in METRICS[:6])
