"""A design's trained weights: the checkpoint a study cached, loaded into its model.

The hardware path reads weights here (to minimise FINN's datatypes from them, and to
export the stage models), not through the accuracy package that trained them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dse.errors import DseError

#: The ``state_dict`` file of a checkpoint cache entry.
MODEL_FILE = "model.pt"


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a ``state_dict`` written by the cache with ``torch.load(weights_only=True)``.

    Raises:
        DseError: the file is missing or corrupt (names the file and the fix).
    """
    import torch

    p = Path(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise DseError(f"checkpoint {p}: file not found; check the path") from exc
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise DseError(
            f"checkpoint {p} is corrupt ({type(exc).__name__}); delete it "
            f"(rm -r {p.parent}) and run again: that step is retrained"
        ) from exc
    if not isinstance(state, dict):
        raise DseError(
            f"checkpoint {p} is corrupt (not a state_dict); delete it (rm -r {p.parent}) "
            "and run again: that step is retrained"
        )
    return state


def load_pruned_model(arch: Any, checkpoint: str | os.PathLike[str]) -> Any:
    """Rebuild a model from its ArchSpec and load cached weights (``weights_only=True``).

    Args:
        arch: The (pruned) ``ArchSpec``, or its ``to_dict()``.
        checkpoint: The ``model.pt`` file, or the cache entry directory holding it.

    Returns:
        The ``MultiExitNet`` in eval mode, on the CPU.

    Raises:
        DseError: the checkpoint is missing, corrupt, or does not fit the architecture.
    """
    from search_spaces import ArchSpec, get_family

    spec = ArchSpec.from_dict(arch) if isinstance(arch, dict) else arch
    path = _model_file(checkpoint)
    model = get_family(spec.family).build(spec)
    _load_into(model, load_state_dict(path), path)
    return model


def _model_file(checkpoint: str | os.PathLike[str]) -> Path:
    """The ``model.pt`` of a checkpoint given as the file or its cache entry directory."""
    path = Path(checkpoint)
    return path / MODEL_FILE if path.is_dir() else path


def _load_into(model: Any, state: Mapping[str, Any], path: Path) -> None:
    """Load ``state`` (exactly the model's tensors) into ``model`` and set it to eval mode.

    Raises:
        DseError: the tensors do not fit the model (names the checkpoint and its removal).
    """
    try:
        model.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise DseError(
            f"checkpoint {path} does not match the architecture ({first}); delete it "
            f"(rm -r {path.parent}) and run again: that step is retrained"
        ) from exc
    model.eval()


def load_design_model(arch: Any, checkpoint: str | os.PathLike[str], exits: Sequence[int]) -> Any:
    """The model of a design that uses only ``exits``: unused exit heads are dropped.

    Args:
        arch: The pruned ``ArchSpec`` (all candidate exits attached), or its dict.
        checkpoint: The ``model.pt`` (or its directory) holding the weights of ``arch``.
        exits: Exits in use (a subset of ``arch.exits``).

    Returns:
        A ``MultiExitNet`` with heads for ``exits`` only, in eval mode.
    """
    from search_spaces import ArchSpec, get_family

    spec = ArchSpec.from_dict(arch) if isinstance(arch, dict) else arch
    used = sorted(int(e) for e in exits)
    for e in used:
        if e not in spec.exits:
            raise DseError(
                f"exits: exit {e} is not attached to the model; choose from {list(spec.exits)}"
            )
    path = _model_file(checkpoint)
    state = load_state_dict(path)
    design = get_family(spec.family).build(spec.replace(exits=tuple(used)))
    wanted = design.state_dict().keys()
    # the design's tensors of the full model's checkpoint (the unused heads' left out)
    _load_into(design, {k: v for k, v in state.items() if k in wanted}, path)
    return design
