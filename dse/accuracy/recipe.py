"""Training recipe: every hyper-parameter that affects the trained weights (a pydantic
model, like the study config)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from dse.errors import DseError

OPTIMIZERS = ("adam", "sgd")
EXIT_WEIGHTINGS = ("equal", "increasing")


class TrainRecipe(BaseModel):
    """How a multi-exit model is trained, pruned and fine-tuned.

    Frozen and hashable; :meth:`to_dict` is part of the checkpoint cache key, so two
    recipes that differ in any field never share weights. Invalid values raise
    :class:`DseError` naming ``recipe.<field>`` (through :meth:`from_dict` or the
    constructor alike).

    Attributes:
        epochs: Joint training epochs of the unpruned model (all candidate exits attached).
        finetune_epochs: Fine-tuning epochs after each pruning step.
        batch_size: Mini-batch size.
        lr: Peak learning rate of the joint training (cosine-annealed to 0).
        finetune_lr: Peak learning rate of fine-tuning (cosine-annealed to 0).
        weight_decay: L2 weight decay (decoupled for Adam: AdamW).
        optimizer: ``"adam"`` or ``"sgd"`` (Nesterov, momentum 0.9).
        exit_weighting: Loss weight of each output: ``"equal"`` or ``"increasing"``
            (output i of n gets weight (i+1)/n: deeper exits and the final count more).
        final_weight: Extra multiplier of the final classifier's loss.
        prune_step: Spacing of the pruning ladder: a rate r is reached from the largest
            multiple of ``prune_step`` below it (so every rate reuses the rates before it).
        multiple_of: Pruned channel counts are rounded to a multiple of this (folding-legal).
        eval_batch_size: Batch size for validation and calibration.
    """

    # strict: no silent coercion ("3" or True are not an epoch count)
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    epochs: int = 30
    finetune_epochs: int = 6
    batch_size: int = 64
    lr: float = 0.01
    finetune_lr: float = 0.003
    weight_decay: float = 0.0
    optimizer: str = "adam"
    exit_weighting: str = "equal"
    final_weight: float = 1.0
    prune_step: float = 0.25
    multiple_of: int = 4
    eval_batch_size: int = 512

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = exc.errors()[0]
            if err["type"] == "extra_forbidden":
                known = sorted(type(self).model_fields)
                raise DseError(
                    f"recipe.{err['loc'][0]}: unknown field; known fields: {known}"
                ) from None
            if err["type"] == "value_error":
                raise DseError(err["msg"].removeprefix("Value error, ")) from None
            name = err["loc"][0]
            kinds: dict[Any, str] = {int: "an integer", float: "a finite number", str: "a name"}
            kind = kinds.get(type(self).model_fields[str(name)].annotation, "valid")
            raise DseError(f"recipe.{name}={err['input']!r}: must be {kind}") from None

    @model_validator(mode="after")
    def _check(self) -> TrainRecipe:
        # one field at a time, each message naming recipe.<field> and what it must be
        if self.epochs < 1:
            raise ValueError(f"recipe.epochs={self.epochs}: must be >= 1")
        if self.finetune_epochs < 0:
            raise ValueError(f"recipe.finetune_epochs={self.finetune_epochs}: must be >= 0")
        if self.batch_size < 1:
            raise ValueError(f"recipe.batch_size={self.batch_size}: must be >= 1")
        if self.eval_batch_size < 1:
            raise ValueError(f"recipe.eval_batch_size={self.eval_batch_size}: must be >= 1")
        if self.multiple_of < 1:
            raise ValueError(f"recipe.multiple_of={self.multiple_of}: must be >= 1")
        for name in ("lr", "finetune_lr", "weight_decay", "final_weight", "prune_step"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"recipe.{name}={value!r}: must be a finite number")
        if self.lr <= 0:
            raise ValueError(f"recipe.lr={self.lr}: must be > 0")
        if self.finetune_lr <= 0:
            raise ValueError(f"recipe.finetune_lr={self.finetune_lr}: must be > 0")
        if self.weight_decay < 0:
            raise ValueError(f"recipe.weight_decay={self.weight_decay}: must be >= 0")
        if self.final_weight <= 0:
            raise ValueError(f"recipe.final_weight={self.final_weight}: must be > 0")
        if not 0 < self.prune_step < 1:
            raise ValueError(f"recipe.prune_step={self.prune_step}: must be in (0, 1)")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"recipe.optimizer={self.optimizer!r}: choose one of {OPTIMIZERS}")
        if self.exit_weighting not in EXIT_WEIGHTINGS:
            raise ValueError(
                f"recipe.exit_weighting={self.exit_weighting!r}: choose one of {EXIT_WEIGHTINGS}"
            )
        return self

    def loss_weights(self, n_outputs: int) -> list[float]:
        """Loss weight of each output (early exits in order, then the final)."""
        if self.exit_weighting == "equal":
            w = [1.0] * n_outputs
        else:
            w = [(i + 1) / n_outputs for i in range(n_outputs)]
        w[-1] *= self.final_weight
        return w

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field, in declaration order (stable; part of the cache key)."""
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainRecipe:
        """Build a recipe from a dict, rejecting unknown keys.

        Raises:
            DseError: an unknown key or an invalid value.
        """
        return cls(**dict(data))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The recipe's fields, in declaration order."""
        return tuple(cls.model_fields)

    def with_(self, **changes: Any) -> TrainRecipe:
        """Copy with some fields changed (validated)."""
        return type(self)(**{**self.to_dict(), **changes})

    @classmethod
    def quickstart(cls) -> TrainRecipe:
        """A recipe fast enough for the quickstart study (digits, small CNV, W2A2, CPU)."""
        return cls(
            epochs=15,
            finetune_epochs=6,
            batch_size=32,
            lr=0.02,
            finetune_lr=0.01,
            optimizer="adam",
            exit_weighting="equal",
        )
