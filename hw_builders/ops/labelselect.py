"""LabelSelect (hls, top-K): FINN labelselect.py; cycles = Labels / PE, no resources."""

from __future__ import annotations

from typing import Any

from hw_builders.registry import OpModel, divisors, register_op


@register_op("LabelSelect")
class LabelSelect(OpModel):
    impls = ("hls",)
    default_impl = "hls"
    required = ("Labels", "inputDataType")
    defaults = {"PE": 1, "K": 1, "outputDataType": None}
    fold_attrs = ("PE",)
    int_attrs = ("Labels", "PE", "K")

    def cycles(self, a: dict[str, Any], impl: str) -> int:
        return int(a["Labels"] / a["PE"])

    def legal_values(self, a: dict[str, Any], impl: str = "") -> dict[str, list[int]]:
        return {"PE": list(divisors(a["Labels"]))}

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        m = self.must_divide("PE", a["PE"], "Labels", a["Labels"])
        return [m] if m else []
