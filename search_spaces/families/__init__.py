"""Model families (Brevitas multi-exit networks), their ArchSpec and registry."""

from __future__ import annotations

from search_spaces.families.arch import ALLOWED_BITS, ArchSpec
from search_spaces.families.base import Family, PruneRole
from search_spaces.families.multi_exit import MultiExitNet, Stage
from search_spaces.families.registry import family_names, get_family, register_family

__all__ = [
    "ALLOWED_BITS",
    "ArchSpec",
    "Family",
    "MultiExitNet",
    "PruneRole",
    "Stage",
    "family_names",
    "get_family",
    "register_family",
]
