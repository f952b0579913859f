"""MVAU (matrix-vector-activation unit): FINN's matrixvectoractivation.py,
hls/matrixvectoractivation_hls.py and rtl/matrixvectoractivation_rtl.py.

Source followed: Xilinx/finn main (commit 0064baee, unchanged at 39f0c9a for these
formulas; docs/COST_MODEL.md). Quirks kept: internal_embedded with WMEM > 128 reports BRAM *and*
URAM; resType auto costs like lut; resType dsp counts DSPs even in XNOR mode.
"""

from __future__ import annotations

import math
from typing import Any

from hw_builders.datatypes import datatype
from hw_builders.ops._common import bits, bram_ladder, ceil, prod, signed
from hw_builders.registry import OpModel, register_op


class _WeightMemOp(OpModel):
    """Shared weight-memory estimates of MVAU-like ops."""

    def wmem(self, a: dict[str, Any]) -> int:
        return a["MW"] * a["MH"] // (a["PE"] * a["SIMD"])

    def omega_width(self, a: dict[str, Any]) -> tuple[float, int]:
        P, Q = a["PE"], a["SIMD"]
        return (a["MW"] * a["MH"]) / (Q * P), Q * bits(a["weightDataType"]) * P

    def bram(self, a: dict[str, Any], impl: str) -> int:
        mmode, mstyle = a["mem_mode"], a["ram_style"]
        if (
            (mmode == "internal_decoupled" and mstyle in ("distributed", "ultra"))
            or (mmode == "internal_embedded" and self.wmem(a) <= 128)
            or mmode == "external"
        ):
            return 0
        omega, width = self.omega_width(a)
        return bram_ladder(omega, width)

    def bram_efficiency(self, a: dict[str, Any], impl: str, bram: int) -> float:
        if bram == 0:
            return 1
        return bits(a["weightDataType"]) * a["MW"] * a["MH"] / (bram * 36 * 512)

    def uram(self, a: dict[str, Any], impl: str) -> int:
        mmode, mstyle = a["mem_mode"], a["ram_style"]
        if (
            (mmode == "internal_decoupled" and mstyle != "ultra")
            or (mmode == "internal_embedded" and self.wmem(a) <= 128)
            or mmode == "external"
        ):
            return 0
        omega, width = self.omega_width(a)
        return ceil(width / 72) * ceil(omega / 4096)

    def uram_efficiency(self, a: dict[str, Any], impl: str, uram: int) -> float:
        if uram == 0:
            return 1
        return bits(a["weightDataType"]) * a["MW"] * a["MH"] / (uram * 72 * 4096)


MVAU_DEFAULTS: dict[str, Any] = {
    "resType": "auto",
    "ActVal": 0,
    "accDataType": "INT32",
    "binaryXnorMode": 0,
    "noActivation": 0,
    "numInputVectors": [1],
    "mem_mode": "internal_decoupled",
    "ram_style": "auto",
    "ram_style_thresholds": "auto",
    "runtime_writeable_weights": 0,
}


def acc_bits(mw_log2: float, W: int, A: int, idt_signed: bool, acc_dt: str) -> float:
    """FINN's accumulator width bound (arXiv:2301.13376), capped by accDataType."""
    alpha = mw_log2 + W + A - 1 - int(idt_signed)
    return min(bits(acc_dt), math.ceil(alpha + math.log(1 + pow(2, -alpha), 2) + 1))


@register_op("MVAU")
class MVAU(_WeightMemOp):
    impls = ("hls", "rtl")
    default_impl = "hls"
    required = ("MW", "MH", "inputDataType", "weightDataType", "outputDataType")
    defaults = {"PE": 1, "SIMD": 1, **MVAU_DEFAULTS}
    fold_attrs = ("PE", "SIMD", "ram_style", "resType", "mem_mode", "ram_style_thresholds")
    int_attrs = ("MW", "MH", "PE", "SIMD")
    choices = {
        "resType": ("auto", "lut", "dsp"),
        "mem_mode": ("internal_embedded", "internal_decoupled", "external"),
        "ram_style": ("auto", "block", "distributed", "ultra"),
        "ram_style_thresholds": ("auto", "block", "distributed"),
    }

    def impl_for(self, a: dict[str, Any]) -> str:
        """FINN's SpecializeLayers choice for an MVAU without a preference.

        FINN (transformation/fpgadataflow/specialize_layers.py, ``_mvu_rtl_possible``) takes
        the rtl MVAU when it has no embedded thresholds, is not XNOR, its weights are
        signed, and input and weights are 4..8 bits wide (input 9 bits if signed); it
        decides before ``step_minimize_bit_width``, so on the datatypes of the conversion.
        Non-narrow weights on a DSP48E1 part would also exclude it; adapex's weight
        quantisers are narrow-range.
        """
        idt = datatype(str(a["inputDataType"]))
        wdt = datatype(str(a["weightDataType"]))
        if not int(a.get("noActivation", 0)) or int(a.get("binaryXnorMode", 0)):
            return "hls"
        if not wdt.signed or wdt.bitwidth < 4 or wdt.bitwidth > 8 or idt.bitwidth < 4:
            return "hls"
        if idt.bitwidth <= 8 or (idt.bitwidth == 9 and idt.signed):
            return "rtl"
        return "hls"

    def cycles(self, a: dict[str, Any], impl: str) -> int:
        return int((a["MH"] / a["PE"]) * (a["MW"] / a["SIMD"]) * prod(a["numInputVectors"]))

    def lut(self, a: dict[str, Any], impl: str) -> int:
        if impl == "rtl":
            return 0
        P, Q, MW = a["PE"], a["SIMD"], a["MW"]
        W = bits(a["weightDataType"])
        A = bits(a["inputDataType"])
        c2 = 0
        mmode, mstyle = a["mem_mode"], a["ram_style"]
        if (mmode == "internal_decoupled" and mstyle == "distributed") or (
            mmode == "internal_embedded" and self.wmem(a) <= 128
        ):
            c2 = (P * Q * W) * ceil(self.wmem(a) / 64)
        mult = 0 if a["resType"] == "dsp" else Q * (2 * ceil((W + A) / 6) - 1) * (W + A)
        adder = (W + A) * (2 * Q - 1)
        acc = acc_bits(math.log(MW, 2), W, A, signed(a["inputDataType"]), a["accDataType"])
        thr = comp = 0
        if a["noActivation"] == 0 and a["ram_style_thresholds"] == "distributed":
            B = bits(a["outputDataType"])
            tmem = a["MH"] // P
            thr = (2**B - 1) * acc * ceil(tmem / 64)
            comp = (2**B - 1) * acc
        return int(300 + 1.1 * (P * (mult + adder + acc + thr + comp)) + c2)

    def dsp(self, a: dict[str, Any], impl: str, versal: bool) -> int:
        P, Q = a["PE"], a["SIMD"]
        if impl == "rtl":
            # rtl/matrixvectoractivation_rtl.py: DSP58 packs 3 lanes, DSP48 4 PEs (INT4/8)
            return P * ceil(Q / 3) if versal else ceil(P / 4) * Q
        if a["resType"] == "dsp":
            W = bits(a["weightDataType"])
            A = bits(a["inputDataType"])
            return int(P * Q * ceil((W + A) / 48))
        return 0

    def legal_values(self, a: dict[str, Any], impl: str = "") -> dict[str, list[int]]:
        from hw_builders.registry import divisors

        return {"PE": list(divisors(a["MH"])), "SIMD": list(divisors(a["MW"]))}

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        out = [
            self.must_divide("PE", a["PE"], "MH", a["MH"]),
            self.must_divide("SIMD", a["SIMD"], "MW", a["MW"]),
        ]
        return [m for m in out if m]
