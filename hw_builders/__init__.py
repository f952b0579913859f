"""hw_builders: what a design costs in hardware (FINN-exact estimates, folding, devices).

Pure Python and numpy; never imports torch, search_spaces or dse.
"""

from __future__ import annotations

import hw_builders.ops  # noqa: F401  (registers the built-in op models, before anything else)
from hw_builders.atomic import (
    atomic_directory,
    atomic_file,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    check_output_dir,
    check_output_file,
    new_parents,
)
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
from hw_builders.finn_backend import finn_available, run_finn_build
from hw_builders.finn_build import write_build_folder
from hw_builders.folding import FoldingConfig, fold
from hw_builders.graph import HwGraph, HwLayer, load_graph, save_graph
from hw_builders.host import NO_HOST, HostLink, host_link_for, host_traffic
from hw_builders.legality import Refusal, check_buildable, refusals
from hw_builders.memo import clear_memos
from hw_builders.minimize import minimize_bit_widths
from hw_builders.naming import (
    finn_design_graph,
    finn_design_names,
    finn_design_order,
    finn_node_names,
    rename_folding,
    rename_graph,
)
from hw_builders.power import PowerModel
from hw_builders.registry import OpModel, divisors, get_op, known_ops, register_op
from hw_builders.report import HardwareReport, LayerReport, read_finn_reports, write_finn_reports
from hw_builders.stages import StagedReport, StageMemo, split_stages, staged_performance

__all__ = [
    "clear_memos",
    "BOARDS",
    "DataType",
    "Device",
    "Estimator",
    "FastResult",
    "FoldingConfig",
    "HardwareReport",
    "HwError",
    "HwGraph",
    "HwLayer",
    "InputError",
    "LayerCost",
    "LayerReport",
    "OpModel",
    "NO_HOST",
    "PARTS",
    "HostLink",
    "PowerModel",
    "Refusal",
    "StagedReport",
    "StageMemo",
    "atomic_directory",
    "atomic_file",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "new_parents",
    "check_buildable",
    "check_output_dir",
    "check_output_file",
    "bitwidth",
    "check_folding",
    "datatype",
    "divisors",
    "estimate",
    "finn_available",
    "finn_design_graph",
    "finn_design_names",
    "finn_design_order",
    "finn_node_names",
    "fits",
    "fold",
    "get_device",
    "get_op",
    "host_link_for",
    "host_traffic",
    "known_ops",
    "layer_cost",
    "legal_values",
    "load_graph",
    "minimize_bit_widths",
    "read_finn_reports",
    "refusals",
    "register_op",
    "rename_folding",
    "rename_graph",
    "run_finn_build",
    "save_graph",
    "split_stages",
    "staged_performance",
    "utilisation",
    "write_build_folder",
    "write_finn_reports",
]
