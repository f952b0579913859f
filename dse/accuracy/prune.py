"""The pruning schedule: iterative structured pruning with fine-tuning, one rate at a time.

Rates are absolute (a fraction of the *unpruned* model's channels removed per prunable
layer). A requested rate is reached along a fixed ladder: the multiples of
``recipe.prune_step`` below it, then the rate itself; each step prunes the previous step's
model (L1-norm filter pruning with physical removal, ``search_spaces.prune_model``),
fine-tunes it and is checkpointed. Because the ladder depends only on the requested rate
(never on the order of requests), every process derives the same chain and reuses the
steps that another request already cached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dse.errors import DseError

Rates = float | tuple[float, ...]


def normalise_rates(pruning: float | Sequence[float], n_layers: int | None = None) -> Rates:
    """Validate pruning rates: one number (uniform) or one per prunable layer.

    Args:
        pruning: A rate in ``[0, 1)`` or a sequence of them.
        n_layers: Number of prunable layers (checks the sequence length when given).

    Returns:
        A float, or a tuple of floats (rounded to 6 decimals).

    Raises:
        DseError: a rate outside ``[0, 1)`` or a wrong number of rates.
    """
    if isinstance(pruning, bool):
        raise DseError(f"pruning={pruning!r}: give a rate in [0, 1) or one per prunable layer")
    if isinstance(pruning, (int, float)):
        values: list[float] = [float(pruning)]
        scalar = True
    else:
        try:
            values = [float(v) for v in pruning]
        except (TypeError, ValueError) as exc:
            raise DseError(
                f"pruning={pruning!r}: give a rate in [0, 1) or a list of rates, one per layer"
            ) from exc
        scalar = False
        if not values:
            raise DseError("pruning=[]: give a rate in [0, 1) or one per prunable layer")
    for v in values:
        if not math.isfinite(v) or not 0.0 <= v < 1.0:
            raise DseError(f"pruning={v}: a pruning rate must be in [0, 1)")
    if scalar:
        return round(values[0], 6)
    if n_layers is not None and len(values) != n_layers:
        raise DseError(
            f"pruning: {len(values)} rates for {n_layers} prunable layers; give one rate "
            "or one per prunable layer"
        )
    return tuple(round(v, 6) for v in values)


def max_rate(rates: Rates) -> float:
    """Largest rate of a spec."""
    return float(rates) if isinstance(rates, (int, float)) else max(rates)


def is_unpruned(rates: Rates) -> bool:
    """True when the spec prunes nothing."""
    return max_rate(rates) == 0.0


def pruning_chain(rates: Rates, step: float) -> list[Rates]:
    """The ladder of absolute rate specs that leads to ``rates``.

    Uniform: the multiples of ``step`` strictly below the rate, then the rate. Per layer:
    the same ladder on the largest rate, every layer scaled proportionally.

    Args:
        rates: Target spec (see :func:`normalise_rates`).
        step: Ladder spacing in ``(0, 1)``.

    Returns:
        The specs in pruning order, ending with ``rates``; empty when nothing is pruned.
    """
    top = max_rate(rates)
    if top <= 0.0:
        return []
    levels: list[float] = []
    k = 1
    while k * step < top - 1e-9:
        levels.append(round(k * step, 6))
        k += 1
    chain: list[Rates] = []
    for level in levels:
        if isinstance(rates, tuple):
            chain.append(tuple(round(r * level / top, 6) for r in rates))
        else:
            chain.append(level)
    chain.append(rates)
    return chain


def per_layer(rates: Rates, n_layers: int) -> list[float]:
    """Expand a spec to one rate per prunable layer."""
    if isinstance(rates, tuple):
        if len(rates) != n_layers:
            raise DseError(
                f"pruning: {len(rates)} rates for {n_layers} prunable layers; give one rate "
                "or one per prunable layer"
            )
        return list(rates)
    return [float(rates)] * n_layers


def target_widths(widths: Sequence[int], rates: Rates, *, multiple_of: int = 4) -> tuple[int, ...]:
    """Channel counts after pruning the unpruned ``widths`` by absolute ``rates``.

    Each kept count is rounded to the nearest multiple of ``multiple_of`` (at least one
    multiple, never more than the layer had); a layer narrower than ``multiple_of`` is kept.
    """
    out = []
    for w, r in zip(widths, per_layer(rates, len(widths)), strict=True):
        if w <= multiple_of:
            out.append(int(w))
            continue
        keep = int(round(w * (1.0 - r) / multiple_of)) * multiple_of
        out.append(int(min(w, max(multiple_of, keep))))
    return tuple(out)


def relative_rates(current: Sequence[int], target: Sequence[int]) -> list[float]:
    """Per-layer rates that take a model with ``current`` widths to ``target`` widths."""
    out = []
    for c, t in zip(current, target, strict=True):
        if t > c:
            raise DseError(f"pruning: cannot grow a layer from {c} to {t} channels")
        out.append(0.0 if c == 0 else 1.0 - t / c)
    return out


def prune_to(model: Any, base_widths: Sequence[int], rates: Rates, *, multiple_of: int) -> Any:
    """Prune ``model`` (physically) to the widths that ``rates`` give the unpruned model.

    Args:
        model: The ``MultiExitNet`` to prune (possibly already pruned; not modified).
        base_widths: Widths of the unpruned model.
        rates: Absolute rate spec (of the unpruned widths).
        multiple_of: Channel-count rounding (folding-legal widths).

    Returns:
        The pruned model (``search_spaces.prune_model``: L1-norm filter pruning).
    """
    from search_spaces import prune_model

    target = target_widths(base_widths, rates, multiple_of=multiple_of)
    current = tuple(model.arch.widths)
    if target == current:
        return model
    rel = relative_rates(current, target)
    pruned = prune_model(model, rel, multiple_of=1)
    if tuple(pruned.arch.widths) != target:
        raise RuntimeError(  # a broken invariant of prune_model, not the user's input
            f"pruning: expected widths {target}, got {tuple(pruned.arch.widths)}"
        )
    return pruned
