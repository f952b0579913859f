"""Registry of model families."""

from __future__ import annotations

from search_spaces.errors import SpaceError
from search_spaces.families.arch import FAMILY_CHECKS
from search_spaces.families.base import Family

_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add a family instance to the registry under its name.

    The built-in families are registered when ``search_spaces.families`` is imported, before
    any code of one's own can run, so registering a family never hides them.

    Raises:
        SpaceError: a family of that name is already registered.
    """
    if family.name in _FAMILIES:
        raise SpaceError(
            f"family: {family.name!r} is already registered "
            f"({type(_FAMILIES[family.name]).__name__}); register yours under another name"
        )
    _FAMILIES[family.name] = family
    FAMILY_CHECKS[family.name] = family.validate
    return family


def family_names() -> list[str]:
    """Names of the registered families."""
    return sorted(_FAMILIES)


def get_family(name: str) -> Family:
    """The family called ``name`` ("cnv", "tfc"); SpaceError when unknown."""
    try:
        return _FAMILIES[name]
    except (KeyError, TypeError):
        raise SpaceError(
            f"family: {name!r} is unknown; choose one of {', '.join(sorted(_FAMILIES))}"
        ) from None
