"""Joint quantisation-aware training of a multi-exit network.

The backbone is trained with every candidate exit attached; the loss is the weighted sum
of the cross-entropy of every exit and of the final classifier. Adam(W) or SGD with a
cosine learning-rate schedule; CPU or CUDA; explicit seeds (python, numpy, torch) so that
the same seed gives identical weights on CPU.
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.accuracy.recipe import TrainRecipe
from dse.errors import DseError

log = logging.getLogger("dse.accuracy")

DEVICES = ("auto", "cpu", "cuda")


def resolve_torch_device(device: str = "auto") -> str:
    """Map ``"auto"`` to ``"cuda"`` when a GPU is available, else ``"cpu"``.

    Raises:
        DseError: an unknown device, or ``"cuda"`` without a GPU.
    """
    import torch

    dev = str(device).lower()
    if dev == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if dev.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DseError(
                f"`device` {device!r}: no CUDA GPU is available; use `device` cpu",
                arguments=("device",),
            )
        return dev
    if dev == "cpu":
        return "cpu"
    raise DseError(f"device={device!r}: choose one of {DEVICES}")


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's random generators (CPU and CUDA)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with torch limited to ``threads`` CPU threads (None: leave it alone).

    One thread is the fastest for the small quickstart models and, more importantly, makes
    CPU results independent of how many cores the machine has (reductions split over a
    different number of threads round differently, and training amplifies that).
    """
    import torch

    if threads is None:
        yield
        return
    if threads < 1:
        raise DseError(f"threads={threads}: must be >= 1")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class TrainStats:
    """What a training run reports.

    Attributes:
        epochs: Epochs run.
        seconds: Wall time.
        train_loss: Mean weighted loss of the last epoch.
        val_accuracy: Validation accuracy of every output (exits in order, then final).
        history: Per epoch: ``{"epoch", "loss", "val_accuracy"}``.
    """

    epochs: int
    seconds: float
    train_loss: float
    val_accuracy: list[float]
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "epochs": self.epochs,
            "seconds": round(self.seconds, 3),
            "train_loss": self.train_loss,
            "val_accuracy": list(self.val_accuracy),
            "history": list(self.history),
        }


def output_accuracies(
    model: Any, x: np.ndarray, y: np.ndarray, *, device: str = "cpu", batch_size: int = 512
) -> list[float]:
    """Accuracy of every output of a multi-exit model on ``(x, y)``."""
    import torch

    model.eval()
    correct: list[int] | None = None
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size])).to(device)
            yb = torch.from_numpy(np.asarray(y[start : start + batch_size])).to(device)
            outs = model(xb)
            if correct is None:
                correct = [0] * len(outs)
            for i, z in enumerate(outs):
                correct[i] += int((z.argmax(dim=1) == yb).sum())
    n = max(len(x), 1)
    return [c / n for c in (correct or [])]


def _progress(total: int, desc: str) -> Any:
    """A tqdm bar when stderr is interactive, else ``None`` (plain log lines)."""
    if not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", leave=False)


def train_model(
    model: Any,
    data: Any,
    recipe: TrainRecipe,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    device: str = "cpu",
    seed: int = 0,
    desc: str = "train",
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    loss_weights: Sequence[float] | None = None,
) -> TrainStats:
    """Train every output of a multi-exit model jointly (in place).

    Args:
        model: Module whose ``forward`` returns a list of logits (exits, then final).
        data: A ``DataSplits`` (``x_train``, ``y_train``, ``x_val``, ``y_val``).
        recipe: Hyper-parameters.
        epochs: Epochs (default ``recipe.epochs``).
        lr: Peak learning rate (default ``recipe.lr``).
        device: Resolved torch device (``"cpu"``, ``"cuda"``).
        seed: Seed of the shuffling order and of every random generator.
        desc: Label of the progress bar / log lines.
        on_epoch: Optional callback receiving each epoch's record.
        loss_weights: Per-output loss weights (default ``recipe.loss_weights``).

    Returns:
        Loss and per-output validation accuracy.
    """
    import torch

    n_epochs = recipe.epochs if epochs is None else int(epochs)
    peak_lr = recipe.lr if lr is None else float(lr)
    seed_everything(seed)
    model.to(device)
    x_train, y_train = _training_tensors(data, device)
    n = x_train.shape[0]
    steps_per_epoch = max(1, (n + recipe.batch_size - 1) // recipe.batch_size)
    opt, sched = _optimiser(model, recipe, peak_lr, max(1, n_epochs * steps_per_epoch))
    gen = torch.Generator().manual_seed(seed)
    step = _Step(model, recipe, opt, sched, loss_weights)
    history: list[dict[str, Any]] = []
    bar = _progress(n_epochs, desc)
    t0 = time.perf_counter()
    mean_loss = float("nan")
    val_acc: list[float] = []
    try:
        for epoch in range(n_epochs):
            model.train()
            perm = torch.randperm(n, generator=gen).to(device)
            mean_loss = step.epoch(x_train, y_train, perm, steps_per_epoch)
            if epoch == n_epochs - 1 or bar is not None or log.isEnabledFor(logging.INFO):
                val_acc = output_accuracies(
                    model, data.x_val, data.y_val, device=device, batch_size=recipe.eval_batch_size
                )
            record = {
                "epoch": epoch + 1,
                "loss": round(mean_loss, 5),
                "val_accuracy": [round(a, 4) for a in val_acc],
            }
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
            _show_epoch(bar, desc, record, n_epochs, mean_loss, val_acc)
    finally:
        if bar is not None:
            bar.close()
    if n_epochs == 0:
        val_acc = output_accuracies(
            model, data.x_val, data.y_val, device=device, batch_size=recipe.eval_batch_size
        )
    model.eval()
    return TrainStats(
        epochs=n_epochs,
        seconds=time.perf_counter() - t0,
        train_loss=mean_loss,
        val_accuracy=val_acc,
        history=history,
    )


def _training_tensors(data: Any, device: str) -> tuple[Any, Any]:
    """The training split on ``device``; DseError when it is empty."""
    import torch

    x_train = torch.from_numpy(np.ascontiguousarray(data.x_train)).to(device)
    y_train = torch.from_numpy(np.asarray(data.y_train, dtype=np.int64)).to(device)
    if x_train.shape[0] == 0:
        raise DseError("dataset: the training split is empty; use a larger dataset or limit")
    return x_train, y_train


def _optimiser(model: Any, recipe: TrainRecipe, peak_lr: float, total_steps: int) -> Any:
    """The recipe's optimiser over the trainable parameters, with its cosine schedule."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.AdamW(
            params, lr=peak_lr, weight_decay=recipe.weight_decay
        )
    else:
        opt = torch.optim.SGD(
            params, lr=peak_lr, momentum=0.9, nesterov=True, weight_decay=recipe.weight_decay
        )
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)


class _Step:
    """One optimisation step of the joint multi-exit loss, and an epoch of them."""

    def __init__(
        self,
        model: Any,
        recipe: TrainRecipe,
        opt: Any,
        sched: Any,
        loss_weights: Sequence[float] | None,
    ) -> None:
        self.model, self.recipe, self.opt, self.sched = model, recipe, opt, sched
        self.clip = getattr(model, "clip_weights", None)
        self.weights: list[float] | None = list(loss_weights) if loss_weights is not None else None

    def epoch(self, x_train: Any, y_train: Any, perm: Any, steps_per_epoch: int) -> float:
        """Every batch of ``perm`` once; the mean loss per step."""
        batch = self.recipe.batch_size
        loss_sum = 0.0
        for step in range(steps_per_epoch):
            idx = perm[step * batch : (step + 1) * batch]
            if idx.numel() == 0:
                continue
            loss_sum += self(x_train[idx], y_train[idx])
        return loss_sum / steps_per_epoch

    def __call__(self, xb: Any, yb: Any) -> float:
        """One step on a batch; returns its loss."""
        import torch.nn.functional as F

        outs = self.model(xb)
        if self.weights is None:
            self.weights = self.recipe.loss_weights(len(outs))
        if len(self.weights) != len(outs):
            raise DseError(f"loss weights: {len(self.weights)} given for {len(outs)} model outputs")
        loss: Any = sum(w * F.cross_entropy(z, yb) for w, z in zip(self.weights, outs, strict=True))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        if callable(self.clip):
            self.clip()
        return float(loss.detach())


def _show_epoch(
    bar: Any,
    desc: str,
    record: dict[str, Any],
    n_epochs: int,
    mean_loss: float,
    val_acc: list[float],
) -> None:
    """An epoch on the progress bar, or as a log line."""
    if bar is not None:
        bar.set_postfix(loss=f"{mean_loss:.3f}", val=f"{val_acc[-1]:.3f}" if val_acc else "")
        bar.update(1)
        return
    exits = " ".join(f"{a:.3f}" for a in val_acc[:-1])
    accuracy = (f"exits {exits}, " if exits else "") + (
        f"final {val_acc[-1]:.3f}" if val_acc else "-"
    )
    log.info(
        "%s epoch %d/%d loss %.4f, calibration accuracy: %s",
        desc,
        record["epoch"],
        n_epochs,
        mean_loss,
        accuracy,
    )
