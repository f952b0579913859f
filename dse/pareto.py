"""Pareto dominance, the feasible Pareto front and its hypervolume.

Objectives are compared in a *minimisation space*: each objective value ``v`` is mapped to
``s(v)`` (``scale``: identity, or ``log10`` for quantities that span decades such as
throughput and energy) and negated when the objective is maximised. The hypervolume is the
volume dominated by the front and bounded by the reference point, both in that space. The
reference point is fixed per objective (``ObjectiveSpec.reference``, in the objective's own
units), so that the hypervolume of a study only grows as trials are added and values from
different searches over the same objectives compare directly. Defaults (see
:mod:`dse.objectives`): accuracy 0 (linear), throughput 1 inference/s (log),
energy 1 J per inference (log), latency 1 s (log); points not strictly better than the
reference in every objective contribute nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dse.errors import DseError


@dataclass(frozen=True)
class ObjectiveSpec:
    """One objective: the metric it reads, its direction, scale and hypervolume reference."""

    name: str
    direction: str  # "maximize" | "minimize"
    scale: str = "linear"  # "linear" | "log"
    reference: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ObjectiveSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            direction=str(data["direction"]),
            scale=str(data.get("scale", "linear")),
            reference=float(data.get("reference", 0.0)),  # type: ignore[arg-type]
        )


def _transform(value: float, spec: ObjectiveSpec) -> float:
    v = (math.log10(value) if value > 0 else -math.inf) if spec.scale == "log" else float(value)
    return -v if spec.direction == "maximize" else v


def to_min_space(
    objectives: Sequence[Mapping[str, float]], specs: Sequence[ObjectiveSpec]
) -> np.ndarray:
    """Map objective dicts to an ``(n, d)`` array in which every objective is minimised."""
    out = np.empty((len(objectives), len(specs)), dtype=float)
    for i, obj in enumerate(objectives):
        for j, spec in enumerate(specs):
            if spec.name not in obj:
                raise DseError(f"objective {spec.name!r} missing from a design; re-run the trial")
            out[i, j] = _transform(float(obj[spec.name]), spec)
    return out


def reference_point(specs: Sequence[ObjectiveSpec]) -> np.ndarray:
    """The hypervolume reference point in the minimisation space."""
    return np.array([_transform(s.reference, s) for s in specs], dtype=float)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when ``a`` Pareto-dominates ``b`` (minimisation: no worse anywhere, better somewhere)."""
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(a_arr <= b_arr) and np.any(a_arr < b_arr))


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``points`` (minimisation).

    Rows with equal values do not dominate each other, so duplicates are all kept.
    """
    pts = np.asarray(points, dtype=float)
    n = pts.shape[0]
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        le = np.all(pts <= pts[i], axis=1)
        lt = np.any(pts < pts[i], axis=1)
        if np.any(le & lt):
            mask[i] = False
    return mask


def _hv2(points: np.ndarray, ref: np.ndarray) -> float:
    order = np.argsort(points[:, 0], kind="stable")
    volume, best_y = 0.0, ref[1]
    for x, y in points[order]:
        if y < best_y:
            volume += (ref[0] - x) * (best_y - y)
            best_y = y
    return volume


def _hv(points: np.ndarray, ref: np.ndarray) -> float:
    n, d = points.shape
    if n == 0:
        return 0.0
    if d == 1:
        return float(ref[0] - points[:, 0].min())
    if d == 2:
        return _hv2(points, ref)
    order = np.argsort(points[:, -1], kind="stable")
    pts = points[order]
    volume = 0.0
    for i in range(n):
        upper = pts[i + 1, -1] if i + 1 < n else ref[-1]
        depth = upper - pts[i, -1]
        if depth <= 0:
            continue
        slab = pts[: i + 1, :-1]
        slab = slab[pareto_mask(slab)]
        volume += _hv(slab, ref[:-1]) * depth
    return volume


def hypervolume(points: np.ndarray, reference: Sequence[float] | np.ndarray) -> float:
    """Exact hypervolume of ``points`` (minimisation) bounded by ``reference``.

    Points that are not strictly better than the reference in every objective, or that hold a
    non-finite value, are ignored.
    Exact for any dimension (slicing on the last objective, a sweep in 2-D).
    """
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(points, dtype=float).reshape(-1, ref.shape[0])
    pts = pts[np.all(np.isfinite(pts), axis=1) & np.all(pts < ref, axis=1)]
    if pts.shape[0] == 0:
        return 0.0
    pts = pts[pareto_mask(pts)]
    return float(_hv(pts, ref))


def front_hypervolume(
    objectives: Sequence[Mapping[str, float]], specs: Sequence[ObjectiveSpec]
) -> float:
    """Hypervolume of objective dicts (feasible designs) under ``specs``."""
    if not objectives:
        return 0.0
    return hypervolume(to_min_space(objectives, specs), reference_point(specs))


def feasible_front(
    objectives: Sequence[Mapping[str, float]],
    feasible: Sequence[bool],
    specs: Sequence[ObjectiveSpec],
) -> np.ndarray:
    """Mask of the feasible Pareto front: feasible designs not dominated by a feasible design."""
    feas = np.asarray(feasible, dtype=bool)
    mask = np.zeros(len(objectives), dtype=bool)
    idx = np.flatnonzero(feas)
    if idx.size == 0:
        return mask
    pts = to_min_space([objectives[int(i)] for i in idx], specs)
    mask[idx[pareto_mask(pts)]] = True
    return mask
