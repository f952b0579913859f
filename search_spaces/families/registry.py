"""Registry of model families."""

from __future__ import annotations

from search_spaces.errors import SpaceError
from search_spaces.families.base import Family

_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add a family instance to the registry (name must be unique)."""
    _FAMILIES[family.name] = family
    return family


def family_names() -> list[str]:
    """Names of the registered families."""
    _load_builtin()
    return sorted(_FAMILIES)


def get_family(name: str) -> Family:
    """The family called ``name`` ("cnv", "tfc"); SpaceError when unknown."""
    _load_builtin()
    try:
        return _FAMILIES[name]
    except (KeyError, TypeError):
        raise SpaceError(
            f"family: {name!r} is unknown; choose one of {', '.join(sorted(_FAMILIES))}"
        ) from None


def _load_builtin() -> None:
    if not _FAMILIES:
        from search_spaces.families.cnv import CnvFamily
        from search_spaces.families.tfc import TfcFamily

        register_family(CnvFamily())
        register_family(TfcFamily())
