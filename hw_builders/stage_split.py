"""Early-exit stages of a hardware graph: which layers form each stage, and reach checks.

Stage k is the backbone segment after the previous exit's branch point up to and including
exit k's branch point, plus exit k's branch (its layers carry ``"exit": k``); the final stage
holds the rest of the backbone and the final classifier. Stages are ordered by the position
of their branch point along the backbone. (docs/DESIGN.md "Early exits in hardware".)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hw_builders.errors import HwError
from hw_builders.graph import HwGraph, HwLayer

__all__ = ["check_reach", "exit_groups", "exit_ids", "split_stages", "stage_index"]


# -- stages ---------------------------------------------------------------------------------


def exit_groups(graph: Any) -> tuple[list[Any], list[tuple[int, int, list[Any]]]]:
    """Backbone layers, and per exit (position of its branch point, k, its layers)."""
    backbone = [layer for layer in graph.layers if layer.exit is None]
    pos = {layer.name: i for i, layer in enumerate(backbone)}
    groups: dict[int, list[Any]] = {}
    for layer in graph.layers:
        if layer.exit is not None:
            groups.setdefault(int(layer.exit), []).append(layer)
    out: list[tuple[int, int, list[Any]]] = []
    for k, layers in groups.items():
        names = {layer.name for layer in layers}
        sources = {src for layer in layers for src in layer.inputs if src not in names}
        if len(sources) != 1 or next(iter(sources)) not in pos:
            raise HwError(
                f"exit {k}: its layers must branch from exactly one backbone layer "
                f"(found inputs {sorted(sources) or 'none'}); mark only the exit branch with "
                f'"exit": {k}'
            )
        out.append((pos[next(iter(sources))], k, layers))
    out.sort(key=lambda t: (t[0], t[1]))
    if out and out[-1][0] >= len(backbone) - 1:
        raise HwError(
            f"exit {out[-1][1]}: it branches after the last backbone layer; the final stage "
            f"would be empty"
        )
    return backbone, out


def stage_index(graph: Any) -> dict[str, int]:
    """Per layer name, the index of its stage (0 for every layer without exits)."""
    backbone, exits = exit_groups(graph)
    idx: dict[str, int] = {}
    start = 0
    for s, (p, _k, layers) in enumerate(exits):
        for layer in backbone[start : p + 1]:
            idx[layer.name] = s
        for layer in layers:
            idx[layer.name] = s
        start = p + 1
    for layer in backbone[start:]:
        idx[layer.name] = len(exits)
    return idx


def split_stages(graph: Any) -> list[Any]:
    """One sub-graph per stage, in order (a graph without exits is one stage).

    Layer names are kept (so a folding config applies unchanged); inputs that come from
    an earlier stage are dropped (they are the stage's input stream).

    Raises:
        HwError: an exit's layers do not form one branch from the backbone.
    """
    idx = stage_index(graph)
    n = max(idx.values(), default=0) + 1
    if n == 1:
        return [graph]
    members: list[list[Any]] = [[] for _ in range(n)]
    for layer in graph.layers:
        members[idx[layer.name]].append(layer)
    out = []
    for s, layers in enumerate(members):
        names = {layer.name for layer in layers}
        copies = [
            HwLayer(
                layer.name,
                layer.op_type,
                [i for i in layer.inputs if i in names],
                dict(layer.attrs),
                layer.impl,
                layer.exit,
            )
            for layer in layers
        ]
        out.append(HwGraph(f"{graph.name}_stage{s}", copies))
    return out


def exit_ids(graph: Any) -> list[int | None]:
    """Per stage, the candidate exit index it ends with (None for the final stage)."""
    _, exits = exit_groups(graph)
    return [k for _, k, _ in exits] + [None]


def check_reach(reach: Sequence[float], n_stages: int) -> list[float]:
    """Validate a reach vector (one entry per stage, reach[0] = 1, non-increasing).

    Raises:
        HwError: wrong length or values.
    """
    try:
        r = [float(x) for x in reach]
    except (TypeError, ValueError):
        raise HwError(
            f"`reach` {reach!r}: expected a list of fractions, one per stage",
            arguments=("reach",),
        ) from None
    if len(r) != n_stages:
        raise HwError(
            f"reach has {len(r)} entries but the graph has {n_stages} stage(s); give one "
            f"fraction per stage"
        )
    if not r or abs(r[0] - 1.0) > 1e-9:
        raise HwError(f"reach[0]={r[0] if r else None}: every input enters stage 0; use 1.0")
    for i, x in enumerate(r):
        if not (0.0 <= x <= 1.0) or not math.isfinite(x):
            raise HwError(f"reach[{i}]={x}: must be a fraction in [0, 1]")
        if i and x > r[i - 1] + 1e-12:
            raise HwError(
                f"reach[{i}]={x} exceeds reach[{i - 1}]={r[i - 1]}; reach never increases"
            )
    r[0] = 1.0
    return r
