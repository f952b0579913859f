"""FINN's node names and stream order in a design's one model, as build.py makes them.

The stages of a design are disconnected sub-graphs of one model. qonnx's SortGraph orders
nodes level by level; build.py's ``step_adapex_order_streams`` puts each level's nodes in
stage order and the streams in stage order. adapex's ``finn_design_order`` must predict that
order exactly, since folding configs and reports are keyed by the names FINN derives from it.
These tests run build.py's own step functions on real qonnx models (without FINN).
"""

from __future__ import annotations

import ast
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw_builders import HwGraph, finn_design_names, finn_design_order, split_stages
from hw_builders.build_script import BUILD_PY
from search_spaces import get_family

_FUNCTIONS = ("_tag_stages", "_stage_of", "step_adapex_order_streams", "_reorder_parent")


def _build_py_steps() -> dict[str, Any]:
    """build.py's stage-ordering functions, compiled from its text, with qonnx only."""
    import os

    from qonnx.transformation.general import GiveUniqueNodeNames

    tree = ast.parse(BUILD_PY)
    keep = [
        n
        for n in tree.body
        if (isinstance(n, ast.FunctionDef) and n.name in _FUNCTIONS)
        or (isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "_STAGE_TAG")
    ]
    namespace: dict[str, Any] = {"os": os, "GiveUniqueNodeNames": GiveUniqueNodeNames}
    exec(compile(ast.Module(keep, []), "build.py", "exec"), namespace)  # noqa: S102
    return namespace


def _design(family: str, exits: list[int]) -> HwGraph:
    fam = get_family(family)
    shape = (1, 16, 16) if family == "cnv" else (1, 8, 8)
    arch = fam.default_arch(shape, 10, width_mult=0.25, exits=exits or None)
    return fam.lower(arch, exits=exits)


def _as_onnx(stages: list[HwGraph], seed: int) -> Any:
    """A qonnx model with one node per layer (generic op types), each stage reading its own
    input and writing its outputs (logits then features; the label), node order shuffled
    and then sorted by qonnx's SortGraph (arbitrary order within a level)."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import SortGraph

    nodes, inputs, outputs = [], [], []
    for k, stage in enumerate(stages):
        names = {la.name for la in stage.layers}
        consumed = {i for la in stage.layers for i in la.inputs}
        inputs.append(helper.make_tensor_value_info(f"in{k}", TensorProto.FLOAT, [1, 4]))
        stage_outs: list[tuple[int, str]] = []
        for la in stage.layers:
            ins = [f"t_{i}" for i in la.inputs if i in names] or [f"in{k}"]
            outs = [f"t_{la.name}"]
            if la.op_type == "DuplicateStreams":
                outs = [f"feat{k}", f"t_{la.name}"]
                stage_outs.append((1, f"feat{k}"))
            elif la.name not in consumed:
                stage_outs.append((0, outs[0]))
            nodes.append(helper.make_node(la.op_type, ins, outs, adapex_name=la.name))
        for _, name in sorted(stage_outs):
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 4]))
    random.Random(seed).shuffle(nodes)
    graph = helper.make_graph(nodes, "design", inputs, outputs)
    model = ModelWrapper(helper.make_model(graph))
    return model.transform(SortGraph())


def _adapex_name(node: Any) -> str:
    from onnx import helper

    return next(helper.get_attribute_value(a).decode() for a in node.attribute)


def _run_order_step(stages: list[HwGraph], seed: int, tmp: Path) -> Any:
    steps = _build_py_steps()
    model = _as_onnx(stages, seed)
    steps["_tag_stages"](model)

    class Cfg:
        output_dir = str(tmp)

    return steps["step_adapex_order_streams"](model, Cfg())


@pytest.mark.parametrize(
    ("family", "exits"), [("cnv", [0, 1]), ("cnv", [1]), ("tfc", [0, 1]), ("tfc", [1])]
)
def test_build_py_names_the_design_as_adapex_predicts(
    family: str, exits: list[int], tmp_path: Path
) -> None:
    from qonnx.transformation.general import SortGraph

    stages = split_stages(_design(family, exits))
    assert len(stages) == len(exits) + 1
    order = [la.name for _, la in finn_design_order(stages)]
    for seed in range(5):
        model = _run_order_step(stages, seed, tmp_path)
        assert [_adapex_name(n) for n in model.graph.node] == order
        # FINN's later transformations re-sort the graph: the order holds
        again = model.transform(SortGraph())
        assert [_adapex_name(n) for n in again.graph.node] == order
        # FINN's GiveUniqueNodeNames on these nodes gives the names adapex writes (the
        # specialised op type is the generic one plus its impl, counted the same way)
        names = finn_design_names(stages)
        by_layer = {la.name: la for stage in stages for la in stage.layers}
        for node in model.graph.node:
            layer = by_layer[_adapex_name(node)]
            n = node.name.rsplit("_", 1)[1]
            assert node.name == f"{layer.op_type}_{n}"
            same_impl = {la.impl for la in by_layer.values() if la.op_type == layer.op_type}
            if len(same_impl) == 1:
                assert names[layer.name] == f"{layer.specialized_op_type}_{n}"
        # streams in stage order: stage inputs; per stage logits, then features; the label
        assert [i.name for i in model.graph.input] == [f"in{k}" for k in range(len(stages))]
        outs = [o.name for o in model.graph.output]
        assert outs[1::2][: len(exits)] == [f"feat{k}" for k in range(len(exits))]
        assert len(outs) == 2 * len(exits) + 1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000), family=st.sampled_from(["cnv", "tfc"]))
def test_the_order_does_not_depend_on_the_models_node_order(
    seed: int, family: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stages = split_stages(_design(family, [0, 1]))
    tmp = tmp_path_factory.mktemp("order")
    model = _run_order_step(stages, seed, tmp)
    assert [_adapex_name(n) for n in model.graph.node] == [
        la.name for _, la in finn_design_order(stages)
    ]


def test_one_stage_is_left_alone(tmp_path: Path) -> None:
    stages = split_stages(_design("cnv", []))
    assert len(stages) == 1
    model = _run_order_step(stages, 0, tmp_path)
    # one stage is one chain: FINN's own order, which is the layer order
    assert [_adapex_name(n) for n in model.graph.node] == [la.name for la in stages[0].layers]
