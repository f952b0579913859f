"""What a stored study holds, for the commands that read it: which study a command means,
its progress and best values, its Pareto front, and its designs with their repeats."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from dse.errors import DseError


def resolve_study(store: Any, study: str | None) -> str:
    """The study a reading command works on: ``study``, or the database's only study.

    Raises:
        DseError: no such study, no study at all, or several and none named (one line
            naming the argument ``study`` and listing them).
    """
    from dse.storage.engine import redact

    names = [s.name for s in store.list_studies()]
    where = redact(store.url)
    if study is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise DseError(
                f"`study`: {where} holds no study; run `adapex run` first", arguments=("study",)
            )
        raise DseError(
            f"`study`: {where} holds several studies ({', '.join(names)}); name one with `study`",
            arguments=("study",),
        )
    if study not in names:
        known = f" (studies: {', '.join(names)})" if names else ""
        raise DseError(
            f"`study` {study}: not found in {where}{known}; check the name", arguments=("study",)
        )
    return study


def best_values(designs: Iterable[Any], specs: Sequence[Any]) -> dict[str, float]:
    """Per objective (``ObjectiveSpec``), the best value among ``designs`` (objectives no
    design holds are left out)."""
    designs = list(designs)
    best: dict[str, float] = {}
    for spec in specs:
        vals = [d.objectives[spec.name] for d in designs if spec.name in d.objectives]
        if vals:
            best[spec.name] = max(vals) if spec.direction == "maximize" else min(vals)
    return best


def distinct_designs(designs: Iterable[Any]) -> list[tuple[Any, int]]:
    """The designs with their repeats counted, first trial first: ``(design, n)``, where
    ``n`` counts the later trials that drew the same parameters (recorded as the design's
    repeats, or, in databases written before repeats were recorded, stored again)."""
    groups: dict[str, list[Any]] = {}
    for d in sorted(designs, key=lambda r: r.trial_number):
        groups.setdefault(json.dumps(d.params, sort_keys=True), []).append(d)
    return [(g[0], len(g) - 1 + sum(len(x.repeats) for x in g)) for g in groups.values()]


def study_status(storage: str | None, study: str | None = None) -> dict[str, Any]:
    """A stored study's progress: its trainings (trained models, and trials by state), its
    designs, Pareto size, hypervolume and its history, the best value per objective, and
    the time spent training against the time spent estimating designs.

    Args:
        storage: The database URL (None: ``sqlite:///studies.db``).
        study: The study (None: the database's only one).

    Raises:
        DseError: ``study`` names no study of the database, or is needed and missing.
    """
    from dse.storage import Store

    with Store(storage, read_only=True) as store:
        name = resolve_study(store, study)
        summary = next(s for s in store.list_studies() if s.name == name)
        info = store.study_info(name) or {}
        designs = store.pareto(name)
        n_repeats = sum(len(d.repeats) for d in store.designs(name))
        history = store.hypervolume_history(name)
        states = store.optuna_trial_counts().get(name, {}).get("states", {})
        models = store.models(name)
        config = store.study_config(name)
    seconds = {
        "training": round(sum(float(m.metrics.get("training_seconds") or 0) for m in models), 3),
        "estimating": round(
            sum(float((m.metrics.get("inner") or {}).get("seconds") or 0) for m in models), 3
        ),
    }
    evaluated = sum(int((m.metrics.get("inner") or {}).get("evaluated") or 0) for m in models)
    return {
        **summary.to_dict(),
        "states": states,
        "target_trials": config.study.trials,
        "sampler": config.study.sampler,
        "trainings": summary.n_models,
        "designs_evaluated": evaluated,
        "seconds": seconds,
        "best": best_values(designs, info.get("objective_specs", [])),
        "n_repeats": n_repeats,
        "clock_notes": sorted({d.clock_note for d in designs if d.clock_note}),
        "hypervolume_history": [
            {"trial_number": h["trial_number"], "hypervolume": h["hypervolume"]} for h in history
        ],
    }


def pareto_front(storage: str | None, study: str | None = None) -> tuple[str, list[Any]]:
    """The study's name and its feasible Pareto front (DesignRecords).

    Raises:
        DseError: as :func:`study_status`.
    """
    from dse.storage import Store

    with Store(storage, read_only=True) as store:
        name = resolve_study(store, study)
        return name, store.pareto(name)


#: ``study pareto --sort`` keys: (metric, largest first)
FRONT_ORDERS: dict[str, tuple[str, bool]] = {
    "fps": ("throughput_fps", True),
    "accuracy": ("accuracy", True),
    "energy": ("energy_per_inference_j", False),
    "latency": ("latency_s", False),
    "lut": ("LUT", False),
}


def select_front(
    designs: Iterable[Any],
    *,
    min_accuracy: float | None = None,
    sort: str = "fps",
    top: int | None = None,
) -> list[Any]:
    """The designs of a front that a user asked to see: calibration accuracy at least
    ``min_accuracy``, ordered by ``sort`` (:data:`FRONT_ORDERS`, best first, ties by id),
    the first ``top`` of them.

    Raises:
        DseError: an unknown ``sort``, an accuracy outside [0, 1], or ``top`` below 1.
    """
    if sort not in FRONT_ORDERS:
        raise DseError(
            f"`sort` {sort!r}: unknown; use one of {', '.join(FRONT_ORDERS)}",
            arguments=("sort",),
        )
    if min_accuracy is not None and not 0.0 <= min_accuracy <= 1.0:
        raise DseError(
            f"`min_accuracy` {min_accuracy!r}: give a fraction in [0, 1], e.g. 0.9",
            arguments=("min_accuracy",),
        )
    if top is not None and top < 1:
        raise DseError(f"`top` {top}: give at least 1", arguments=("top",))
    key, largest = FRONT_ORDERS[sort]
    kept = [
        d
        for d in designs
        if min_accuracy is None or float(d.metrics.get("accuracy") or 0.0) >= min_accuracy
    ]

    def order(d: Any) -> tuple[float, int]:
        value = d.metrics.get(key)
        v = float(value) if value is not None else (-math.inf if largest else math.inf)
        return (-v if largest else v, int(d.id))

    kept.sort(key=order)
    return kept[:top] if top is not None else kept


def list_studies(storage: str | None) -> list[Any]:
    """The studies of a database (``StudySummary``)."""
    from dse.storage import Store

    with Store(storage, read_only=True) as store:
        return store.list_studies()
