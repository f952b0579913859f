"""Runtime manager: operating points, selection table, workload traces, simulator, baselines.

The runtime switches designs by FPGA reconfiguration and changes early-exit thresholds instantly
as the edge workload and the user's accuracy threshold change (AdaPEx). Everything works on
plain lists of :class:`OperatingPoint`; :func:`operating_points` derives them from stored
designs.
"""

from __future__ import annotations

from dse.runtime.compare import POLICIES, compare_policies, policy_point_sets
from dse.runtime.derive import (
    DEFAULT_THRESHOLD_GRID,
    EXITS_DISABLED,
    design_points,
    operating_points,
    pruning_rate,
    static_best_point,
    static_finn_point,
    study_points,
)
from dse.runtime.errors import RuntimeManagerError, TraceError
from dse.runtime.library import BASELINES, POLICY_NAMES, RuntimeLibrary, load_library
from dse.runtime.metrics import METRICS, Metric
from dse.runtime.points import STATIC_BEST_ID, STATIC_FINN_ID, OperatingPoint, non_dominated
from dse.runtime.simulator import NO_HYSTERESIS, HysteresisPolicy, SimulationResult, simulate
from dse.runtime.sweep import LOADS, cached_sweep, run_sweep
from dse.runtime.table import (
    OBJECTIVES,
    SelectionTable,
    TableRow,
    build_selection_table,
    point_cost,
)
from dse.runtime.traces import (
    BUILTIN_TRACES,
    DEFAULT_TRACE,
    Trace,
    builtin_trace,
    get_trace,
    load_trace_csv,
)

__all__ = [
    "BASELINES",
    "LOADS",
    "METRICS",
    "Metric",
    "POLICY_NAMES",
    "RuntimeLibrary",
    "STATIC_BEST_ID",
    "cached_sweep",
    "load_library",
    "run_sweep",
    "static_best_point",
    "DEFAULT_THRESHOLD_GRID",
    "EXITS_DISABLED",
    "OBJECTIVES",
    "POLICIES",
    "point_cost",
    "compare_policies",
    "design_points",
    "operating_points",
    "policy_point_sets",
    "pruning_rate",
    "static_finn_point",
    "study_points",
    "BUILTIN_TRACES",
    "DEFAULT_TRACE",
    "NO_HYSTERESIS",
    "STATIC_FINN_ID",
    "HysteresisPolicy",
    "OperatingPoint",
    "RuntimeManagerError",
    "SelectionTable",
    "SimulationResult",
    "TableRow",
    "Trace",
    "TraceError",
    "build_selection_table",
    "builtin_trace",
    "get_trace",
    "load_trace_csv",
    "non_dominated",
    "simulate",
]
