"""Helpers to lower a family's architecture to FINN's dataflow graph (hw_builders JSON).

The graph is the one FINN produces after streamlining, conversion to hardware layers and
specialisation (before FIFO/DWC insertion): per conv [FMPadding] +
ConvolutionInputGenerator + MVAU with folded thresholds, StreamingMaxPool, one MVAU per
FC, and a DuplicateStreams at every exit point in use. An exit's classifier ends in its
MVAU (its logits leave the stage for the host's confidence test); the final classifier
ends in a LabelSelect (FINN's TopK). :func:`minimized_graph` then narrows the datatypes
from the trained weights as FINN's ``step_minimize_bit_width`` does.

FINN's rules are read from ``hw_builders``, never restated here: each op's implementation
style (``OpModel.impl_for``: its default, or the MVAU's SpecializeLayers choice) and the
datatype rules (:mod:`hw_builders.datatypes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hw_builders.datatypes import (
    dot_product_datatype,
    label_datatype,
    quantised_weight_datatype,
)
from hw_builders.registry import get_op

if TYPE_CHECKING:
    from hw_builders.graph import HwGraph


class GraphBuilder:
    """Accumulates layers in dataflow order and names them FINN-style."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.layers: list[dict[str, Any]] = []
        self._counters: dict[str, int] = {}

    def add(
        self,
        op_type: str,
        inputs: list[str],
        attrs: dict[str, Any],
        *,
        exit: int | None = None,  # noqa: A002 - contract field name
        impl: str | None = None,
    ) -> str:
        """Append a layer; returns its name ``<op_type>_<impl>_<n>``.

        ``n`` counts the layers of the same specialised op type in graph order, as FINN's
        GiveUniqueNodeNames does after SpecializeLayers (MVAU_hls_0, MVAU_hls_1, ...).
        """
        op = get_op(op_type)
        style = impl or op.impl_for({**op.defaults, **attrs})
        spec = f"{op_type}_{style}"
        n = self._counters.get(spec, 0)
        self._counters[spec] = n + 1
        name = f"{spec}_{n}"
        layer: dict[str, Any] = {"name": name, "op_type": op_type, "inputs": list(inputs)}
        if impl is not None or style != op.default_impl:
            layer["impl"] = style
        layer.update(attrs)
        if exit is not None:
            layer["exit"] = exit
        self.layers.append(layer)
        return name

    def to_dict(self) -> dict[str, Any]:
        """The hardware-graph JSON dict of docs/DESIGN.md."""
        return {"name": self.name, "layers": [dict(layer) for layer in self.layers]}


def mvau(
    g: GraphBuilder,
    src: str,
    *,
    mw: int,
    mh: int,
    nvec: list[int],
    idt: str,
    weight_bits: int,
    odt: str | None,
    exit: int | None = None,  # noqa: A002
) -> str:
    """Add an MVAU; ``odt`` None means no activation (raw accumulator out)."""
    xnor = weight_bits == 1 and idt == "BINARY"
    wdt = quantised_weight_datatype(weight_bits, xnor=xnor)
    adt = dot_product_datatype(mw, idt, wdt)
    attrs: dict[str, Any] = {
        "MW": mw,
        "MH": mh,
        "PE": 1,
        "SIMD": 1,
        "numInputVectors": nvec,
        "inputDataType": idt,
        "weightDataType": wdt,
        "accDataType": adt,
        "outputDataType": odt if odt is not None else adt,
        "ActVal": 0,
        "binaryXnorMode": int(xnor),
        "noActivation": int(odt is None),
        "mem_mode": "internal_decoupled",
        "ram_style": "auto",
        "resType": "auto",
    }
    return g.add("MVAU", [src], attrs, exit=exit)


def label_select(
    g: GraphBuilder,
    src: str,
    *,
    labels: int,
    idt: str,
    exit: int | None = None,  # noqa: A002
) -> str:
    """Add FINN's LabelSelect (top-1) after a classifier."""
    attrs = {
        "Labels": labels,
        "PE": 1,
        "K": 1,
        "inputDataType": idt,
        "outputDataType": label_datatype(labels),
    }
    return g.add("LabelSelect", [src], attrs, exit=exit)


def mvau_weights(graph: HwGraph, weights: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Pair the MVAUs of ``graph`` (in graph order) with a model's weight matrices.

    Args:
        graph: A family's lowered graph.
        weights: ``[(module path, (MW, MH) integer matrix)]`` in dataflow order
            (``MultiExitNet.integer_weights`` for the same exits).

    Returns:
        Per MVAU name, its matrix.

    Raises:
        SpaceError: the counts or shapes differ (the model is not the graph's).
    """
    from search_spaces.errors import SpaceError

    mvaus = [layer for layer in graph.layers if layer.op_type == "MVAU"]
    if len(mvaus) != len(weights):
        raise SpaceError(
            f"graph {graph.name}: {len(mvaus)} MVAUs but the model has {len(weights)} weight "
            "layers; lower the same architecture and exits as the model"
        )
    out: dict[str, Any] = {}
    for layer, (path, mat) in zip(mvaus, weights, strict=True):
        shape = (int(layer.attrs["MW"]), int(layer.attrs["MH"]))
        if tuple(mat.shape) != shape:
            raise SpaceError(
                f"graph {graph.name}: {layer.name} is {shape[0]} x {shape[1]} but model layer "
                f"{path} has weights {tuple(mat.shape)}; lower the model's own architecture"
            )
        out[layer.name] = mat
    return out


def minimized_graph(graph: HwGraph, weights: Sequence[tuple[str, Any]]) -> HwGraph:
    """``graph`` with FINN's minimised weight, accumulator and output datatypes.

    Args:
        graph: A family's lowered graph (whole design, exits in use).
        weights: The model's ``integer_weights`` for the same exits.
    """
    from hw_builders.minimize import minimize_bit_widths

    return minimize_bit_widths(graph, mvau_weights(graph, weights))


def to_hw_graph(data: dict[str, Any]) -> HwGraph:
    """Load the dict with hw_builders.load_graph (validates it)."""
    from hw_builders.graph import load_graph

    return load_graph(data)
