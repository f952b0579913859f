"""Lowering: the FINN dataflow graph of a family checked against the model's QONNX export."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from search_spaces import ArchSpec, SpaceError, get_family

torch.set_num_threads(1)


class QonnxView:
    """What the exported, cleaned QONNX graph says about a model."""

    def __init__(self, arch: ArchSpec, path: Path) -> None:
        from brevitas.export import export_qonnx
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.util.cleanup import cleanup_model

        torch.manual_seed(0)
        model = get_family(arch.family).build(arch).eval()
        export_qonnx(model, torch.rand(1, *arch.input_shape), export_path=str(path))
        self.mw = cleanup_model(ModelWrapper(str(path)))
        self.nodes = list(self.mw.graph.node)
        self.counts = Counter(n.op_type for n in self.nodes)
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.outputs = [o.name for o in self.mw.graph.output]

    def shape(self, tensor: str) -> list[int]:
        return list(self.mw.get_tensor_shape(tensor))

    def bits(self, quant_node) -> int:
        if quant_node.op_type == "BipolarQuant":
            return 1
        return int(self.mw.get_initializer(quant_node.input[3]))

    def mw_mh(self, node) -> tuple[int, int]:
        """(MW, MH) of a Conv / Gemm / MatMul node from its weight shape."""
        w = self.shape(node.input[1])
        if node.op_type == "Conv":
            return w[1] * w[2] * w[3], w[0]
        if node.op_type == "Gemm":
            return w[1], w[0]
        return w[0], w[1]

    def weight_bits(self, node) -> int:
        return self.bits(self.producer[node.input[1]])

    def act_quant_bits(self) -> list[int]:
        """Bit widths of the activation quantisers (Quant nodes on data, not weights)."""
        inits = {i.name for i in self.mw.graph.initializer}
        out = []
        for n in self.nodes:
            if n.op_type in ("Quant", "BipolarQuant") and n.input[0] not in inits:
                out.append(self.bits(n))
        return out

    def branch(self, tensor: str) -> list[str]:
        """Op types of the nodes from a graph output back to the fork it branches off."""
        consumers = Counter(i for n in self.nodes for i in n.input)
        kinds = []
        node = self.producer.get(tensor)
        while node is not None and consumers[node.output[0]] <= 1:
            kinds.append(node.op_type)
            node = self.producer.get(node.input[0])
        return kinds

    def backtrack(self, tensor: str, op_types: tuple[str, ...]):
        """The nearest producer of one of ``op_types`` walking data inputs back."""
        node = self.producer.get(tensor)
        while node is not None and node.op_type not in op_types:
            node = self.producer.get(node.input[0])
        return node


def _mvaus(graph):
    return [lay for lay in graph.layers if lay.op_type == "MVAU"]


def _bits(dtype: str) -> int:
    if dtype in ("BIPOLAR", "BINARY"):
        return 1
    return int(dtype.lstrip("UINT"))


CASES = [
    get_family("cnv").default_arch((1, 8, 8), 10, width_mult=0.125),
    get_family("cnv").default_arch(
        (3, 32, 32), 10, width_mult=0.0625, weight_bits=1, act_bits=1, in_bits=8
    ),
    get_family("cnv").default_arch(
        (1, 16, 16), 7, width_mult=0.125, weight_bits=4, act_bits=4, in_bits=4, exits=[0, 2]
    ),
    get_family("tfc").default_arch(
        (1, 8, 8), 10, width_mult=0.25, weight_bits=2, act_bits=2, in_bits=2
    ),
]


@pytest.mark.parametrize(
    "arch", CASES, ids=["cnv8-w2a2", "cnv32-w1a1", "cnv16-w4a4-in4", "tfc-w2a2-in2"]
)
def test_lowering_matches_qonnx_export(arch: ArchSpec, tmp_path: Path) -> None:
    q = QonnxView(arch, tmp_path / "model.onnx")
    family = get_family(arch.family)
    graph = family.lower(arch)
    layers = graph.layers
    ops = Counter(lay.op_type for lay in layers)
    by_name = {lay.name: lay for lay in layers}

    conv_nodes = [n for n in q.nodes if n.op_type == "Conv"]
    fc_nodes = [n for n in q.nodes if n.op_type in ("Gemm", "MatMul")]
    mvaus = _mvaus(graph)
    conv_mvaus = [m for m in mvaus if by_name[m.inputs[0]].op_type == "ConvolutionInputGenerator"]
    fc_mvaus = [m for m in mvaus if m not in conv_mvaus]
    # one sliding window + MVAU per conv, in order, with the same weight matrix and OFM
    assert ops["ConvolutionInputGenerator"] == len(conv_nodes) == len(conv_mvaus)
    for node, m in zip(conv_nodes, conv_mvaus, strict=True):
        assert (m.attrs["MW"], m.attrs["MH"]) == q.mw_mh(node)
        _, _, oh, ow = q.shape(node.output[0])
        assert m.attrs["numInputVectors"] == [1, oh, ow]
        swg = by_name[m.inputs[0]]
        assert swg.attrs["OFMDim"] == [oh, ow]
        assert swg.attrs["IFMChannels"] * 9 == m.attrs["MW"]
        pads = [a.ints for a in node.attribute if a.name == "pads"]
        padded = bool(pads) and any(pads[0])
        assert (
            (by_name[swg.inputs[0]].op_type == "FMPadding") == padded if swg.inputs else not padded
        )
    assert ops["FMPadding"] == (len(conv_nodes) if arch.padding == "same" and conv_nodes else 0)
    # one MVAU per FC layer (backbone, exit heads, classifier)
    assert Counter(q.mw_mh(n) for n in fc_nodes) == Counter(
        (m.attrs["MW"], m.attrs["MH"]) for m in fc_mvaus
    )
    assert ops["StreamingMaxPool"] == q.counts["MaxPool"]
    # bit widths: weights from the weight Quant nodes, activations from the act Quant nodes
    assert {q.weight_bits(n) for n in conv_nodes + fc_nodes} == {arch.weight_bits}
    for m in mvaus:
        assert _bits(m.attrs["weightDataType"]) == arch.weight_bits
        if m.attrs["noActivation"] == 0:
            assert _bits(m.attrs["outputDataType"]) == arch.act_bits
            assert m.attrs["ActVal"] == 0
    act_bits = q.act_quant_bits()
    assert act_bits[0] == 8  # the UINT8 input image
    expected_acts = {arch.act_bits} | ({arch.in_bits} if arch.in_bits < 8 else set())
    assert set(act_bits[1:]) == expected_acts
    # every activation quantiser after the UINT8 input becomes a MultiThreshold in FINN,
    # folded into the MVAU before it, or a standalone input Thresholding layer
    with_thresholds = sum(1 for m in mvaus if m.attrs["noActivation"] == 0)
    assert len(act_bits) - 1 == with_thresholds + ops["Thresholding"]
    thresholding = [lay for lay in layers if lay.op_type == "Thresholding"]
    if arch.in_bits < 8:
        assert len(thresholding) == 1 and thresholding[0].inputs == []
        assert thresholding[0].attrs["inputDataType"] == "UINT8"
        assert _bits(thresholding[0].attrs["outputDataType"]) == arch.in_bits
        assert mvaus[0].attrs["inputDataType"] == thresholding[0].attrs["outputDataType"]
    else:
        assert not thresholding and mvaus[0].attrs["inputDataType"] == "UINT8"
    # exits: a DuplicateStreams per exit, then the head's layers marked with the exit index,
    # ending in the head's MVAU (its logits leave the stage); one LabelSelect, the final one
    assert ops["DuplicateStreams"] == len(arch.exits)
    assert ops["LabelSelect"] == 1
    for pos, k in enumerate(arch.exits):
        head_fc = q.backtrack(q.outputs[pos], ("Gemm", "MatMul"))
        exit_layers = [lay for lay in layers if lay.exit == k]
        kinds = [lay.op_type for lay in exit_layers]
        assert kinds[-1] == "MVAU"
        head_mvau = exit_layers[-1]
        assert (head_mvau.attrs["MW"], head_mvau.attrs["MH"]) == q.mw_mh(head_fc)
        assert head_mvau.attrs["noActivation"] == 1 and head_mvau.attrs["MH"] == arch.num_classes
        assert by_name[exit_layers[0].inputs[0]].op_type == "DuplicateStreams"
        # the head's own pooling: a MaxPool on the branch between the fork and the output
        assert ("StreamingMaxPool" in kinds) == ("MaxPool" in q.branch(q.outputs[pos]))
    final_fc = q.backtrack(q.outputs[-1], ("Gemm", "MatMul"))
    last_mvau = [m for m in mvaus if m.exit is None][-1]
    assert (last_mvau.attrs["MW"], last_mvau.attrs["MH"]) == q.mw_mh(final_fc)
    assert layers[-1].op_type == "LabelSelect" and layers[-1].exit is None
    assert layers[-1].attrs["Labels"] == arch.num_classes
    # FINN defaults: PE = SIMD = 1 everywhere
    assert all(lay.attrs.get("PE", 1) == 1 and lay.attrs.get("SIMD", 1) == 1 for lay in layers)


def test_binary_layers_use_xnor_mode() -> None:
    arch = CASES[1]
    mvaus = _mvaus(get_family("cnv").lower(arch))
    first, rest = mvaus[0], mvaus[1:]
    assert first.attrs["inputDataType"] == "UINT8" and first.attrs["weightDataType"] == "BIPOLAR"
    assert first.attrs["binaryXnorMode"] == 0 and first.attrs["accDataType"] == "INT14"  # +-27*255
    for m in rest:
        assert m.attrs["binaryXnorMode"] == 1
        assert m.attrs["inputDataType"] == m.attrs["weightDataType"] == "BINARY"
        # popcount accumulator: 0..MW
        assert m.attrs["accDataType"] == f"UINT{m.attrs['MW'].bit_length()}"


def test_exit_subset_and_names(tmp_path: Path) -> None:
    arch = get_family("cnv").default_arch((1, 8, 8), 10, width_mult=0.125)
    full = get_family("cnv").lower(arch)
    only1 = get_family("cnv").lower(arch, exits=[1], name="cnv_exit1")
    none = get_family("cnv").lower(arch, exits=[])
    assert only1.name == "cnv_exit1" and full.name == "cnv_w2a2"
    assert [lay.exit for lay in only1.layers if lay.exit is not None] == [1]  # its MVAU
    assert sum(lay.op_type == "DuplicateStreams" for lay in only1.layers) == 1
    assert not any(lay.op_type == "DuplicateStreams" for lay in none.layers)
    backbone = [
        (lay.op_type, lay.attrs)
        for lay in full.layers
        if lay.exit is None and lay.op_type != "DuplicateStreams"
    ]
    assert backbone == [(lay.op_type, lay.attrs) for lay in none.layers]  # exits add branches only
    # FINN's GiveUniqueNodeNames after specialisation: a counter per specialised op type
    names = [lay.name for lay in full.layers if lay.op_type == "MVAU"]
    assert names == [f"MVAU_hls_{i}" for i in range(len(names))]
    # the same graph as exporting a model with only exit 1 attached
    q = QonnxView(arch.replace(exits=[1]), tmp_path / "m.onnx")
    assert sum(1 for lay in only1.layers if lay.op_type == "MVAU") == sum(
        1 for n in q.nodes if n.op_type in ("Conv", "Gemm", "MatMul")
    )
    with pytest.raises(SpaceError, match="exit 2 is not attached"):
        get_family("cnv").lower(arch.replace(exits=[0, 1]), exits=[2])


def test_lowered_graph_is_costed_by_hw_builders() -> None:
    from hw_builders.estimate import estimate
    from hw_builders.graph import HwGraph, load_graph

    for arch in CASES:
        graph = get_family(arch.family).lower(arch)
        assert isinstance(graph, HwGraph)
        assert load_graph(graph.to_dict()).to_dict() == graph.to_dict()
        report = estimate(graph, board="Pynq-Z1")
        assert report.performance["max_cycles"] > 0
        assert report.performance["estimated_throughput_fps"] > 0


def test_pruned_arch_lowers_with_pruned_widths() -> None:
    from search_spaces import prune_model

    arch = CASES[0]
    torch.manual_seed(0)
    model = get_family("cnv").build(arch).eval()
    pruned = prune_model(model, 0.5)
    graph = get_family("cnv").lower(pruned.arch)
    backbone = [m for m in _mvaus(graph) if m.exit is None]
    assert [m.attrs["MH"] for m in backbone[:-1]] == list(pruned.arch.widths)
    assert backbone[1].attrs["MW"] == 9 * pruned.arch.widths[0]
