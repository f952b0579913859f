"""Local datasets (never downloaded): digits, CIFAR-10, SVHN, .npz files, image folders."""

from __future__ import annotations

from search_spaces.datasets.registry import (
    DATASET_NAMES,
    DatasetSource,
    dataset_names,
    load_dataset,
    register_dataset,
)
from search_spaces.datasets.splits import DataSplits, resize_bilinear, stratified_indices

__all__ = [
    "DATASET_NAMES",
    "DataSplits",
    "DatasetSource",
    "dataset_names",
    "load_dataset",
    "register_dataset",
    "resize_bilinear",
    "stratified_indices",
]
