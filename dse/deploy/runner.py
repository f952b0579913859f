"""Serve a batch through one design, as its host program does: ``AdaptiveRunner``.

Stage 0 runs on the whole batch; each exit takes its decision per sample on its integer
logits with their scale (``value = integer * scale``: the exit answers when the largest
softmax probability is at least its threshold, as the study's exit profile decides); the
samples it does not answer go on, their integer features gathered into the next stage's
batch, unchanged; the final stage answers the rest with its label. Everything comes from
the library's ``library.json`` and the design's ``deployment.json``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.deploy.backends import Backend, get_backend
from dse.deploy.library import DeployedDesign, DeployedLibrary, DeployError
from dse.integer_exec import exit_confidence, exit_prediction, image_integers


@dataclass
class RunResult:
    """What a batch got from a design.

    Attributes:
        labels: per sample, the predicted class.
        stage: per sample, the stage that answered it (its exit's stage; the last stage is
            the final classifier).
        entered: per stage, the samples that entered it.
        answered: per stage, the samples it answered.
        seconds: per stage, the time its backend took.
    """

    labels: np.ndarray
    stage: np.ndarray
    entered: list[int]
    answered: list[int]
    seconds: list[float] = field(default_factory=list)

    def exit_fraction(self) -> list[float]:
        n = max(len(self.labels), 1)
        return [a / n for a in self.answered]

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": len(self.labels),
            "entered": list(self.entered),
            "answered": list(self.answered),
            "exit_fraction": self.exit_fraction(),
            "seconds": list(self.seconds),
        }


def confidence(logits: np.ndarray) -> np.ndarray:
    """The largest softmax probability of each row of float ``logits`` (float64)."""
    return exit_confidence(logits, 1.0)


class AdaptiveRunner:
    """Serves batches through one design of a library.

    Args:
        library: The loaded library (:func:`dse.deploy.load_deployed_library`).
        design: The design's id.
        thresholds: One per exit in use; None takes the design's stored ones.
        backend: A backend's name (``software``, ``pynq``) or instance.

    Raises:
        DeployError: unknown design, a damaged design folder, or thresholds that do not
            fit the design's exits.
    """

    def __init__(
        self,
        library: DeployedLibrary,
        design: int,
        thresholds: Sequence[float] | None = None,
        backend: str | Backend = "software",
    ) -> None:
        self.library = library
        self.backend = get_backend(backend) if isinstance(backend, str) else backend
        self.design: DeployedDesign = library.design(design)
        self.load_seconds = self.backend.load(self.design)
        self.thresholds = self._check(thresholds)

    def _check(self, thresholds: Sequence[float] | None) -> list[float]:
        n = len(self.design.stages) - 1
        values = self.design.thresholds if thresholds is None else [float(t) for t in thresholds]
        # a threshold above 1 switches its exit off (no confidence reaches it), as the
        # runtime table's "exits off" settings do
        if len(values) != n or any(not (0.0 <= t < math.inf) for t in values):
            raise DeployError(
                f"`thresholds` {list(values)}: design {self.design.id} has {n} exit(s); give "
                f"{n} value(s) in [0, 1] (above 1: that exit off)",
                arguments=("thresholds",),
            )
        return values

    def set_thresholds(self, thresholds: Sequence[float] | None) -> None:
        """New exit thresholds (registers: no reconfiguration)."""
        self.thresholds = self._check(thresholds)

    def switch(self, design: int, thresholds: Sequence[float] | None = None) -> float:
        """Run another design (a reconfiguration); returns the seconds the load took."""
        self.design = self.library.design(design)
        seconds = self.backend.load(self.design)
        self.thresholds = self._check(thresholds)
        return seconds

    def stage0_input(self, images: np.ndarray) -> np.ndarray:
        """Images with values in [0, 1] as stage 0's integer input (its stream's scale)."""
        return image_integers(images, float(self.design.deployment["inputs"][0]["scale"]))

    def serve(self, x: np.ndarray, *, integers: bool = False) -> RunResult:
        """Serve a batch: images in [0, 1] (or stage 0's integers with ``integers``)."""
        dep = self.design.deployment
        stages = dep["stages"]
        batch = np.asarray(x) if integers else self.stage0_input(x)
        n = batch.shape[0]
        labels = np.full(n, -1, dtype=np.int64)
        answered_by = np.full(n, -1, dtype=np.int64)
        idx = np.arange(n)
        entered, answered, seconds = [], [], []
        for k, row in enumerate(stages):
            entered.append(len(idx))
            if not len(idx):
                answered.append(0)
                seconds.append(0.0)
                continue
            t0 = time.perf_counter()
            out = self.backend.run_stage(k, batch)
            seconds.append(time.perf_counter() - t0)
            if "label" in row:
                labels[idx] = out["label"].reshape(len(idx), -1)[:, 0]
                answered_by[idx] = k
                answered.append(len(idx))
                break
            scale = float(dep["outputs"][row["logits"]]["scale"])
            logits = out["logits"].reshape(len(idx), -1)
            done = exit_confidence(logits, scale) >= self.thresholds[k]
            labels[idx[done]] = exit_prediction(logits[done])
            answered_by[idx[done]] = k
            answered.append(int(done.sum()))
            idx = idx[~done]
            # the next stage's input: the same integers (flattened when it reads them flat)
            nxt = dep["inputs"][row["feeds"]["input"]]["onnx"]["shape"]
            batch = out["features"][~done].reshape(-1, *nxt[1:])
        answered += [0] * (len(stages) - len(answered))
        entered += [0] * (len(stages) - len(entered))
        seconds += [0.0] * (len(stages) - len(seconds))
        return RunResult(labels, answered_by, entered, answered, seconds)
