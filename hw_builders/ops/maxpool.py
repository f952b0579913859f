"""StreamingMaxPool (hls): FINN streamingmaxpool.py get_exp_cycles; resources are
HWCustomOp's defaults (0 LUT/BRAM/URAM/DSP, efficiencies 1)."""

from __future__ import annotations

from typing import Any

from hw_builders.ops._common import pair
from hw_builders.registry import OpModel, divisors, register_op


@register_op("StreamingMaxPool")
class StreamingMaxPool(OpModel):
    impls = ("hls",)
    default_impl = "hls"
    required = ("ImgDim", "PoolDim", "NumChannels", "dataType")
    defaults = {"PE": 1, "CeilMode": 0}
    fold_attrs = ("PE",)
    int_attrs = ("NumChannels", "PE")

    @staticmethod
    def _norm(a: dict[str, Any]) -> tuple[bool, int, int]:
        """(is_1d, ifm_w, k_w) with 1D inputs normalised to [1, W] as FINN does."""
        ih, iw = pair(a["ImgDim"])
        kh, kw = pair(a["PoolDim"])
        if iw == 1 and ih != 1:
            return True, ih, kh
        return ih == 1, iw, kw

    def cycles(self, a: dict[str, Any], impl: str) -> int:
        is1d, iw, kw = self._norm(a)
        if is1d:
            ow = -(-(iw - kw) // kw) + 1 if a["CeilMode"] else (iw - kw) // kw + 1
            nf = a["NumChannels"] // a["PE"]
            return int(ow * nf * (kw + 1))
        # FINN: "TODO: adjust inaccurate formula" (2D ignores channels and PE)
        return int(iw * iw * (1 + 1 / (kw * kw)))

    def legal_values(self, a: dict[str, Any], impl: str = "") -> dict[str, list[int]]:
        return {"PE": list(divisors(a["NumChannels"]))}

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        m = self.must_divide("PE", a["PE"], "NumChannels", a["NumChannels"])
        return [m] if m else []
