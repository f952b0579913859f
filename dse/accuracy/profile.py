"""Exit calibration: per-sample confidences of every exit, and threshold evaluation.

An :class:`ExitProfile` holds, for every candidate exit of a trained model and for its
final classifier, the top-1 softmax confidence and the prediction on every sample of one
data split. Everything a design chooses about exits (which exits are in use, their
thresholds) is then evaluated from these arrays in microseconds, without touching the model
again.

The profiles the study stores are the integer model's own (:func:`integer_profiles`): the
model exported to QONNX and executed by :mod:`dse.integer_exec`, the executor the host
runtime's ``software`` backend runs too, with the host's exit rule
(:func:`dse.integer_exec.exit_confidence`, :func:`~dse.integer_exec.exit_prediction`). A
stored accuracy or exit fraction is therefore what the exported accelerator gives, sample
for sample, on every machine. :func:`calibrate` (PyTorch's float forward) remains for
comparison.

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

PROFILE_FORMAT = 3
"""Version of the cached profiles (3: the integer model's figures, float64 confidences,
calibration and test splits); a cached profile of another version is computed again."""

TIE_RTOL = 1e-5
"""Logits within this share of the largest magnitude of the top logit tie (the float
model's rounding noise on logits that are integers times a scale)."""

DEFAULT_GRID: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10)) + (
    0.99,
    1.0,
)
"""Threshold grid used by :meth:`ExitProfile.table` when none is given."""


def exit_subsets(candidates: Sequence[int]) -> list[tuple[int, ...]]:
    """Every subset of the candidate exits a design may use, smallest first, each in the
    candidates' (dataflow) order: the study's space and the runtime's operating points
    enumerate them alike."""
    import itertools

    cands = [int(c) for c in candidates]
    return [s for r in range(len(cands) + 1) for s in itertools.combinations(cands, r)]


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
        confidences: ``(E, N)`` float64 top-1 softmax of each entry of ``exits``.
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
        self.confidences = np.asarray(self.confidences, dtype=np.float64)
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
        leaves[:-1] = conf[:-1] >= thr[:, None]
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
        g = np.asarray(DEFAULT_GRID if grid is None else list(grid), dtype=np.float64)
        rows: list[dict[str, Any]] = []
        n = max(self.n_samples, 1)
        correct = self.predictions == self.labels[None, :]
        for i, e in enumerate(self.exits):
            ts = np.asarray([0.0], dtype=np.float64) if e == FINAL else g
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
        """JSON-ready form (lists; confidences as float64, unrounded: JSON keeps every bit, and
        a rounded confidence could pass a threshold that the deployed design's does not)."""
        return {
            "format": PROFILE_FORMAT,
            "exits": list(self.exits),
            "confidences": self.confidences.astype(np.float64).tolist(),
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
                confidences=np.asarray(data["confidences"], dtype=np.float64).reshape(
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
        return cls(ex, np.stack(conf), np.stack(pred), np.asarray(labels))

    @classmethod
    def from_integer_logits(
        cls, exits: Sequence[int], logits: Sequence[tuple[Any, float]], labels: Any
    ) -> ExitProfile:
        """Build a profile from the accelerator's integer logits, with the host's rule.

        Args:
            exits: Candidate exit indices in dataflow order (``-1`` appended if absent).
            logits: Per exit, then the final classifier: ``(integers (N, classes), scale)``.
            labels: ``(N,)`` true labels.

        Returns:
            The profile: each exit's confidence is :func:`dse.integer_exec.exit_confidence`
            and its prediction :func:`dse.integer_exec.exit_prediction` (the lowest class
            among equal integers), exactly what the host runtime computes.
        """
        from dse.integer_exec import exit_confidence, exit_prediction

        ex = [int(e) for e in exits]
        if not ex or ex[-1] != FINAL:
            ex.append(FINAL)
        conf = [exit_confidence(q, scale) for q, scale in logits]
        pred = [exit_prediction(q) for q, _ in logits]
        n = len(np.asarray(labels).reshape(-1))
        if not logits or n == 0:
            return cls(ex, np.zeros((len(ex), n)), np.zeros((len(ex), n)), np.asarray(labels))
        return cls(ex, np.stack(conf), np.stack(pred), np.asarray(labels))


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


#: Samples per execution of the integer model when profiling.
PROFILE_BATCH = 256

#: Below this share of samples on which the integer model's final prediction equals the
#: float model's, the export is taken for broken rather than for rounding at quantiser
#: boundaries (which moves a few samples in a thousand).
MIN_FLOAT_AGREEMENT = 0.9


def integer_profiles(
    model: Any,
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    batch_size: int = PROFILE_BATCH,
) -> dict[str, ExitProfile]:
    """The integer model's exit profile on each data split (module doc).

    The multi-exit model, with every attached exit, is exported once to QONNX (Brevitas'
    export through torch's TorchScript exporter, cleaned by qonnx) and executed by :class:`dse.integer_exec.CompiledGraph` on
    the images as the host feeds them (:func:`dse.integer_exec.image_integers`'s pixel
    grid). Every exit's integer logits and scale give its confidences and predictions by
    the host's rule. This whole-model graph computes the same integers as every design's
    ``model.onnx`` (each stage reads the previous stage's integer features times the same
    scale); a test holds the two equal on every bit width.

    Args:
        model: A ``MultiExitNet`` (eval mode).
        splits: ``name -> (images in [0, 1] NCHW, labels)``.
        batch_size: Samples per execution.

    Returns:
        ``name -> ExitProfile`` over the model's attached exits and the final classifier.

    Raises:
        DseError: the integer model cannot be executed, or disagrees with PyTorch's float
            model on more than ``1 - MIN_FLOAT_AGREEMENT`` of a split's samples.
    """
    import tempfile
    from pathlib import Path

    import onnx

    from dse.accuracy.finn_export import logits_scale
    from dse.accuracy.qonnx_export import export_qonnx
    from dse.integer_exec import CompiledGraph, output_integers

    exits = [int(e) for e in getattr(model.arch, "exits", ())]
    with tempfile.TemporaryDirectory(prefix="adapex-profile-") as tmp:
        path = export_qonnx(
            model.cpu().eval(), Path(tmp) / "model.onnx", verify=False, dynamo=False
        )
        graph = CompiledGraph(onnx.load(str(path)))
    if len(graph.outputs) != len(exits) + 1:
        raise DseError(
            f"integer model: {len(graph.outputs)} outputs for exits {exits}; expected one per "
            "exit plus the final classifier"
        )
    # the host's scale of each exit's logits (one definition, shared with deployment.json)
    scales = [logits_scale(model, e) for e in exits] + [logits_scale(model, None)]
    profiles: dict[str, ExitProfile] = {}
    for name, (x, y) in splits.items():
        parts: list[list[np.ndarray]] = [[] for _ in graph.outputs]
        for start in range(0, len(x), batch_size):
            chunk = np.asarray(x[start : start + batch_size], dtype=np.float64)
            got = graph.run({graph.inputs[0]: chunk})
            for i, out in enumerate(graph.outputs):
                q, found = output_integers(got[out], out)
                if not math.isclose(found, scales[i], rel_tol=1e-6):
                    raise DseError(
                        f"integer model: output {out} has scale {found!r} but its head's "
                        f"quantisers give {scales[i]!r}; the QONNX export is not faithful"
                    )
                parts[i].append(q.reshape(len(chunk), -1))
        logits = [
            (np.concatenate(p) if p else np.zeros((0, 1), np.int64), s)
            for p, s in zip(parts, scales, strict=True)
        ]
        profiles[name] = ExitProfile.from_integer_logits(exits, logits, y)
        _check_agreement(model, name, x, profiles[name], batch_size)
    return profiles


def _check_agreement(
    model: Any, split: str, x: np.ndarray, prof: ExitProfile, batch_size: int
) -> None:
    """DseError when the integer model's final predictions and PyTorch's differ on more
    than ``1 - MIN_FLOAT_AGREEMENT`` of the split (a broken export, not rounding)."""
    if prof.n_samples == 0:
        return
    flt = calibrate(model, x, prof.labels, batch_size=batch_size)
    agree = float(np.mean(flt.predictions[-1] == prof.predictions[-1]))
    if agree < MIN_FLOAT_AGREEMENT:
        raise DseError(
            f"integer model: its final predictions equal PyTorch's on only {agree:.1%} of the "
            f"{split} split; the QONNX export is not faithful (check the quantisers)"
        )
