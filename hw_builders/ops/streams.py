"""DuplicateStreams and AddStreams (hls): cycles = prod(numInputVectors) * C / PE
(FINN duplicatestreams.py / addstreams.py: number of folded output words); no resources."""

from __future__ import annotations

from typing import Any

from hw_builders.ops._common import prod
from hw_builders.registry import OpModel, divisors, register_op


class _ChannelStream(OpModel):
    impls = ("hls",)
    default_impl = "hls"
    required = ("NumChannels", "inputDataType")
    defaults = {"PE": 1, "numInputVectors": [1], "NumOutputStreams": 2}
    fold_attrs = ("PE",)
    int_attrs = ("NumChannels", "PE")

    def cycles(self, a: dict[str, Any], impl: str) -> int:
        return int(prod(a["numInputVectors"]) * (a["NumChannels"] // a["PE"]))

    def legal_values(self, a: dict[str, Any], impl: str = "") -> dict[str, list[int]]:
        return {"PE": list(divisors(a["NumChannels"]))}

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        m = self.must_divide("PE", a["PE"], "NumChannels", a["NumChannels"])
        return [m] if m else []


@register_op("DuplicateStreams")
class DuplicateStreams(_ChannelStream):
    pass


@register_op("AddStreams")
class AddStreams(_ChannelStream):
    pass
