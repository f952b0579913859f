"""Every policy in the same run: the baselines and the joint AdaPEx manager, compared with static FINN.

The policies and the configurations each may use are defined once, in
:mod:`dse.runtime.policies` (:func:`~dse.runtime.policies.point_sets`). Every policy sees the same
Poisson arrivals (same seed). ``ratios_vs_static`` compares the AdaPEx manager with static FINN:
``processed`` = inferences processed / static's, ``edp`` = static's EDP / AdaPEx's (above 1 is
better than static), plus the same for every policy under ``policies[name]["ratios_vs_static"]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dse.runtime.errors import RuntimeManagerError
from dse.runtime.points import OperatingPoint
from dse.runtime.simulator import HysteresisPolicy, SimulationResult, simulate
from dse.runtime.table import DEFAULT_SELECT
from dse.runtime.traces import Trace


def _ratios(result: SimulationResult, static: SimulationResult) -> dict[str, float]:
    sp, pp = static.metrics["processed"], result.metrics["processed"]
    se, pe = static.metrics["edp_js"], result.metrics["edp_js"]
    ss, ps = static.metrics["edp_service_js"], result.metrics["edp_service_js"]
    return {
        "processed": pp / sp if sp else math.nan,
        "edp_service": ss / ps if ps and math.isfinite(ps) and math.isfinite(ss) else math.nan,
        "edp": se / pe if pe and math.isfinite(pe) and math.isfinite(se) else math.nan,
        "energy_per_inference": (
            static.metrics["energy_per_inference_j"] / result.metrics["energy_per_inference_j"]
            if result.metrics["energy_per_inference_j"]
            else math.nan
        ),
    }


def _trace_info(trace: Trace, arrivals: np.ndarray, seed: int) -> dict[str, Any]:
    """What a comparison records of its workload."""
    return {
        "name": trace.name,
        "dt_s": trace.dt_s,
        "duration_s": trace.duration_s,
        "mean_fps": float(np.mean(trace.mean_rates())),
        "peak_fps": trace.peak_fps,
        "arrivals": int(arrivals.sum()),
        "seed": seed,
    }


def compare_policies(
    point_sets: Mapping[str, Sequence[OperatingPoint]],
    trace: Trace,
    *,
    accuracy_threshold: float = 0.0,
    policy: HysteresisPolicy | None = None,
    buffer_size: int = 1024,
    seed: int = 0,
    timeline_step_s: float = 60.0,
    objective: str = DEFAULT_SELECT,
) -> dict:
    """Simulate every policy on the same arrivals and compare them with static FINN.

    Args:
        point_sets: policy name -> its configurations (``static_finn`` is required); a policy
            with no configuration is reported as unavailable.
        trace: the workload.
        accuracy_threshold: the user's threshold (adaptive policies never go below it when a
            compliant configuration exists; static FINN runs as it is).
        policy: hysteresis knobs of the adaptive managers.
        buffer_size: input FIFO capacity (inferences).
        seed: seed of the Poisson arrivals.
        timeline_step_s: timeline resolution.
        objective: the selection table's objective (one of
            :data:`~dse.runtime.table.OBJECTIVES`).

    Returns:
        ``{"policies": {name: metrics + timeline}, "ratios_vs_static": {"processed", "edp"},
        "timeline": adapex's timeline, "trace": {...}, "accuracy_threshold": A}``.
    """
    if not point_sets.get("static_finn"):
        raise RuntimeManagerError("static_finn: no configuration; the baseline is required")
    arrivals = trace.arrivals(seed)
    results: dict[str, SimulationResult] = {}
    out: dict[str, dict] = {}
    for name, pts in point_sets.items():
        if not pts:
            out[name] = {
                "available": False,
                "reason": f"the study has no design for {name.replace('_', '-')}",
            }
            continue
        res = simulate(
            pts,
            trace,
            accuracy_threshold=accuracy_threshold,
            policy=policy,
            buffer_size=buffer_size,
            arrivals=arrivals,
            timeline_step_s=timeline_step_s,
            objective=objective,
        )
        results[name] = res
        out[name] = {"available": True, **res.to_dict()}
    static = results["static_finn"]
    for name, res in results.items():
        out[name]["ratios_vs_static"] = _ratios(res, static)
    ratios = dict(out["adapex"]["ratios_vs_static"]) if "adapex" in results else {}
    main = "adapex" if "adapex" in results else "static_finn"
    return {
        "policies": out,
        "ratios_vs_static": {
            "processed": ratios.get("processed"),
            "edp": ratios.get("edp"),
            "edp_service": ratios.get("edp_service"),
        },
        # the manager's timeline at the top level, for the dashboard
        "timeline": out[main]["timeline"],
        "accuracy_threshold": accuracy_threshold,
        "trace": _trace_info(trace, arrivals, seed),
        "settings": {
            "buffer_size": buffer_size,
            "objective": objective,
            "policy": (policy or HysteresisPolicy()).to_dict(),
        },
    }
