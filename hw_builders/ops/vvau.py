"""VVAU (depthwise conv, vector-vector-activation): FINN's vectorvectoractivation.py,
hls/vectorvectoractivation_hls.py and rtl/vectorvectoractivation_rtl.py (Xilinx/finn
39f0c9a; docs/COST_MODEL.md). WMEM is integer ``(k*C // PE) // SIMD``; URAM is 0 for
internal_embedded at any depth; rtl costs 0 LUT and P*ceil(Q/3) DSP (DSP58).

Quirks kept: BRAM width steps 8/16/32; ram_style auto with depth <= 128 gives 0 BRAM;
BRAM_efficiency uses W*P*WMEM (no SIMD factor); hls threshold LUTs have no rounding up
and ignore ram_style_thresholds.
"""

from __future__ import annotations

import math
from typing import Any

from hw_builders.ops._common import bits, bram_ladder, ceil, pair, signed
from hw_builders.ops.mvau import MVAU_DEFAULTS, acc_bits
from hw_builders.registry import OpModel, divisors, register_op


@register_op("VVAU")
class VVAU(OpModel):
    impls = ("hls", "rtl")
    default_impl = "hls"
    required = ("Channels", "Kernel", "Dim", "inputDataType", "weightDataType", "outputDataType")
    defaults = {"PE": 1, "SIMD": 1, **MVAU_DEFAULTS}
    fold_attrs = ("PE", "SIMD", "ram_style", "resType", "mem_mode", "ram_style_thresholds")
    int_attrs = ("Channels", "PE", "SIMD")
    choices = {
        "resType": ("auto", "lut", "dsp"),
        "mem_mode": ("internal_embedded", "internal_decoupled", "external"),
        "ram_style": ("auto", "block", "distributed", "ultra"),
        "ram_style_thresholds": ("auto", "block", "distributed"),
    }

    @staticmethod
    def _k(a: dict[str, Any]) -> int:
        kh, kw = pair(a["Kernel"])
        return kh * kw

    def wmem(self, a: dict[str, Any]) -> int:
        """FINN calc_wmem: (k_h*k_w*Channels // PE) // SIMD."""
        return (self._k(a) * a["Channels"] // a["PE"]) // a["SIMD"]

    def cycles(self, a: dict[str, Any], impl: str) -> int:
        oh, ow = pair(a["Dim"])
        return int((a["Channels"] * self._k(a) / a["PE"] / a["SIMD"]) * oh * ow)

    def bram(self, a: dict[str, Any], impl: str) -> int:
        omega = self.wmem(a)
        mmode, mstyle = a["mem_mode"], a["ram_style"]
        if (
            (mmode == "internal_decoupled" and mstyle in ("distributed", "ultra"))
            or (mstyle == "auto" and omega <= 128)
            or (mmode == "internal_embedded" and omega <= 128)
            or mmode == "external"
        ):
            return 0
        width = a["SIMD"] * bits(a["weightDataType"]) * a["PE"]
        return bram_ladder(omega, width, wide=(8, 16, 32))

    def bram_efficiency(self, a: dict[str, Any], impl: str, bram: int) -> float:
        if bram == 0:
            return 1
        return bits(a["weightDataType"]) * a["PE"] * self.wmem(a) / (bram * 36 * 512)

    def uram(self, a: dict[str, Any], impl: str) -> int:
        mmode, mstyle = a["mem_mode"], a["ram_style"]
        omega = self.wmem(a)
        if (
            (mmode == "internal_decoupled" and mstyle != "ultra")
            or mmode == "internal_embedded"  # FINN VVAU: never URAM when embedded
            or mmode == "external"
        ):
            return 0
        width = a["SIMD"] * bits(a["weightDataType"]) * a["PE"]
        return ceil(width / 72) * ceil(omega / 4096)

    def uram_efficiency(self, a: dict[str, Any], impl: str, uram: int) -> float:
        if uram == 0:
            return 1
        return bits(a["weightDataType"]) * a["Channels"] * self._k(a) / (uram * 72 * 4096)

    def lut(self, a: dict[str, Any], impl: str) -> int:
        if impl == "rtl":
            return 0
        P, Q = a["PE"], a["SIMD"]
        W = bits(a["weightDataType"])
        A = bits(a["inputDataType"])
        wmem = self.wmem(a)
        c2 = 0
        mmode, mstyle = a["mem_mode"], a["ram_style"]
        if (mmode == "internal_decoupled" and mstyle == "distributed") or (
            mmode == "internal_embedded" and wmem <= 128
        ):
            c2 = (P * Q * W) * ceil(wmem / 64)
        mult = 0 if a["resType"] == "dsp" else Q * (2 * ceil((W + A) / 6) - 1) * (W + A)
        adder = (W + A) * (2 * Q - 1)
        acc = acc_bits(math.log(self._k(a), 2), W, A, signed(a["inputDataType"]), a["accDataType"])
        thr = comp = 0
        if a["noActivation"] == 0:
            B = bits(a["outputDataType"])
            tmem = a["Channels"] // P
            thr = (2**B - 1) * acc * tmem / 64
            comp = (2**B - 1) * acc
        return int(300 + 1.1 * (P * (mult + adder + acc + thr + comp)) + c2)

    def dsp(self, a: dict[str, Any], impl: str, versal: bool) -> int:
        P, Q = a["PE"], a["SIMD"]
        if impl == "rtl":
            return P * ceil(Q / 3)  # VVAU_rtl targets DSP58 (Versal) only
        if a["resType"] == "dsp":
            W = bits(a["weightDataType"])
            A = bits(a["inputDataType"])
            return int(P * ceil((W + A) / 48))
        return 0

    def legal_values(self, a: dict[str, Any], impl: str = "") -> dict[str, list[int]]:
        return {"PE": list(divisors(a["Channels"])), "SIMD": list(divisors(self._k(a)))}

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        out = [
            self.must_divide("PE", a["PE"], "Channels", a["Channels"]),
            self.must_divide("SIMD", a["SIMD"], "kernel size kh*kw", self._k(a)),
        ]
        return [m for m in out if m]
