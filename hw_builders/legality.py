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


def _xnor_conv_on_stage_input(graph: HwGraph) -> Iterator[Refusal]:
    """qonnx/transformation/bipolar_to_xnor.py (FINN's step_streamline,
    ``ConvertBipolarMatMulToXnorPopcount``): a bipolar MatMul needs a bipolar MultiThreshold
    upstream, or must read the model's *first* graph input itself ("Could not find upstream
    bipolar MultiThreshold, and the MatMul is not the first node on graph input"). A later
    stage of a design's one model reads the previous stage's 1-bit features from its own
    graph input, which is never the first: its XNOR layer cannot be converted. cnv W1A1
    failed so at every exit (its feature map goes through a sliding window or a reshape
    first), and so did tfc W1A1 in one model with two exits, and with one exit in one study
    of two (it builds only where streamlining happens to move that stage's input first)."""
    from hw_builders.stage_split import exit_groups, split_stages

    _backbone, exits = exit_groups(graph)
    if not exits:
        return
    stages = split_stages(graph)
    for k in range(1, len(stages)):
        mvau = next((layer for layer in stages[k].layers if layer.op_type == "MVAU"), None)
        if mvau is None or not int(mvau.attrs.get("binaryXnorMode", 0)):
            continue
        yield Refusal(
            stages[k].layers[0].name,
            "xnor_conv_on_stage_input",
            f"FINN cannot build stage {k}: its binary XNOR layer ({mvau.name}) reads the "
            "previous stage's 1-bit features from the stage's input stream, where FINN's "
            "ConvertBipolarMatMulToXnorPopcount finds no bipolar MultiThreshold",
            "use act_bits of 2 or more with weight_bits 1, or no exits (W1A1)",
        )


#: Every rule on one layer, in the order they are reported.
RULES: tuple[Callable[[HwLayer], Refusal | None], ...] = (_pad_needs_zero,)
#: Every rule on the whole graph (its stages), reported after the layers'.
GRAPH_RULES: tuple[Callable[[HwGraph], Iterator[Refusal]], ...] = (
    _xnor_conv_on_stage_input,
)


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
