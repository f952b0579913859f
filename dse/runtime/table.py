"""The runtime selection table: which configuration to run for a workload and accuracy threshold.

For an accuracy threshold ``A`` the candidates are the operating points whose served accuracy
(:attr:`OperatingPoint.served_accuracy`: the accuracy guaranteed with the runtime's
confidence, :mod:`dse.runtime.guarantees`) is at least ``A`` (when none is, the points of the
highest guaranteed accuracy: the best the library can promise, and the row says so). Candidates are
sorted by throughput; the workload levels (input-rate buckets) of a row are delimited by the
distinct candidate throughputs, so that bucket ``(t_{i-1}, t_i]`` is exactly the set of rates
that the candidates with throughput ``>= t_i`` sustain. Each bucket holds the candidate that
sustains its upper rate with the least energy per inference at that rate
(:meth:`OperatingPoint.energy_at_rate`; with ``objective="edp"``, the least service EDP of
the design, with ``objective="latency"`` the least mean latency, see :func:`point_cost`);
the last bucket ``(t_max, inf)`` holds the
highest-throughput candidate (nothing sustains that rate; the simulator drops and counts the
shortfall). Because the bucket edges are the breakpoints of the choice, a lookup is exact, not
an approximation on a grid. Ties: less energy, then higher accuracy, then higher throughput,
then the earlier point.

Exit thresholds change instantly (registers); a different design costs a reconfiguration. The
table itself is policy-free: hysteresis lives in :mod:`dse.runtime.simulator`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dse.runtime.errors import RuntimeManagerError
from dse.runtime.points import OperatingPoint, check_points
from hw_builders.atomic import atomic_write_text

#: tolerance of the accuracy comparison (accuracies are ratios k/N computed in floating point)
ACC_TOL = 1e-9

TABLE_VERSION = 1

CSV_COLUMNS = (
    "accuracy_threshold",
    "rate_min_fps",
    "rate_max_fps",
    "design_id",
    "thresholds",
    "exits",
    "accuracy",
    "guaranteed_accuracy",
    "throughput_fps",
    "energy_per_inference_j",
    "pruning_rate",
    "sustains",
    "compliant",
    "is_static_finn",
)


@dataclass(frozen=True)
class TableRow:
    """One accuracy threshold's row: bucket upper edges and the chosen point per bucket.

    ``edges[i]`` is the upper rate of bucket i (its lower rate is ``edges[i-1]``, 0 for the
    first); ``choice[i]`` indexes the table's points. ``choice[-1]`` (one longer than edges) is
    the point for rates above every edge. ``compliant`` is False when no point meets the
    threshold (the row then holds the most accurate points).
    """

    accuracy_threshold: float
    edges: tuple[float, ...]
    choice: tuple[int, ...]
    compliant: bool

    def lookup_index(self, rate_fps: float) -> int:
        """Index of the point chosen for ``rate_fps``."""
        return self.choice[bisect_left(self.edges, rate_fps)]


#: What the selection table can select by, and the default (``[runtime] select``): the least
#: energy per inference, energy per inference x latency (service EDP) or mean latency, or the
#: highest guaranteed accuracy.
OBJECTIVES = ("energy", "edp", "latency", "accuracy")
DEFAULT_SELECT = "energy"

#: What each objective picks among the configurations that sustain the load, in words (for
#: help texts and the reasons printed where adapex loses on a metric).
OBJECTIVE_GOALS = {
    "energy": "the least energy per inference",
    "edp": "the least service EDP",
    "latency": "the least mean latency",
    "accuracy": "the highest guaranteed accuracy",
}


def check_objective(value: str, argument: str = "select") -> None:
    """RuntimeManagerError naming ``argument`` unless the selection table knows the
    objective ``value``."""
    if value not in OBJECTIVES:
        raise RuntimeManagerError(
            f"`{argument}` {value!r} is unknown; use one of {', '.join(OBJECTIVES)}",
            arguments=(argument,),
        )


def point_cost(point: OperatingPoint, rate_fps: float, objective: str = DEFAULT_SELECT) -> float:
    """What the table minimises for a point serving ``rate_fps``.

    ``"energy"``: energy per inference at that rate (:meth:`OperatingPoint.energy_at_rate`);
    ``"edp"``: the design's own EDP, energy per inference at full throughput x mean latency;
    ``"latency"``: its mean latency; ``"accuracy"``: one minus its guaranteed accuracy (the
    last three independent of the rate, so that the choice is constant within a bucket).
    """
    if objective == "accuracy":
        return 1.0 - point.served_accuracy
    if objective == "edp":
        return point.energy_per_inference_j * point.latency_s
    if objective == "latency":
        return point.latency_s
    return point.energy_at_rate(rate_fps)


def _row(
    points: Sequence[OperatingPoint],
    candidates: Sequence[int],
    threshold: float,
    compliant: bool,
    objective: str = DEFAULT_SELECT,
) -> TableRow:
    idx = np.asarray(candidates, dtype=np.int64)
    thr = np.array([points[i].throughput_fps for i in idx])
    idle = np.array([points[i].idle_power_w for i in idx])
    dyn = np.array([max(points[i].power_w - points[i].idle_power_w, 0.0) for i in idx]) / thr
    acc = np.array([points[i].served_accuracy for i in idx])
    edges = np.unique(thr)  # ascending distinct throughputs
    # energy[e, c]: energy per inference of candidate c at rate edges[e]
    energy = idle[None, :] / edges[:, None] + dyn[None, :]
    # cost[e, c]: point_cost of candidate c at rate edges[e]; inf where it cannot sustain it
    if objective != "energy":  # a design's own figure, the same at every rate
        own = np.array([point_cost(points[i], 0.0, objective) for i in idx])
        cost = np.broadcast_to(own[None, :], (len(edges), len(idx)))
        top_cost = own
    else:
        cost = energy
        top_cost = dyn + idle / thr
    cost = np.where(thr[None, :] >= edges[:, None], cost, np.inf)
    # the first tie-break: less energy at the rate when selecting by accuracy, else accuracy
    second = energy if objective == "accuracy" else np.broadcast_to(-acc, energy.shape)
    choice: list[int] = []
    order_base = np.arange(len(idx))
    for e in range(len(edges)):
        # lexsort: last key is primary -> cost, then the tie-break, then -thr, then position
        best = np.lexsort((order_base, -thr, second[e], cost[e]))[0]
        choice.append(int(idx[best]))
    top = np.lexsort((order_base, top_cost, -acc, -thr))[0]
    choice.append(int(idx[top]))
    # merge adjacent buckets with the same choice (keeps the upper edge of the merged bucket)
    m_edges: list[float] = []
    m_choice: list[int] = []
    for e, c in zip(edges.tolist(), choice[:-1], strict=True):
        if m_choice and m_choice[-1] == c:
            m_edges[-1] = e
        else:
            m_edges.append(e)
            m_choice.append(c)
    m_choice.append(choice[-1])
    return TableRow(threshold, tuple(m_edges), tuple(m_choice), compliant)


class SelectionTable:
    """Selection of (design, exit thresholds) per workload level and accuracy threshold.

    Args:
        points: the operating points of the library (stored designs x threshold settings).
        accuracy_thresholds: the accuracy thresholds listed by :meth:`entries` / exports;
            default: every distinct accuracy of the points (the exact breakpoints). Lookups
            work for any threshold, listed or not (rows are computed on demand and exact).
        objective: ``"energy"`` (default: least energy per inference among the points that
            sustain the rate), ``"edp"`` (least design EDP: energy per inference x latency),
            ``"latency"`` (least mean latency) or ``"accuracy"`` (highest guaranteed
            accuracy, then least energy at the rate).
        confidence: the delta the points' guarantees were computed with (recorded with the
            table: its compliant rows hold with probability ``1 - confidence``).
    """

    def __init__(
        self,
        points: Sequence[OperatingPoint],
        accuracy_thresholds: Sequence[float] | None = None,
        *,
        objective: str = DEFAULT_SELECT,
        confidence: float | None = None,
    ) -> None:
        check_points(points)
        if objective not in OBJECTIVES:
            raise RuntimeManagerError(
                f"objective {objective!r} is unknown; use one of {', '.join(OBJECTIVES)}"
            )
        self.objective = objective
        self.confidence = confidence
        self.points: list[OperatingPoint] = list(points)
        self._acc = np.array([p.served_accuracy for p in self.points])
        self._distinct_acc = sorted(set(self._acc.tolist()))
        if accuracy_thresholds is None:
            accuracy_thresholds = self._distinct_acc
        for a in accuracy_thresholds:
            if not (isinstance(a, int | float) and math.isfinite(a) and 0.0 <= a <= 1.0):
                raise RuntimeManagerError(
                    f"accuracy threshold {a!r} is out of range; use a number in [0, 1]"
                )
        self.accuracy_thresholds: list[float] = sorted(set(float(a) for a in accuracy_thresholds))
        self._rows: dict[float, TableRow] = {}

    # -- lookups -----------------------------------------------------------------------------
    def _canonical(self, accuracy_threshold: float) -> tuple[float, bool]:
        """The smallest point accuracy >= threshold (same candidate set) and compliance."""
        i = bisect_left(self._distinct_acc, accuracy_threshold - ACC_TOL)
        if i == len(self._distinct_acc):
            return self._distinct_acc[-1], False
        return self._distinct_acc[i], True

    def row(self, accuracy_threshold: float) -> TableRow:
        """The (exact) row for any accuracy threshold; cached."""
        key, compliant = self._canonical(float(accuracy_threshold))
        cache_key = key if compliant else math.inf
        row = self._rows.get(cache_key)
        if row is None:
            cands = np.flatnonzero(self._acc >= key - ACC_TOL).tolist()
            row = _row(self.points, cands, key, compliant, self.objective)
            self._rows[cache_key] = row
        if row.accuracy_threshold != accuracy_threshold:
            row = TableRow(float(accuracy_threshold), row.edges, row.choice, row.compliant)
        return row

    def design_row(self, design_id: int, accuracy_threshold: float) -> TableRow:
        """Row restricted to one design's points (threshold-only changes); cached.

        When none of the design's points meets the threshold the row holds the design's most
        accurate points and ``compliant`` is False.
        """
        key = (design_id, float(accuracy_threshold))
        cache = self.__dict__.setdefault("_design_rows", {})
        row = cache.get(key)
        if row is None:
            mine = [i for i, p in enumerate(self.points) if p.design_id == design_id]
            if not mine:
                raise RuntimeManagerError(f"design {design_id} has no operating point")
            acc = [self.points[i].served_accuracy for i in mine]
            ok = [i for i, a in zip(mine, acc, strict=True) if a >= accuracy_threshold - ACC_TOL]
            if ok:
                row = _row(self.points, ok, float(accuracy_threshold), True, self.objective)
            else:
                best = max(acc)
                top = [i for i, a in zip(mine, acc, strict=True) if a >= best - ACC_TOL]
                row = _row(self.points, top, float(accuracy_threshold), False, self.objective)
            cache[key] = row
        return row

    def lookup_index(self, rate_fps: float, accuracy_threshold: float) -> int:
        """Index into :attr:`points` of the configuration for this workload and threshold."""
        return self.row(accuracy_threshold).lookup_index(rate_fps)

    def lookup(self, rate_fps: float, accuracy_threshold: float) -> OperatingPoint:
        """The configuration for input rate ``rate_fps`` and accuracy threshold."""
        return self.points[self.lookup_index(rate_fps, accuracy_threshold)]

    # -- listing / export ----------------------------------------------------------------------
    def row_entries(self, accuracy_threshold: float) -> list[dict]:
        """The rate buckets of one accuracy threshold, one dict each, in rate order."""
        row = self.row(accuracy_threshold)
        out: list[dict] = []
        lo = 0.0
        for hi, ci in zip([*row.edges, math.inf], row.choice, strict=True):
            p = self.points[ci]
            out.append(
                {
                    "accuracy_threshold": float(accuracy_threshold),
                    "rate_min_fps": lo,
                    "rate_max_fps": None if math.isinf(hi) else hi,
                    "point": ci,
                    "design_id": p.design_id,
                    "thresholds": list(p.thresholds),
                    "exits": list(p.exits),
                    "accuracy": p.accuracy,
                    "guaranteed_accuracy": p.guaranteed_accuracy,
                    "bound": dict(p.bound),
                    "throughput_fps": p.throughput_fps,
                    "energy_per_inference_j": p.energy_per_inference_j,
                    "pruning_rate": p.pruning_rate,
                    "sustains": not math.isinf(hi),
                    "compliant": row.compliant,
                    "is_static_finn": p.is_static_finn,
                }
            )
            lo = hi
        return out

    def entries(self) -> list[dict]:
        """One dict per (accuracy threshold, rate bucket), in threshold then rate order."""
        return [e for a in self.accuracy_thresholds for e in self.row_entries(a)]

    def to_dict(self) -> dict:
        """JSON-serialisable form (what is stored in the database and exported)."""
        return {
            "version": TABLE_VERSION,
            "objective": self.objective,
            "confidence": self.confidence,
            "accuracy_thresholds": list(self.accuracy_thresholds),
            "points": [p.to_dict() for p in self.points],
            "entries": self.entries(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> SelectionTable:
        """Rebuild a table from :meth:`to_dict` output (rows are recomputed, identically)."""
        if not isinstance(d, dict) or d.get("version") != TABLE_VERSION or "points" not in d:
            raise RuntimeManagerError(
                "runtime table: unknown format; rebuild it with `adapex runtime table`"
            )
        points = [OperatingPoint.from_dict(p) for p in d["points"]]
        return cls(
            points,
            d.get("accuracy_thresholds"),
            objective=d.get("objective", DEFAULT_SELECT),
            confidence=d.get("confidence"),
        )

    def to_json(self) -> str:
        """The table as a JSON document."""
        return json.dumps(self.to_dict(), indent=2)

    def to_csv(self) -> str:
        """The entries as CSV (one line per accuracy threshold and rate bucket)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for e in self.entries():
            row = []
            for c in CSV_COLUMNS:
                v = e[c]
                if c in ("thresholds", "exits"):
                    v = " ".join(str(x) for x in v)
                elif v is None:
                    v = "inf"
                row.append(v)
            w.writerow(row)
        return buf.getvalue()

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON (``.json``) or CSV (``.csv``) atomically; returns the path."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".csv"):
            raise RuntimeManagerError(
                f"runtime table output {path}: unknown extension; use .json or .csv"
            )
        text = self.to_json() if suffix == ".json" else self.to_csv()
        atomic_write_text(path, text)
        return path


def build_selection_table(
    points: Sequence[OperatingPoint],
    accuracy_thresholds: Sequence[float] | None = None,
    *,
    objective: str = DEFAULT_SELECT,
    confidence: float | None = None,
) -> SelectionTable:
    """Build the selection table of ``points`` (see :class:`SelectionTable`)."""
    return SelectionTable(points, accuracy_thresholds, objective=objective, confidence=confidence)
