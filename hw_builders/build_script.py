"""The ``build.py`` of a stage FINN's standard steps cannot build alone (finn-examples style).

FINN's standard steps build a chain of layers. A stage with an exit forks: its last
backbone tensor feeds the exit classifier *and* leaves the accelerator as the features the
next stage reads. A 1-bit stage may hold only ``BipolarQuant`` quantisers, which FINN's
``step_qonnx_to_finn`` skips (it looks for ``Quant``, ``BinaryQuant`` and ``Trunc`` nodes
only). Custom steps, inserted into FINN's own step list, handle both with FINN's own
transformations; everything else is FINN's builder unchanged:

``step_adapex_bipolar_qonnx_to_finn`` (before ``step_qonnx_to_finn``)
    When the model's only quantisers are ``BipolarQuant`` nodes: the same QONNX cleanup and
    ``ConvertQONNXtoFINN`` that ``step_qonnx_to_finn`` runs (a no-op otherwise).

``step_adapex_mark_binary_inputs`` (before ``step_streamline``)
    A later stage of a W1A1 network reads the previous stage's 1-bit features from its own
    input, where FINN's ``ConvertBipolarMatMulToXnorPopcount`` finds no bipolar
    MultiThreshold upstream of the XNOR layer. The step puts one there (threshold 0, the
    identity on -1/+1); streamlining makes it BINARY, and the next step drops it again, so
    the stage input is BINARY and the XNOR layer reads it directly, as in one pipeline (no
    layer is added: the bits on the stream are the same, FINN's driver packs BIPOLAR -1/+1
    as 0/1). It also takes out of the outputs, for streamlining, a 1-bit stage's features
    that its exit head also reads (FINN's ``MakeMaxPoolNHWC`` would give that output the
    head's pooled map); the next step puts them back.
``step_adapex_split_exit_fork`` (after ``step_streamline``)
    The feature output and the exit head share one tensor behind the activation's float
    scale, which streamlining cannot move past a fork. The step gives the exit head its own
    copy of the output's layout/scale ops, runs ``step_streamline`` again (the head's scale
    moves into its logits' ``Mul``) and puts the head's pooling in NHWC, as
    ``step_streamline`` does for convolutions. Where streamlining moved the fork past the
    head's Flatten, the features leave 4-D again, as model.onnx declares them (FINN's
    ``RemoveCNVtoFCFlatten`` fails on a Transpose + Flatten that no MVAU reads).
``step_adapex_duplicate_streams`` (after ``step_convert_to_hw``)
    FINN's ``InferDuplicateStreamsLayer``: one ``DuplicateStreams`` layer feeds the feature
    output and the exit head.

``python build.py`` builds with ``dataflow_build_config.json``; ``python build.py
dataflow_build_config.bitfile.json`` goes all the way to the bitfile.
"""

from __future__ import annotations

BUILD_PY = '''\
"""FINN build of one adapex stage with an early exit (written by adapex export).

Run in this folder with FINN's environment: ``python build.py [CONFIG.json]`` (default
dataflow_build_config.json). It runs FINN's builder with the config's steps plus custom
steps: one converts a model whose only quantisers are BipolarQuant nodes (which FINN's
step_qonnx_to_finn skips), two build the fork to the exit classifier (see adapex's
docs/DESIGN.md, "Early exits in hardware"). Outputs land in the config's output_dir, as
with build_dataflow_directory.
"""

import copy
import os
import sys

import finn.builder.build_dataflow_steps as finn_steps
from finn.builder.build_dataflow import build_dataflow_cfg
from finn.builder.build_dataflow_config import DataflowBuildConfig
from finn.transformation.fpgadataflow.convert_to_hw_layers import InferDuplicateStreamsLayer
from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
from finn.transformation.qonnx.quant_act_to_multithreshold import (
    default_filter_function_generator,
)
from finn.transformation.streamline import absorb
from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
from qonnx.transformation.general import GiveUniqueNodeNames, SortGraph
from qonnx.transformation.infer_data_layouts import InferDataLayouts
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.cleanup import cleanup_model

# ops between the last integer tensor and a graph output (scale, layout) on the host side
_OUTPUT_CHAIN_OPS = {"Mul", "Add", "Transpose", "Reshape", "Flatten"}


def step_adapex_bipolar_qonnx_to_finn(model, cfg):
    """step_qonnx_to_finn for a model whose only quantisers are BipolarQuant nodes."""
    others = ("Quant", "BinaryQuant", "Trunc")
    if not model.get_nodes_by_op_type("BipolarQuant") or any(
        model.get_nodes_by_op_type(op) for op in others
    ):
        return model
    model = cleanup_model(model)
    return model.transform(
        ConvertQONNXtoFINN(
            filter_function=default_filter_function_generator(
                max_multithreshold_bit_width=cfg.max_multithreshold_bit_width
            )
        )
    )


def _bipolar_stage_inputs(model):
    """Every graph input but the first whose datatype is BIPOLAR: a later stage's 1-bit
    features."""
    from qonnx.core.datatype import DataType

    bipolar = DataType["BIPOLAR"]

    def xnor_first(name):
        # the first Conv/MatMul the input reaches has BIPOLAR weights: an XNOR layer
        todo = [name]
        while todo:
            for node in model.find_consumers(todo.pop()) or []:
                if node.op_type in ("Conv", "MatMul"):
                    return model.get_tensor_datatype(node.input[1]) == bipolar
                todo.extend(node.output)
        return False

    return [
        vi.name
        for vi in list(model.graph.input)[1:]
        if model.get_tensor_datatype(vi.name) == bipolar and xnor_first(vi.name)
    ]


def step_adapex_mark_binary_inputs(model, cfg):
    """A bipolar MultiThreshold (threshold 0, the identity on -1/+1) behind every later
    stage's BIPOLAR input, for ConvertBipolarMatMulToXnorPopcount to find upstream of the
    stage's XNOR layer (it looks for one, or for the model's first input)."""
    import numpy as np
    from onnx import TensorProto, helper

    model = _detach_integer_forks(model)
    names = _bipolar_stage_inputs(model)
    for name in names:
        consumers = model.find_consumers(name) or []
        marked = model.make_new_valueinfo_name()
        thresholds = model.make_new_valueinfo_name()
        model.graph.value_info.append(
            helper.make_tensor_value_info(marked, TensorProto.FLOAT, model.get_tensor_shape(name))
        )
        model.set_initializer(thresholds, np.zeros((1, 1), dtype=np.float32))
        for consumer in consumers:
            for i, t in enumerate(consumer.input):
                if t == name:
                    consumer.input[i] = marked
        model.graph.node.append(
            helper.make_node(
                "MultiThreshold",
                [name, thresholds],
                [marked],
                domain="qonnx.custom_op.general",
                out_dtype="BIPOLAR",
                out_scale=2.0,
                out_bias=-1.0,
                doc_string=_BINARY_INPUT_TAG,
            )
        )
    if names:
        model = model.transform(SortGraph())
        model = model.transform(InferShapes())
        model = model.transform(InferDataTypes())
    return model


_BINARY_INPUT_TAG = "adapex_binary_input"
_FEATURES_TAG = "adapex_features="


def _detach_integer_forks(model):
    """Take out of the graph's outputs, for streamlining, every integer feature output that
    an exit head also reads (a 1-bit stage's features leave a MaxPool or MultiThreshold
    with no scale between). FINN's MakeMaxPoolNHWC moves a Transpose behind a pooling exit
    head without looking at the Transpose's other readers, and the graph output would then
    name the head's pooled map. The producer is tagged; _reattach_integer_forks puts the
    output back after step_streamline."""
    changed = False
    for index, out in reversed(list(enumerate(model.graph.output))):
        producer = model.find_producer(out.name)
        if not model.find_consumers(out.name) or producer is None:
            continue
        if producer.op_type in _OUTPUT_CHAIN_OPS or not model.get_tensor_datatype(out.name).is_integer():
            continue
        shape = ",".join(str(d) for d in model.get_tensor_shape(out.name))
        producer.doc_string = f"{_FEATURES_TAG}{index};{out.name};{shape}"
        model.graph.output.remove(out)
        changed = True
    return model


def _reattach_integer_forks(model):
    """Put back the outputs _detach_integer_forks took out: the tagged node's output, in
    model.onnx's layout (a Transpose where streamlining made the node channels-last)."""
    from onnx import TensorProto, helper

    if not any(n.doc_string.startswith(_FEATURES_TAG) for n in model.graph.node):
        return model
    model = model.transform(InferShapes())  # a copy: the tagged nodes are looked up after
    tagged = []
    for node in model.graph.node:
        if node.doc_string.startswith(_FEATURES_TAG):
            index, name, shape = node.doc_string[len(_FEATURES_TAG) :].split(";")
            tagged.append((int(index), name, [int(d) for d in shape.split(",")], node))
    for index, name, shape, node in sorted(tagged, key=lambda t: t[0]):
        node.doc_string = ""
        have = model.get_tensor_shape(node.output[0])
        tensor = node.output[0]
        if list(have) != shape:
            nhwc = [shape[0], *shape[2:], shape[1]] if len(shape) == 4 else None
            if list(have) != nhwc:
                raise Exception(f"adapex: streamlining reshaped the features {name} to {have}")
            tensor = model.make_new_valueinfo_name()
            model.graph.node.append(
                helper.make_node("Transpose", [node.output[0]], [tensor], perm=[0, 3, 1, 2])
            )
            model.set_tensor_datatype(tensor, model.get_tensor_datatype(node.output[0]))
        for old in [v for v in model.graph.value_info if v.name == tensor]:
            model.graph.value_info.remove(old)
        vi = helper.make_tensor_value_info(tensor, TensorProto.FLOAT, shape)
        model.graph.output.insert(min(index, len(model.graph.output)), vi)
    model = model.transform(SortGraph())
    model = model.transform(InferShapes())
    model = model.transform(InferDataTypes())
    model = model.transform(InferDataLayouts())
    return model


def _bare_binary_inputs(model):
    """Drop the MultiThresholds of step_adapex_mark_binary_inputs: streamlining made each
    one BINARY (threshold 0, the map -1/+1 -> 0/1 of FINN's XNOR layers), which is the bit
    the stream already carries (FINN's driver packs BIPOLAR -1/+1 as 0/1). The stage input
    becomes BINARY and its XNOR layer reads it directly, as in one pipeline."""
    from qonnx.core.datatype import DataType

    binary = DataType["BINARY"]
    inputs = {vi.name for vi in model.graph.input}
    for mt in [n for n in model.graph.node if n.doc_string == _BINARY_INPUT_TAG]:
        chain = [mt.input[0]]
        producer = model.find_producer(chain[-1])
        while producer is not None and producer.op_type == "Transpose":
            chain.append(producer.input[0])
            producer = model.find_producer(chain[-1])
        attrs = {a.name: a for a in mt.attribute}
        thresholds = model.get_initializer(mt.input[1])
        if chain[-1] not in inputs or thresholds is None or thresholds.any():
            raise Exception(f"adapex: streamlining changed the stage input mark {mt.name}")
        if attrs["out_dtype"].s.decode() != "BINARY":
            raise Exception(f"adapex: no XNOR layer reads the stage input mark {mt.name}")
        out = mt.output[0]
        for consumer in model.find_consumers(out) or []:
            for i, t in enumerate(consumer.input):
                if t == out:
                    consumer.input[i] = mt.input[0]
        for output in model.graph.output:
            if output.name == out:
                raise Exception(f"adapex: the stage input mark {mt.name} is a graph output")
        model.graph.node.remove(mt)
        for t in chain:
            model.set_tensor_datatype(t, binary)
    model = model.transform(SortGraph())
    model = model.transform(InferDataTypes())
    return model


def step_adapex_split_exit_fork(model, cfg):
    """Give the exit head its own copy of the feature output's scale/layout ops."""
    model = _bare_binary_inputs(model)
    model = _reattach_integer_forks(model)
    changed = False
    for out in list(model.graph.output):
        consumers = model.find_consumers(out.name) or []
        if not consumers:
            continue
        chain = []
        tensor = out.name
        while True:
            producer = model.find_producer(tensor)
            if producer is None or producer.op_type not in _OUTPUT_CHAIN_OPS:
                break
            chain.append(producer)
            tensor = producer.input[0]
        source = tensor
        for node in reversed(chain):
            clone = copy.deepcopy(node)
            clone.name = ""
            clone.input[0] = source
            clone.output[0] = model.make_new_valueinfo_name()
            # its own parameters: streamlining the head rewrites them in place, and the
            # feature output's host-side scale must keep its value
            for i, name in enumerate(clone.input[1:], start=1):
                value = model.get_initializer(name)
                if value is not None:
                    own = model.make_new_valueinfo_name()
                    model.set_initializer(own, value.copy())
                    clone.input[i] = own
            model.graph.node.append(clone)
            source = clone.output[0]
        for consumer in consumers:
            for i, name in enumerate(consumer.input):
                if name == out.name:
                    consumer.input[i] = source
        _unflatten_output(model, out.name, chain)
        changed = True
    if changed:
        model = model.transform(SortGraph())
        model = model.transform(InferShapes())
        model = model.transform(InferDataTypes())
        model = finn_steps.step_streamline(model, cfg)
        model = model.transform(MakeMaxPoolNHWC())
        model = model.transform(absorb.AbsorbTransposeIntoMultiThreshold())
        model = model.transform(MakeMaxPoolNHWC())
        model = model.transform(absorb.AbsorbConsecutiveTransposes())
        model = model.transform(InferDataLayouts())
    return model


def _unflatten_output(model, name, chain):
    """The feature output ``name`` as model.onnx declares it: 4-D, without the head's flatten.

    Streamlining moves a fork past the exit head's Flatten, so the features would leave
    flattened (model.onnx's features are the block's 4-D output). FINN's RemoveCNVtoFCFlatten
    then finds a Transpose + Flatten behind a layer with no MVAU to absorb it into (the
    graph output reads it) and fails. Once the head has its own copy of the chain, the
    output's Flatten goes: the Transpose before it writes the output."""
    if not chain or chain[0].op_type not in ("Flatten", "Reshape"):
        return
    flatten = chain[0]
    shape = model.get_tensor_shape(flatten.input[0])
    producer = model.find_producer(flatten.input[0])
    if shape is None or len(shape) != 4 or producer is None:
        return
    if len(model.find_consumers(flatten.input[0]) or []) != 1:
        return
    producer.output[0] = name
    model.graph.node.remove(flatten)
    model.set_tensor_shape(name, list(shape))


def _fork_graph_outputs(model):
    """A DuplicateStreams for every graph output that a node also reads (a 1-bit stage's
    features leave a MultiThreshold directly, so no scale chain was split to make two
    consumers, and FINN's InferDuplicateStreamsLayer counts consumers only)."""
    from onnx import TensorProto, helper

    changed = False
    for out in list(model.graph.output):
        consumers = model.find_consumers(out.name) or []
        if not consumers:
            continue
        dt = model.get_tensor_datatype(out.name)
        if not dt.is_integer():
            continue
        shape = model.get_tensor_shape(out.name)
        producer = model.find_producer(out.name)
        if producer is None:
            continue
        fork = model.make_new_valueinfo_name()
        head = model.make_new_valueinfo_name()
        for name in (fork, head):
            model.graph.value_info.append(
                helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
            )
            model.set_tensor_datatype(name, dt)
        producer.output[0] = fork
        for consumer in consumers:
            for i, name in enumerate(consumer.input):
                if name == out.name:
                    consumer.input[i] = head
        model.graph.node.append(
            helper.make_node(
                "DuplicateStreams",
                [fork],
                [out.name, head],
                domain="finn.custom_op.fpgadataflow",
                backend="fpgadataflow",
                NumChannels=int(shape[-1]),
                PE=1,
                inputDataType=dt.name,
                numInputVectors=list(shape[:-1]),
                NumOutputStreams=2,
                outFIFODepths=[2, 2],
            )
        )
        changed = True
    if changed:
        model = model.transform(SortGraph())
    return model


def step_adapex_duplicate_streams(model, cfg):
    """One DuplicateStreams layer where a stage forks to its exit; every node tagged with
    its stage."""
    model = model.transform(InferDuplicateStreamsLayer())
    model = _fork_graph_outputs(model)
    model = model.transform(GiveUniqueNodeNames())
    model = model.transform(InferDataLayouts())
    _tag_stages(model)
    return model


_STAGE_TAG = "adapex_stage="


def _tag_stages(model):
    """Tag every node (its doc_string) with its stage: the stages are the model's
    disconnected sub-graphs, numbered in the order of their first graph output (FINN keeps
    the outputs' order, while streamlining may reorder the inputs; adapex writes each
    stage's outputs before the next stage's)."""
    stage = -1
    for out in model.graph.output:
        producer = model.find_producer(out.name)
        if producer is None or producer.doc_string.startswith(_STAGE_TAG):
            continue
        stage += 1
        todo = [producer]
        while todo:
            node = todo.pop()
            if node.doc_string.startswith(_STAGE_TAG):
                continue
            node.doc_string = _STAGE_TAG + str(stage)
            todo.extend(model.find_direct_predecessors(node) or [])


def _stage_of(node):
    tag = node.doc_string
    return int(tag[len(_STAGE_TAG) :]) if tag.startswith(_STAGE_TAG) else 0


def step_adapex_order_streams(model, cfg):
    """Order the dataflow model's streams and nodes by stage (a no-op for one stage).

    The stages are disconnected sub-graphs of one model. qonnx's SortGraph, run after every
    transformation, orders nodes level by level (longest path from an input) and keeps the
    current order within a level; FINN names nodes in that order. This step puts each
    level's nodes in stage order, the inputs in stage order and the outputs in stage order
    (exit logits, then features; the final stage's label), so that FINN's node names and
    the stitched IP's s_axis_i / m_axis_i are the ones adapex's deployment.json lists. The
    dataflow parent model saved by step_create_dataflow_partition gets the same order on
    its StreamingDataflowPartition node.
    """
    nodes = list(model.graph.node)
    if len({_stage_of(n) for n in nodes}) < 2:
        return model
    index = {id(n): i for i, n in enumerate(nodes)}
    level = {}
    for node in nodes:  # topologically sorted already
        preds = model.find_direct_predecessors(node) or []
        level[id(node)] = 1 + max(level[id(p)] for p in preds) if preds else 0
    nodes.sort(key=lambda n: (level[id(n)], _stage_of(n), index[id(n)]))
    del model.graph.node[:]
    model.graph.node.extend(nodes)

    def in_key(vi):
        consumers = model.find_consumers(vi.name) or []
        return min(_stage_of(c) for c in consumers) if consumers else 0

    def out_key(vi):
        producer = model.find_producer(vi.name)
        features = producer is not None and producer.op_type.startswith("DuplicateStreams")
        return (_stage_of(producer) if producer is not None else 0, 1 if features else 0)

    inputs = sorted(model.graph.input, key=in_key)
    outputs = sorted(model.graph.output, key=out_key)
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    del model.graph.output[:]
    model.graph.output.extend(outputs)
    model = model.transform(GiveUniqueNodeNames())
    _reorder_parent(cfg, [vi.name for vi in inputs], [vi.name for vi in outputs])
    return model


def _reorder_parent(cfg, inputs, outputs):
    """The saved dataflow parent's partition node reads and writes in the new order."""
    from qonnx.core.modelwrapper import ModelWrapper

    path = os.path.join(cfg.output_dir, "intermediate_models", "dataflow_parent.onnx")
    if not os.path.isfile(path):
        return
    parent = ModelWrapper(path)
    for node in parent.get_nodes_by_op_type("StreamingDataflowPartition"):
        if sorted(node.input) == sorted(inputs) and sorted(node.output) == sorted(outputs):
            del node.input[:]
            node.input.extend(inputs)
            del node.output[:]
            node.output.extend(outputs)
    parent.save(path)


# custom steps run before / after the FINN step they are keyed by
BEFORE_STEPS = {
    "step_qonnx_to_finn": step_adapex_bipolar_qonnx_to_finn,
    "step_streamline": step_adapex_mark_binary_inputs,
}
CUSTOM_STEPS = {
    "step_streamline": step_adapex_split_exit_fork,
    "step_convert_to_hw": step_adapex_duplicate_streams,
    "step_create_dataflow_partition": step_adapex_order_streams,
}


def main(config="dataflow_build_config.json"):
    here = os.path.dirname(os.path.abspath(__file__))
    os.chdir(here)
    with open(config) as f:
        cfg = DataflowBuildConfig.from_json(f.read())
    steps = []
    for step in cfg.steps:
        if step in BEFORE_STEPS:
            steps.append(BEFORE_STEPS[step])
        steps.append(step)
        if step in CUSTOM_STEPS:
            steps.append(CUSTOM_STEPS[step])
    cfg.steps = steps
    return build_dataflow_cfg(os.path.join(here, "model.onnx"), cfg)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
'''
