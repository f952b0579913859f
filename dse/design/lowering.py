"""The lowering from weights: a trained design's hardware graph, with FINN's datatypes.

FINN's builder narrows each MVAU's weight, accumulator and output datatypes from the
actual weights (``step_minimize_bit_width``). The graph a design is costed with is
therefore the lowering of its pruned architecture, minimised with its trained weights
(:func:`search_spaces.minimized_graph`): the figures the study stores are FINN's for the
exported design.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hw_builders.graph import HwGraph


def design_graph(
    arch: Any,
    checkpoint: str | os.PathLike[str],
    exits: Sequence[int],
    *,
    name: str | None = None,
) -> HwGraph:
    """The minimised hardware graph of a design.

    Args:
        arch: The pruned ``ArchSpec`` (all candidate exits attached), or its dict.
        checkpoint: The weights of ``arch`` (``model.pt`` or its cache entry).
        exits: The exits in use.
        name: The graph's name (default: the family's).

    Returns:
        The ``HwGraph``.

    Raises:
        DseError: the checkpoint is missing or does not fit the architecture.
    """
    from pathlib import Path

    from dse.design.weights import load_design_model
    from dse.errors import DseError
    from search_spaces import ArchSpec, get_family, minimized_graph

    if not checkpoint or not Path(checkpoint).exists():
        raise DseError(
            f"weights {checkpoint!r} are not in the accuracy cache; run the study again in "
            "this folder (or set ADAPEX_CACHE_DIR) to rebuild them"
        )
    spec = ArchSpec.from_dict(arch) if isinstance(arch, dict) else arch
    used = sorted(int(e) for e in exits)
    model = load_design_model(spec, checkpoint, used)
    lowered = get_family(spec.family).lower(spec, exits=used, name=name)
    return minimized_graph(lowered, model.integer_weights(used))


def trained_design_graph(model: Any, exits: Sequence[int], *, name: str | None = None) -> HwGraph:
    """:func:`design_graph` from a loaded trained model (every candidate exit attached):
    the design's layers are the model's, its unused heads left out, so the inner step
    loads the weights once for every exit subset.

    Raises:
        DseError: an exit is not attached to the model.
    """
    from dse.errors import DseError
    from search_spaces import get_family, minimized_graph

    spec = model.arch
    used = sorted(int(e) for e in exits)
    for e in used:
        if e not in spec.exits:
            raise DseError(
                f"exits: exit {e} is not attached to the model; choose from {list(spec.exits)}"
            )
    lowered = get_family(spec.family).lower(spec, exits=used, name=name)
    return minimized_graph(lowered, model.integer_weights(used))
