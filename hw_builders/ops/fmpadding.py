"""FMPadding (rtl by default, as FINN's specialize_layers picks an rtl variant when one
exists; hls costs the same): FINN fmpadding.py. cycles = (NumChannels / SIMD) * numInputVectors
* OH * OW with OH = ImgDim_h + top + bottom, OW = ImgDim_w + left + right; resources are
HWCustomOp's defaults (0). Padding is FINN's [top, left, bottom, right]."""

from __future__ import annotations

from typing import Any

from hw_builders.ops._common import pair
from hw_builders.registry import OpModel, divisors, register_op


@register_op("FMPadding")
class FMPadding(OpModel):
    impls = ("rtl", "hls")
    default_impl = "rtl"
    required = ("ImgDim", "Padding", "NumChannels", "inputDataType")
    defaults = {"SIMD": 1, "numInputVectors": 1}
    fold_attrs = ("SIMD",)
    int_attrs = ("NumChannels", "SIMD")

    @staticmethod
    def out_dim(a: dict[str, Any]) -> tuple[int, int]:
        ih, iw = pair(a["ImgDim"])
        top, left, bottom, right = (int(x) for x in a["Padding"])
        return ih + top + bottom, iw + left + right

    def cycles(self, a: dict[str, Any], impl: str) -> int:
        oh, ow = self.out_dim(a)
        nvec = a["numInputVectors"]
        if isinstance(nvec, (list, tuple)):
            n = 1
            for x in nvec:
                n *= int(x)
            nvec = n
        return int((a["NumChannels"] / a["SIMD"]) * nvec * oh * ow)

    def legal_values(self, a: dict[str, Any], impl: str = "") -> dict[str, list[int]]:
        return {"SIMD": list(divisors(a["NumChannels"]))}

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        m = self.must_divide("SIMD", a["SIMD"], "NumChannels", a["NumChannels"])
        return [m] if m else []
