"""``verify_library``: run every design of a library on one of the study's data splits, as
the host runs it, and compare accuracy, per-exit accuracy and exit fractions with the
stored ones.

The study chose every design and threshold on its calibration split, and stored the
integer model's figures there and, beside them, on the held-out test split. Verifying on the
calibration split is the exact check: a stored fraction f of n samples is the count
``round(f * n)``, and any difference in any count is a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dse.deploy.library import DeployedLibrary, DeployError
from dse.deploy.runner import AdaptiveRunner

#: The data splits a library is verified on: the one every choice was made on, and the
#: held-out one.
SPLITS = ("calibration", "test")


def load_split(
    library: DeployedLibrary, data: str | None = None, split: str = "test"
) -> tuple[Any, Any, dict]:
    """The images and labels of one split of the study's dataset: ``(x, y, dataset)``.

    Args:
        library: The library.
        data: Where the dataset lies when not where the study read it: a path, or
            ``NAME:PATH`` for another dataset of the same split settings.
        split: ``"calibration"`` or ``"test"``.

    Raises:
        DeployError: the dataset cannot be loaded, or the split is unknown (one line).
    """
    if split not in SPLITS:
        raise DeployError(
            f"`split` {split!r}: unknown; use one of {', '.join(SPLITS)}", arguments=("split",)
        )
    from search_spaces import SpaceError, load_dataset

    ds = dict(library.dataset())
    if data:
        name, sep, path = data.partition(":")
        if sep and name and not Path(data).exists():
            ds["name"], ds["path"] = name, path
        else:
            ds["path"] = data
    try:
        splits = load_dataset(
            ds["name"],
            ds.get("path"),
            seed=int(ds.get("seed", 0)),
            image_size=ds.get("image_size"),
            val_fraction=float(ds.get("calibration_fraction", ds.get("val_fraction", 0.15))),
            test_fraction=float(ds.get("test_fraction", 0.2)),
            limit=ds.get("limit"),
        )
    except SpaceError as exc:
        raise DeployError(f"`data`: {exc}", arguments=("data",)) from None
    x, y = (
        (splits.x_val, splits.y_val) if split == "calibration" else (splits.x_test, splits.y_test)
    )
    want = ds.get(f"n_{split}")
    if want is not None and len(y) != int(want):
        raise DeployError(
            f"`data`: the {split} split has {len(y)} samples, the study's had {want}; "
            "pass the dataset the study used",
            arguments=("data",),
        )
    return x, y, ds


@dataclass
class DesignCheck:
    """Stored against measured figures of one design on the test split."""

    design_id: int
    thresholds: list[float]
    samples: int
    stored: dict[str, Any]
    measured: dict[str, Any]
    differences: list[str] = field(default_factory=list)
    calibration: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "design_id": self.design_id,
            "thresholds": self.thresholds,
            "samples": self.samples,
            "stored": self.stored,
            "measured": self.measured,
            "ok": self.ok,
            "differences": self.differences,
            **({"calibration": self.calibration} if self.calibration else {}),
        }


def _count(fraction: Any, n: int) -> int | None:
    if fraction is None or (isinstance(fraction, float) and np.isnan(fraction)):
        return None
    return int(round(float(fraction) * n))


def _compare(stored: Mapping[str, Any], measured: Mapping[str, Any], n: int) -> list[str]:
    diffs = []
    if _count(stored.get("accuracy"), n) != _count(measured["accuracy"], n):
        diffs.append(f"accuracy {stored.get('accuracy')} stored, {measured['accuracy']} measured")
    fr_s, fr_m = stored.get("exit_fraction") or [], measured["exit_fraction"]
    for k, (a, b) in enumerate(zip(fr_s, fr_m, strict=False)):
        if _count(a, n) != _count(b, n):
            diffs.append(f"stage {k} exit fraction {a} stored, {b} measured")
    if len(fr_s) != len(fr_m):
        diffs.append(f"{len(fr_s)} stages stored, {len(fr_m)} measured")
    acc_s, acc_m = stored.get("exit_accuracy") or [], measured["exit_accuracy"]
    for k, (a, b) in enumerate(zip(acc_s, acc_m, strict=False)):
        left = _count(fr_m[k], n) if k < len(fr_m) else 0
        if left and _count(a, left) != _count(b, left):
            diffs.append(f"stage {k} accuracy {a} stored, {b} measured")
    return diffs


def check_design(
    library: DeployedLibrary,
    design_id: int,
    x: np.ndarray,
    y: np.ndarray,
    *,
    backend: str = "software",
    batch: int = 256,
    split: str = "calibration",
    progress: Callable[[int], None] | None = None,
) -> DesignCheck:
    """One design at its stored thresholds on ``(x, y)``, the samples of ``split``."""
    runner = AdaptiveRunner(library, design_id, backend=backend)
    labels, stage = [], []
    for start in range(0, len(y), batch):
        res = runner.serve(x[start : start + batch])
        labels.append(res.labels)
        stage.append(res.stage)
        if progress is not None:
            progress(len(res.labels))
    lab, st = np.concatenate(labels), np.concatenate(stage)
    n, n_stages = len(y), len(runner.design.stages)
    correct = lab == np.asarray(y)
    fractions = [float(np.mean(st == k)) for k in range(n_stages)]
    exit_acc = [
        float(np.mean(correct[st == k])) if np.any(st == k) else None for k in range(n_stages)
    ]
    measured = {
        "accuracy": float(np.mean(correct)),
        "exit_fraction": fractions,
        "exit_accuracy": exit_acc,
    }
    keys = ("accuracy", "exit_fraction", "exit_accuracy")
    metrics = runner.design.entry.get("metrics") or {}
    calibration = {k: metrics.get(k) for k in keys}
    if split == "test":
        test = metrics.get("test")
        if not isinstance(test, dict):
            raise DeployError(
                f"design {design_id}: the library stores no test-split figures (a study made "
                "before schema 3); verify it with `--split calibration`",
                arguments=("split",),
            )
        stored = {k: test.get(k) for k in keys}
    else:
        stored = calibration
    return DesignCheck(
        design_id,
        list(runner.thresholds),
        n,
        stored,
        measured,
        _compare(stored, measured, n),
        calibration if split == "test" else {},
    )


@dataclass
class GuaranteeCheck:
    """One configuration the runtime table promises an accuracy threshold with, measured on
    the held-out test split.

    Attributes:
        accuracy_threshold: The threshold the table promises it for.
        design_id: The design.
        thresholds: Its exit thresholds.
        guaranteed_accuracy: Its guaranteed accuracy (calibration split).
        measured: Its accuracy on the test split (None: a static accelerator the library
            does not hold, not measured).
        samples: Test samples.
    """

    accuracy_threshold: float
    design_id: int
    thresholds: list[float]
    guaranteed_accuracy: float | None
    measured: float | None
    samples: int

    @property
    def held(self) -> bool | None:
        """Whether the measured accuracy reaches the threshold (None: not measured)."""
        if self.measured is None:
            return None
        return self.measured >= self.accuracy_threshold - 1e-12

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy_threshold": self.accuracy_threshold,
            "design_id": self.design_id,
            "thresholds": self.thresholds,
            "guaranteed_accuracy": self.guaranteed_accuracy,
            "measured": self.measured,
            "samples": self.samples,
            "held": self.held,
        }


def check_guarantees(
    library: DeployedLibrary,
    x: np.ndarray,
    y: np.ndarray,
    *,
    backend: str = "software",
    progress: Callable[[int], None] | None = None,
) -> list[GuaranteeCheck]:
    """Every (accuracy threshold, configuration) the library's runtime table promises
    (its compliant rows), the configuration served on ``(x, y)`` (the test split) through
    the library at those thresholds.

    Raises:
        DeployError: the library has no runtime table, or a design of it is damaged.
    """
    table = library.runtime_table
    if not table or not isinstance(table.get("entries"), list):
        raise DeployError(
            f"`library` {library.folder}: holds no runtime table to check; export it again",
            arguments=("library",),
        )
    rows: dict[tuple[float, int, tuple[float, ...]], float | None] = {}
    for e in table["entries"]:
        if not e.get("compliant", True):
            continue  # a row that says it guarantees nothing promises nothing
        key = (float(e["accuracy_threshold"]), int(e["design_id"]), tuple(e["thresholds"]))
        rows.setdefault(key, e.get("guaranteed_accuracy"))
    measured: dict[tuple[int, tuple[float, ...]], float | None] = {}
    held = set(library.design_ids)
    for _, design, thresholds in rows:
        if (design, thresholds) in measured:
            continue
        if design not in held:  # a static accelerator: no folder of the library
            measured[(design, thresholds)] = None
            continue
        runner = AdaptiveRunner(library, design, list(thresholds), backend)
        got = [runner.serve(x[i : i + 256]).labels for i in range(0, len(y), 256)]
        labels = np.concatenate(got) if got else np.zeros(0, dtype=np.int64)
        measured[(design, thresholds)] = float(np.mean(labels == np.asarray(y))) if len(y) else None
        if progress is not None:
            progress(len(y))
    return [
        GuaranteeCheck(a, d, list(t), g, measured[(d, t)], len(y))
        for (a, d, t), g in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    ]


def verify_library(
    library: DeployedLibrary,
    *,
    data: str | None = None,
    backend: str = "software",
    split: str = "calibration",
    progress: Callable[[int, int], None] | None = None,
) -> list[DesignCheck]:
    """Every design of the library at its stored thresholds (module doc).

    Args:
        library: The library.
        data: See :func:`load_split`.
        backend: The backend's name.
        split: ``"calibration"`` (the exact check against the stored figures) or
            ``"test"`` (the held-out split, against the stored test figures).
        progress: Called with (samples just served, samples in all).

    Raises:
        DeployError: the library, a design folder or the data is unusable.
    """
    x, y, _ = load_split(library, data, split)
    ids = library.design_ids
    if not ids:
        raise DeployError(f"`library` {library.folder}: holds no design", arguments=("library",))
    total = len(ids) * len(y)

    def step(k: int) -> None:
        if progress is not None:
            progress(k, total)

    return [
        check_design(library, d, x, y, backend=backend, split=split, progress=step) for d in ids
    ]
