"""A simulation scenario: the user's workload and manager settings, checked once, and the
comparison of every policy of a runtime library under them (``adapex runtime simulate``).

:class:`Scenario` names its fields as the library does; its errors name them between
backticks (``InputError.arguments``), so the CLI shows its own flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dse.runtime.errors import RuntimeManagerError
from dse.runtime.table import DEFAULT_SELECT, check_objective


def _positive(name: str, value: float, what: str = "a positive number") -> None:
    if not (math.isfinite(value) and value > 0):
        raise RuntimeManagerError(f"`{name}` {value!r} must be {what}", arguments=(name,))


#: The highest peak load a built-in trace takes (a multiple of its load basis).
MAX_PEAK_LOAD = 1000.0


def check_accuracy_threshold(value: float | None) -> None:
    """RuntimeManagerError naming ``accuracy_threshold`` unless it is None or in [0, 1]."""
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise RuntimeManagerError(
            f"`accuracy_threshold` {value!r} is out of range; give a number in [0, 1], e.g. 0.9",
            arguments=("accuracy_threshold",),
        )


@dataclass(frozen=True)
class Scenario:
    """The workload and the manager's settings of one simulation.

    Attributes:
        trace: A built-in trace's name, a CSV file, or None (the default trace).
        accuracy_threshold: The user's threshold (None: static FINN's accuracy minus 0.01).
        peak_load: Built-in traces: the peak rate as a multiple of ``load_basis``.
        peak_fps: Built-in traces: the peak rate in inferences/s (instead of ``peak_load``).
        load_basis: What ``peak_load`` multiplies: ``static_finn`` (static FINN's
            throughput), ``static_best`` or ``max`` (the library's highest-throughput
            configuration: a peak load of 1 reaches what the fastest design serves).
        duration_s: Built-in traces: their length.
        dt_s: The simulation interval.
        buffer_size: The input FIFO's capacity (inferences).
        hold_intervals: Intervals a new design must stay desired before a reconfiguration.
        min_dwell_s: The least time between two reconfigurations.
        seed: Seed of the trace's bursts and the arrivals.
        select: What the selection table selects among the configurations that sustain
            the load (:data:`~dse.runtime.table.OBJECTIVE_GOALS`: ``energy``, ``edp``:
            service EDP, ``latency`` or ``accuracy``).

    Raises:
        RuntimeManagerError: a field is out of range (the message names it).
    """

    trace: str | None = None
    accuracy_threshold: float | None = None
    peak_load: float = 1.5
    peak_fps: float | None = None
    load_basis: str = "static_finn"
    duration_s: float = 86_400.0
    dt_s: float = 1.0
    buffer_size: int = 1024
    hold_intervals: int = 3
    min_dwell_s: float = 30.0
    seed: int = 0
    select: str = DEFAULT_SELECT

    def __post_init__(self) -> None:
        from dse.runtime.sweep import check_load_basis
        from dse.runtime.traces import MAX_INTERVALS, check_builtin_name, is_trace_file

        check_accuracy_threshold(self.accuracy_threshold)
        check_objective(self.select)
        if self.trace is not None and not is_trace_file(self.trace):
            check_builtin_name(self.trace)
        _positive("peak_load", self.peak_load, "a positive number, e.g. 1.5")
        if self.peak_load > MAX_PEAK_LOAD:
            raise RuntimeManagerError(
                f"`peak_load` {self.peak_load:g} is above {MAX_PEAK_LOAD:g} times the load "
                "basis; give a multiple such as 1.5",
                arguments=("peak_load",),
            )
        check_load_basis(self.load_basis)
        if self.peak_fps is not None:
            _positive("peak_fps", self.peak_fps, "a positive rate in inferences/s")
        if not 0 <= self.seed < 2**32:
            raise RuntimeManagerError(
                f"`seed` {self.seed} must be an integer in [0, 2**32)", arguments=("seed",)
            )
        if self.buffer_size < 0:
            raise RuntimeManagerError(
                f"`buffer_size` {self.buffer_size} must be >= 0", arguments=("buffer_size",)
            )
        _positive("dt_s", self.dt_s, "a positive number of seconds")
        _positive("duration_s", self.duration_s, "a positive number of seconds")
        if self.dt_s > self.duration_s:
            raise RuntimeManagerError(
                f"`dt_s` {self.dt_s!r} is longer than `duration_s` {self.duration_s!r}; give a "
                "shorter interval",
                arguments=("dt_s", "duration_s"),
            )
        if not self.from_file and self.duration_s / self.dt_s > MAX_INTERVALS:
            raise RuntimeManagerError(
                f"`duration_s` {self.duration_s:g}: {self.duration_s / self.dt_s:.3g} intervals "
                f"of `dt_s` {self.dt_s:g} is more than {MAX_INTERVALS:.3g}; give a shorter "
                "trace or a longer interval",
                arguments=("duration_s", "dt_s"),
            )
        if self.hold_intervals < 1:
            raise RuntimeManagerError(
                f"`hold_intervals` {self.hold_intervals} must be at least 1 interval",
                arguments=("hold_intervals",),
            )
        if not (math.isfinite(self.min_dwell_s) and self.min_dwell_s >= 0):
            raise RuntimeManagerError(
                f"`min_dwell_s` {self.min_dwell_s!r} must be a number >= 0",
                arguments=("min_dwell_s",),
            )

    @property
    def from_file(self) -> bool:
        """Whether the trace is a user's CSV file (absolute rates, no peak load)."""
        from dse.runtime.traces import is_trace_file

        return is_trace_file(self.trace)

    def check_trace_file(self) -> None:
        """Read a user's trace file now (before any study is read), so a bad one is refused
        first; a built-in trace needs the library's static FINN throughput."""
        if self.from_file:
            self.make_trace(None)

    def make_trace(self, lib: Any) -> Any:
        """The scenario's :class:`~dse.runtime.traces.Trace`; a built-in one scaled to
        :meth:`peak_rate`."""
        from dse.runtime.traces import get_trace

        if self.from_file:
            return get_trace(self.trace, dt_s=self.dt_s)
        return get_trace(
            self.trace,
            duration_s=self.duration_s,
            dt_s=self.dt_s,
            seed=self.seed,
            peak_fps=self.peak_rate(lib),
        )

    def peak_rate(self, lib: Any) -> float:
        """A built-in trace's peak rate: ``peak_fps``, else ``peak_load`` x the library's
        throughput of ``load_basis``."""
        from dse.runtime.sweep import basis_fps

        if self.peak_fps is not None:
            return float(self.peak_fps)
        return self.peak_load * basis_fps(lib, self.load_basis)


def simulate_library(lib: Any, study: str, scenario: Scenario) -> dict[str, Any]:
    """Every policy of a runtime library on the scenario's trace, compared with static FINN
    (:func:`dse.runtime.compare.compare_policies`), as JSON-ready data.

    Args:
        lib: The study's :class:`~dse.runtime.library.RuntimeLibrary`.
        study: The study's name (recorded in the result).
        scenario: The workload and settings.
    """
    from dse.jsonable import jsonable
    from dse.runtime.compare import compare_policies
    from dse.runtime.simulator import HysteresisPolicy
    from dse.runtime.sweep import default_threshold

    threshold = scenario.accuracy_threshold
    if threshold is None:
        threshold = default_threshold(lib)
    result = compare_policies(
        lib.point_sets(),
        scenario.make_trace(lib),
        accuracy_threshold=threshold,
        policy=HysteresisPolicy(
            hold_intervals=scenario.hold_intervals, min_dwell_s=scenario.min_dwell_s
        ),
        buffer_size=scenario.buffer_size,
        seed=scenario.seed,
        objective=scenario.select,
    )
    result["study"] = study
    result["static_finn_point"] = lib.static_finn.to_dict()
    result["static_best_point"] = lib.static_best.to_dict()
    if not scenario.from_file:
        result["trace"]["peak_load_vs_static"] = scenario.peak_rate(lib) / float(
            lib.static_finn.throughput_fps
        )
        if scenario.peak_fps is None:
            result["trace"]["peak_load"] = scenario.peak_load
            result["trace"]["load_basis"] = scenario.load_basis
    return jsonable(result)
