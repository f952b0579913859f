"""The load sweep: adapex against every baseline, per workload shape and load level.

Every built-in trace (``constant`` included) is scaled so that its peak rate is a multiple
(``LOADS``: 0.5x to 4x) of static FINN's throughput, and every policy of the runtime
library (:mod:`dse.runtime.library`) serves the same Poisson arrivals. Each row gives, for
one trace, load and baseline, the ratios of adapex to that baseline (above 1 is better for
adapex in each):

* ``processed_ratio``: inferences processed by adapex / by the baseline;
* ``service_edp_ratio``: the baseline's service EDP / adapex's;
* ``energy_per_inference_ratio``: the baseline's energy per inference / adapex's;

and ``mean_accuracy``, adapex's mean accuracy over what it processed. The ``breakdown``
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
from dse.runtime.traces import BUILTIN_TRACES, builtin_trace

__all__ = [
    "LOADS",
    "SWEEP_DT_S",
    "SWEEP_DURATION_S",
    "cached_sweep",
    "default_threshold",
    "run_sweep",
]

#: peak loads, as multiples of static FINN's throughput
LOADS: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
#: every built-in trace covers its daily pattern at this resolution
SWEEP_DURATION_S = 86_400.0
SWEEP_DT_S = 10.0


def default_threshold(lib: RuntimeLibrary) -> float:
    """The sweep's default accuracy threshold: static FINN's accuracy minus 0.01."""
    return max(0.0, lib.static_finn.accuracy - 0.01)


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


def _time_shares(points: Sequence[Any], used: np.ndarray) -> list[dict[str, Any]]:
    if len(used) == 0:
        return []
    idx, counts = np.unique(used, return_counts=True)
    out = []
    for i, c in sorted(zip(idx.tolist(), counts.tolist(), strict=True), key=lambda x: -x[1]):
        p = points[i]
        out.append(
            {
                "design_id": p.design_id,
                "thresholds": list(p.thresholds),
                "label": p.label,
                "share": c / len(used),
            }
        )
    return out


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
) -> dict[str, Any]:
    """Simulate every policy on every trace and load; the ratios of adapex to each baseline.

    Returns:
        ``{"accuracy_threshold", "baselines": {name: point or library size}, "rows": [...],
        "breakdown": {trace: {load: {policy: ...}}}, "settings": {...}}`` (see the module doc).
    """
    from dse.runtime.simulator import simulate

    threshold = default_threshold(lib) if accuracy_threshold is None else float(accuracy_threshold)
    sets = lib.point_sets()
    static_fps = lib.static_finn.throughput_fps
    rows: list[dict[str, Any]] = []
    breakdown: dict[str, dict[str, Any]] = {}
    for name in traces:
        breakdown[name] = {}
        for load in loads:
            trace = builtin_trace(
                name, duration_s=duration_s, dt_s=dt_s, seed=seed, peak_fps=load * static_fps
            )
            arrivals = trace.arrivals(seed)
            per: dict[str, dict[str, Any]] = {}
            for pol in policy_names():
                res = simulate(
                    sets[pol],
                    trace,
                    accuracy_threshold=threshold,
                    policy=policy,
                    buffer_size=buffer_size,
                    arrivals=arrivals,
                    timeline_step_s=max(dt_s, duration_s / 24),
                )
                per[pol] = {**res.metrics, "time_share": _time_shares(res.points, res.point)}
            breakdown[name][f"{load:g}"] = {pol: _breakdown(m) for pol, m in per.items()}
            rows += [_row(name, load, base, per["adapex"], per[base]) for base in baseline_names()]
    return {
        "accuracy_threshold": threshold,
        "baselines": _baselines(lib, sets),
        "rows": rows,
        "breakdown": breakdown,
        "settings": {
            "loads": list(loads),
            "traces": list(traces),
            "duration_s": duration_s,
            "dt_s": dt_s,
            "seed": seed,
            "buffer_size": buffer_size,
            "policy": (policy or HysteresisPolicy()).to_dict(),
            "static_finn_fps": static_fps,
        },
    }


def cached_sweep(
    storage: str | None,
    lib: RuntimeLibrary,
    *,
    accuracy_threshold: float | None = None,
) -> dict[str, Any]:
    """:func:`run_sweep` with the default settings, stored in the study's runtime cache and
    reused while the study (its designs) is unchanged."""
    import json

    from dse.storage import DEFAULT_STORAGE, Store

    url = storage or DEFAULT_STORAGE
    threshold = default_threshold(lib) if accuracy_threshold is None else float(accuracy_threshold)
    key = json.dumps({"threshold": round(threshold, 12), "loads": list(LOADS)})
    with Store(url, read_only=True) as store:
        cache = store.runtime_cache(lib.study) or {}
    library = cache.get("library") or {}
    sweeps = dict(cache.get("sweeps") or {}) if library.get("state") == lib.state else {}
    if key in sweeps:
        return sweeps[key]
    result = run_sweep(lib, accuracy_threshold=threshold)
    sweeps[key] = result
    with Store(url) as store:
        store.save_runtime_cache(lib.study, {"library": lib.to_dict(), "sweeps": sweeps})
    return result
