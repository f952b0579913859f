"""Helpers shared by the op models (FINN's BRAM ladder, vector products)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hw_builders.datatypes import datatype

ceil = math.ceil


def prod(v: Any) -> int:
    """Product of an int or a list of ints (FINN's ``np.prod(numInputVectors)``)."""
    if isinstance(v, (list, tuple)):
        p = 1
        for x in v:
            p *= int(x)
        return p
    return int(v)


def bits(name: str) -> int:
    """Bit width of a DataType name."""
    return datatype(name).bitwidth


def signed(name: str) -> bool:
    """Signedness of a DataType name (qonnx semantics)."""
    return datatype(name).signed


def bram_ladder(omega: float, mem_width: int, wide: Sequence[int] = (9, 18, 36)) -> int:
    """FINN's RAMB18 estimate for a ``omega``-deep, ``mem_width``-wide memory.

    Transcribes MVAU.bram_estimation (FINN-R, UG573 SDP RAMB18 shapes). The branch
    thresholds are always widths 9 and 18; ``wide`` are the divisors: VVAU passes
    ``(8, 16, 32)`` (vectorvectoractivation.py bram_estimation: a 9-bit-wide memory takes
    ceil(9/8) = 2 columns there).
    """
    w9, w18, w36 = wide
    if mem_width == 1:
        return ceil(omega / 16384)
    if mem_width == 2:
        return ceil(omega / 8192)
    if mem_width <= 4:
        return ceil(omega / 4096) * ceil(mem_width / 4)
    if mem_width <= 9:
        return ceil(omega / 2048) * ceil(mem_width / w9)
    if mem_width <= 18 or omega > 512:
        return ceil(omega / 1024) * ceil(mem_width / w18)
    return ceil(omega / 512) * ceil(mem_width / w36)


def pair(v: Any) -> tuple[int, int]:
    """FINN 2D attribute (``[h, w]``) from a list or a scalar."""
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            return int(v[0]), int(v[0])
        return int(v[0]), int(v[1])
    return int(v), int(v)
