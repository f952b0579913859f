"""Model families: their specs (torch-free: geometry, validation, exits, pruning map,
lowering to a hardware graph), registered by name, and their Brevitas models (torch, built
on demand by ``Family.build``)."""

from __future__ import annotations

from typing import Any

from search_spaces.families.arch import ALLOWED_BITS, ArchSpec
from search_spaces.families.base import Family, PruneRole
from search_spaces.families.cnv import CnvFamily
from search_spaces.families.registry import family_names, get_family, register_family
from search_spaces.families.tfc import TfcFamily

# the built-in families, registered before anything else can register one
register_family(CnvFamily())
register_family(TfcFamily())

__all__ = [
    "ALLOWED_BITS",
    "ArchSpec",
    "CnvFamily",
    "Family",
    "MultiExitNet",
    "PruneRole",
    "Stage",
    "TfcFamily",
    "family_names",
    "get_family",
    "register_family",
]

_TORCH_NAMES = {
    "MultiExitNet": "search_spaces.families.multi_exit",
    "Stage": "search_spaces.families.multi_exit",
}


def __getattr__(name: str) -> Any:
    """The torch-side names, imported on first use (the specs never need torch)."""
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(_TORCH_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
