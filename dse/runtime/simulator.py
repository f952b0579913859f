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
from dse.runtime.table import ACC_TOL, DEFAULT_SELECT, SelectionTable, point_cost
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

    def time_shares(self) -> list[dict]:
        """The configurations the run used, most used first: design, thresholds, label and
        ``share``, the fraction of the intervals each served."""
        if len(self.point) == 0:
            return []
        idx, counts = np.unique(self.point, return_counts=True)
        out = []
        for i, c in sorted(zip(idx.tolist(), counts.tolist(), strict=True), key=lambda x: -x[1]):
            p = self.points[i]
            out.append(
                {
                    "design_id": p.design_id,
                    "thresholds": list(p.thresholds),
                    "label": p.label,
                    "share": c / len(self.point),
                }
            )
        return out

    def to_dict(self) -> dict:
        """Metrics, timeline, the configurations used and their time shares
        (JSON-serialisable)."""
        used = sorted(set(self.point.tolist()))
        return {
            **self.metrics,
            "configurations_used": [
                {"point": i, **self.points[i].to_dict()} for i in used if i < len(self.points)
            ],
            "time_share": self.time_shares(),
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


def _check_inputs(
    trace: Trace,
    buffer_size: int,
    arrivals: np.ndarray | None,
    accuracy_threshold: float | Sequence[float] | np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The arrivals and the accuracy threshold per interval; RuntimeManagerError when any
    input is out of range."""
    if not (isinstance(buffer_size, int | np.integer) and buffer_size >= 0):
        raise RuntimeManagerError(f"buffer_size={buffer_size!r} must be an integer >= 0")
    n = trace.n_intervals
    arr = trace.arrivals(seed) if arrivals is None else np.asarray(arrivals, dtype=np.int64)
    if arr.shape != (n,) or np.any(arr < 0):
        raise RuntimeManagerError(f"arrivals must be {n} counts >= 0, one per trace interval")
    acc_arr = np.broadcast_to(np.asarray(accuracy_threshold, dtype=np.float64), (n,))
    if not np.all(np.isfinite(acc_arr)) or np.any(acc_arr < 0) or np.any(acc_arr > 1):
        raise RuntimeManagerError("accuracy threshold must be in [0, 1]; e.g. 0.9")
    return arr, acc_arr


class _Run:
    """One simulation stepping through the trace: the manager's state between intervals and
    the per-interval records. :meth:`decide` is step 1 of the module doc (the table's choice,
    hysteresis, reconfiguration), :meth:`serve` steps 2-6 (dead time, capacity, queue and
    drops, energy, waiting time, demand estimate)."""

    def __init__(
        self,
        table: SelectionTable,
        policy: HysteresisPolicy,
        arr: np.ndarray,
        acc_arr: np.ndarray,
        *,
        dt: float,
        buffer_size: int,
        reconfig_power_w: float | None,
    ) -> None:
        pts = table.points
        n = len(arr)
        self.table, self.pts, self.dt, self.B = table, pts, dt, int(buffer_size)
        self.uniq_acc, self.acc_idx = np.unique(acc_arr, return_inverse=True)
        rows = [table.row(float(a)) for a in self.uniq_acc]
        self.row_edges = [list(r.edges) for r in rows]
        self.row_choice = [list(r.choice) for r in rows]
        self.row_ok = [r.compliant for r in rows]
        self.design_rows: dict[tuple[int, int], tuple[list[float], list[int], bool]] = {}
        self.thr = [p.throughput_fps for p in pts]
        self.busy_p = [p.power_w for p in pts]
        self.idle_p = [p.idle_power_w for p in pts]
        # selecting by a design's own figure (EDP, latency) rather than energy at the rate
        self.use_own = table.objective != DEFAULT_SELECT
        self.own_cost = [point_cost(p, 0.0, table.objective) for p in pts]
        self.dyn_e = [max(p.power_w - p.idle_power_w, 0.0) / p.throughput_fps for p in pts]
        self.design_of = [p.design_id for p in pts]
        self.rtime = [float(p.reconfig_time_s) for p in pts]
        self.rpow = [
            self.idle_p[i] if reconfig_power_w is None else float(reconfig_power_w)
            for i in range(len(pts))
        ]
        self.policy = policy
        self.margin1 = 1.0 + policy.energy_margin
        self.head1 = 1.0 + policy.headroom
        self.a_list = arr.tolist()
        self.ai_list = self.acc_idx.tolist() if len(self.uniq_acc) > 1 else None
        self.served = [0] * n
        self.dropped = [0] * n
        self.queue = [0] * n
        self.used = [0] * n
        self.wait = [0.0] * n
        self.reconf_at = [0] * n
        self.ewma = self.a_list[0] / dt if n else 0.0
        ai0 = 0 if self.ai_list is None else self.ai_list[0]
        self.cur = self.row_choice[ai0][bisect_left(self.row_edges[ai0], self.ewma * self.head1)]
        self.q = 0
        self.credit = 0.0
        self.dead = 0.0
        self.last_reconf = -math.inf
        self.pend_design: int | None = None
        self.pend = 0
        self.n_reconf = 0
        self.reconf_time_total = 0.0
        self.energy_busy = 0.0
        self.energy_idle = 0.0
        self.energy_reconf = 0.0

    def run(self) -> None:
        """Every interval in order: decide (unless reconfiguring), then serve."""
        single = len(self.pts) == 1
        ai_list = self.ai_list
        for t in range(len(self.a_list)):
            if not single and self.dead <= 0.0:
                self.decide(t, 0 if ai_list is None else ai_list[t])
            self.serve(t)

    def design_row(self, design: int, ai: int) -> tuple[list[float], list[int], bool]:
        """The table's row of one design at the ai-th accuracy threshold (cached)."""
        key = (design, ai)
        r = self.design_rows.get(key)
        if r is None:
            dr = self.table.design_row(design, float(self.uniq_acc[ai]))
            r = (list(dr.edges), list(dr.choice), dr.compliant)
            self.design_rows[key] = r
        return r

    def _stays(self, stay: int, d: int, want: float) -> bool:
        """Hysteresis: whether re-tuning the current design (``stay``) is good enough
        against the desired configuration ``d`` at the wanted rate."""
        thr, margin1 = self.thr, self.margin1
        if thr[d] < want:
            return thr[stay] * margin1 >= thr[d]
        if self.use_own:
            better = self.own_cost[stay] <= self.own_cost[d] * margin1
        else:
            idle_p, dyn_e = self.idle_p, self.dyn_e
            better = idle_p[stay] / want + dyn_e[stay] <= (idle_p[d] / want + dyn_e[d]) * margin1
        return thr[stay] >= want and better

    def decide(self, t: int, ai: int) -> None:
        """Step 1 (module doc): pick the configuration for interval t, or start a
        reconfiguration towards it (hysteresis: re-tune the current design first)."""
        want = (self.ewma + self.q / self.policy.drain_s) * self.head1
        if want < 1e-9:
            want = 1e-9  # no load: energy at a vanishing rate (idle power dominates)
        d = self.row_choice[ai][bisect_left(self.row_edges[ai], want)]
        dcur = self.design_of[self.cur]
        if self.design_of[d] == dcur:
            self.cur = d
            self.pend = 0
            return
        de, dc, dok = self.design_row(dcur, ai)
        stay = dc[bisect_left(de, want)]
        switch = False
        if not dok and self.row_ok[ai]:
            switch = True  # accuracy is a hard constraint: reconfigure at once
        elif self._stays(stay, d, want):
            self.pend = 0
        else:
            if self.pend_design == self.design_of[d]:
                self.pend += 1
            else:
                self.pend_design = self.design_of[d]
                self.pend = 1
            switch = (
                self.pend >= self.policy.hold_intervals
                and t * self.dt - self.last_reconf >= self.policy.min_dwell_s
            )
        if not switch:
            self.cur = stay
            return
        self.cur = d
        self.dead = self.rtime[d]
        self.n_reconf += 1
        self.reconf_at[t] = 1
        self.reconf_time_total += self.dead
        self.last_reconf = t * self.dt
        self.pend = 0

    def serve(self, t: int) -> None:
        """Steps 2-6 (module doc): dead time, service of the queue and the arrivals with
        the capacity left, drops beyond the buffer, energy, waiting time, demand estimate."""
        dt, cur, dead, q = self.dt, self.cur, self.dead, self.q
        if dead > 0.0:
            dead_here = dead if dead < dt else dt
            dead -= dead_here
            if dead < 1e-12:
                dead = 0.0
            avail = dt - dead_here
            self.energy_reconf += self.rpow[cur] * dead_here
        else:
            dead_here = 0.0
            avail = dt
        self.dead = dead
        T = self.thr[cur]
        cap = T * avail + self.credit
        a = self.a_list[t]
        total = q + a
        c = int(cap)
        if total > c:
            s = c
            self.credit = cap - c
        else:
            s = total
            self.credit = 0.0
        qn = total - s
        if qn > self.B:
            self.dropped[t] = qn - self.B
            qn = self.B
        busy = s / T
        self.energy_busy += self.busy_p[cur] * busy
        self.energy_idle += self.idle_p[cur] * (avail - busy)
        self.wait[t] = 0.5 * dead_here + 0.5 * (q + qn) / T
        self.served[t] = s
        self.queue[t] = qn
        self.used[t] = cur
        self.q = qn
        self.ewma += self.policy.ewma_alpha * (a / dt - self.ewma)


#: The manager's state stepped one interval at a time: ``decide(t, ai)`` then ``serve(t)``
#: (what :func:`simulate` runs; the live manager of :mod:`dse.deploy` steps the same state,
#: so it switches exactly where the simulator does for the same arrivals).
ManagerState = _Run


def _served_figures(run: _Run, acc_arr: np.ndarray) -> dict[str, float]:
    """Mean accuracy, latency distribution and service latency of what was served, and the
    intervals served below the threshold while a compliant configuration existed."""
    served = np.asarray(run.served, dtype=np.int64)
    used = np.asarray(run.used, dtype=np.int64)
    wait = np.asarray(run.wait)
    # latency distribution: per interval and exit, weighted by inferences served there
    vals: list[np.ndarray] = []
    wts: list[np.ndarray] = []
    acc_sum = service_lat_sum = 0.0
    below = 0
    for p in np.unique(used).tolist():
        mask = used == p
        sp = served[mask].astype(np.float64)
        pt = run.pts[p]
        acc_sum += pt.accuracy * float(sp.sum())
        lats = pt.latency_s_per_exit or (pt.latency_s,)
        fr = pt.exit_fraction if len(pt.exit_fraction) == len(lats) else ()
        if not fr:
            lats, fr = (pt.latency_s,), (1.0,)
        for lat, f in zip(lats, fr, strict=True):
            vals.append(wait[mask] + lat)
            wts.append(sp * f)
            service_lat_sum += lat * f * float(sp.sum())
        ok_rows = np.array(run.row_ok)[run.acc_idx[mask]]
        below += int(np.sum((pt.served_accuracy < acc_arr[mask] - ACC_TOL) & ok_rows & (sp > 0)))
    if vals:
        v, w = np.concatenate(vals), np.concatenate(wts)
        mean_lat = float(np.sum(v * w) / np.sum(w)) if np.sum(w) > 0 else math.nan
        p50, p95, p99 = _weighted_percentiles(v, w, (50, 95, 99))
    else:
        mean_lat = p50 = p95 = p99 = math.nan
    return {
        "acc_sum": acc_sum,
        "service_lat_sum": service_lat_sum,
        "below": below,
        "mean": mean_lat,
        "p50": p50,
        "p95": p95,
        "p99": p99,
    }


def _metrics(run: _Run, arr: np.ndarray, acc_arr: np.ndarray) -> dict:
    """The summary metrics of a finished run (see the module doc)."""
    f = _served_figures(run, acc_arr)
    processed = int(sum(run.served))
    dropped = int(sum(run.dropped))
    n = len(run.a_list)
    energy = run.energy_busy + run.energy_idle + run.energy_reconf
    epi = energy / processed if processed else math.nan
    mean_lat = f["mean"]
    arrivals_total = int(arr.sum())
    per = (lambda x: x / processed) if processed else (lambda _x: math.nan)
    return {
        "arrivals": arrivals_total,
        "processed": processed,
        "dropped": dropped,
        "queued_at_end": int(run.queue[-1]) if n else 0,
        "drop_rate": float(dropped / arrivals_total) if arrivals_total else 0.0,
        "mean_accuracy": per(f["acc_sum"]),
        "energy_j": energy,
        "energy_busy_j": run.energy_busy,
        "energy_idle_j": run.energy_idle,
        "energy_reconfig_j": run.energy_reconf,
        "energy_per_inference_j": epi,
        "latency_mean_s": mean_lat,
        "latency_p50_s": f["p50"],
        "latency_p95_s": f["p95"],
        "latency_p99_s": f["p99"],
        "edp_js": epi * mean_lat if processed else math.nan,
        "latency_service_mean_s": per(f["service_lat_sum"]),
        "edp_service_js": epi * per(f["service_lat_sum"]),
        "reconfigurations": run.n_reconf,
        "reconfig_time_s": run.reconf_time_total,
        "intervals_below_threshold": f["below"],
        "duration_s": n * run.dt,
        "dt_s": run.dt,
        "buffer_size": run.B,
        "designs_used": len({run.design_of[i] for i in set(run.used)}),
        "policy": run.policy.to_dict(),
        "objective": run.table.objective,
    }


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
    objective: str = DEFAULT_SELECT,
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
        objective: selection objective of the table (one of
            :data:`~dse.runtime.table.OBJECTIVES`; ignored when a table is given).

    Returns:
        The :class:`SimulationResult`.
    """
    table = (
        points
        if isinstance(points, SelectionTable)
        else SelectionTable(points, objective=objective)
    )
    check_points(table.points)
    arr, acc_arr = _check_inputs(trace, buffer_size, arrivals, accuracy_threshold, seed)
    run = _Run(
        table,
        policy or HysteresisPolicy(),
        arr,
        acc_arr,
        dt=float(trace.dt_s),
        buffer_size=buffer_size,
        reconfig_power_w=reconfig_power_w,
    )
    run.run()
    served, dropped, queue, used, reconf = (
        np.asarray(x, dtype=np.int64)
        for x in (run.served, run.dropped, run.queue, run.used, run.reconf_at)
    )
    timeline = _timeline(
        run.pts, arr, served, dropped, queue, used, reconf, acc_arr, run.dt, timeline_step_s
    )
    return SimulationResult(
        _metrics(run, arr, acc_arr), timeline, served, dropped, queue, used, arr, list(run.pts)
    )


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
