"""dse: the adapex engine (accuracy pipeline, studies, storage, Pareto, runtime, dashboard, export)."""

from __future__ import annotations

from dse.accuracy import (
    AccuracyPipeline,
    ExitEvaluation,
    ExitProfile,
    PrunedResult,
    TrainRecipe,
    export_qonnx,
)
from dse.config import StudyConfig, load_config
from dse.design import DesignRecord, Hardware, cost, design_graph, load_pruned_model
from dse.errors import DseError
from dse.export import export_library, read_library
from dse.pareto import ObjectiveSpec, hypervolume, pareto_mask
from dse.runtime import (
    HysteresisPolicy,
    OperatingPoint,
    SelectionTable,
    Trace,
    compare_policies,
    get_trace,
    operating_points,
    simulate,
    static_finn_point,
)
from dse.storage import Store, StudySummary
from dse.study import DesignPoint, Evaluator, join_study, run_study

__all__ = [
    "AccuracyPipeline",
    "ExitEvaluation",
    "ExitProfile",
    "PrunedResult",
    "TrainRecipe",
    "export_qonnx",
    "load_pruned_model",
    "DseError",
]
__all__ += [
    "DesignPoint",
    "DesignRecord",
    "Evaluator",
    "Hardware",
    "cost",
    "design_graph",
    "ObjectiveSpec",
    "Store",
    "StudyConfig",
    "StudySummary",
    "hypervolume",
    "join_study",
    "load_config",
    "pareto_mask",
    "run_study",
]
__all__ += [
    "HysteresisPolicy",
    "OperatingPoint",
    "SelectionTable",
    "Trace",
    "compare_policies",
    "get_trace",
    "operating_points",
    "simulate",
    "static_finn_point",
]
__all__ += [
    "create_app",
    "export_library",
    "read_library",
    "render_report",
    "run_dashboard",
    "write_report",
]

# the dashboard and the report load Dash / plotly: imported on first use
_LAZY = {
    "create_app": "dse.dashboard.app",
    "run_dashboard": "dse.dashboard.app",
    "render_report": "dse.study_report",
    "write_report": "dse.study_report",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dse' has no attribute {name!r}")
