"""The integer executor (dse.integer_exec): exact integer arithmetic, the host's exit rule,
and the profiles' whole-model graph equal to every design's stage graphs, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from dse.integer_exec import (
    CompiledGraph,
    IntegerExecError,
    Scaled,
    exit_confidence,
    exit_prediction,
    image_integers,
    output_integers,
)


def _quant(name: str, src: str, scale: float, bits: int, signed: bool) -> list:
    inits = [
        numpy_helper.from_array(np.array(scale, np.float32), f"{name}_s"),
        numpy_helper.from_array(np.array(0.0, np.float32), f"{name}_z"),
        numpy_helper.from_array(np.array(float(bits), np.float32), f"{name}_b"),
    ]
    node = helper.make_node(
        "Quant",
        [src, f"{name}_s", f"{name}_z", f"{name}_b"],
        [name],
        domain="qonnx.custom_op.general",
        signed=int(signed),
        narrow=int(signed),
        rounding_mode="ROUND",
    )
    return [node, inits]


def _linear_graph(w: np.ndarray, in_scale: float, out_scale: float) -> onnx.ModelProto:
    """input ints -> Mul(in_scale) -> Gemm with quantised weights -> Mul(out_scale) -> TopK."""
    k, n = w.shape
    wq, winit = _quant("wq", "w", 1.0, 8, True)
    nodes = [
        helper.make_node("Mul", ["x", "sx"], ["xs"]),
        wq,
        helper.make_node("Gemm", ["xs", "wq"], ["acc"], transB=1),
        helper.make_node("Mul", ["acc", "so"], ["logits"]),
        helper.make_node("TopK", ["logits", "k"], ["top", "label"], axis=-1),
    ]
    inits = [
        numpy_helper.from_array(np.array(in_scale, np.float32), "sx"),
        numpy_helper.from_array(w.T.astype(np.float32), "w"),
        numpy_helper.from_array(np.array(out_scale, np.float32), "so"),
        numpy_helper.from_array(np.array([1], np.int64), "k"),
        *winit,
    ]
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, n]),
            helper.make_tensor_value_info("label", TensorProto.INT64, [1, 1]),
        ],
        initializer=inits,
    )
    return helper.make_model(graph)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 24),
    st.integers(2, 12),
    st.integers(1, 40),
    st.integers(0, 2**31 - 1),
)
def test_gemm_accumulators_are_exact_integers_with_the_product_of_the_scales(
    k: int, n: int, batch: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, size=(k, n))
    x = rng.integers(0, 256, size=(batch, k))
    graph = CompiledGraph(_linear_graph(w, 1 / 255, 0.37))
    got = graph.run({"x": x})
    q, scale = output_integers(got["logits"], "logits")
    np.testing.assert_array_equal(q, x.astype(np.int64) @ w.astype(np.int64))
    assert scale == float(np.float32(1 / 255)) * 1.0 * float(np.float32(0.37))
    # TopK takes the lowest class among equal integer logits (FINN's LabelSelect)
    want = np.array([int(np.flatnonzero(row == row.max())[0]) for row in q])
    np.testing.assert_array_equal(got["label"].reshape(-1), want)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=2, max_size=12), st.floats(0.01, 3.0))
def test_exit_rule_ties_go_to_the_lowest_class_and_confidence_is_the_softmax_maximum(
    row: list[int], scale: float
) -> None:
    q = np.asarray([row, row[::-1]])
    pred = exit_prediction(q)
    for r, p in zip(q, pred, strict=True):
        assert p == int(np.flatnonzero(r == r.max())[0])
    conf = exit_confidence(q, scale)
    z = q * scale
    soft = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(conf, soft.max(axis=1) / soft.sum(axis=1), rtol=1e-12)
    assert np.all((conf > 0) & (conf <= 1))
    # batches of no sample are fine
    assert exit_confidence(q[:0], scale).shape == (0,) and exit_prediction(q[:0]).shape == (0,)


def test_images_become_the_pixel_grid_by_rounding_half_to_even() -> None:
    scale = float(np.float32(1 / 255))
    x = np.array([0.0, 1.0, 0.5 * scale, 1.5 * scale, 0.3])
    np.testing.assert_array_equal(image_integers(x, scale), np.rint(x / scale))
    assert image_integers(np.array([1.0]), scale)[0] == 255


def test_an_unknown_operator_is_refused_in_one_line() -> None:
    node = helper.make_node("Softmax", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    )
    with pytest.raises(IntegerExecError, match="Softmax is not supported"):
        CompiledGraph(helper.make_model(graph))


def test_float_values_are_refused_where_a_stream_must_carry_integers() -> None:
    with pytest.raises(IntegerExecError, match="not integers times a scale"):
        output_integers(np.array([0.5, 1.25]), "y")
    q, s = output_integers(Scaled(np.array([2.0, -3.0]), 0.5), "y")
    assert q.tolist() == [2, -3] and s == 0.5


# ------------------------------------------------------------------ real models, every width
CASES = [
    ("cnv", 1, 1),
    ("cnv", 2, 2),
    ("cnv", 4, 8),
    ("tfc", 8, 4),
    ("tfc", 2, 1),
    ("tfc", 1, 2),
]


def _model(family: str, wb: int, ab: int):  # noqa: ANN202 - MultiExitNet
    import torch

    from search_spaces import get_family

    torch.manual_seed(wb * 10 + ab)
    fam = get_family(family)
    shape = (1, 16, 16) if family == "cnv" else (1, 8, 8)
    arch = fam.default_arch(shape, 10, width_mult=0.125, weight_bits=wb, act_bits=ab)
    model = fam.build(arch)
    # give the batch norms and activation scales values away from their initialisation
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(32, *shape))
    return model.eval()


@pytest.mark.slow
@pytest.mark.parametrize(("family", "wb", "ab"), CASES)
def test_the_profile_graph_computes_every_designs_stage_integers(
    family: str, wb: int, ab: int, tmp_path: Path
) -> None:
    """The whole-model graph the profiles execute gives, for every exit, the integer logits
    that every design's one model gives on its own stage streams (the features forwarded
    unchanged), and both state the host the same scale of them: the profiles are the
    designs' figures on every bit width."""
    import torch

    from dse.accuracy.design_model import input_name, output_names
    from dse.accuracy.finn_export import logits_scale, write_design_onnx
    from dse.accuracy.profile import integer_profiles
    from dse.accuracy.qonnx_export import export_qonnx

    model = _model(family, wb, ab)
    shape = model.arch.input_shape
    gen = torch.Generator().manual_seed(1)
    images = (torch.randint(0, 256, (48, *shape), generator=gen) / 255.0).numpy()
    whole = CompiledGraph(
        onnx.load(str(export_qonnx(model, tmp_path / "whole.onnx", verify=False, dynamo=False)))
    )
    ref = whole.run({whole.inputs[0]: images.astype(np.float64)})
    candidates = list(model.arch.exits)
    host_scales = [logits_scale(model, e) for e in candidates] + [logits_scale(model, None)]
    ref_logits = [
        (output_integers(ref[o], o)[0], s) for o, s in zip(whole.outputs, host_scales, strict=True)
    ]
    labels = np.zeros(len(images), dtype=np.int64)
    prof = integer_profiles(model, {"x": (images, labels)})["x"]
    # every exit, and the last exit alone (a later stage that starts at the classifier)
    subsets = [tuple(candidates), (candidates[-1],)]
    for exits in subsets:
        design = model if list(exits) == candidates else _without_heads(model, exits)
        path = tmp_path / f"design_{'_'.join(map(str, exits))}.onnx"
        io = write_design_onnx(design, exits, path, name="d", n_verify=2)
        proto = onnx.load(str(path))
        x = image_integers(images, io[0]["input_scale"])
        for k in range(len(exits) + 1):
            last = k == len(exits)
            outs = output_names(k, last)
            graph = CompiledGraph(proto, inputs=[input_name(k)])
            if last:
                topk = next(n for n, _ in graph.nodes if n.op_type == "TopK")
                outs = [topk.input[0], *outs]
                graph = CompiledGraph(proto, inputs=[input_name(k)], outputs=outs)
            got = graph.run({input_name(k): x})
            q, scale = output_integers(got[outs[0]], outs[0])
            want_q, want_scale = ref_logits[candidates.index(exits[k]) if not last else -1]
            np.testing.assert_array_equal(q.reshape(want_q.shape), want_q)
            assert want_scale == io[k]["logits_scale"]
            assert scale == pytest.approx(want_scale, rel=1e-6)  # the graph's float32 factor
            row = prof.exits.index(exits[k] if not last else -1)
            np.testing.assert_array_equal(prof.predictions[row], exit_prediction(want_q))
            np.testing.assert_array_equal(
                prof.confidences[row], exit_confidence(want_q, io[k]["logits_scale"])
            )
            if last:
                np.testing.assert_array_equal(got[outs[1]].reshape(-1), exit_prediction(want_q))
            else:
                feats = output_integers(got[outs[1]], outs[1])[0]
                x = feats.reshape(-1, *io[k + 1]["input_shape"][1:])


def _without_heads(model, exits):  # noqa: ANN001, ANN202 - the design's MultiExitNet
    """The design's model with only ``exits`` attached (as the export loads it)."""
    from search_spaces import get_family

    arch = model.arch.replace(exits=tuple(exits))
    design = get_family(arch.family).build(arch)
    state = {
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith("heads.") or k.split(".")[1] in {str(e) for e in exits}
    }
    design.load_state_dict(state, strict=True)
    return design.eval()
