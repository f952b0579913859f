"""hw_builders: what a design costs in hardware (FINN-exact estimates, folding, devices).

Pure Python and numpy; never imports torch, search_spaces or dse.
"""

from __future__ import annotations

from hw_builders.errors import HwError, InputError

__all__ = ["HwError", "InputError"]
