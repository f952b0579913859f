"""dse: the adapex engine (accuracy pipeline, studies, storage, Pareto, runtime, dashboard, export).

Every public name is imported on first use, so that a part of dse imports only what it
needs: ``dse.deploy`` (the host runtime of an exported library) runs without torch, Dash or
a database driver (``pip install adapex``, the deploy-only install: README.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the module that defines it
_HOMES = {
    "AccuracyPipeline": "dse.accuracy",
    "compare_policies": "dse.runtime",
    "cost": "dse.design",
    "create_app": "dse.dashboard.app",
    "design_graph": "dse.design",
    "DesignPoint": "dse.study",
    "DesignRecord": "dse.design",
    "DseError": "dse.errors",
    "Evaluator": "dse.study",
    "ExitEvaluation": "dse.accuracy",
    "ExitProfile": "dse.accuracy",
    "export_library": "dse.export",
    "export_qonnx": "dse.accuracy",
    "get_trace": "dse.runtime",
    "Hardware": "dse.design",
    "hypervolume": "dse.pareto",
    "HysteresisPolicy": "dse.runtime",
    "join_study": "dse.study",
    "load_config": "dse.config",
    "load_pruned_model": "dse.design",
    "ObjectiveSpec": "dse.pareto",
    "operating_points": "dse.runtime",
    "OperatingPoint": "dse.runtime",
    "pareto_mask": "dse.pareto",
    "PrunedResult": "dse.accuracy",
    "read_library": "dse.export",
    "render_report": "dse.study_report",
    "run_dashboard": "dse.dashboard.app",
    "run_study": "dse.study",
    "SelectionTable": "dse.runtime",
    "simulate": "dse.runtime",
    "static_finn_point": "dse.runtime",
    "Store": "dse.storage",
    "StudyConfig": "dse.config",
    "StudySummary": "dse.storage",
    "Trace": "dse.runtime",
    "TrainRecipe": "dse.accuracy",
    "write_report": "dse.study_report",
}

__all__ = [
    "AccuracyPipeline",
    "compare_policies",
    "cost",
    "create_app",
    "design_graph",
    "DesignPoint",
    "DesignRecord",
    "DseError",
    "Evaluator",
    "ExitEvaluation",
    "ExitProfile",
    "export_library",
    "export_qonnx",
    "get_trace",
    "Hardware",
    "hypervolume",
    "HysteresisPolicy",
    "join_study",
    "load_config",
    "load_pruned_model",
    "ObjectiveSpec",
    "operating_points",
    "OperatingPoint",
    "pareto_mask",
    "PrunedResult",
    "read_library",
    "render_report",
    "run_dashboard",
    "run_study",
    "SelectionTable",
    "simulate",
    "static_finn_point",
    "Store",
    "StudyConfig",
    "StudySummary",
    "Trace",
    "TrainRecipe",
    "write_report",
]

if TYPE_CHECKING:  # the names as the modules define them, for type checkers and readers
    from dse.accuracy import (
        AccuracyPipeline,
        ExitEvaluation,
        ExitProfile,
        PrunedResult,
        TrainRecipe,
        export_qonnx,
    )
    from dse.config import StudyConfig, load_config
    from dse.dashboard.app import create_app, run_dashboard
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
    from dse.study_report import render_report, write_report


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dse' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
