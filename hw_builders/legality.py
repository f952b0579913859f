"""What FINN's builder refuses: the rules a hardware graph must meet to be buildable.

One place, beside the cost models, for the checks that FINN itself makes while it builds
(each rule names the FINN source that enforces it), so that a design FINN cannot build is
refused before a model is trained for it: the study checks every bit-width combination of
its config when it starts, ``adapex train`` checks its point, and the export checks every
design it writes.

The rules read only the graph's structure and datatypes (what a family lowers to from its
architecture), never weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hw_builders.datatypes import datatype
from hw_builders.errors import HwError
from hw_builders.graph import HwGraph, HwLayer

__all__ = ["Refusal", "check_buildable", "refusals"]


@dataclass(frozen=True)
class Refusal:
    """Why FINN cannot build one layer of a graph.

    Attributes:
        layer: the layer's name.
        rule: a short key of the rule (``"pad_needs_zero"``).
        reason: what FINN refuses, in one clause.
        fix: what to change in the design space.
    """

    layer: str
    rule: str
    reason: str
    fix: str

    def line(self) -> str:
        return f"{self.reason}; {self.fix}"


def _allows_zero(name: str) -> bool:
    """qonnx's ``DataType.allowed(0)``: every FINN integer type holds 0, BIPOLAR (-1, +1)
    does not."""
    dt = datatype(name)
    return dt.name != "BIPOLAR" and dt.min <= 0 <= dt.max


def _pad_needs_zero(layer: HwLayer) -> Refusal | None:
    """finn/custom_op/fpgadataflow/fmpadding.py, ``get_input_datatype``:
    ``assert ret.allowed(0), "FMPadding_Batch DataType must support zero"`` (step_convert_to_hw
    fails on it)."""
    if layer.op_type != "FMPadding":
        return None
    dt = str(layer.attrs.get("inputDataType", ""))
    if _allows_zero(dt):
        return None
    return Refusal(
        layer.name,
        "pad_needs_zero",
        f"FINN cannot zero-pad a {dt} feature map (layer {layer.name}: FMPadding's datatype "
        "must hold 0), so a 'same'-padded convolution cannot follow a 1-bit activation",
        "use act_bits of 2 or more, or inputs of at least 32x32 (cnv then pads nothing)",
    )


def _xnor_pads_minus_one(layer: HwLayer) -> Refusal | None:
    """qonnx/transformation/bipolar_to_xnor.py (``ConvertBipolarMatMulToXnorPopcount``): an
    XNOR layer reads its 1-bit features as BINARY bits, 0 for -1, and computes the bipolar
    dot product ``2 * popcount - K``. FINN's FMPadding pads a BINARY map with 0 bits, which
    the XNOR layer reads as -1, where the trained network padded its bipolar (-1/+1) map with
    0: FINN builds it, and the accelerator computes another network than the one whose
    accuracy adapex measured. FINN 39f0c9a's streamlined model of a cnv W1A1 (random
    weights, executed with qonnx) gave the exported model's label on 3 of 40 inputs at
    16x16 (padded) and on 40 of 40 at 32x32 (nothing padded)."""
    if layer.op_type != "FMPadding" or str(layer.attrs.get("inputDataType", "")) != "BINARY":
        return None
    return Refusal(
        layer.name,
        "xnor_pads_minus_one",
        f"FINN cannot pad a 1-bit map of an XNOR network with 0 (layer {layer.name}: its XNOR "
        "layers read a padded bit as -1, where the trained network pads with 0), so a "
        "'same'-padded convolution cannot follow a 1-bit activation",
        "use act_bits of 2 or more, or inputs of at least 32x32 (cnv then pads nothing)",
    )


#: Every rule on one layer, in the order they are reported.
RULES: tuple[Callable[[HwLayer], Refusal | None], ...] = (_pad_needs_zero, _xnor_pads_minus_one)
#: Every rule on the whole graph (its stages), reported after the layers'.
GRAPH_RULES: tuple[Callable[[HwGraph], Iterator[Refusal]], ...] = ()


def _each(graph: HwGraph) -> Iterator[Refusal]:
    for layer in graph.layers:
        for rule in RULES:
            found = rule(layer)
            if found is not None:
                yield found
    for graph_rule in GRAPH_RULES:
        yield from graph_rule(graph)


def refusals(graph: HwGraph) -> list[Refusal]:
    """Every reason FINN's builder would refuse ``graph`` (empty when it builds)."""
    return list(_each(graph))


def check_buildable(graph: HwGraph, what: str = "design") -> None:
    """Refuse a graph FINN cannot build.

    Args:
        graph: the design's hardware graph (structure and datatypes; no weights needed).
        what: how the message names the design (e.g. ``"model W2A1"``).

    Raises:
        HwError: one line naming ``what`` and the first rule it breaks, and the fix.
    """
    first = next(_each(graph), None)
    if first is not None:
        raise HwError(f"{what}: {first.line()}")
