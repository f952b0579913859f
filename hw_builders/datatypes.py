"""FINN/QONNX DataType names: bit width, signedness and value range.

Mirrors ``qonnx.core.datatype.resolve_datatype`` (qonnx 1.0): BINARY (1 bit, unsigned),
BIPOLAR (1 bit, signed, {-1, +1}), TERNARY (2 bits, signed), UINT<n>, INT<n>,
FIXED<w,i>, SCALEDINT<n>, FLOAT32, FLOAT16. Pure Python, cached by name.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from hw_builders.errors import HwError

__all__ = [
    "DataType",
    "activation_datatype",
    "bitwidth",
    "datatype",
    "dot_product_datatype",
    "quantised_weight_datatype",
    "label_datatype",
    "range_datatype",
]


@dataclass(frozen=True)
class DataType:
    """One FINN DataType.

    Attributes:
        name: canonical name (``INT8``, ``FIXED<8,4>``, ...).
        bitwidth: number of bits.
        signed: whether the type holds negative values (qonnx's ``signed()``).
        min: smallest representable value.
        max: largest representable value.
        integer: whether all values are integers.
    """

    name: str
    bitwidth: int
    signed: bool
    min: float
    max: float
    integer: bool = True


_INT = re.compile(r"^(U?)INT(\d+)$")
_FIXED = re.compile(r"^FIXED<\s*(\d+)\s*,\s*(-?\d+)\s*>$")
_SCALED = re.compile(r"^SCALEDINT<\s*(\d+)\s*>$")
_F32 = 3.4028234663852886e38


@functools.lru_cache(maxsize=512)
def datatype(name: str) -> DataType:
    """Resolve a FINN DataType name.

    Args:
        name: e.g. ``"INT8"``, ``"BIPOLAR"``, ``"FIXED<8,4>"``.

    Returns:
        The DataType.

    Raises:
        HwError: the name is not a FINN DataType.
    """
    if not isinstance(name, str):
        raise HwError(f"datatype {name!r}: expected a FINN DataType name such as INT8 or BIPOLAR")
    n = name.strip().upper()
    if n == "BINARY":
        return DataType("BINARY", 1, False, 0, 1)
    if n == "BIPOLAR":
        return DataType("BIPOLAR", 1, True, -1, 1)
    if n == "TERNARY":
        return DataType("TERNARY", 2, True, -1, 1)
    if n == "FLOAT32":
        return DataType("FLOAT32", 32, True, -_F32, _F32, False)
    if n == "FLOAT16":
        return DataType("FLOAT16", 16, True, -65504.0, 65504.0, False)
    m = _INT.match(n)
    if m:
        bits = int(m.group(2))
        if bits < 1:
            raise HwError(f"datatype {name!r}: bit width must be at least 1")
        if m.group(1):
            return DataType(f"UINT{bits}", bits, False, 0, 2**bits - 1)
        return DataType(f"INT{bits}", bits, True, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    m = _FIXED.match(n)
    if m:
        w, i = int(m.group(1)), int(m.group(2))
        frac = w - i
        step = 2.0**-frac
        return DataType(
            f"FIXED<{w},{i}>", w, True, -(2 ** (w - 1)) * step, (2 ** (w - 1) - 1) * step, False
        )
    m = _SCALED.match(n)
    if m:
        w = int(m.group(1))
        return DataType(f"SCALEDINT<{w}>", w, True, -(2 ** (w - 1)), 2 ** (w - 1) - 1, False)
    raise HwError(
        f"datatype {name!r}: unknown FINN DataType; use BINARY, BIPOLAR, TERNARY, UINT<n>, INT<n>, "
        "FIXED<w,i>, SCALEDINT<n>, FLOAT16 or FLOAT32"
    )


def bitwidth(name: str) -> int:
    """Bit width of a FINN DataType name (HwError when unknown)."""
    return datatype(name).bitwidth


def range_datatype(lo: int, hi: int) -> str:
    """The smallest UINT<n> (when ``lo >= 0``) or INT<n> holding every integer of
    ``[lo, hi]``: FINN's choice for an accumulator.

    Raises:
        HwError: ``lo > hi``.
    """
    lo, hi = int(lo), int(hi)
    if lo > hi:
        raise HwError(f"range_datatype: lo={lo} > hi={hi}; give an ordered range")
    if lo >= 0:
        return f"UINT{max(1, hi.bit_length())}"
    need = max(-lo, hi + 1)
    return f"INT{(need - 1).bit_length() + 1}"


def label_datatype(labels: int) -> str:
    """FINN's LabelSelect output datatype (labelselect.py, ``__init__`` when
    InferLabelSelectLayer sets none): the smallest UINT holding ``labels - 1``, widened to a
    multiple of 8 bits (it may end the accelerator)."""
    bits = int(range_datatype(0, max(int(labels) - 1, 0))[4:])
    return f"UINT{-(-bits // 8) * 8}"


def dot_product_datatype(length: int, idt: str, wdt: str) -> str:
    """The accumulator datatype of an MVAU as FINN converts it: the smallest type holding
    every dot product of ``length`` inputs of ``idt`` with weights of ``wdt``, from the
    datatypes' ranges (``step_minimize_bit_width`` narrows it later from the weights)."""
    i, w = datatype(idt), datatype(wdt)
    prods = [int(a) * int(b) for a in (i.min, i.max) for b in (w.min, w.max)]
    return range_datatype(int(length) * min(prods), int(length) * max(prods))


def activation_datatype(bits: int, *, xnor_consumer: bool) -> str:
    """FINN's datatype of a quantised activation: UINT<b> after a ReLU quantiser; at 1 bit
    BIPOLAR, or BINARY when it feeds binary XNOR layers
    (``ConvertBipolarMatMulToXnorPopcount``)."""
    if bits == 1:
        return "BINARY" if xnor_consumer else "BIPOLAR"
    return f"UINT{bits}"


def quantised_weight_datatype(bits: int, *, xnor: bool) -> str:
    """FINN's datatype of narrow-range quantised weights: INT<w>; at 1 bit BIPOLAR, or
    BINARY in XNOR mode."""
    if bits == 1:
        return "BINARY" if xnor else "BIPOLAR"
    return f"INT{bits}"
