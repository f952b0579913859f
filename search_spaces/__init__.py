"""search_spaces: datasets, model families (Brevitas), their knobs, and lowering to hardware graphs."""

from __future__ import annotations

from search_spaces.datasets import DATASET_NAMES, DataSplits, load_dataset
from search_spaces.errors import SpaceError
from search_spaces.families import (
    ArchSpec,
    Family,
    MultiExitNet,
    PruneRole,
    Stage,
    family_names,
    get_family,
)
from search_spaces.pruning import kept_channels, prunable_layers, prune_model, pruned_width

__all__ = [
    "DATASET_NAMES",
    "ArchSpec",
    "DataSplits",
    "Family",
    "MultiExitNet",
    "PruneRole",
    "SpaceError",
    "Stage",
    "family_names",
    "get_family",
    "kept_channels",
    "load_dataset",
    "prunable_layers",
    "prune_model",
    "pruned_width",
]
