"""Exhaustive folding search: the exact optimum, for checking the optimiser on tiny graphs."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from hw_builders.folding.options import FoldingSpace, Option


def exhaustive_choice(space: FoldingSpace, limits: Sequence[float]) -> list[Option] | None:
    """Exact optimum by enumerating every combination (tiny graphs only; benchmark use).

    Returns the fastest choice within the limits (ties: the least normalised resources),
    or None when nothing fits.
    """
    lam = [1.0 / b if b > 0 else 1e12 for b in limits]
    best: tuple[float, float] | None = None
    best_choice: list[Option] | None = None
    for combo in itertools.product(*(g.options for g in space.groups)):
        use = FoldingSpace.usage(combo)
        if not FoldingSpace.fits(use, limits):
            continue
        key = (FoldingSpace.objective(combo), sum(a * b for a, b in zip(lam, use, strict=False)))
        if best is None or key < best:
            best, best_choice = key, list(combo)
    return best_choice


def combinations(space: FoldingSpace) -> int:
    """How many combinations an exhaustive search visits."""
    return math.prod(len(g.options) for g in space.groups)


__all__ = ["exhaustive_choice", "combinations"]
