"""Registry of model families."""

from __future__ import annotations

from search_spaces.errors import SpaceError
from search_spaces.families.base import Family

_FAMILIES: dict[str, Family] = {}
_BUILTINS_LOADED = False


def register_family(family: Family) -> Family:
    """Add a family instance to the registry under its name.

    The built-in families are registered first, so that registering one's own never hides
    them.

    Raises:
        SpaceError: a family of that name is already registered.
    """
    _load_builtin()
    return _add(family)


def _add(family: Family) -> Family:
    if family.name in _FAMILIES:
        raise SpaceError(
            f"family: {family.name!r} is already registered "
            f"({type(_FAMILIES[family.name]).__name__}); register yours under another name"
        )
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
    """Register the built-in families (once; also when others were registered first)."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from search_spaces.families.cnv import CnvFamily
        from search_spaces.families.tfc import TfcFamily

        _add(CnvFamily())
        _add(TfcFamily())
