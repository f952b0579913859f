"""The load sweep: adapex against every baseline, per workload shape and load level.

Every built-in trace (``constant`` included) is scaled so that its peak rate is a multiple
(``LOADS``: 0.5x to 4x) of a load basis (``LOAD_BASES``): static FINN's throughput, static
best's (the same network with adapex's folding, the strongest static baseline), or the
highest throughput of any configuration of the library; by default both static ones. Every
policy of the runtime library (:mod:`dse.runtime.library`) serves the same Poisson arrivals.
Each row gives, for one trace, load, load basis and baseline, the ratios of adapex to that
baseline (above 1 is better for adapex in each):

* ``processed_ratio``: inferences processed by adapex / by the baseline;
* ``service_edp_ratio``: the baseline's service EDP / adapex's;
* ``energy_per_inference_ratio``: the baseline's energy per inference / adapex's;

and ``mean_accuracy``, adapex's mean accuracy over what it processed. Each row also
carries the ``attribution`` of adapex's processed ratio over static FINN at that trace and
load to three factors that multiply to it (``total``): ``folding`` (static FINN -> static
best), ``pruning`` (static best -> pruning-only) and ``exits`` (pruning-only -> adapex),
and ``limited_by``: what bounds the highest-throughput configuration adapex used there (a
layer and its resource, the input stream or the host link; :mod:`hw_builders.bounds`).
The runtime table selects by ``select`` (least energy, service EDP or latency, or highest
guaranteed accuracy among the configurations that sustain the load above the accuracy
threshold). The ``breakdown``
explains each ratio: per trace, load and policy, the share of time each configuration
(design and exit thresholds) served, the processed and dropped counts, energy per inference
and service EDP (the metrics are defined in :mod:`dse.runtime.metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dse.runtime.library import RuntimeLibrary
from dse.runtime.policies import baseline_names, policy_names
from dse.runtime.simulator import HysteresisPolicy
from dse.runtime.table import DEFAULT_SELECT, OBJECTIVE_GOALS
from dse.runtime.traces import BUILTIN_TRACES, builtin_trace

__all__ = [
    "DEFAULT_LOAD_BASES",
    "LOADS",
    "LOAD_BASES",
    "SWEEP_DT_S",
    "SWEEP_DURATION_S",
    "cached_sweep",
    "attribution",
    "basis_fps",
    "why_behind",
    "default_threshold",
    "run_sweep",
]

#: peak loads, as multiples of the load basis's throughput
LOADS: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
#: what the loads are multiples of: static FINN's throughput, static best's, or the
#: highest throughput of any configuration of the library
LOAD_BASES: tuple[str, ...] = ("static_finn", "static_best", "max")
#: the bases a sweep covers by default
DEFAULT_LOAD_BASES: tuple[str, ...] = ("static_finn", "static_best")
#: every built-in trace covers its daily pattern at this resolution
SWEEP_DURATION_S = 86_400.0
SWEEP_DT_S = 10.0


def default_threshold(lib: RuntimeLibrary) -> float:
    """The sweep's default accuracy threshold: static FINN's guaranteed accuracy minus 0.01."""
    return lib.static_finn.default_threshold()


def _ratio(num: float, den: float) -> float | None:
    if not (math.isfinite(num) and math.isfinite(den)) or den == 0:
        return None
    return num / den


def _breakdown(policy: dict[str, Any]) -> dict[str, Any]:
    """Which configurations served which share of the time, and the policy's metrics."""
    shares = policy.get("time_share") or []
    return {
        "processed": policy["processed"],
        "dropped": policy["dropped"],
        "drop_rate": policy["drop_rate"],
        "mean_accuracy": policy["mean_accuracy"],
        "energy_per_inference_j": policy["energy_per_inference_j"],
        "service_edp_js": policy["edp_service_js"],
        "reconfigurations": policy["reconfigurations"],
        "configurations": shares,
    }


def check_load_basis(basis: str) -> None:
    """RuntimeManagerError naming the argument ``load_basis`` unless ``basis`` is one of
    :data:`LOAD_BASES`."""
    from dse.runtime.errors import RuntimeManagerError

    if basis not in LOAD_BASES:
        raise RuntimeManagerError(
            f"`load_basis` {basis!r} is unknown; use one of {', '.join(LOAD_BASES)}",
            arguments=("load_basis",),
        )


def basis_fps(lib: RuntimeLibrary, basis: str) -> float:
    """The throughput the loads of ``basis`` are multiples of.

    Raises:
        RuntimeManagerError: naming the argument ``load_basis`` when the basis is unknown.
    """
    check_load_basis(basis)
    if basis == "static_finn":
        return lib.static_finn.throughput_fps
    if basis == "static_best":
        return lib.static_best.throughput_fps
    return max(p.throughput_fps for pts in lib.point_sets().values() for p in pts)


def attribution(per: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """adapex's processed ratio over static FINN as folding x pruning x exits (= total):
    static FINN -> static best -> pruning-only -> adapex (None where a count is 0)."""
    chain = [per[name]["processed"] for name in ("static_finn", "static_best", "pruning_only")]
    chain.append(per["adapex"]["processed"])
    steps = [_ratio(float(b), float(a)) for a, b in zip(chain, chain[1:], strict=False)]
    return {
        "folding": steps[0],
        "pruning": steps[1],
        "exits": steps[2],
        "total": _ratio(float(chain[-1]), float(chain[0])),
    }


_RATIOS = (
    ("processed_ratio", "inferences processed"),
    ("service_edp_ratio", "service EDP"),
    ("energy_per_inference_ratio", "energy per inference"),
)


def why_behind(
    row: dict[str, Any], a: dict[str, Any], b: dict[str, Any], select: str, threshold: float
) -> str | None:
    """Where adapex loses against the baseline on a metric (a ratio below 1), why: what
    each mostly ran, what adapex selects by and holds to, and what it dropped or spent
    reconfiguring. None where it loses on nothing."""
    lost = [label for key, label in _RATIOS if row[key] is not None and row[key] < 1 - 1e-9]
    if not lost:
        return None

    def main(policy: dict[str, Any]) -> str:
        shares = policy.get("time_share") or []
        if not shares:
            return "nothing"
        top = shares[0]
        return f"{top['label'] or top['design_id']} ({100 * top['share']:.0f}% of the time)"

    parts = [
        f"adapex loses on {', '.join(lost)}: it selects {OBJECTIVE_GOALS[select]} among the "
        f"configurations that sustain the load at accuracy >= {threshold:.4f} and mostly ran "
        f"{main(a)} at accuracy {a['mean_accuracy']:.4f}; {row['baseline']} mostly ran "
        f"{main(b)} at accuracy {b['mean_accuracy']:.4f}"
    ]
    if "inferences processed" in lost:
        parts.append(
            f"adapex dropped {100 * a['drop_rate']:.2f}% of arrivals ({a['reconfigurations']} "
            f"reconfigurations, nothing served while one loads), {row['baseline']} "
            f"{100 * b['drop_rate']:.2f}%"
        )
    return "; ".join(parts)


def _peak_configuration(res: Any) -> dict[str, Any]:
    """The highest-throughput configuration a run used, and what limits it."""
    used = sorted(set(np.asarray(res.point).tolist()))
    if not used:
        return {}
    p = max((res.points[i] for i in used), key=lambda q: q.throughput_fps)
    return {
        "design_id": p.design_id,
        "thresholds": list(p.thresholds),
        "label": p.label,
        "throughput_fps": p.throughput_fps,
        **dict(p.limited_by),
    }


def _row(
    trace: str, load: float, base: str, a: dict[str, Any], b: dict[str, Any]
) -> dict[str, Any]:
    """The ratios of adapex (``a``) to one baseline (``b``) at one trace and load."""
    return {
        "trace": trace,
        "load": float(load),
        "baseline": base,
        "processed_ratio": _ratio(a["processed"], b["processed"]),
        "service_edp_ratio": _ratio(b["edp_service_js"], a["edp_service_js"]),
        "energy_per_inference_ratio": _ratio(
            b["energy_per_inference_j"], a["energy_per_inference_j"]
        ),
        "mean_accuracy": a["mean_accuracy"],
    }


def _baselines(lib: RuntimeLibrary, sets: dict[str, Any]) -> dict[str, Any]:
    """The static baselines' points and the sub-spaces' sizes."""

    def size(name: str) -> dict[str, int]:
        return {
            "configurations": len(sets[name]),
            "designs": len({p.design_id for p in sets[name]}),
        }

    return {
        "static_finn": lib.static_finn.to_dict(),
        "static_best": lib.static_best.to_dict(),
        "pruning_only": size("pruning_only"),
        "exit_only": size("exit_only"),
    }


def run_sweep(
    lib: RuntimeLibrary,
    *,
    accuracy_threshold: float | None = None,
    loads: Sequence[float] = LOADS,
    traces: Sequence[str] = tuple(BUILTIN_TRACES),
    duration_s: float = SWEEP_DURATION_S,
    dt_s: float = SWEEP_DT_S,
    seed: int = 0,
    buffer_size: int = 1024,
    policy: HysteresisPolicy | None = None,
    load_bases: Sequence[str] = DEFAULT_LOAD_BASES,
    select: str = DEFAULT_SELECT,
) -> dict[str, Any]:
    """Simulate every policy on every trace, load and load basis; the ratios of adapex to
    each baseline, the attribution of its gain and what limits it.

    Returns:
        ``{"accuracy_threshold", "select", "baselines": {name: point or library size},
        "rows": [...], "breakdown": {load basis: {trace: {load: {policy: ...}}}},
        "settings": {...}}`` (see the module doc).
    """
    from dse.runtime.table import check_objective

    check_objective(select, argument="select")
    threshold = default_threshold(lib) if accuracy_threshold is None else float(accuracy_threshold)
    sets = lib.point_sets()
    bases = {basis: basis_fps(lib, basis) for basis in load_bases}
    rows: list[dict[str, Any]] = []
    breakdown: dict[str, dict[str, Any]] = {basis: {} for basis in bases}
    for basis, base_fps in bases.items():
        for name in traces:
            breakdown[basis][name] = {}
            for load in loads:
                trace = builtin_trace(
                    name, duration_s=duration_s, dt_s=dt_s, seed=seed, peak_fps=load * base_fps
                )
                per, peak = _simulate_all(
                    sets, trace, threshold, policy, buffer_size, seed, dt_s, duration_s, select
                )
                breakdown[basis][name][f"{load:g}"] = {pol: _breakdown(m) for pol, m in per.items()}
                extra = {"load_basis": basis, "attribution": attribution(per), "limited_by": peak}
                for base in baseline_names():
                    row = {**_row(name, load, base, per["adapex"], per[base]), **extra}
                    row["why"] = why_behind(row, per["adapex"], per[base], select, threshold)
                    rows.append(row)
    return {
        "accuracy_threshold": threshold,
        "select": select,
        "baselines": _baselines(lib, sets),
        "rows": rows,
        "breakdown": breakdown,
        "settings": {
            "loads": list(loads),
            "load_bases": list(bases),
            "load_basis_fps": bases,
            "traces": list(traces),
            "duration_s": duration_s,
            "dt_s": dt_s,
            "seed": seed,
            "buffer_size": buffer_size,
            "policy": (policy or HysteresisPolicy()).to_dict(),
            "static_finn_fps": lib.static_finn.throughput_fps,
            "select": select,
        },
    }


def _simulate_all(
    sets: dict[str, Any],
    trace: Any,
    threshold: float,
    policy: HysteresisPolicy | None,
    buffer_size: int,
    seed: int,
    dt_s: float,
    duration_s: float,
    select: str,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Every policy on the same arrivals: per policy its metrics and time shares; and the
    highest-throughput configuration adapex used."""
    from dse.runtime.simulator import simulate

    arrivals = trace.arrivals(seed)
    per: dict[str, dict[str, Any]] = {}
    peak: dict[str, Any] = {}
    for pol in policy_names():
        res = simulate(
            sets[pol],
            trace,
            accuracy_threshold=threshold,
            policy=policy,
            buffer_size=buffer_size,
            arrivals=arrivals,
            timeline_step_s=max(dt_s, duration_s / 24),
            objective=select,
        )
        per[pol] = {**res.metrics, "time_share": res.time_shares()}
        if pol == "adapex":
            peak = _peak_configuration(res)
    return per, peak


def cached_sweep(
    storage: str | None,
    lib: RuntimeLibrary,
    *,
    accuracy_threshold: float | None = None,
    load_bases: Sequence[str] = DEFAULT_LOAD_BASES,
    select: str = DEFAULT_SELECT,
) -> dict[str, Any]:
    """:func:`run_sweep` with the default settings (and the given load bases and selection
    objective), stored in the study's runtime cache and reused while the study (its
    designs) is unchanged."""
    import json

    from dse.storage import DEFAULT_STORAGE, Store

    url = storage or DEFAULT_STORAGE
    threshold = default_threshold(lib) if accuracy_threshold is None else float(accuracy_threshold)
    key = json.dumps(
        {
            "threshold": round(threshold, 12),
            "loads": list(LOADS),
            "load_bases": list(load_bases),
            "select": select,
        }
    )
    with Store(url, read_only=True) as store:
        cache = store.runtime_cache(lib.study) or {}
        writable = store.writable()
    library = cache.get("library") or {}
    sweeps = dict(cache.get("sweeps") or {}) if library.get("state") == lib.state else {}
    if key in sweeps:
        return sweeps[key]
    result = run_sweep(lib, accuracy_threshold=threshold, load_bases=load_bases, select=select)
    sweeps[key] = result
    if writable:  # a read-only database is only read: the sweep is computed every time
        with Store(url) as store:
            store.save_runtime_cache(lib.study, {"library": lib.to_dict(), "sweeps": sweeps})
    return result
