"""FINN's node names: for one stage built on its own, and for a design's one model.

FINN names dataflow nodes with qonnx's ``GiveUniqueNodeNames`` after layer
specialisation: ``<op_type>_<impl>_<n>`` with ``n`` counted per specialised op type, in
graph order, from 0 in every model. A stage exported as its own QONNX model therefore
starts counting again (stage 1's first MVAU is ``MVAU_hls_0`` in FINN, even when it is
``MVAU_hls_3`` in the whole design's graph). These helpers rename a stage graph, its
folding and its estimates into the names FINN gives the stage model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def _stage_depths(stage: HwGraph) -> list[int]:
    """Per layer of a stage, its longest path (in layers) from the stage's input streams:
    the level qonnx's ``SortGraph`` (``toposort_flatten``) puts it at."""
    index = {layer.name: i for i, layer in enumerate(stage.layers)}
    depth: list[int] = []
    for layer in stage.layers:
        preds = [depth[index[i]] for i in layer.inputs if i in index and index[i] < len(depth)]
        depth.append(1 + max(preds) if preds else 0)
    return depth


def finn_design_order(stages: Sequence[HwGraph]) -> list[tuple[int, HwLayer]]:
    """The layers of every stage in the order FINN's one-model build of the design holds
    them when it names them: ``(stage, layer)`` pairs.

    The stages of one model are disconnected sub-graphs, and qonnx's ``SortGraph`` (run
    after every transformation) orders a graph level by level (longest path from a graph
    input), keeping the current order within a level. The design's ``build.py`` orders
    the nodes of one level by stage (``step_adapex_order_streams``) right after FINN's
    dataflow partition, so FINN names them in this order.
    """
    keyed: list[tuple[int, int, int, HwLayer]] = []
    for k, stage in enumerate(stages):
        for i, (layer, d) in enumerate(zip(stage.layers, _stage_depths(stage), strict=True)):
            keyed.append((d, k, i, layer))
    keyed.sort(key=lambda t: t[:3])
    return [(k, layer) for _, k, _, layer in keyed]


def finn_design_names(stages: Sequence[HwGraph]) -> dict[str, str]:
    """Per layer of every stage, the name FINN gives it in the design's one model (layer
    names are unique across a design's stages)."""
    counters: dict[str, int] = {}
    names: dict[str, str] = {}
    for _k, layer in finn_design_order(stages):
        key = layer.specialized_op_type
        n = counters.get(key, 0)
        counters[key] = n + 1
        names[layer.name] = f"{key}_{n}"
    return names


def finn_design_graph(stages: Sequence[HwGraph], name: str) -> tuple[HwGraph, dict[str, str]]:
    """The design as FINN builds it from its one model: every stage's layers, renamed to
    FINN's node names and in FINN's node order, with no edge between stages (each stage
    reads its own input stream). Returns ``(graph, adapex name -> FINN name)``."""
    names = finn_design_names(stages)
    layers = [
        HwLayer(
            names[layer.name],
            layer.op_type,
            [names.get(i, i) for i in layer.inputs],
            dict(layer.attrs),
            layer.impl,
            layer.exit,
        )
        for _k, layer in finn_design_order(stages)
    ]
    return HwGraph(name, layers), names
