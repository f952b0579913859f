"""Folding: FINN's folding_config.json, FINN's SetFolding baseline, the optimised strategy."""

from __future__ import annotations

from hw_builders.folding.api import fold, register_strategy, strategies
from hw_builders.folding.config import FOLDING_ATTRS, FoldingConfig
from hw_builders.folding.exhaustive import exhaustive_choice
from hw_builders.folding.finn import MVAU_WWIDTH_MAX, set_folding, target_cycles_for_fps
from hw_builders.folding.optimal import optimal_choice
from hw_builders.folding.options import RESOURCES, FoldingSpace, budget_vector

__all__ = [
    "FOLDING_ATTRS",
    "MVAU_WWIDTH_MAX",
    "RESOURCES",
    "FoldingConfig",
    "FoldingSpace",
    "budget_vector",
    "exhaustive_choice",
    "fold",
    "optimal_choice",
    "register_strategy",
    "set_folding",
    "strategies",
    "target_cycles_for_fps",
]
