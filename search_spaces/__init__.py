"""search_spaces: datasets, model families (Brevitas), their knobs, and lowering to hardware graphs."""

from __future__ import annotations

from typing import Any

from search_spaces.datasets import (
    DATASET_NAMES,
    DatasetSource,
    DataSplits,
    dataset_names,
    load_dataset,
    register_dataset,
)
from search_spaces.errors import SpaceError
from search_spaces.families import (
    ArchSpec,
    Family,
    PruneRole,
    family_names,
    get_family,
    register_family,
)
from search_spaces.lowering import minimized_graph, mvau_weights

__all__ = [
    "DATASET_NAMES",
    "ArchSpec",
    "DataSplits",
    "DatasetSource",
    "Family",
    "MultiExitNet",
    "PruneRole",
    "SpaceError",
    "Stage",
    "dataset_names",
    "family_names",
    "get_family",
    "kept_channels",
    "load_dataset",
    "minimized_graph",
    "mvau_weights",
    "prunable_layers",
    "prune_model",
    "pruned_width",
    "register_dataset",
    "register_family",
]

# torch-side names, imported on first use: the specs, datasets and lowering need no torch
_TORCH_NAMES = {
    "MultiExitNet": "search_spaces.families.multi_exit",
    "Stage": "search_spaces.families.multi_exit",
    "kept_channels": "search_spaces.pruning",
    "prunable_layers": "search_spaces.pruning",
    "prune_model": "search_spaces.pruning",
    "pruned_width": "search_spaces.pruning",
}


def __getattr__(name: str) -> Any:
    """Import a torch-side name on first use."""
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(_TORCH_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
