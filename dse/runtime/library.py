"""A study's runtime library: its operating points and the baselines, cached per study state.

The library is what every ``adapex runtime`` command, the report and the dashboard work on:

* the operating points of every feasible stored design (:mod:`dse.runtime.derive`);
* **static FINN**: the unpruned, exit-free network folded by FINN's SetFolding at the highest
  target fps whose design fits the usable device (the AdaPEx paper's baseline);
* **static best**: the same network with adapex's optimised folding;
* **pruning-only** and **exit-only**: adaptive over their sub-spaces of every trained model:
  the designs without exits (the study's own, and the baseline designs the inner step
  stored beside each model's front: its pruning-only front) and the designs of the
  unpruned models. They cost no training of their own, live apart from the user's trials
  (``adapex_designs.role``), and the runtime only reads them.

Computing the points costs seconds (a staged performance model per design and threshold
setting); they are stored in the database with the study state they were computed for (the
number of designs and the time of the last one), and reused until the study changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dse.runtime.derive import (
    DEFAULT_THRESHOLD_GRID,
    Guarantees,
    operating_points,
    static_best_point,
    static_finn_point,
)
from dse.runtime.errors import RuntimeManagerError
from dse.runtime.points import OperatingPoint
from dse.runtime.policies import point_sets

__all__ = ["RuntimeLibrary", "load_library"]

#: bumped when what the cache holds changes meaning
CACHE_VERSION = 4  # 4: baseline designs apart from the study's; calibration profiles


@dataclass
class RuntimeLibrary:
    """Operating points of a study's designs and its baselines."""

    study: str
    points: list[OperatingPoint]
    static_finn: OperatingPoint
    static_best: OperatingPoint
    subspaces: dict[str, int] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def point_sets(self) -> dict[str, list[OperatingPoint]]:
        """The configurations each registered policy may use
        (:func:`dse.runtime.policies.point_sets`)."""
        return point_sets(self.points, self.static_finn, self.static_best)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": CACHE_VERSION,
            "state": self.state,
            "subspaces": self.subspaces,
            "points": [p.to_dict() for p in self.points],
            "static_finn": self.static_finn.to_dict(),
            "static_best": self.static_best.to_dict(),
        }

    @classmethod
    def from_dict(cls, study: str, data: dict[str, Any]) -> RuntimeLibrary:
        return cls(
            study=study,
            points=[OperatingPoint.from_dict(p) for p in data["points"]],
            static_finn=OperatingPoint.from_dict(data["static_finn"]),
            static_best=OperatingPoint.from_dict(data["static_best"]),
            subspaces=dict(data.get("subspaces") or {}),
            state=dict(data.get("state") or {}),
        )


def _state(store: Any, study: str, confidence: float) -> dict[str, Any]:
    info = store.study_info(study) or {}
    return {
        "version": CACHE_VERSION,
        "n_designs": int(info.get("n_designs") or 0),
        "updated_at": str(info.get("updated_at") or ""),
        "threshold_grid": list(DEFAULT_THRESHOLD_GRID),
        "confidence": float(confidence),
    }


def _subspace_sizes(records: list[Any]) -> dict[str, int]:
    """How many designs each sub-space baseline adapts over."""
    from dse.runtime.derive import pruning_rate
    from dse.runtime.policies import UNPRUNED_TOL

    feasible = [r for r in records if r.feasible]
    return {
        "pruning_only": sum(1 for r in feasible if not r.exits),
        "exit_only": sum(1 for r in feasible if pruning_rate(r) <= UNPRUNED_TOL),
    }


def load_library(
    storage: str | None,
    study: str,
    *,
    refresh: bool = False,
    confidence: float | None = None,
) -> RuntimeLibrary:
    """The study's runtime library, from the database's cache when the study is unchanged.

    The runtime only reads: the study's designs and the baseline designs stored beside
    them. Every operating point carries its accuracy guarantee
    (:mod:`dse.runtime.guarantees`). The cache is written when the database can be written
    (a read-only database is read, and the library computed every time).

    Args:
        storage: the storage URL.
        study: the study name.
        refresh: recompute the points even when the cache is current.
        confidence: the guarantees' delta (default: the study's ``[runtime] confidence``).

    Raises:
        RuntimeManagerError: no such study, no stored or feasible design, a bad confidence.
    """
    from dse.storage import DEFAULT_STORAGE, Store

    url = storage or DEFAULT_STORAGE
    with Store(url, read_only=True) as store:
        if store.study_info(study) is None:
            raise RuntimeManagerError(f"study {study!r}: not found; run it first")
        config = store.study_config(study)
        delta = check_confidence(config.runtime.confidence if confidence is None else confidence)
        cached = store.runtime_cache(study)
        state = _state(store, study, delta)
        lib_data = (cached or {}).get("library")
        if not refresh and lib_data and lib_data.get("state") == state:
            return RuntimeLibrary.from_dict(study, lib_data)
        own = store.designs(study)
        records = own + store.designs(study, role="baseline")
        if not own:
            raise RuntimeManagerError(
                f"study {study!r} has no stored design; run it first (`adapex run --study {study}`)"
            )
        n_models = len(store.models(study))
    from dse.config import knob_values

    guarantees = Guarantees(
        records,
        delta=delta,
        n_models=n_models,
        config_thresholds=knob_values(config.exits.thresholds),
    )
    points = operating_points(records, guarantees=guarantees)
    if not points:
        raise RuntimeManagerError(
            f"study {study!r} has no feasible design; relax the constraints or run more trials"
        )
    limits = config.hardware.max_utilisation
    lib = RuntimeLibrary(
        study=study,
        points=points,
        static_finn=static_finn_point(records, limits=limits, guarantees=guarantees),
        static_best=static_best_point(records, limits=limits, guarantees=guarantees),
        subspaces=_subspace_sizes(records),
        state=state,
    )
    _cache(url, study, lib)
    return lib


def check_confidence(value: Any, argument: str = "confidence") -> float:
    """``value`` as the guarantees' delta; RuntimeManagerError naming ``argument`` unless a
    number in (0, 0.5)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0.0 < value < 0.5
    if not ok:
        raise RuntimeManagerError(
            f"`{argument}` {value!r}: give the guarantees' delta, a number in (0, 0.5) "
            "(0.05: each holds with 95% confidence)",
            arguments=(argument,),
        )
    return float(value)


def _cache(url: str, study: str, lib: RuntimeLibrary) -> None:
    """Store the library in the database's runtime cache, unless it cannot be written."""
    from dse.storage import Store

    with Store(url, read_only=True) as probe:
        if not probe.writable():
            return
    with Store(url) as store:
        store.save_runtime_cache(study, {"library": lib.to_dict(), "sweeps": {}})
