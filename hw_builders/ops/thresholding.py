"""Thresholding (hls and rtl): FINN thresholding.py, hls/thresholding_hls.py and
rtl/thresholding_rtl.py (Xilinx/finn 39f0c9a; docs/COST_MODEL.md).

Quirks kept (rtl, from FINN's rtl/thresholding_rtl.py get_memory_estimate and
finn/util/basic.py mem_primitives_versal / get_memutil_alternatives): BRAM_18K is always 0
(the count is filed under "BRAM18", FINN reads "BRAM"); the primitives are Versal's whatever
the part; LUT counts LUTRAM primitives only (comparators left out); a memory whose best
primitive is URAM *is* counted as URAM (uram_estimation reads the "URAM" key); a BRAM18 memory contributes nothing.
"""

from __future__ import annotations

from typing import Any

from hw_builders.ops._common import bits, ceil, prod
from hw_builders.registry import OpModel, divisors, register_op

# finn/util/basic.py mem_primitives_versal (name -> (width, depth)); the resource type is
# the name up to "_": "URAM", "BRAM18" (never "BRAM", hence FINN's 0 BRAM) or "LUTRAM".
_PRIMITIVES: tuple[tuple[str, int, int], ...] = (
    ("URAM_72x4096", 72, 4096),
    ("URAM_36x8192", 36, 8192),
    ("URAM_18x16384", 18, 16384),
    ("URAM_9x32768", 9, 32768),
    ("BRAM18_36x512", 36, 512),
    ("BRAM18_18x1024", 18, 1024),
    ("BRAM18_9x2048", 9, 2048),
    ("LUTRAM", 1, 64),
)


def best_primitive(
    width: float, depth: float, primitives: tuple[tuple[str, int, int], ...] = _PRIMITIVES
) -> tuple[str, int]:
    """(resource type, count) of FINN's primary memutil alternative: the primitive with
    the least waste, the first one on ties (Python's stable sort)."""
    best: tuple[float, str, int] | None = None
    for name, pw, pd in primitives:
        count = ceil(width / pw) * ceil(depth / pd)
        waste = count * pw * pd - width * depth
        if best is None or waste < best[0]:
            best = (waste, name.split("_")[0], count)
    assert best is not None
    return best[1], best[2]


def rtl_memory_estimate(a: dict[str, Any]) -> dict[str, int]:
    """Thresholding_rtl.get_memory_estimate: {resource type: count} over the PE memories."""
    pe = a["PE"]
    wbits, obits = bits(a["weightDataType"]), bits(a["outputDataType"])
    cf = a["NumChannels"] / pe
    if a.get("uniform_thres"):
        geoms = [(obits - x, cf * 2**x) for x in range(1, obits)]
    else:
        geoms = [(wbits, cf * 2**x) for x in range(obits)]
    trig_b, trig_u = a.get("depth_trigger_bram", 0), a.get("depth_trigger_uram", 0)
    res: dict[str, int] = {}
    for width, depth in geoms:
        prims = _PRIMITIVES
        if trig_b != 0 or trig_u != 0:
            if trig_b <= depth < trig_u:
                prims = tuple(p for p in _PRIMITIVES if "BRAM" in p[0])
            elif depth >= trig_u:
                prims = tuple(p for p in _PRIMITIVES if "URAM" in p[0])
        kind, count = best_primitive(width, depth, prims)
        res[kind] = res.get(kind, 0) + pe * count
    return res


@register_op("Thresholding")
class Thresholding(OpModel):
    impls = ("rtl", "hls")
    default_impl = "rtl"
    required = ("NumChannels", "inputDataType", "weightDataType", "outputDataType", "numSteps")
    defaults = {
        "PE": 1,
        "numInputVectors": [1],
        "ActVal": 0,
        "ram_style": "distributed",
        "mem_mode": "internal_decoupled",
        "runtime_writeable_weights": 0,
        "uniform_thres": 0,
        "depth_trigger_uram": 0,
        "depth_trigger_bram": 0,
    }
    fold_attrs = ("PE", "ram_style", "mem_mode")
    int_attrs = ("NumChannels", "PE", "numSteps")
    choices = {"ram_style": ("distributed", "block", "auto", "ultra")}

    def cycles(self, a: dict[str, Any], impl: str) -> int:
        return int(prod(a["numInputVectors"]) * a["NumChannels"] / a["PE"])

    def _tmem(self, a: dict[str, Any]) -> int:
        return a["NumChannels"] // a["PE"]

    def lut(self, a: dict[str, Any], impl: str) -> int:
        P = a["PE"]
        if impl == "hls":
            A = bits(a["inputDataType"])
            tmem = self._tmem(a)
            lutram = (
                P * A * int(ceil(tmem / 64)) if a["ram_style"] == "distributed" and tmem > 1 else 0
            )
            return A * P + lutram
        return rtl_memory_estimate(a).get("LUTRAM", 0)

    def bram(self, a: dict[str, Any], impl: str) -> int:
        if impl == "hls":
            A = bits(a["inputDataType"])
            tmem = self._tmem(a)
            if a["ram_style"] == "block" and tmem > 1:
                return int(ceil(A * a["PE"] / 16)) * int(ceil(tmem / 1024))
            return 0
        return rtl_memory_estimate(a).get("BRAM", 0)  # always 0: FINN's key is "BRAM18"

    def uram(self, a: dict[str, Any], impl: str) -> int:
        if impl == "hls":
            return 0
        return rtl_memory_estimate(a).get("URAM", 0)

    def legal_values(self, a: dict[str, Any], impl: str = "") -> dict[str, list[int]]:
        return {"PE": list(divisors(a["NumChannels"]))}

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        m = self.must_divide("PE", a["PE"], "NumChannels", a["NumChannels"])
        return [m] if m else []
