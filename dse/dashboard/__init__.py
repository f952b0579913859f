"""The Pareto dashboard (Dash, read-only) and the figure builders it shares with the report.

Names are imported on first use, so that ``import dse`` (and the report, which needs only
the figures) does not load Dash.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "Dashboard": "dse.dashboard.app",
    "create_app": "dse.dashboard.app",
    "read_only_url": "dse.dashboard.app",
    "run_dashboard": "dse.dashboard.app",
    "design_figures": "dse.dashboard.figures",
    "exit_profile_figure": "dse.dashboard.figures",
    "folding_figure": "dse.dashboard.figures",
    "layer_cycles_figure": "dse.dashboard.figures",
    "layer_resources_figure": "dse.dashboard.figures",
    "pareto_figure": "dse.dashboard.figures",
    "pareto_figure_3d": "dse.dashboard.figures",
    "runtime_heatmap": "dse.dashboard.figures",
    "simulation_figure": "dse.dashboard.figures",
    "stage_figure": "dse.dashboard.figures",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'dse.dashboard' has no attribute {name!r}")
