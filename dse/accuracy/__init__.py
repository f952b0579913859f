"""dse.accuracy: joint multi-exit QAT, the pruning schedule, exit calibration, the
checkpoint cache, QONNX export and the cached AccuracyPipeline used by the study."""

from __future__ import annotations

from dse.accuracy.cache import CacheEntry, CheckpointCache, cache_key, default_cache_dir
from dse.accuracy.pipeline import AccuracyPipeline, PrunedResult, dataset_identity
from dse.accuracy.point import TrainPoint, prepare_point, run_point
from dse.accuracy.profile import ExitEvaluation, ExitProfile, calibrate
from dse.accuracy.prune import normalise_rates, pruning_chain, target_widths
from dse.accuracy.qonnx_export import (
    export_qonnx,
    export_stages,
    verify_qonnx,
)
from dse.accuracy.recipe import TrainRecipe
from dse.accuracy.train import TrainStats, resolve_torch_device, seed_everything, train_model

__all__ = [
    "AccuracyPipeline",
    "CacheEntry",
    "CheckpointCache",
    "ExitEvaluation",
    "ExitProfile",
    "PrunedResult",
    "TrainPoint",
    "TrainRecipe",
    "TrainStats",
    "cache_key",
    "calibrate",
    "dataset_identity",
    "default_cache_dir",
    "export_qonnx",
    "export_stages",
    "normalise_rates",
    "prepare_point",
    "pruning_chain",
    "resolve_torch_device",
    "run_point",
    "seed_everything",
    "target_widths",
    "train_model",
    "verify_qonnx",
]
