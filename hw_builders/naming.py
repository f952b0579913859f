"""FINN's node names for one stage built on its own.

FINN names dataflow nodes with qonnx's ``GiveUniqueNodeNames`` after layer
specialisation: ``<op_type>_<impl>_<n>`` with ``n`` counted per specialised op type, in
graph order, from 0 in every model. A stage exported as its own QONNX model therefore
starts counting again (stage 1's first MVAU is ``MVAU_hls_0`` in FINN, even when it is
``MVAU_hls_3`` in the whole design's graph). These helpers rename a stage graph, its
folding and its estimates into the names FINN gives the stage model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hw_builders.graph import HwGraph, HwLayer


def finn_node_names(graph: HwGraph) -> dict[str, str]:
    """Per layer of ``graph`` (an HwGraph), the name FINN gives it in a model of its own."""
    counters: dict[str, int] = {}
    names: dict[str, str] = {}
    for layer in graph.layers:
        key = layer.specialized_op_type
        n = counters.get(key, 0)
        counters[key] = n + 1
        names[layer.name] = f"{key}_{n}"
    return names


def rename_graph(graph: HwGraph, names: Mapping[str, str]) -> HwGraph:
    """A copy of ``graph`` with its layers (and their inputs) renamed by ``names``."""
    layers = [
        HwLayer(
            names.get(layer.name, layer.name),
            layer.op_type,
            [names.get(i, i) for i in layer.inputs],
            dict(layer.attrs),
            layer.impl,
            layer.exit,
        )
        for layer in graph.layers
    ]
    return HwGraph(graph.name, layers)


def rename_folding(folding: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """The folding entries of the renamed layers (others dropped), ``Defaults`` kept."""
    out: dict[str, Any] = {"Defaults": dict(folding.get("Defaults") or {})}
    for old, new in names.items():
        if old in folding:
            out[new] = dict(folding[old])
    return out
