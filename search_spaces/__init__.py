"""search_spaces: datasets, model families (Brevitas), their knobs, and lowering to hardware graphs."""

from __future__ import annotations

from search_spaces.errors import SpaceError

__all__ = ["SpaceError"]
