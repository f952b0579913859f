"""Errors of dse."""

from __future__ import annotations

from hw_builders.errors import InputError


class DseError(InputError):
    """A config, storage, study or pipeline option is invalid."""
