"""A design's one FINN model: every stage in one ONNX graph, each with its own streams.

FINN builds one accelerator per design from this file (docs/DESIGN.md, "One accelerator
per design"). The stages stay disconnected sub-graphs: the host moves the features of the
samples an exit does not answer from one stage's output to the next stage's input.

Names of the graph's inputs and outputs, in this order (stage ``k`` of ``K + 1``):

* inputs: ``s<k>_input`` for every stage (stage 0: the image; stage k: the features);
* outputs: ``s<k>_logits`` then ``s<k>_features`` for every early stage, then
  ``s<K>_label`` (FINN's LabelSelect).

Every other tensor and node of stage k keeps its stage model's name behind ``s<k>_``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dse.errors import DseError


def input_name(k: int) -> str:
    """The graph input of stage ``k``."""
    return f"s{k}_input"


def output_names(k: int, last: bool) -> list[str]:
    """The graph outputs of stage ``k``: ``[logits, features]``, or ``[label]`` when last."""
    return [f"s{k}_label"] if last else [f"s{k}_logits", f"s{k}_features"]


def _renamer(k: int, graph: Any, last: bool) -> dict[str, str]:
    """Stage ``k``'s tensor names in the merged graph."""
    names: dict[str, str] = {}
    tensors = {t for node in graph.node for t in (*node.input, *node.output) if t}
    tensors |= {init.name for init in graph.initializer}
    tensors |= {vi.name for vi in (*graph.input, *graph.output, *graph.value_info)}
    for t in tensors:
        names[t] = f"s{k}_{t}"
    if len(graph.input) != 1:
        raise DseError(f"stage {k}: its model has {len(graph.input)} inputs, expected 1")
    outs = output_names(k, last)
    if len(graph.output) != len(outs):
        raise DseError(
            f"stage {k}: its model has {len(graph.output)} outputs, expected {len(outs)}"
        )
    names[graph.input[0].name] = input_name(k)
    for vi, name in zip(graph.output, outs, strict=True):
        names[vi.name] = name
    return names


def _renamed(items: Any, names: dict[str, str]) -> list[Any]:
    out = []
    for item in items:
        copy = type(item)()
        copy.CopyFrom(item)
        copy.name = names.get(copy.name, copy.name)
        out.append(copy)
    return out


def merge_stage_models(paths: Sequence[str | os.PathLike[str]], name: str) -> Any:
    """One ONNX model (``onnx.ModelProto``) holding every stage model of ``paths`` (stage
    order), with the stream names of the module doc."""
    import onnx
    from onnx import helper

    protos = [onnx.load(str(p)) for p in paths]
    nodes, inits, vinfo, annots = [], [], [], []
    inputs, outputs = [], []
    for k, proto in enumerate(protos):
        g = proto.graph
        names = _renamer(k, g, last=k == len(protos) - 1)
        for node in g.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.name = f"s{k}_{node.name}" if node.name else ""
            for i, t in enumerate(copy.input):
                copy.input[i] = names.get(t, t) if t else t
            for i, t in enumerate(copy.output):
                copy.output[i] = names.get(t, t)
            nodes.append(copy)
        inits += _renamed(g.initializer, names)
        vinfo += _renamed(g.value_info, names)
        inputs += _renamed(g.input, names)
        outputs += _renamed(g.output, names)
        for ann in g.quantization_annotation:
            copy = onnx.TensorAnnotation()
            copy.CopyFrom(ann)
            copy.tensor_name = names.get(ann.tensor_name, ann.tensor_name)
            annots.append(copy)
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits, value_info=vinfo)
    graph.quantization_annotation.extend(annots)
    opsets: dict[str, int] = {}
    for proto in protos:
        for op in proto.opset_import:
            opsets[op.domain] = max(opsets.get(op.domain, 0), int(op.version))
    model = helper.make_model(
        graph,
        producer_name="adapex",
        opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())],
    )
    model.ir_version = max(int(p.ir_version) for p in protos)
    return model


def stage_submodel(model: Any, k: int) -> Any:
    """Stage ``k`` of a design model (a qonnx ``ModelWrapper``): its nodes (those writing
    ``s<k>_`` tensors), its input and outputs, and what they use; the same nodes, unchanged."""
    import onnx
    from onnx import helper
    from qonnx.core.modelwrapper import ModelWrapper

    g = model.graph
    start = input_name(k)
    if start not in {vi.name for vi in g.input}:
        raise DseError(f"the design model has no input {start!r}: it has no stage {k}")
    # every tensor of stage k is named s<k>_... (merge_stage_models)
    prefix = f"s{k}_"
    keep = [node for node in g.node if node.output and node.output[0].startswith(prefix)]
    reached = {t for node in keep for t in node.output} | {start}
    used = {t for node in keep for t in node.input} | reached
    sub = helper.make_graph(
        keep,
        f"{g.name}_stage{k}",
        [vi for vi in g.input if vi.name == start],
        [vi for vi in g.output if vi.name in reached],
        initializer=[t for t in g.initializer if t.name in used],
        value_info=[vi for vi in g.value_info if vi.name in used],
    )
    sub.quantization_annotation.extend(
        a for a in g.quantization_annotation if a.tensor_name in used
    )
    proto = onnx.ModelProto()
    proto.CopyFrom(model.model)
    proto.graph.CopyFrom(sub)
    return ModelWrapper(proto)


def write_design_model(
    stage_paths: Sequence[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    *,
    name: str,
    check: Any = None,
) -> Path:
    """Merge the stage models into ``out_path`` (atomically); ``check(wrapped)`` is called
    on the merged ``ModelWrapper`` before it is written (raises to refuse it)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from hw_builders.atomic import atomic_file

    wrapped = ModelWrapper(merge_stage_models(stage_paths, name))
    if check is not None:
        check(wrapped)
    out = Path(out_path)
    with atomic_file(out) as tmp:
        wrapped.save(str(tmp))
    return out
