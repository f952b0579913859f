"""Exit calibration: per-sample confidences of every exit, and threshold evaluation.

An :class:`ExitProfile` holds, for every candidate exit of a trained model and for its
final classifier, the top-1 softmax confidence and the prediction on every test sample.
Everything a trial samples about exits (which exits are in use, their thresholds) is then
evaluated from these arrays in microseconds, without touching the model again.

Semantics of :meth:`ExitProfile.evaluate`: the stages are the exits in use in dataflow
order followed by the final classifier; a sample leaves at the first exit in use whose
top-1 softmax is ``>=`` that exit's threshold, otherwise it goes on; the final classifier
takes every sample that reaches it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.errors import DseError
from dse.jsonable import jsonable

FINAL = -1
"""Index of the final classifier in :attr:`ExitProfile.exits` (always last)."""

PROFILE_FORMAT = 2
"""Version of :meth:`ExitProfile.to_dict` (2: ties to the lowest class, unrounded
confidences); a cached profile of another version is calibrated again."""

TIE_RTOL = 1e-5
"""Logits within this share of the largest magnitude of the top logit tie (the float
model's rounding noise on logits that are integers times a scale)."""

DEFAULT_GRID: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10)) + (
    0.99,
    1.0,
)
"""Threshold grid used by :meth:`ExitProfile.table` when none is given."""


@dataclass
class ExitEvaluation:
    """Outcome of applying thresholds to a subset of the exits.

    Every list is aligned with :attr:`exits`: the exits in use in dataflow order, then the
    final classifier (``-1``). The final classifier's threshold is reported as ``0.0``
    (every sample that reaches it leaves there).

    Attributes:
        exits: Exits in use, then ``-1``.
        thresholds: Threshold of each entry of ``exits`` (``0.0`` for the final).
        reach: Fraction of the samples entering each stage (``reach[0] == 1.0``,
            non-increasing).
        exit_fraction: Fraction of the samples leaving at each stage (sums to 1).
        exit_accuracy: Accuracy of the samples that leave at each stage (NaN when none
            leaves there).
        accuracy: Overall accuracy of the early-exit model.
    """

    exits: list[int]
    thresholds: list[float]
    reach: list[float]
    exit_fraction: list[float]
    exit_accuracy: list[float]
    accuracy: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN accuracies become ``None``)."""
        return {
            "exits": list(self.exits),
            "thresholds": [float(t) for t in self.thresholds],
            "reach": [float(r) for r in self.reach],
            "exit_fraction": [float(f) for f in self.exit_fraction],
            "exit_accuracy": jsonable(self.exit_accuracy),
            "accuracy": float(self.accuracy),
        }


@dataclass
class ExitProfile:
    """Per-sample confidences and predictions of every candidate exit and the final.

    Attributes:
        exits: Candidate exit indices in dataflow order, then ``-1`` (the final classifier).
        confidences: ``(E, N)`` float32 top-1 softmax of each entry of ``exits``.
        predictions: ``(E, N)`` int64 argmax of each entry of ``exits``.
        labels: ``(N,)`` int64 true labels.
    """

    exits: list[int]
    confidences: np.ndarray
    predictions: np.ndarray
    labels: np.ndarray
    _row: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.exits = [int(e) for e in self.exits]
        self.confidences = np.asarray(self.confidences, dtype=np.float32)
        self.predictions = np.asarray(self.predictions, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if not self.exits or self.exits[-1] != FINAL or FINAL in self.exits[:-1]:
            raise DseError(
                f"exit profile exits={self.exits}: the final classifier (-1) must be last "
                "and appear once"
            )
        if len(set(self.exits)) != len(self.exits):
            raise DseError(f"exit profile exits={self.exits}: exit indices must be unique")
        shape = (len(self.exits), self.labels.shape[0])
        if self.confidences.shape != shape or self.predictions.shape != shape:
            raise DseError(
                f"exit profile arrays: confidences {self.confidences.shape} and predictions "
                f"{self.predictions.shape} must both be (len(exits), N) = {shape}"
            )
        self._row = {e: i for i, e in enumerate(self.exits)}

    # ------------------------------------------------------------------ queries
    @property
    def candidate_exits(self) -> list[int]:
        """The early exits (without the final classifier)."""
        return self.exits[:-1]

    @property
    def n_samples(self) -> int:
        """Number of calibration samples."""
        return int(self.labels.shape[0])

    def exit_accuracies(self) -> dict[int, float]:
        """Accuracy of every exit on all samples (no thresholds), keyed by exit index."""
        correct = self.predictions == self.labels[None, :]
        acc = correct.mean(axis=1) if self.n_samples else np.zeros(len(self.exits))
        return {e: float(a) for e, a in zip(self.exits, acc, strict=True)}

    def _resolve(
        self,
        thresholds: Mapping[int, float] | Sequence[float] | float,
        exits: Sequence[int] | None,
    ) -> tuple[list[int], np.ndarray]:
        if exits is None:
            used = list(self.candidate_exits)
        else:
            used = [int(e) for e in exits if int(e) != FINAL]
        for e in used:
            if e not in self._row:
                raise DseError(
                    f"exits: exit {e} is not a candidate of this model; choose among "
                    f"{self.candidate_exits}"
                )
        if len(set(used)) != len(used):
            raise DseError(f"exits={used}: each exit may be used once")
        used.sort(key=lambda e: self._row[e])
        if isinstance(thresholds, Mapping):
            missing = [e for e in used if e not in thresholds]
            if missing:
                raise DseError(f"thresholds: no threshold for exit(s) {missing}; give one per exit")
            thr = [float(thresholds[e]) for e in used]
        elif isinstance(thresholds, (int, float)):
            thr = [float(thresholds)] * len(used)
        else:
            thr = [float(t) for t in thresholds]
            if len(thr) == len(used) + 1:  # a value for the final was given: ignored
                thr = thr[:-1]
            if len(thr) != len(used):
                raise DseError(
                    f"thresholds: {len(thr)} value(s) for {len(used)} exit(s) in use {used}; "
                    "give one threshold per exit"
                )
        if any(not math.isfinite(t) for t in thr):
            raise DseError(f"thresholds={thr}: thresholds must be finite numbers")
        return used, np.asarray(thr, dtype=np.float64)

    def evaluate(
        self,
        thresholds: Mapping[int, float] | Sequence[float] | float,
        exits: Sequence[int] | None = None,
    ) -> ExitEvaluation:
        """Apply thresholds to a subset of the exits.

        Args:
            thresholds: One threshold per exit in use: a mapping ``exit -> threshold``, a
                sequence aligned with the (sorted) exits in use, or one number for all.
            exits: Candidate exits in use (any order; ``-1`` is implied). ``None``: all.

        Returns:
            The reach, exit fractions and accuracies per stage, and the overall accuracy.

        Raises:
            DseError: an exit is not a candidate, or the thresholds do not match the exits.
        """
        used, thr = self._resolve(thresholds, exits)
        rows = [self._row[e] for e in used] + [self._row[FINAL]]
        n_stages = len(rows)
        n = self.n_samples
        if n == 0:
            nan = float("nan")
            return ExitEvaluation(
                used + [FINAL],
                list(thr) + [0.0],
                [1.0] + [0.0] * (n_stages - 1),
                [0.0] * n_stages,
                [nan] * n_stages,
                nan,
            )
        conf = self.confidences[rows]
        leaves = np.empty((n_stages, n), dtype=bool)
        leaves[:-1] = conf[:-1] >= thr[:, None].astype(np.float32)
        leaves[-1] = True
        stage = np.argmax(leaves, axis=0)  # first stage whose exit is confident
        pred = self.predictions[rows][stage, np.arange(n)]
        correct = pred == self.labels
        counts = np.bincount(stage, minlength=n_stages)
        correct_counts = np.bincount(stage, weights=correct, minlength=n_stages)
        fraction = counts / n
        reach = np.concatenate([[1.0], 1.0 - np.cumsum(fraction)[:-1]])
        reach = np.clip(reach, 0.0, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.where(counts > 0, correct_counts / np.maximum(counts, 1), np.nan)
        return ExitEvaluation(
            exits=used + [FINAL],
            thresholds=[float(t) for t in thr] + [0.0],
            reach=[float(r) for r in reach],
            exit_fraction=[float(f) for f in fraction],
            exit_accuracy=[float(a) for a in acc],
            accuracy=float(correct.mean()),
        )

    def table(self, grid: Sequence[float] | None = None) -> list[dict[str, Any]]:
        """Per exit and threshold: fraction of samples confident there and their accuracy.

        Each exit is considered on its own (all samples enter it), which is what a user
        reads to choose thresholds. The final classifier appears once, with threshold 0.

        Args:
            grid: Thresholds to tabulate (default :data:`DEFAULT_GRID`).

        Returns:
            Rows ``{"exit", "threshold", "fraction", "accuracy"}`` (accuracy ``None`` when
            no sample is confident).
        """
        g = np.asarray(DEFAULT_GRID if grid is None else list(grid), dtype=np.float32)
        rows: list[dict[str, Any]] = []
        n = max(self.n_samples, 1)
        correct = self.predictions == self.labels[None, :]
        for i, e in enumerate(self.exits):
            ts = np.asarray([0.0], dtype=np.float32) if e == FINAL else g
            confident = self.confidences[i][None, :] >= ts[:, None]
            count = confident.sum(axis=1)
            good = (confident & correct[i][None, :]).sum(axis=1)
            for t, c, k in zip(ts, count, good, strict=True):
                rows.append(
                    {
                        "exit": e,
                        "threshold": round(float(t), 4),
                        "fraction": float(c) / n,
                        "accuracy": float(k) / float(c) if c else None,
                    }
                )
        return rows

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists; confidences as float32, unrounded: a rounded confidence
        could pass a threshold that the deployed design's does not)."""
        return {
            "format": PROFILE_FORMAT,
            "exits": list(self.exits),
            "confidences": self.confidences.astype(np.float32).tolist(),
            "predictions": self.predictions.astype(np.int64).tolist(),
            "labels": self.labels.astype(np.int64).tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExitProfile:
        """Inverse of :meth:`to_dict`.

        Raises:
            DseError: a key is missing or the arrays have inconsistent shapes.
        """
        try:
            labels = np.asarray(data["labels"], dtype=np.int64).reshape(-1)
            n_rows = len(data["exits"])
            return cls(
                exits=list(data["exits"]),
                confidences=np.asarray(data["confidences"], dtype=np.float32).reshape(
                    n_rows, labels.shape[0]
                ),
                predictions=np.asarray(data["predictions"], dtype=np.int64).reshape(
                    n_rows, labels.shape[0]
                ),
                labels=labels,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DseError):
                raise
            raise DseError(
                f"exit profile: malformed data ({type(exc).__name__}: {exc}); "
                "recalibrate the model (delete the cached profile.json)"
            ) from exc

    @classmethod
    def from_logits(cls, exits: Sequence[int], logits: Sequence[Any], labels: Any) -> ExitProfile:
        """Build a profile from per-exit logits.

        Args:
            exits: Candidate exit indices in dataflow order (``-1`` appended if absent).
            logits: One ``(N, classes)`` array per exit, then the final classifier's.
            labels: ``(N,)`` true labels.

        Returns:
            The profile.
        """
        ex = [int(e) for e in exits]
        if not ex or ex[-1] != FINAL:
            ex.append(FINAL)
        conf, pred = [], []
        for z in logits:
            z = np.asarray(z, dtype=np.float64)
            top = z.max(axis=1, keepdims=True)
            # the accelerator's logits are integers times a scale, so classes tie exactly
            # where the float model differs by rounding noise: a tie goes to the lowest
            # class index, as the deployed design decides (argmax, ONNX TopK)
            tol = TIE_RTOL * np.maximum(np.abs(z).max(axis=1, keepdims=True), 1e-30)
            pred.append(np.argmax(z >= top - tol, axis=1))
            p = np.exp(z - top)
            p /= p.sum(axis=1, keepdims=True)
            conf.append(p.max(axis=1))
        return cls(ex, np.stack(conf).astype(np.float32), np.stack(pred), np.asarray(labels))


def calibrate(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    device: str = "cpu",
    batch_size: int = 256,
) -> ExitProfile:
    """Run a multi-exit model on a data split and record every exit's confidences.

    Args:
        model: A ``MultiExitNet`` (``forward`` returns the logits of each attached exit in
            ``model.arch.exits`` order, then the final's).
        x: Inputs, float32 NCHW.
        y: Labels.
        device: Torch device to run on.
        batch_size: Inference batch size.

    Returns:
        The profile over the model's attached exits and the final classifier.
    """
    import torch

    model = model.to(device)
    model.eval()
    outs: list[list[np.ndarray]] | None = None
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size])).to(device)
            logits = model(xb)
            if outs is None:
                outs = [[] for _ in logits]
            for store, z in zip(outs, logits, strict=True):
                store.append(z.detach().float().cpu().numpy())
    exits = list(getattr(getattr(model, "arch", None), "exits", ()))
    merged = [np.concatenate(o) for o in (outs or [])]
    if len(merged) != len(exits) + 1:
        raise DseError(
            f"model returned {len(merged)} outputs for exits {exits}; expected one per exit "
            "plus the final classifier"
        )
    return ExitProfile.from_logits(exits, merged, y)
