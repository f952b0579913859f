"""Reconfiguration-aware discrete-time simulator of the runtime manager.

Event model (one step per trace interval of ``dt`` seconds; documented approximations):

1. **Decision** at the start of interval t, with what the manager has observed up to t-1: the
   demand estimate is an exponentially weighted moving average of the observed input rate plus
   the backlog to drain (``queue / drain_s``); the wanted rate adds ``headroom``. The selection
   table gives the desired configuration for (wanted rate, accuracy threshold of interval t).
   * Same design as the current one: the exit thresholds change at once (free).
   * Another design (hysteresis): the manager first re-tunes the thresholds of the current
     design; it stays there when that sustains the wanted rate at an energy within
     ``energy_margin`` of the desired one. Otherwise it reconfigures only after the same
     design has been desired for ``hold_intervals`` consecutive intervals and at least
     ``min_dwell_s`` have passed since the last reconfiguration. Hence at most
     ``1 + duration / min_dwell_s`` and at most ``n_intervals / hold_intervals``
     reconfigurations happen for a constant accuracy threshold.
   * Accuracy is a hard constraint: when the current design cannot meet the threshold but
     another can (the threshold changed), the manager reconfigures at once.
   * At t = 0 the manager starts configured (no reconfiguration counted) for the first
     interval's observed rate.
2. **Reconfiguration** costs the target design's ``reconfig_time_s`` of dead time during which
   nothing is served (arrivals still queue); the board draws ``reconfig_power_w`` meanwhile.
   No decision is taken while a reconfiguration is in progress.
3. **Arrivals**: the trace's counts, or Poisson(rate * dt) per interval (seeded; every policy of
   a comparison sees the same arrivals).
4. **Service** (fluid within the interval): capacity = throughput x (dt - dead time) (fractional
   capacity carries over only while the queue is busy); served = min(queued + arrivals,
   capacity); the remainder waits in a finite FIFO of ``buffer_size`` inferences and the excess
   is dropped (counted). Conservation holds exactly: arrivals = processed + dropped + queued.
5. **Energy** = busy power x busy time (served / throughput) + idle power x idle time +
   reconfiguration power x dead time.
6. **Latency** of an inference = queueing delay + the configuration's latency to the exit it
   leaves at. The queueing delay of interval t is estimated as half the dead time plus the mean
   backlog over the service rate, ``(q_start + q_end) / (2 T)``; percentiles weight each interval
   (and each exit) by the inferences served there.

Metrics: arrivals, processed, dropped, still queued, mean accuracy (served-weighted), energy,
energy per inference, latency mean/p50/p95/p99, EDP (energy per inference x mean latency,
queueing included: what the application sees), service EDP (energy per inference x mean
latency of the accelerator alone, no queueing: the design's own figure), reconfigurations, time spent reconfiguring; a per-interval timeline downsampled to
``timeline_step_s`` for the dashboard.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dse.runtime.errors import RuntimeManagerError
from dse.runtime.points import OperatingPoint, check_points
from dse.runtime.table import ACC_TOL, SelectionTable, point_cost
from dse.runtime.traces import Trace


@dataclass(frozen=True)
class HysteresisPolicy:
    """Knobs of the manager's switching policy (see the module doc).

    Attributes:
        hold_intervals: consecutive intervals a new design must stay desired before switching.
        min_dwell_s: minimum time between two reconfigurations.
        energy_margin: stay on the current design when its best setting costs at most this
            fraction more energy than the desired one (and sustains the wanted rate).
        headroom: plan for ``(1 + headroom)`` x the estimated rate.
        ewma_alpha: weight of the newest interval in the rate estimate.
        drain_s: the backlog is planned to drain within this time.
    """

    hold_intervals: int = 3
    min_dwell_s: float = 30.0
    energy_margin: float = 0.10
    headroom: float = 0.10
    ewma_alpha: float = 0.3
    drain_s: float = 5.0

    def __post_init__(self) -> None:
        if self.hold_intervals < 1:
            raise RuntimeManagerError("hold_intervals must be >= 1; use 1 for no hold")
        for name in ("min_dwell_s", "energy_margin", "headroom"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise RuntimeManagerError(f"{name}={v!r} must be a number >= 0")
        if not (0 < self.ewma_alpha <= 1):
            raise RuntimeManagerError(f"ewma_alpha={self.ewma_alpha!r} must be in (0, 1]")
        if not (math.isfinite(self.drain_s) and self.drain_s > 0):
            raise RuntimeManagerError(f"drain_s={self.drain_s!r} must be > 0")

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return asdict(self)


#: a policy without hysteresis (switches whenever the table says so), for comparisons
NO_HYSTERESIS = HysteresisPolicy(
    hold_intervals=1, min_dwell_s=0.0, energy_margin=0.0, ewma_alpha=1.0
)


@dataclass
class SimulationResult:
    """Outcome of one simulation.

    Attributes:
        metrics: the summary numbers (see the module doc).
        timeline: per-``timeline_step_s`` lists for the dashboard.
        served, dropped, queue, point: per-interval arrays (point indexes ``points``).
        arrivals: per-interval arrivals.
        points: the operating points the run could use.
    """

    metrics: dict
    timeline: dict
    served: np.ndarray
    dropped: np.ndarray
    queue: np.ndarray
    point: np.ndarray
    arrivals: np.ndarray
    points: list[OperatingPoint]

    def to_dict(self) -> dict:
        """Metrics, timeline and the configurations used (JSON-serialisable)."""
        used = sorted(set(self.point.tolist()))
        return {
            **self.metrics,
            "configurations_used": [
                {"point": i, **self.points[i].to_dict()} for i in used if i < len(self.points)
            ],
            "timeline": self.timeline,
        }


def _weighted_percentiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]):
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    if len(values) == 0:
        return [math.nan] * len(qs)
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cw = np.cumsum(w)
    total = cw[-1]
    return [float(v[min(np.searchsorted(cw, q / 100.0 * total), len(v) - 1)]) for q in qs]


def simulate(
    points: Sequence[OperatingPoint] | SelectionTable,
    trace: Trace,
    *,
    accuracy_threshold: float | Sequence[float] | np.ndarray = 0.0,
    policy: HysteresisPolicy | None = None,
    buffer_size: int = 1024,
    seed: int = 0,
    arrivals: np.ndarray | None = None,
    reconfig_power_w: float | None = None,
    timeline_step_s: float = 60.0,
    objective: str = "energy",
) -> SimulationResult:
    """Simulate the runtime manager on ``trace`` with the configurations ``points``.

    Args:
        points: the operating points (or a prebuilt selection table over them).
        trace: the workload.
        accuracy_threshold: the user's threshold, constant or one value per interval.
        policy: hysteresis knobs (default :class:`HysteresisPolicy`).
        buffer_size: input FIFO capacity in inferences (>= 0).
        seed: seed of the Poisson arrivals (ignored when the trace has counts or ``arrivals``
            is given).
        arrivals: explicit arrivals per interval (overrides the trace's).
        reconfig_power_w: board power while reconfiguring (default: the idle power of the
            design being loaded).
        timeline_step_s: resolution of the returned timeline (a multiple of ``trace.dt_s``).
        objective: selection objective of the table (``"energy"`` or ``"edp"``; ignored when
            a table is given).

    Returns:
        The :class:`SimulationResult`.
    """
    if isinstance(points, SelectionTable):
        table = points
    else:
        table = SelectionTable(points, objective=objective)
    pts = table.points
    check_points(pts)
    policy = policy or HysteresisPolicy()
    if not (isinstance(buffer_size, int | np.integer) and buffer_size >= 0):
        raise RuntimeManagerError(f"buffer_size={buffer_size!r} must be an integer >= 0")
    n = trace.n_intervals
    dt = float(trace.dt_s)
    arr = trace.arrivals(seed) if arrivals is None else np.asarray(arrivals, dtype=np.int64)
    if arr.shape != (n,) or np.any(arr < 0):
        raise RuntimeManagerError(f"arrivals must be {n} counts >= 0, one per trace interval")

    acc_arr = np.broadcast_to(np.asarray(accuracy_threshold, dtype=np.float64), (n,))
    if not np.all(np.isfinite(acc_arr)) or np.any(acc_arr < 0) or np.any(acc_arr > 1):
        raise RuntimeManagerError("accuracy threshold must be in [0, 1]; e.g. 0.9")
    uniq_acc, acc_idx = np.unique(acc_arr, return_inverse=True)
    rows = [table.row(float(a)) for a in uniq_acc]
    row_edges = [list(r.edges) for r in rows]
    row_choice = [list(r.choice) for r in rows]
    row_ok = [r.compliant for r in rows]
    design_rows: dict[tuple[int, int], tuple[list[float], list[int], bool]] = {}

    def drow(design: int, ai: int) -> tuple[list[float], list[int], bool]:
        key = (design, ai)
        r = design_rows.get(key)
        if r is None:
            dr = table.design_row(design, float(uniq_acc[ai]))
            r = (list(dr.edges), list(dr.choice), dr.compliant)
            design_rows[key] = r
        return r

    thr = [p.throughput_fps for p in pts]
    acc = [p.accuracy for p in pts]
    busy_p = [p.power_w for p in pts]
    idle_p = [p.idle_power_w for p in pts]
    use_edp = table.objective == "edp"
    own_edp = [point_cost(p, 0.0, "edp") for p in pts]
    dyn_e = [max(p.power_w - p.idle_power_w, 0.0) / p.throughput_fps for p in pts]
    design_of = [p.design_id for p in pts]
    rtime = [float(p.reconfig_time_s) for p in pts]
    rpow = [
        idle_p[i] if reconfig_power_w is None else float(reconfig_power_w) for i in range(len(pts))
    ]

    hold = policy.hold_intervals
    dwell = policy.min_dwell_s
    margin1 = 1.0 + policy.energy_margin
    head1 = 1.0 + policy.headroom
    alpha = policy.ewma_alpha
    drain = policy.drain_s
    B = int(buffer_size)
    single = len({p.design_id for p in pts}) == 1 and len(pts) == 1

    a_list = arr.tolist()
    ai_list = acc_idx.tolist() if len(uniq_acc) > 1 else None
    served = [0] * n
    dropped = [0] * n
    queue = [0] * n
    used = [0] * n
    wait = [0.0] * n
    reconf_at = [0] * n

    ewma = a_list[0] / dt if n else 0.0
    ai0 = 0 if ai_list is None else ai_list[0]
    cur = row_choice[ai0][bisect_left(row_edges[ai0], ewma * head1)]
    q = 0
    credit = 0.0
    dead = 0.0
    last_reconf = -math.inf
    pend_design: int | None = None
    pend = 0
    n_reconf = 0
    reconf_time_total = 0.0
    energy_busy = 0.0
    energy_idle = 0.0
    energy_reconf = 0.0

    # -- the steps of one interval, in order: decide (the table's choice, hysteresis,
    # reconfiguration), then serve (dead time, capacity, queue and drops, energy, waiting) --
    def decide(t: int, ai: int) -> None:
        """Step 1 (module doc): pick the configuration for interval t, or start a
        reconfiguration towards it (hysteresis: re-tune the current design first)."""
        nonlocal cur, dead, pend, pend_design, n_reconf, reconf_time_total, last_reconf
        want = (ewma + q / drain) * head1
        if want < 1e-9:
            want = 1e-9  # no load: energy at a vanishing rate (idle power dominates)
        edges = row_edges[ai]
        d = row_choice[ai][bisect_left(edges, want)]
        dcur = design_of[cur]
        if design_of[d] == dcur:
            cur = d
            pend = 0
        else:
            de, dc, dok = drow(dcur, ai)
            stay = dc[bisect_left(de, want)]
            switch = False
            if not dok and row_ok[ai]:
                switch = True  # accuracy is a hard constraint: reconfigure at once
            else:
                if thr[d] >= want:
                    if use_edp:
                        better = own_edp[stay] <= own_edp[d] * margin1
                    else:
                        better = (
                            idle_p[stay] / want + dyn_e[stay]
                            <= (idle_p[d] / want + dyn_e[d]) * margin1
                        )
                    ok_stay = thr[stay] >= want and better
                else:
                    ok_stay = thr[stay] * margin1 >= thr[d]
                if ok_stay:
                    pend = 0
                else:
                    if pend_design == design_of[d]:
                        pend += 1
                    else:
                        pend_design = design_of[d]
                        pend = 1
                    switch = pend >= hold and t * dt - last_reconf >= dwell
            if switch:
                cur = d
                dead = rtime[d]
                n_reconf += 1
                reconf_at[t] = 1
                reconf_time_total += dead
                last_reconf = t * dt
                pend = 0
            else:
                cur = stay

    def serve(t: int) -> None:
        """Steps 2-6 (module doc): dead time, service of the queue and the arrivals with
        the capacity left, drops beyond the buffer, energy, waiting time, demand estimate."""
        nonlocal dead, credit, q, ewma, energy_busy, energy_idle, energy_reconf
        if dead > 0.0:
            dead_here = dead if dead < dt else dt
            dead -= dead_here
            if dead < 1e-12:
                dead = 0.0
            avail = dt - dead_here
            energy_reconf += rpow[cur] * dead_here
        else:
            dead_here = 0.0
            avail = dt
        T = thr[cur]
        cap = T * avail + credit
        a = a_list[t]
        total = q + a
        c = int(cap)
        if total > c:
            s = c
            credit = cap - c
        else:
            s = total
            credit = 0.0
        qn = total - s
        if qn > B:
            dropped[t] = qn - B
            qn = B
        busy = s / T
        energy_busy += busy_p[cur] * busy
        energy_idle += idle_p[cur] * (avail - busy)
        wait[t] = 0.5 * dead_here + 0.5 * (q + qn) / T
        served[t] = s
        queue[t] = qn
        used[t] = cur
        q = qn
        ewma += alpha * (a / dt - ewma)

    for t in range(n):
        if not single and dead <= 0.0:
            decide(t, ai0 if ai_list is None else ai_list[t])
        serve(t)

    served_a = np.asarray(served, dtype=np.int64)
    dropped_a = np.asarray(dropped, dtype=np.int64)
    queue_a = np.asarray(queue, dtype=np.int64)
    used_a = np.asarray(used, dtype=np.int64)
    wait_a = np.asarray(wait)
    reconf_a = np.asarray(reconf_at, dtype=np.int64)

    processed = int(served_a.sum())
    energy = energy_busy + energy_idle + energy_reconf
    # latency distribution: per interval and exit, weighted by inferences served there
    vals: list[np.ndarray] = []
    wts: list[np.ndarray] = []
    acc_sum = 0.0
    service_lat_sum = 0.0
    below = 0
    for p in np.unique(used_a).tolist():
        mask = used_a == p
        sp = served_a[mask].astype(np.float64)
        acc_sum += acc[p] * float(sp.sum())
        pt = pts[p]
        lats = pt.latency_s_per_exit or (pt.latency_s,)
        fr = pt.exit_fraction if len(pt.exit_fraction) == len(lats) else (1.0,) * 0
        if not fr:
            lats, fr = (pt.latency_s,), (1.0,)
        for lat, f in zip(lats, fr, strict=True):
            vals.append(wait_a[mask] + lat)
            wts.append(sp * f)
            service_lat_sum += lat * f * float(sp.sum())
        # intervals that served below the threshold while a compliant configuration existed
        ok_rows = np.array(row_ok)[acc_idx[mask]]
        below += int(np.sum((acc[p] < acc_arr[mask] - ACC_TOL) & ok_rows & (sp > 0)))
    if vals:
        v = np.concatenate(vals)
        w = np.concatenate(wts)
        mean_lat = float(np.sum(v * w) / np.sum(w)) if np.sum(w) > 0 else math.nan
        p50, p95, p99 = _weighted_percentiles(v, w, (50, 95, 99))
    else:
        mean_lat = p50 = p95 = p99 = math.nan
    epi = energy / processed if processed else math.nan
    arrivals_total = int(arr.sum())
    metrics = {
        "arrivals": arrivals_total,
        "processed": processed,
        "dropped": int(dropped_a.sum()),
        "queued_at_end": int(queue_a[-1]) if n else 0,
        "drop_rate": float(dropped_a.sum() / arrivals_total) if arrivals_total else 0.0,
        "mean_accuracy": acc_sum / processed if processed else math.nan,
        "energy_j": energy,
        "energy_busy_j": energy_busy,
        "energy_idle_j": energy_idle,
        "energy_reconfig_j": energy_reconf,
        "energy_per_inference_j": epi,
        "latency_mean_s": mean_lat,
        "latency_p50_s": p50,
        "latency_p95_s": p95,
        "latency_p99_s": p99,
        "edp_js": epi * mean_lat if processed else math.nan,
        "latency_service_mean_s": service_lat_sum / processed if processed else math.nan,
        "edp_service_js": epi * service_lat_sum / processed if processed else math.nan,
        "reconfigurations": n_reconf,
        "reconfig_time_s": reconf_time_total,
        "intervals_below_threshold": below,
        "duration_s": n * dt,
        "dt_s": dt,
        "buffer_size": B,
        "designs_used": len({design_of[i] for i in np.unique(used_a).tolist()}),
        "policy": policy.to_dict(),
        "objective": table.objective,
    }
    timeline = _timeline(
        pts, arr, served_a, dropped_a, queue_a, used_a, reconf_a, acc_arr, dt, timeline_step_s
    )
    return SimulationResult(metrics, timeline, served_a, dropped_a, queue_a, used_a, arr, list(pts))


def _timeline(
    pts: Sequence[OperatingPoint],
    arr: np.ndarray,
    served: np.ndarray,
    dropped: np.ndarray,
    queue: np.ndarray,
    used: np.ndarray,
    reconf: np.ndarray,
    acc_arr: np.ndarray,
    dt: float,
    step_s: float,
) -> dict:
    """Per-step aggregates: demand/served/dropped rates, queue, configuration, accuracy."""
    n = len(arr)
    k = max(1, int(round(step_s / dt)))
    starts = np.arange(0, n, k)
    span = np.diff(np.append(starts, n)) * dt

    def rate(x: np.ndarray) -> list[float]:
        return (np.add.reduceat(x.astype(np.float64), starts) / span).round(6).tolist()

    accs = np.array([p.accuracy for p in pts])[used]
    s_sum = np.add.reduceat(served.astype(np.float64), starts)
    acc_w = np.add.reduceat(accs * served, starts)
    last = np.minimum(starts + k, n) - 1
    last_pt = used[last]
    return {
        "step_s": k * dt,
        "t_s": (starts * dt).tolist(),
        "demand_fps": rate(arr),
        "served_fps": rate(served),
        "dropped_fps": rate(dropped),
        "queue": queue[last].tolist(),
        "design_id": [pts[i].design_id for i in last_pt.tolist()],
        "thresholds": [list(pts[i].thresholds) for i in last_pt.tolist()],
        "accuracy": np.where(s_sum > 0, acc_w / np.maximum(s_sum, 1), np.nan).round(6).tolist(),
        "accuracy_threshold": acc_arr[starts].tolist(),
        "reconfigurations": np.add.reduceat(reconf, starts).tolist(),
    }
