"""Registry of model families (one :class:`hw_builders.plugins.Registry`; installed
packages add families through the entry-point group ``adapex.families``)."""

from __future__ import annotations

import search_spaces.families.arch as arch_module
from hw_builders.plugins import Registry, named_entry
from search_spaces.errors import SpaceError
from search_spaces.families.base import Family

_FAMILIES: Registry[Family] = Registry(
    "register_family",
    lambda name, choices: f"family: {name!r} is unknown; choose one of {choices}",
    group="adapex.families",
    adopt=lambda name, obj: register_family(
        named_entry(name, obj, Family, "a Family instance", SpaceError)
    ),
    error=SpaceError,
)


def register_family(family: Family) -> Family:
    """Add a family instance to the registry under its name.

    The built-in families are registered when ``search_spaces.families`` is imported, before
    any code of one's own can run, so registering a family never hides them. An installed
    package adds families through the entry-point group ``adapex.families``.

    Raises:
        SpaceError: a family of that name is already registered.
    """
    _FAMILIES.register(family.name, family)
    return family


def family_names() -> list[str]:
    """Names of the registered families (installed plugins' included), sorted."""
    return _FAMILIES.names()


def get_family(name: str) -> Family:
    """The family called ``name`` ("cnv", "tfc", or an installed plugin's); SpaceError when
    unknown."""
    return _FAMILIES.lookup(name)


arch_module.FAMILY_LOOKUP = get_family
