"""AccuracyPipeline: trained, pruned and calibrated models for the study, with reuse.

Per architecture family/shape/bit widths there is one joint training of the unpruned
model with every candidate exit attached; every pruning rate is reached by the
iterative schedule of :mod:`dse.accuracy.prune` (each step fine-tuned and cached); each
pruned model is profiled once, with the integer arithmetic of its exported accelerator, on
the calibration split (every choice reads it) and on the held-out test split (reported,
never chosen on), and both :class:`ExitProfile` are stored as ``profile.json`` next to the
checkpoint. Exit placement and thresholds are then evaluated from the profiles, so a trial
costs nothing once its pruning rate is cached.
Safe to use from several processes sharing ``cache_dir`` (per-key file locks).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dse.accuracy.cache import CacheEntry, CheckpointCache, cache_key, library_versions
from dse.accuracy.profile import PROFILE_FORMAT, ExitProfile, integer_profiles
from dse.accuracy.prune import Rates, normalise_rates, prune_to, pruning_chain
from dse.accuracy.recipe import TrainRecipe
from dse.accuracy.train import resolve_torch_device, seed_everything, torch_threads, train_model
from dse.errors import DseError

log = logging.getLogger("dse.accuracy")

PROFILE_FILE = "profile.json"
JOINT_FIELDS = (
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "optimizer",
    "exit_weighting",
    "final_weight",
)
"""Recipe fields that affect the joint training (the rest only affect pruning steps)."""


def dataset_identity(data: Any) -> dict[str, Any]:
    """Everything that identifies a dataset split for the cache key.

    The name, the optional ``path``/``seed``/``image_size``/``limit`` attributes, the
    split sizes and a sha256 of the split contents (so a changed file is never mistaken
    for the cached one).
    """
    h = hashlib.sha256()
    sizes = {}
    for split in ("train", "val", "test"):
        x = np.ascontiguousarray(getattr(data, f"x_{split}"))
        y = np.ascontiguousarray(getattr(data, f"y_{split}"))
        h.update(split.encode())
        h.update(str(x.shape).encode() + str(x.dtype).encode())
        h.update(x.tobytes())
        h.update(y.astype(np.int64).tobytes())
        sizes[split] = int(x.shape[0])
    ident: dict[str, Any] = {
        "name": getattr(data, "name", None),
        "sizes": sizes,
        "num_classes": int(getattr(data, "num_classes", 0)),
        "input_shape": list(getattr(data, "input_shape", ())),
        "sha256": h.hexdigest(),
    }
    for attr in ("path", "seed", "image_size", "limit"):
        if hasattr(data, attr):
            value = getattr(data, attr)
            ident[attr] = str(value) if isinstance(value, Path) else value
    return ident


@dataclass
class PrunedResult:
    """A trained, pruned, fine-tuned and calibrated model.

    Attributes:
        arch: ``ArchSpec`` of the pruned model (pruned widths, all candidate exits).
        checkpoint: The ``model.pt`` of its weights in the cache.
        profile: Its integer model's :class:`ExitProfile` on the calibration split, over
            every candidate exit and the final (what every choice reads).
        test_profile: The same on the held-out test split (reported beside it only).
        metrics: ``key``, ``rates``, ``widths``, ``exit_accuracy`` (calibration, per exit,
            no thresholds), ``val_accuracy``, ``seconds`` (spent in this call), ``reused``.
    """

    arch: Any
    checkpoint: Path
    profile: ExitProfile
    test_profile: ExitProfile
    metrics: dict[str, Any] = field(default_factory=dict)


class AccuracyPipeline:
    """Train / prune / calibrate with caching, for the study's trials.

    Args:
        data: A ``DataSplits``.
        cache_dir: Checkpoint cache directory (shared by worker processes).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        seed: Seed of weight initialisation and shuffling.
        recipe: Training recipe (default :meth:`TrainRecipe.quickstart`).
        threads: CPU threads torch may use while training and calibrating (default 1, the
            fastest for small models and reproducible whatever the machine; None leaves
            torch's setting alone).
    """

    def __init__(
        self,
        data: Any,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        device: str = "auto",
        seed: int = 0,
        recipe: TrainRecipe | None = None,
        threads: int | None = 1,
    ) -> None:
        self.data = data
        self.threads = threads
        self.cache = CheckpointCache(cache_dir)
        self.device = resolve_torch_device(device)
        self.seed = int(seed)
        self.recipe = recipe if recipe is not None else TrainRecipe.quickstart()
        self.dataset = dataset_identity(data)
        self.versions = library_versions()
        self._memo: dict[str, PrunedResult] = {}

    # ------------------------------------------------------------------ keys
    def joint_key(self, arch: Any) -> str:
        """Cache key of the joint training of ``arch`` (unpruned, all candidate exits)."""
        recipe = {k: v for k, v in self.recipe.to_dict().items() if k in JOINT_FIELDS}
        return cache_key(
            kind="joint",
            arch=arch.to_dict(),
            recipe=recipe,
            dataset=self.dataset,
            seed=self.seed,
            versions=self.versions,
        )

    def step_key(self, parent: str, rates: Rates) -> str:
        """Cache key of one pruning step from the checkpoint ``parent``."""
        return cache_key(
            kind="prune",
            parent=parent,
            rates=rates,
            recipe=self.recipe.to_dict(),
            seed=self.seed,
            versions=self.versions,
        )

    # --------------------------------------------------------------- helpers
    def _check_data(self, arch: Any) -> None:
        shape = tuple(getattr(self.data, "input_shape", arch.input_shape))
        if tuple(arch.input_shape) != shape:
            raise DseError(
                f"arch.input_shape={tuple(arch.input_shape)} does not match the dataset's "
                f"{shape}; build the arch from the dataset's input_shape"
            )
        n_cls = int(getattr(self.data, "num_classes", arch.num_classes))
        if arch.num_classes != n_cls:
            raise DseError(
                f"arch.num_classes={arch.num_classes} does not match the dataset's {n_cls}"
            )

    def _meta(self, **extra: Any) -> dict[str, Any]:
        return {
            "recipe": self.recipe.to_dict(),
            "dataset": self.dataset,
            "seed": self.seed,
            "versions": self.versions,
            "device": self.device,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **extra,
        }

    def _load(self, entry: CacheEntry) -> Any:
        from dse.design import load_pruned_model

        return load_pruned_model(entry.arch(), entry.model_path)

    def full_arch(self, arch: Any) -> Any:
        """``arch`` with every candidate exit of its family attached, unpruned widths kept."""
        from search_spaces import get_family

        family = get_family(arch.family)
        return arch.replace(exits=tuple(family.candidate_exits(arch)))

    # ------------------------------------------------------------ the stages
    def joint(self, arch: Any) -> tuple[CacheEntry, Any | None]:
        """The joint training of ``arch`` (cached): the entry, and the model if built here."""
        from search_spaces import get_family

        key = self.joint_key(arch)
        entry = self.cache.entry(key)
        if entry.exists():
            return entry, None
        with self.cache.lock(key):
            if entry.exists():  # another process trained it while we waited
                return entry, None
            seed_everything(self.seed)
            model = get_family(arch.family).build(arch)
            stats = train_model(
                model, self.data, self.recipe, device=self.device, seed=self.seed, desc="joint"
            )
            model.cpu()
            entry = self.cache.save(
                key,
                model.state_dict(),
                arch.to_dict(),
                self._meta(kind="joint", parent=None, rates=0.0, stats=stats.to_dict()),
            )
            log.info("joint training cached: %s (%.1fs)", entry.dir, stats.seconds)
            return entry, model

    def prune_chain(self, arch: Any, pruning: float | Sequence[float]) -> CacheEntry:
        """Run (or reuse) the pruning ladder that reaches ``pruning`` and return its entry.

        Args:
            arch: Unpruned architecture with all candidate exits (see :meth:`full_arch`).
            pruning: A rate in ``[0, 1)`` or one per prunable layer (absolute).
        """
        rates = normalise_rates(pruning, len(arch.widths))
        if isinstance(rates, tuple) and len(set(rates)) == 1:
            rates = rates[0]
        entry, _ = self.joint(arch)
        chain = pruning_chain(rates, self.recipe.prune_step)
        keys: list[str] = []
        parent = entry.key
        for step in chain:
            parent = self.step_key(parent, step)
            keys.append(parent)
        # resume from the deepest step already cached
        start = 0
        for i in range(len(keys) - 1, -1, -1):
            if self.cache.entry(keys[i]).exists():
                start = i + 1
                entry = self.cache.entry(keys[i])
                break
        for i in range(start, len(chain)):
            key = keys[i]
            step_entry = self.cache.entry(key)
            with self.cache.lock(key):
                if step_entry.exists():
                    entry = step_entry
                    continue
                # always prune the checkpoint as stored, so every process derives the
                # same weights whether it trained the parent itself or loaded it
                model = self._load(entry)
                t0 = time.perf_counter()
                pruned = prune_to(model, arch.widths, chain[i], multiple_of=self.recipe.multiple_of)
                stats = (
                    train_model(
                        pruned,
                        self.data,
                        self.recipe,
                        epochs=self.recipe.finetune_epochs,
                        lr=self.recipe.finetune_lr,
                        device=self.device,
                        seed=self.seed + i + 1,
                        desc=f"finetune {chain[i]}",
                    )
                    if self.recipe.finetune_epochs > 0
                    else None
                )
                pruned.cpu()
                entry = self.cache.save(
                    key,
                    pruned.state_dict(),
                    pruned.arch.to_dict(),
                    self._meta(
                        kind="prune",
                        parent=entry.key,
                        rates=chain[i],
                        stats=stats.to_dict() if stats else None,
                        seconds=round(time.perf_counter() - t0, 3),
                    ),
                )
                log.info("pruning step %s cached: %s", chain[i], entry.dir)
        return entry

    def profiles(self, entry: CacheEntry) -> dict[str, ExitProfile]:
        """The integer model's exit profiles of a cached model on the calibration and test
        splits (computed once, cached in ``profile.json``)."""
        if entry.has(PROFILE_FILE):
            cached = entry.read_json(PROFILE_FILE)
            splits = cached.get("splits")
            if cached.get("format") == PROFILE_FORMAT and isinstance(splits, dict):
                return {k: ExitProfile.from_dict(v) for k, v in splits.items()}
        model = self._load(entry)
        profs = integer_profiles(
            model,
            {
                "calibration": (self.data.x_val, self.data.y_val),
                "test": (self.data.x_test, self.data.y_test),
            },
            batch_size=min(self.recipe.eval_batch_size, 256),
        )
        entry.write_json(
            PROFILE_FILE,
            {"format": PROFILE_FORMAT, "splits": {k: p.to_dict() for k, p in profs.items()}},
        )
        return profs

    def evaluate(self, arch: Any, pruning: float | Sequence[float] = 0.0) -> PrunedResult:
        """Trained, pruned and calibrated model of a design point (all cached).

        Args:
            arch: The unpruned ``ArchSpec`` of the design (its ``exits`` are ignored: every
                candidate exit is trained and profiled; the trial selects a subset).
            pruning: Absolute pruning rate in ``[0, 1)`` or one per prunable layer.

        Returns:
            The :class:`PrunedResult`.

        Raises:
            DseError: rates out of range, arch inconsistent with the dataset, corrupt cache.
        """
        t0 = time.perf_counter()
        self._check_data(arch)
        full = self.full_arch(arch)
        rates = normalise_rates(pruning, len(full.widths))
        memo_key = cache_key(arch=full.to_dict(), rates=rates)
        if memo_key in self._memo:
            return self._memo[memo_key]
        joint_key = self.joint_key(full)
        reused = self.cache.entry(joint_key).exists()
        with torch_threads(self.threads):
            entry = self.prune_chain(full, rates)
            reused = reused and entry.has(PROFILE_FILE)
            profs = self.profiles(entry)
        prof = profs["calibration"]
        from search_spaces import ArchSpec

        pruned_arch = ArchSpec.from_dict(entry.arch())
        meta = entry.meta()
        stats = meta.get("stats") or {}
        result = PrunedResult(
            arch=pruned_arch,
            checkpoint=entry.model_path,
            profile=prof,
            test_profile=profs["test"],
            metrics={
                "key": entry.key,
                "rates": list(rates) if isinstance(rates, tuple) else rates,
                "widths": list(pruned_arch.widths),
                "exit_accuracy": {str(k): v for k, v in prof.exit_accuracies().items()},
                "accuracy": prof.exit_accuracies()[-1],
                "val_accuracy": stats.get("val_accuracy"),
                "seconds": round(time.perf_counter() - t0, 3),
                "reused": reused,
            },
        )
        self._memo[memo_key] = result
        return result

    def evaluate_many(
        self, arch: Any, rates: Sequence[float | Sequence[float]]
    ) -> list[PrunedResult]:
        """Evaluate several pruning rates in one pass, shallowest first.

        Each rate continues from the cached steps of the ones before it, so the whole
        ladder is trained once. Results come back in the order of ``rates``.
        """
        specs = [normalise_rates(r) for r in rates]
        tops = [s if isinstance(s, float) else max(s) for s in specs]
        results: dict[int, PrunedResult] = {}
        for i in sorted(range(len(rates)), key=lambda j: tops[j]):
            results[i] = self.evaluate(arch, rates[i])
        return [results[i] for i in range(len(rates))]
