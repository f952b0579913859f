"""FINN's ``step_minimize_bit_width`` on a hardware graph, from the trained weights.

FINN's builder narrows datatypes after folding (finn/builder/build_dataflow_steps.py,
``step_minimize_bit_width``): ``MinimizeWeightBitWidth`` then ``MinimizeAccumulatorWidth``
then ``InferDataTypes``. For an MVAU (finn/custom_op/fpgadataflow/matrixvectoractivation.py):

* **weights**: ``weightDataType`` becomes the smallest type holding the actual weights
  (qonnx ``DataType.get_smallest_possible`` of ``w_min``, or of ``-w_max - 1`` when
  ``|w_min| <= w_max``; of ``w_max`` when no weight is negative). In XNOR mode the stored
  weights are binary (0/1).
* **accumulator**: the exact range of every dot product of the actual weights with inputs
  of the input datatype (qonnx ``calculate_matvec_accumulator_range``; XNOR weights as
  bipolar). Thresholds are clipped into that range, so they never widen it. The type is
  ``UINT<ceil(log2(max + 1))>`` for a non-negative range, else
  ``INT<ceil(log2(max(-min, max + 1))) + 1>``.
* **no activation**: the output datatype is the accumulator's, and a node whose output
  leaves the graph (no successor) is rounded up to a multiple of 8 bits (accumulator too).
* the new output datatype reaches the consumers' ``inputDataType`` (``InferDataTypes``).

Without weights (before training) the graph keeps the worst-case bounds of the lowering.
Pure numpy; the caller gives each MVAU's integer weight matrix in FINN's ``(MW, MH)``
layout (only column sums of positive and negative parts matter, not the row order).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hw_builders.datatypes import datatype, range_datatype
from hw_builders.errors import HwError
from hw_builders.graph import HwGraph, HwLayer

__all__ = [
    "accumulator_datatype",
    "minimize_bit_widths",
    "smallest_possible",
    "weight_datatype",
]

#: Ops whose input datatype follows their producer's output (FINN's infer_node_datatype).
_PASS_THROUGH = {
    "DuplicateStreams": ("inputDataType",),
    "StreamingMaxPool": ("dataType",),
    "FMPadding": ("inputDataType",),
    "ConvolutionInputGenerator": ("inputDataType", "outputDataType"),
    "StreamingFIFO": ("dataType",),
}


def smallest_possible(value: int) -> str:
    """qonnx's ``DataType.get_smallest_possible`` for an integer: the first type of
    BINARY, UINT1..64, BIPOLAR, TERNARY, INT1..64 that holds ``value``."""
    v = int(value)
    if v >= 0:
        return "BINARY" if v <= 1 else f"UINT{v.bit_length()}"
    if v == -1:
        return "BIPOLAR"
    return f"INT{(-v - 1).bit_length() + 1}"


def weight_datatype(weights: np.ndarray) -> str:
    """FINN's ``minimize_weight_bit_width``: the weight datatype for these stored weights."""
    w_min = int(np.min(weights))
    w_max = int(np.max(weights))
    if w_min < 0:
        return smallest_possible(w_min if abs(w_min) > w_max else -w_max - 1)
    return smallest_possible(w_max)


def _acc_range(weights: np.ndarray, idt: str) -> tuple[int, int]:
    """qonnx ``calculate_matvec_accumulator_range`` (weights of shape (MW, MH))."""
    dt = datatype(idt)
    lo, hi = int(dt.min), int(dt.max)
    w = np.asarray(weights, dtype=np.int64)
    pos = np.where(w > 0, w, 0).sum(axis=0)
    neg = np.where(w < 0, w, 0).sum(axis=0)
    # matrix * where(matrix > 0, max, min): positive weights take the input's max, the
    # others its min (zero weights contribute nothing either way)
    acc_max = int((pos * hi + neg * lo).max())
    acc_min = int((pos * lo + neg * hi).min())
    return acc_min, acc_max


def accumulator_datatype(acc_min: int, acc_max: int) -> str:
    """FINN's accumulator type for the range [acc_min, acc_max]
    (:func:`hw_builders.datatypes.range_datatype`)."""
    return range_datatype(acc_min, acc_max)


def _round_to_bytes(name: str) -> str:
    bits = datatype(name).bitwidth
    rounded = -(-bits // 8) * 8
    return name.replace(str(bits), str(rounded))


def _check_weights(layer: HwLayer, weights: Any) -> np.ndarray:
    w = np.asarray(weights)
    mw, mh = int(layer.attrs.get("MW", 0)), int(layer.attrs.get("MH", 0))
    if w.shape != (mw, mh):
        raise HwError(
            f"layer {layer.name}: weights of shape {tuple(w.shape)} given, but MW x MH is "
            f"{mw} x {mh}; give the (MW, MH) integer matrix FINN stores"
        )
    if w.size and not np.array_equal(w, np.round(w)):
        raise HwError(f"layer {layer.name}: weights must be integers (FINN's quantised values)")
    return w.astype(np.int64)


def minimize_bit_widths(graph: HwGraph, weights: Mapping[str, Any]) -> HwGraph:
    """The graph with FINN's minimised datatypes for the MVAUs whose weights are given.

    Args:
        graph: The hardware graph (one stage or a whole design; a layer with no consumer
            inside ``graph`` counts as the last node of its branch, as in FINN's dataflow
            partition of that stage).
        weights: Per MVAU name, its integer weights in FINN's (MW, MH) layout, as the
            model computes them (bipolar -1/+1 for 1-bit weights, also in XNOR mode).
            MVAUs not listed keep their datatypes.

    Returns:
        A new HwGraph; ``graph`` is not changed.

    Raises:
        HwError: a name that is not an MVAU of the graph, or weights of the wrong shape.
    """
    layers = [layer.copy() for layer in graph.layers]
    by_name = {layer.name: layer for layer in layers}
    for name in weights:
        if name not in by_name or by_name[name].op_type != "MVAU":
            raise HwError(f"weights given for {name!r}, which is not an MVAU of {graph.name}")
    consumers: dict[str, list[HwLayer]] = {}
    for layer in layers:
        for src in layer.inputs:
            consumers.setdefault(src, []).append(layer)

    # MinimizeWeightBitWidth: every node first
    mats: dict[str, np.ndarray] = {}
    for layer in layers:
        if layer.name not in weights or int(layer.attrs.get("runtime_writeable_weights", 0)):
            continue
        w = _check_weights(layer, weights[layer.name])
        mats[layer.name] = w
        xnor = bool(int(layer.attrs.get("binaryXnorMode", 0)))
        stored = (w + 1) // 2 if xnor else w
        layer.attrs["weightDataType"] = weight_datatype(stored)

    # MinimizeAccumulatorWidth, node by node in graph order, propagating datatypes
    for layer in layers:
        w_int = mats.get(layer.name)
        if w_int is None:
            continue
        idt = str(layer.attrs["inputDataType"])
        acc = accumulator_datatype(*_acc_range(w_int, idt))
        if int(layer.attrs.get("noActivation", 0)):
            if not consumers.get(layer.name):
                acc = _round_to_bytes(acc)
            layer.attrs["outputDataType"] = acc
            _propagate(layer, acc, consumers)
        layer.attrs["accDataType"] = acc
    return HwGraph(graph.name, layers)


def _propagate(layer: HwLayer, dt: str, consumers: Mapping[str, list[HwLayer]]) -> None:
    """InferDataTypes: consumers read the new output datatype (through pass-through ops)."""
    for c in consumers.get(layer.name, []):
        keys = _PASS_THROUGH.get(c.op_type)
        if keys is not None:
            for key in keys:
                c.attrs[key] = dt
            _propagate(c, dt, consumers)
        else:
            c.attrs["inputDataType"] = dt
