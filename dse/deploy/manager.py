"""The runtime manager, live: serve a request source with a library's designs.

Every interval of the source (a trace file, a built-in trace, or a constant rate):

1. the manager estimates the load and picks a configuration from the library's
   ``runtime_table.json`` for that load and the accuracy threshold, with the simulator's
   hysteresis (it steps :class:`dse.runtime.ManagerState`, the state the simulator steps,
   so it switches where ``adapex runtime simulate`` predicts for the same arrivals);
2. a new design is loaded on the backend (a reconfiguration: on ``software`` another
   model, on ``pynq`` another bitstream), timed; new thresholds of the same design are set
   without reconfiguring;
3. the requests the configuration serves in the interval (the manager's queue: arrivals,
   finite buffer, drops) run through :class:`dse.deploy.AdaptiveRunner` on samples of the
   test split; ``execute`` caps how many run per interval (the software backend executes
   the model in Python), the rest being counted by the queue alone.

Every switch is logged. The result reports, with :mod:`dse.runtime.metrics`' names and
units, processed, dropped, drop rate, reconfigurations, the mean accuracy and exit
fractions measured on the requests run, and the simulator's figures for the same arrivals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.deploy.library import DeployedLibrary, DeployError
from dse.deploy.runner import AdaptiveRunner

log = logging.getLogger("adapex.deploy")


@dataclass
class LiveResult:
    """What a live run did.

    Attributes:
        metrics: processed, dropped, drop_rate, reconfigurations, reconfig_load_s,
            mean_accuracy and exit_fraction (per exit, of the requests run), executed (the
            requests run on the backend), ...
        switches: one entry per reconfiguration or threshold change.
        configurations: per interval, the configuration in use (design and thresholds).
        simulated: the simulator's metrics for the same arrivals and table.
    """

    metrics: dict[str, Any]
    switches: list[dict[str, Any]] = field(default_factory=list)
    configurations: list[dict[str, Any]] = field(default_factory=list)
    simulated: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.metrics,
            "switches": self.switches,
            "configurations": self.configurations,
            "simulated": self.simulated,
        }


def _static_finn(library: DeployedLibrary) -> Any:
    """The library's static FINN point (from its runtime table), or None."""
    from dse.runtime import SelectionTable

    if library.runtime_table is None:
        return None
    points = SelectionTable.from_dict(library.runtime_table).points
    return next((p for p in points if p.is_static_finn), None)


def default_accuracy_threshold(library: DeployedLibrary) -> float:
    """The accuracy threshold ``deploy run`` serves when none is given: the runtime
    commands' (static FINN's served accuracy minus 0.01, from the library's runtime table),
    or 0 when the table holds no static FINN point."""
    static = _static_finn(library)
    return static.default_threshold() if static is not None else 0.0


def peak_rate(library: DeployedLibrary, peak_load: float | None, peak_fps: float | None) -> float:
    """A built-in trace's peak rate (inferences/s), as the runtime commands take it:
    ``peak_fps``, else ``peak_load`` (default: the runtime's, 1.5) times static FINN's
    throughput.

    Raises:
        DeployError: both are given, or a load is given to a library without static FINN.
    """
    from dse.runtime.scenario import Scenario

    if peak_fps is not None:
        if peak_load is not None:
            raise DeployError(
                "give --peak-load (a multiple of static FINN) or --peak-fps, not both"
            )
        return float(peak_fps)
    load = Scenario.peak_load if peak_load is None else float(peak_load)
    static = _static_finn(library)
    if static is None:
        raise DeployError(
            "--peak-load: the library's runtime table has no static FINN throughput to scale; "
            "give --peak-fps (inferences/s)"
        )
    return load * float(static.throughput_fps)


def _table(library: DeployedLibrary, objective: str | None) -> tuple[Any, Any]:
    """The library's runtime table over its own designs, and the stored table whole.

    The stored table lists every operating point of the study (and its baselines); the
    export puts every design its entries select in the library, so the table over the
    library's designs makes the same choices (:func:`serve_trace` checks it against the
    whole table's simulation)."""
    from dse.runtime import SelectionTable

    if library.runtime_table is None:
        raise DeployError(
            f"`library` {library.folder}: has no runtime_table.json; store one with `adapex "
            "runtime table` and export again",
            arguments=("library",),
        )
    whole = SelectionTable.from_dict(library.runtime_table)
    if objective is not None and objective != whole.objective:
        whole = SelectionTable(whole.points, objective=objective)
    present = set(library.design_ids)
    points = [p for p in whole.points if p.design_id in present]
    if not points:
        raise DeployError(
            f"`library` {library.folder}: its runtime table uses none of its designs; export "
            "the library again",
            arguments=("library",),
        )
    return SelectionTable(points, objective=whole.objective), whole


class _Live:
    """One live run: the manager's state and the runner it drives."""

    def __init__(
        self, library: DeployedLibrary, table: Any, state: Any, runner: AdaptiveRunner
    ) -> None:
        self.library, self.table, self.state, self.runner = library, table, state, runner
        self.point = state.cur
        self.switches: list[dict[str, Any]] = []
        self.load_s = 0.0
        self.labels: list[np.ndarray] = []
        self.truth: list[np.ndarray] = []
        self.stages: list[np.ndarray] = []

    def apply(self, t: int, dt: float) -> None:
        """Step 2 (module doc): bring the runner to the state's configuration."""
        cur = self.state.cur
        if cur == self.point:
            return
        new, old = self.table.points[cur], self.table.points[self.point]
        entry = {
            "interval": t,
            "time_s": t * dt,
            "from_design": old.design_id,
            "to_design": new.design_id,
            "thresholds": list(new.thresholds),
        }
        if new.design_id != old.design_id:
            seconds = self.runner.switch(new.design_id, new.thresholds)
            self.load_s += seconds
            entry.update(kind="reconfigure", load_s=seconds)
            log.info(
                "t=%.0fs reconfigure design %d -> %d (thresholds %s), loaded in %.3fs",
                t * dt,
                old.design_id,
                new.design_id,
                list(new.thresholds),
                seconds,
            )
        else:
            self.runner.set_thresholds(new.thresholds)
            entry.update(kind="thresholds", load_s=0.0)
            log.info(
                "t=%.0fs design %d thresholds -> %s", t * dt, new.design_id, list(new.thresholds)
            )
        self.switches.append(entry)
        self.point = cur

    def execute(self, n: int, x: np.ndarray, y: np.ndarray, offset: int) -> int:
        """Step 3: run ``n`` requests (test samples from ``offset`` on, cycling)."""
        if n <= 0:
            return offset
        idx = (offset + np.arange(n)) % len(y)
        res = self.runner.serve(x[idx])
        self.labels.append(res.labels)
        self.truth.append(np.asarray(y)[idx])
        exits = [row["exit"] for row in self.runner.design.stages]
        self.stages.append(
            np.array(["final" if exits[k] is None else f"exit_{exits[k]}" for k in res.stage])
        )
        return int((offset + n) % len(y))


def serve_trace(
    library: DeployedLibrary,
    trace: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    accuracy_threshold: float | Any = 0.0,
    backend: str = "software",
    execute: int | None = 8,
    policy: Any = None,
    buffer_size: int = 1024,
    seed: int = 0,
    objective: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LiveResult:
    """Serve ``trace`` live with the library's runtime table (module doc).

    Args:
        library: The library.
        trace: A :class:`dse.runtime.Trace`.
        x, y: The requests' inputs (images in [0, 1]) and labels, used in turn.
        accuracy_threshold: The user's accuracy threshold, constant or one per interval.
        backend: The backend's name.
        execute: Requests run on the backend per interval at most (None: all served).
        policy: :class:`dse.runtime.HysteresisPolicy` (default: the simulator's).
        buffer_size: Input buffer in requests.
        seed: Seed of the arrivals of a rate trace.
        objective: Re-select the table by one of :data:`dse.runtime.OBJECTIVES`.
        progress: Called with (intervals done, intervals in all).

    Raises:
        DeployError: the library has no runtime table, or it uses designs not in it.
    """
    from dse.runtime import HysteresisPolicy, ManagerState

    table, whole = _table(library, objective)
    pol = policy or HysteresisPolicy()
    arr = trace.arrivals(seed)
    acc = np.broadcast_to(np.asarray(accuracy_threshold, dtype=np.float64), arr.shape).copy()
    state = ManagerState(
        table, pol, arr, acc, dt=float(trace.dt_s), buffer_size=buffer_size, reconfig_power_w=None
    )
    first = table.points[state.cur]
    runner = AdaptiveRunner(library, first.design_id, first.thresholds, backend)
    live = _Live(library, table, state, runner)
    log.info("start: design %d thresholds %s", first.design_id, list(first.thresholds))
    single, offset = len(table.points) == 1, 0
    for t in range(len(arr)):
        if not single and state.dead <= 0.0:
            state.decide(t, 0 if state.ai_list is None else state.ai_list[t])
        live.apply(t, float(trace.dt_s))
        state.serve(t)
        n = state.served[t] if execute is None else min(state.served[t], int(execute))
        offset = live.execute(n, x, y, offset)
        if progress is not None:
            progress(t + 1, len(arr))
    configs, simulated = _against_the_simulator(
        table, whole, trace, state, accuracy_threshold, pol, buffer_size, arr
    )
    return LiveResult(
        _metrics(live, arr),
        live.switches,
        configs,
        simulated,
    )


def _against_the_simulator(
    table: Any,
    whole: Any,
    trace: Any,
    state: Any,
    accuracy_threshold: Any,
    policy: Any,
    buffer_size: int,
    arr: np.ndarray,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The configurations the live run used, checked interval by interval against the
    simulator's for the whole stored table and the same arrivals; its summary figures."""
    from dse.runtime import simulate

    sim = simulate(
        whole,
        trace,
        accuracy_threshold=accuracy_threshold,
        policy=policy,
        buffer_size=buffer_size,
        arrivals=arr,
    )
    configs = [_config(table.points[int(p)]) for p in state.used]
    predicted = [_config(sim.points[int(p)]) for p in sim.point]
    if configs != predicted:
        t = next(i for i, (a, b) in enumerate(zip(configs, predicted, strict=True)) if a != b)
        raise DeployError(
            f"interval {t}: the live manager runs {configs[t]} but the simulator of the whole "
            f"runtime table predicts {predicted[t]}; export the library again"
        )
    keys = ("processed", "dropped", "drop_rate", "reconfigurations", "mean_accuracy")
    return configs, {k: sim.metrics[k] for k in keys}


def _config(point: Any) -> dict[str, Any]:
    return {"design": int(point.design_id), "thresholds": [float(t) for t in point.thresholds]}


def _metrics(live: _Live, arr: np.ndarray) -> dict[str, Any]:
    state = live.state
    processed = int(sum(state.served))
    dropped = int(sum(state.dropped))
    labels = np.concatenate(live.labels) if live.labels else np.zeros(0, np.int64)
    truth = np.concatenate(live.truth) if live.truth else np.zeros(0, np.int64)
    stages = np.concatenate(live.stages) if live.stages else np.zeros(0, dtype=str)
    names = sorted(set(stages.tolist()), key=lambda s: (s == "final", s))
    return {
        "arrivals": int(arr.sum()),
        "processed": processed,
        "dropped": dropped,
        "queued_at_end": int(state.queue[-1]) if len(arr) else 0,
        "drop_rate": float(dropped / arr.sum()) if arr.sum() else 0.0,
        "reconfigurations": int(state.n_reconf),
        "reconfig_load_s": live.load_s,
        "executed": int(labels.size),
        "mean_accuracy": float(np.mean(labels == truth)) if labels.size else float("nan"),
        "exit_fraction": {k: float(np.mean(stages == k)) for k in names},
        "designs_used": sorted({live.table.points[p].design_id for p in set(state.used)}),
        "duration_s": len(arr) * float(state.dt),
    }
