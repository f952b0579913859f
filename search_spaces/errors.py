"""Errors of search_spaces."""

from __future__ import annotations

from hw_builders.errors import InputError


class SpaceError(InputError):
    """A dataset, model family, architecture or design-point option is invalid."""
