"""Structured L1-norm filter pruning with physical removal (model surgery).

The schedule (which rates, fine-tuning) lives in dse; this module only performs one
surgery: pick the filters / neurons with the largest L1 norm in every prunable layer,
rebuild the family's model at the smaller widths and copy every tensor of the old
model (weights, BatchNorm statistics and affine parameters, quantiser state such as
learned or per-channel scales) sliced to the kept channels, including every consumer of
a pruned layer (the next conv's input channels, exit heads and the first FC after a
flatten).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from search_spaces.errors import SpaceError
from search_spaces.families.base import PruneRole
from search_spaces.families.multi_exit import MultiExitNet
from search_spaces.families.registry import get_family


def pruned_width(channels: int, rate: float, multiple_of: int = 4) -> int:
    """Channels kept by pruning ``rate`` of ``channels``.

    Rate 0 keeps every channel. Otherwise the kept count ``channels * (1 - rate)`` is
    rounded to the nearest multiple of ``multiple_of``, never below ``multiple_of`` and
    never above ``channels``.
    """
    if rate == 0:
        return channels
    kept = int(round(channels * (1.0 - rate) / multiple_of)) * multiple_of
    return min(channels, max(multiple_of, kept))


def _check_rates(rates: float | Sequence[float], n: int) -> list[float]:
    if isinstance(rates, (int, float)) and not isinstance(rates, bool):
        values = [float(rates)] * n
    else:
        try:
            values = [float(r) for r in rates]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise SpaceError(f"rates: {rates!r} must be a float or {n} floats in [0, 1)") from None
        if len(values) != n:
            raise SpaceError(
                f"rates: {len(values)} rates given for {n} prunable layers; give one float or {n}"
            )
    for i, r in enumerate(values):
        if not (math.isfinite(r) and 0.0 <= r < 1.0):
            raise SpaceError(
                f"rates[{i}]: {r} is not in [0, 1); a rate is the share of filters removed"
            )
    return values


def filter_l1_norms(weight: torch.Tensor) -> torch.Tensor:
    """L1 norm of every output filter / neuron (dim 0) of a weight tensor."""
    return weight.detach().abs().reshape(weight.shape[0], -1).sum(dim=1)


def select_filters(weight: torch.Tensor, keep: int) -> torch.Tensor:
    """Indices (ascending) of the ``keep`` filters with the largest L1 norm (ties: lower index)."""
    norms = filter_l1_norms(weight).cpu().double().numpy()
    order = np.argsort(-norms, kind="stable")[:keep]
    return torch.as_tensor(np.sort(order), dtype=torch.long)


def _expand(keep: torch.Tensor, repeat: int) -> torch.Tensor:
    if repeat == 1:
        return keep
    offsets = torch.arange(repeat, dtype=torch.long)
    return (keep[:, None] * repeat + offsets[None, :]).reshape(-1)


def _role_for(key: str, roles: dict[str, PruneRole]) -> PruneRole | None:
    best = None
    for name, role in roles.items():
        if key.startswith(name + ".") and (best is None or len(name) > len(best[0])):
            best = (name, role)
    return best[1] if best else None


def prunable_layers(model: MultiExitNet) -> list[str]:
    """Module name of every prunable layer, in ``arch.widths`` order."""
    roles = get_family(model.arch.family).prune_roles(model.arch)
    modules = dict(model.named_modules())
    names: list[str] = []
    for g in range(len(model.arch.widths)):
        for name, role in roles.items():
            mod = modules.get(name)
            weight = getattr(mod, "weight", None)
            if role.out_group == g and weight is not None and weight.ndim >= 2:
                names.append(name)
                break
        else:  # pragma: no cover - a family's roles always name every layer
            raise RuntimeError(f"no layer for prunable group {g}")
    return names


def kept_channels(
    model: MultiExitNet, rates: float | Sequence[float], *, multiple_of: int = 4
) -> list[torch.Tensor]:
    """Indices of the channels that :func:`prune_model` keeps in every prunable layer."""
    if isinstance(multiple_of, bool) or not isinstance(multiple_of, int) or multiple_of < 1:
        raise SpaceError(f"multiple_of: {multiple_of!r} must be a positive integer")
    values = _check_rates(rates, len(model.arch.widths))
    modules = dict(model.named_modules())
    keeps = []
    for name, rate, width in zip(prunable_layers(model), values, model.arch.widths, strict=True):
        keeps.append(select_filters(modules[name].weight, pruned_width(width, rate, multiple_of)))
    return keeps


def prune_model(
    model: MultiExitNet, rates: float | Sequence[float], *, multiple_of: int = 4
) -> MultiExitNet:
    """Structured L1-norm filter pruning with physical removal.

    Args:
        model: The multi-exit model (left unchanged).
        rates: One rate for every prunable layer, or one per layer (``len(arch.widths)``;
            for cnv: 6 convs then the 2 hidden FCs of the classifier; the output layers
            are never pruned). A rate is the share of filters removed, in [0, 1).
        multiple_of: Kept channel counts are rounded to a multiple of this (never below
            it), so that FINN folding keeps many legal PE / SIMD values.

    Returns:
        A new MultiExitNet of the same family whose ``arch.widths`` are the kept counts,
        same train/eval mode and device, carrying the sliced state of ``model``.

    Raises:
        SpaceError: A rate outside [0, 1), a wrong number of rates or a bad multiple_of.
    """
    arch = model.arch
    family = get_family(arch.family)
    keeps = kept_channels(model, rates, multiple_of=multiple_of)
    new_arch = arch.replace(widths=[int(k.numel()) for k in keeps])
    with torch.random.fork_rng(devices=[]):
        new_model = family.build(new_arch)
    roles = family.prune_roles(arch)
    old_sd = model.state_dict()
    new_sd = new_model.state_dict()
    filled: dict[str, torch.Tensor] = {}
    for key, target in new_sd.items():
        src = old_sd[key].detach().cpu()
        role = _role_for(key, roles)
        if role is not None and src.shape != target.shape:
            if role.out_group is not None and src.ndim >= 1 and src.shape[0] != target.shape[0]:
                src = src.index_select(0, keeps[role.out_group])
            if role.in_group is not None and src.ndim >= 2 and src.shape[1] != target.shape[1]:
                src = src.index_select(1, _expand(keeps[role.in_group], role.in_repeat))
        if src.shape != target.shape:
            raise RuntimeError(
                f"pruning {key}: {tuple(src.shape)} cannot become {tuple(target.shape)}"
            )
        filled[key] = src.clone()
    new_model.load_state_dict(filled)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    new_model.to(device)
    new_model.train(model.training)
    return new_model
