"""StreamingFIFO: FINN streamingfifo.py / rtl/streamingfifo_rtl.py (Xilinx/finn 39f0c9a;
docs/COST_MODEL.md). Quirk kept: impl_style rtl is always LUT only, at any depth.

In FINN the node is always ``StreamingFIFO_rtl`` (so named ``StreamingFIFO_rtl_<n>``);
the implementation style is the node attribute ``impl_style`` ("rtl" | "vivado"), and
vivado rounds the depth up to a power of two (get_adjusted_depth: 1 << (depth-1).bit_length()).
A graph layer written with ``"impl": "vivado"`` is read as impl rtl + impl_style vivado.
"""

from __future__ import annotations

import math
from typing import Any

from hw_builders.ops._common import bits, bram_ladder, ceil
from hw_builders.registry import OpModel, register_op


@register_op("StreamingFIFO")
class StreamingFIFO(OpModel):
    impls = ("rtl",)
    default_impl = "rtl"
    required = ("depth", "dataType", "folded_shape")
    defaults = {"ram_style": "auto", "impl_style": "rtl"}
    fold_attrs = ("depth", "ram_style", "impl_style")
    int_attrs = ("depth",)
    choices = {
        "ram_style": ("auto", "block", "distributed", "ultra"),
        "impl_style": ("rtl", "vivado"),
    }

    @staticmethod
    def width(a: dict[str, Any]) -> int:
        return bits(a["dataType"]) * int(a["folded_shape"][-1])

    @staticmethod
    def eff_depth(a: dict[str, Any], impl: str) -> int:
        """FINN get_adjusted_depth."""
        d = int(a["depth"])
        if a["impl_style"] == "vivado":
            d = 1 << (d - 1).bit_length()
        return d

    def lut(self, a: dict[str, Any], impl: str) -> int:
        depth = self.eff_depth(a, impl)
        ctrl = 2 * math.ceil(math.log2(depth)) if depth > 1 else 0
        if a["impl_style"] == "rtl" or a["ram_style"] == "distributed":
            return int(ctrl + ceil(depth / 32) * ceil(self.width(a) / 2))
        return int(ctrl)

    def bram(self, a: dict[str, Any], impl: str) -> int:
        if a["impl_style"] == "vivado" and a["ram_style"] == "block":
            return bram_ladder(self.eff_depth(a, impl), self.width(a))
        return 0

    def bram_efficiency(self, a: dict[str, Any], impl: str, bram: int) -> float:
        if bram == 0:
            return 1
        return self.eff_depth(a, impl) * self.width(a) / (bram * 36 * 512)

    def uram(self, a: dict[str, Any], impl: str) -> int:
        if a["impl_style"] == "vivado" and a["ram_style"] == "ultra":
            return ceil(self.eff_depth(a, impl) / 4096) * ceil(self.width(a) / 72)
        return 0

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        d = a["depth"]
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            return [f"depth={d} must be a positive integer; choose a depth >= 1"]
        return []
