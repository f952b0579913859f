"""hw_builders: what a design costs in hardware (FINN-exact estimates, folding, devices).

Pure Python and numpy; never imports torch, search_spaces or dse.
"""

from __future__ import annotations

from hw_builders.datatypes import DataType, bitwidth, datatype
from hw_builders.devices import BOARDS, PARTS, Device, fits, get_device, utilisation
from hw_builders.errors import HwError, InputError
from hw_builders.estimate import (
    Estimator,
    FastResult,
    LayerCost,
    check_folding,
    estimate,
    layer_cost,
    legal_values,
)
from hw_builders.graph import HwGraph, HwLayer, load_graph, save_graph
from hw_builders.power import PowerModel
from hw_builders.registry import OpModel, divisors, get_op, known_ops, register_op
from hw_builders.report import HardwareReport, LayerReport, read_finn_reports, write_finn_reports

__all__ = ["HwError", "InputError"]
__all__ += [
    "BOARDS",
    "PARTS",
    "DataType",
    "Device",
    "Estimator",
    "FastResult",
    "HardwareReport",
    "HwGraph",
    "HwLayer",
    "LayerCost",
    "LayerReport",
    "OpModel",
    "PowerModel",
    "bitwidth",
    "check_folding",
    "datatype",
    "divisors",
    "estimate",
    "fits",
    "get_device",
    "get_op",
    "known_ops",
    "layer_cost",
    "legal_values",
    "load_graph",
    "read_finn_reports",
    "register_op",
    "save_graph",
    "utilisation",
    "write_finn_reports",
]

# folding strategies, early-exit stages, FINN build folders (folding/stages issue)
from hw_builders.finn_backend import finn_available, run_finn_build  # noqa: E402
from hw_builders.finn_build import write_build_folder  # noqa: E402
from hw_builders.folding import FoldingConfig, fold  # noqa: E402
from hw_builders.stages import StagedReport, split_stages, staged_performance  # noqa: E402

__all__ += [
    "FoldingConfig",
    "StagedReport",
    "finn_available",
    "fold",
    "run_finn_build",
    "split_stages",
    "staged_performance",
    "write_build_folder",
]
