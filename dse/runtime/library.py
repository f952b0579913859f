"""A study's runtime library: its operating points and the baselines, cached per study state.

The library is what every ``adapex runtime`` command, the report and the dashboard work on:

* the operating points of every feasible stored design (:mod:`dse.runtime.derive`);
* **static FINN**: the unpruned, exit-free network folded by FINN's SetFolding at the highest
  target fps whose design fits the usable device (the AdaPEx paper's baseline);
* **static best**: the same network with adapex's optimised folding;
* **pruning-only** and **exit-only**: adaptive over their whole sub-spaces, which the study
  evaluates as its own trials (:func:`dse.study.subspaces.ensure_subspaces`, called by the
  commands that compare) so that the comparison does not depend on what the sampler happened
  to draw. The runtime itself only reads designs.

Computing the points costs seconds (a staged performance model per design and threshold
setting); they are stored in the database with the study state they were computed for (the
number of designs and the time of the last one), and reused until the study changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dse.runtime.derive import (
    DEFAULT_THRESHOLD_GRID,
    operating_points,
    static_best_point,
    static_finn_point,
)
from dse.runtime.errors import RuntimeManagerError
from dse.runtime.points import OperatingPoint
from dse.runtime.policies import point_sets

__all__ = ["RuntimeLibrary", "load_library"]

#: bumped when what the cache holds changes meaning
CACHE_VERSION = 3  # 3: the host link caps throughput; points say what limits them


@dataclass
class RuntimeLibrary:
    """Operating points of a study's designs and its baselines."""

    study: str
    points: list[OperatingPoint]
    static_finn: OperatingPoint
    static_best: OperatingPoint
    subspaces: dict[str, int] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    subspaces_evaluated: bool = False

    def point_sets(self) -> dict[str, list[OperatingPoint]]:
        """The configurations each registered policy may use
        (:func:`dse.runtime.policies.point_sets`)."""
        return point_sets(self.points, self.static_finn, self.static_best)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": CACHE_VERSION,
            "state": self.state,
            "subspaces": self.subspaces,
            "subspaces_evaluated": self.subspaces_evaluated,
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
            subspaces_evaluated=bool(data.get("subspaces_evaluated")),
        )


def _state(store: Any, study: str) -> dict[str, Any]:
    info = store.study_info(study) or {}
    return {
        "version": CACHE_VERSION,
        "n_designs": int(info.get("n_designs") or 0),
        "updated_at": str(info.get("updated_at") or ""),
        "threshold_grid": list(DEFAULT_THRESHOLD_GRID),
    }


def load_library(
    storage: str | None,
    study: str,
    *,
    subspaces: Mapping[str, int] | None = None,
    refresh: bool = False,
) -> RuntimeLibrary:
    """The study's runtime library, from the database's cache when the study is unchanged.

    The runtime only reads designs: it never runs trials. A command that compares with the
    pruning-only and exit-only baselines over their whole sub-spaces asks the study for them
    first (:func:`dse.study.subspaces.ensure_subspaces`) and passes the counts it returns.

    Args:
        storage: the storage URL.
        study: the study name.
        subspaces: per sub-space, how many of its points the study holds (what
            ``ensure_subspaces`` returned), or None for a library over the designs the study
            holds, whatever they are.
        refresh: recompute the points even when the cache is current.

    Raises:
        RuntimeManagerError: no such study, no stored or feasible design.
    """
    from dse.storage import DEFAULT_STORAGE, Store

    url = storage or DEFAULT_STORAGE
    evaluated = subspaces is not None
    with Store(url, read_only=True) as store:
        if store.study_info(study) is None:
            raise RuntimeManagerError(f"study {study!r}: not found; run it first")
        cached = store.runtime_cache(study)
        state = _state(store, study)
        lib_data = (cached or {}).get("library")
        if (
            not refresh
            and lib_data
            and lib_data.get("state") == state
            and (lib_data.get("subspaces_evaluated") or not evaluated)
        ):
            return RuntimeLibrary.from_dict(study, lib_data)
        records = store.designs(study)
        if not records:
            raise RuntimeManagerError(
                f"study {study!r} has no stored design; run it first (`adapex run --study {study}`)"
            )
        points = operating_points(records)
        if not points:
            raise RuntimeManagerError(
                f"study {study!r} has no feasible design; relax the constraints or run more trials"
            )
        info = store.study_info(study) or {}
        limits = ((info.get("config") or {}).get("hardware") or {}).get("max_utilisation")
    lib = RuntimeLibrary(
        study=study,
        points=points,
        static_finn=static_finn_point(records, limits=limits),
        static_best=static_best_point(records, limits=limits),
        subspaces=dict(subspaces or {}),
        state=state,
        subspaces_evaluated=evaluated,
    )
    with Store(url) as store:
        store.save_runtime_cache(study, {"library": lib.to_dict(), "sweeps": {}})
    return lib
