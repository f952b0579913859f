"""A study's runtime library: its operating points and the baselines, cached per study state.

The library is what every ``adapex runtime`` command, the report and the dashboard work on:

* the operating points of every feasible stored design (:mod:`dse.runtime.derive`);
* **static FINN**: the unpruned, exit-free network folded by FINN's SetFolding at the highest
  target fps whose design fits the usable device (the AdaPEx paper's baseline);
* **static best**: the same network with adapex's optimised folding;
* **pruning-only** and **exit-only**: adaptive over their whole sub-spaces
  (:mod:`dse.study.subspaces`), which are evaluated once as trials of the study so that the
  comparison does not depend on what the sampler happened to draw.

Computing the points costs seconds (a staged performance model per design and threshold
setting); they are stored in the database with the study state they were computed for (the
number of designs and the time of the last one), and reused until the study changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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

__all__ = ["BASELINES", "POLICIES", "POLICY_NAMES", "RuntimeLibrary", "load_library"]

#: the baselines adapex is compared with, in report order
BASELINES = ("static_finn", "static_best", "pruning_only", "exit_only")
#: every policy a comparison simulates
POLICIES = (*BASELINES, "adapex")
#: how people read each policy's name
POLICY_NAMES = {
    "static_finn": "static FINN",
    "static_best": "static best",
    "pruning_only": "pruning-only",
    "exit_only": "exit-only",
    "adapex": "adapex",
}
#: bumped when what the cache holds changes meaning
CACHE_VERSION = 2
UNPRUNED_TOL = 1e-9


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
        """The configurations each policy may use.

        ``static_finn`` and ``static_best``: their one accelerator. ``pruning_only``: the
        designs without exits (any pruning) plus static FINN, which a FINN user already has;
        ``exit_only``: the unpruned designs (any exits) plus static FINN; ``adapex``: every
        design and both static accelerators, so that it holds every baseline's library.
        """
        sf, sb = self.static_finn, self.static_best
        return {
            "static_finn": [sf],
            "static_best": [sb],
            "pruning_only": [p for p in self.points if not p.exits] + [sf],
            "exit_only": [p for p in self.points if p.pruning_rate <= UNPRUNED_TOL] + [sf],
            "adapex": [*self.points, sf, sb],
        }

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
    subspaces: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    on_trial: Callable[[Any, int], None] | None = None,
    on_missing: Callable[[int], None] | None = None,
    refresh: bool = False,
) -> RuntimeLibrary:
    """The study's runtime library, from the database's cache when the study is unchanged.

    Args:
        storage: the storage URL.
        study: the study name.
        subspaces: evaluate the pruning-only and exit-only sub-spaces first when the study
            does not hold them (trials of the study; needs the accuracy pipeline's cache).
        cache_dir: the checkpoint cache (for the sub-space trials).
        on_trial: progress callback of the sub-space trials.
        on_missing: called with the number of sub-space points to evaluate.
        refresh: recompute the points even when the cache is current.

    Raises:
        RuntimeManagerError / DseError: no such study, no feasible or unpruned design.
    """
    from dse.storage import DEFAULT_STORAGE, Store

    url = storage or DEFAULT_STORAGE
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
        and (lib_data.get("subspaces_evaluated") or not subspaces)
    ):
        return RuntimeLibrary.from_dict(study, lib_data)
    counts: dict[str, int] = {}
    if subspaces:
        from dse.study.subspaces import ensure_subspaces

        counts = ensure_subspaces(
            study, url, cache_dir=cache_dir, on_trial=on_trial, on_missing=on_missing
        )
    with Store(url, read_only=True) as store:
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
        state = _state(store, study)
    lib = RuntimeLibrary(
        study=study,
        points=points,
        static_finn=static_finn_point(records, limits=limits),
        static_best=static_best_point(records, limits=limits),
        subspaces=counts,
        state=state,
        subspaces_evaluated=subspaces,
    )
    with Store(url) as store:
        store.save_runtime_cache(study, {"library": lib.to_dict(), "sweeps": {}})
    return lib
