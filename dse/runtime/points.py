"""Operating points: the unit the runtime manager switches between.

An operating point is one stored design (one bitstream) together with one setting of its
early-exit thresholds. Thresholds are registers, so moving between points of the same design
is free; moving to another design costs the device's reconfiguration time. Everything in
:mod:`dse.runtime` works on plain lists of :class:`OperatingPoint`, so it is testable without a
database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from dse.pareto import pareto_mask
from dse.runtime.errors import RuntimeManagerError

#: design_id used for the static FINN baseline (not a stored design).
STATIC_FINN_ID = -1
#: design_id used for the static best baseline (the same network, adapex's optimised folding).
STATIC_BEST_ID = -2


@dataclass(frozen=True)
class OperatingPoint:
    """One design (bitstream) with one setting of its exit thresholds.

    Attributes:
        design_id: the stored design's id (``STATIC_FINN_ID`` for the static FINN baseline).
        thresholds: confidence threshold per exit in use (a value above 1 disables that exit).
        accuracy: its top-1 accuracy on the calibration split (the estimate).
        throughput_fps: sustained inferences per second (staged exit model).
        energy_per_inference_j: energy per inference at full throughput (staged exit model).
        power_w: power while busy (serving at full throughput).
        idle_power_w: power while the design is loaded but idle (static power).
        latency_s: mean latency of one inference (over the exits it leaves at).
        pruning_rate: mean structured-pruning rate of the design (0 = unpruned).
        exits: candidate exit indices in use (the final classifier is implicit).
        is_static_finn: True for the static FINN baseline accelerator.
        reconfig_time_s: time to load this design's bitstream (the device's).
        latency_s_per_exit: latency per exit, the final classifier last (optional).
        exit_fraction: fraction of inferences leaving at each exit, final last (optional).
        label: a short human-readable name.
        limited_by: what bounds its throughput (``hw_builders.bounds.limited_by``: a layer
            and resource, the input stream or the host link).
        guaranteed_accuracy: the accuracy it holds with the runtime's confidence
            (:mod:`dse.runtime.guarantees`); None where no guarantee was computed.
        bound: the guarantee's figures (``FamilyBound.to_dict``: correct samples, lower
            bound, alpha, position in its family's test sequence).
    """

    design_id: int
    thresholds: tuple[float, ...]
    accuracy: float
    throughput_fps: float
    energy_per_inference_j: float
    power_w: float
    idle_power_w: float
    latency_s: float
    pruning_rate: float = 0.0
    exits: tuple[int, ...] = ()
    is_static_finn: bool = False
    reconfig_time_s: float = 0.0
    latency_s_per_exit: tuple[float, ...] = ()
    exit_fraction: tuple[float, ...] = ()
    label: str = field(default="", compare=False)
    limited_by: dict = field(default_factory=dict, compare=False)
    guaranteed_accuracy: float | None = field(default=None, compare=False)
    bound: dict = field(default_factory=dict, compare=False)

    def default_threshold(self) -> float:
        """The user's accuracy threshold when none is given, this being static FINN's point:
        the accuracy it serves minus one point (``runtime`` commands and ``deploy run``)."""
        return max(0.0, self.served_accuracy - 0.01)

    @property
    def served_accuracy(self) -> float:
        """The accuracy the runtime may promise for this configuration: its guaranteed
        accuracy (its calibration estimate where no guarantee was computed)."""
        return self.accuracy if self.guaranteed_accuracy is None else self.guaranteed_accuracy

    def __post_init__(self) -> None:
        for name in ("accuracy", "throughput_fps", "energy_per_inference_j", "power_w"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise RuntimeManagerError(
                    f"operating point of design {self.design_id}: {name}={value!r} must be a "
                    "finite non-negative number"
                )
        if self.throughput_fps <= 0:
            raise RuntimeManagerError(
                f"operating point of design {self.design_id}: throughput_fps must be > 0"
            )
        if len(self.thresholds) != len(self.exits):
            raise RuntimeManagerError(
                f"operating point of design {self.design_id}: {len(self.thresholds)} thresholds "
                f"for {len(self.exits)} exits; give one threshold per exit in use"
            )

    @property
    def exits_enabled(self) -> bool:
        """True when at least one early exit can take samples (a threshold <= 1)."""
        return any(t <= 1.0 for t in self.thresholds)

    @property
    def config(self) -> tuple[int, tuple[float, ...]]:
        """The (design, thresholds) pair that identifies the configuration."""
        return (self.design_id, self.thresholds)

    def energy_at_rate(self, rate_fps: float) -> float:
        """Energy per inference when serving ``rate_fps`` (<= throughput) on this design.

        The design draws ``power_w`` while busy and ``idle_power_w`` while idle, so at rate r the
        average power is ``idle + (power - idle) * r / T`` and the energy per inference is
        ``idle / r + (power - idle) / T``. This is what the simulator charges.
        """
        rate = min(max(rate_fps, 1e-12), self.throughput_fps)
        dynamic = max(self.power_w - self.idle_power_w, 0.0) / self.throughput_fps
        return self.idle_power_w / rate + dynamic

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        d = asdict(self)
        for key in ("thresholds", "exits", "latency_s_per_exit", "exit_fraction"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> OperatingPoint:
        """Inverse of :meth:`to_dict`."""
        kw = dict(d)
        for key in ("thresholds", "exits", "latency_s_per_exit", "exit_fraction"):
            if key in kw:
                kw[key] = tuple(kw[key])
        return cls(**kw)


def non_dominated(points: Iterable[OperatingPoint]) -> list[OperatingPoint]:
    """Points not dominated in (served accuracy max, throughput max, dynamic energy min, idle
    power min).

    A point is dropped only when another one of the same list is at least as good in every
    criterion and strictly better in one; duplicates (same numbers) keep the first. Exact
    duplicates of a configuration are removed.
    """
    pts = list(dict.fromkeys(points))
    if not pts:
        return []

    def key(p: OperatingPoint) -> tuple[float, float, float, float]:
        dyn = max(p.power_w - p.idle_power_w, 0.0) / p.throughput_fps
        return (-p.served_accuracy, -p.throughput_fps, dyn, p.idle_power_w)

    keys = [key(p) for p in pts]
    mask = pareto_mask(np.asarray(keys, dtype=float))
    kept: dict[tuple[float, float, float, float], tuple[int, OperatingPoint]] = {}
    for i, (k, p, m) in enumerate(zip(keys, pts, mask, strict=True)):
        if m and k not in kept:  # equal numbers: the first one stays
            kept[k] = (i, p)
    return [p for _, (_, p) in sorted(kept.items(), key=lambda kv: (kv[0], kv[1][0]))]


def check_points(points: Sequence[OperatingPoint], what: str = "operating points") -> None:
    """Raise RuntimeManagerError when ``points`` is empty."""
    if not points:
        raise RuntimeManagerError(
            f"{what}: none available; run more trials of the study or check its designs"
        )
