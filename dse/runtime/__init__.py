"""Runtime manager: operating points, selection table, workload traces, simulator, baselines.

The runtime switches designs by FPGA reconfiguration and changes early-exit thresholds instantly
as the edge workload and the user's accuracy threshold change (AdaPEx). Everything works on
plain lists of :class:`OperatingPoint`; :func:`operating_points` derives them from stored
designs.
"""

from __future__ import annotations

from dse.runtime.compare import compare_policies
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
from dse.runtime.library import RuntimeLibrary, load_library
from dse.runtime.metrics import METRICS, Metric
from dse.runtime.points import STATIC_BEST_ID, STATIC_FINN_ID, OperatingPoint, non_dominated
from dse.runtime.policies import (
    Policy,
    baseline_names,
    get_policy,
    point_sets,
    policy_label,
    policy_names,
    register_policy,
)
from dse.runtime.simulator import (
    NO_HYSTERESIS,
    HysteresisPolicy,
    ManagerState,
    SimulationResult,
    simulate,
)
from dse.runtime.study import (
    StudyRuntimeTable,
    load_study_library,
    save_with_study,
    study_runtime_table,
    study_select,
    study_simulation,
)
from dse.runtime.sweep import LOADS, cached_sweep, run_sweep
from dse.runtime.table import (
    OBJECTIVE_GOALS,
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
    "StudyRuntimeTable",
    "load_study_library",
    "save_with_study",
    "study_runtime_table",
    "study_select",
    "study_simulation",
    "Policy",
    "baseline_names",
    "get_policy",
    "point_sets",
    "policy_label",
    "policy_names",
    "register_policy",
    "LOADS",
    "METRICS",
    "Metric",
    "RuntimeLibrary",
    "STATIC_BEST_ID",
    "cached_sweep",
    "load_library",
    "run_sweep",
    "static_best_point",
    "DEFAULT_THRESHOLD_GRID",
    "EXITS_DISABLED",
    "OBJECTIVE_GOALS",
    "OBJECTIVES",
    "point_cost",
    "compare_policies",
    "design_points",
    "operating_points",
    "pruning_rate",
    "static_finn_point",
    "study_points",
    "BUILTIN_TRACES",
    "DEFAULT_TRACE",
    "NO_HYSTERESIS",
    "STATIC_FINN_ID",
    "HysteresisPolicy",
    "ManagerState",
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
