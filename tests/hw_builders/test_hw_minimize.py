"""FINN's step_minimize_bit_width on hardware graphs, against qonnx's own range functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qonnx.core.datatype import DataType
from qonnx.util.basic import calculate_matvec_accumulator_range

from hw_builders import HwError, load_graph, minimize_bit_widths
from hw_builders.minimize import accumulator_datatype, smallest_possible, weight_datatype


def _finn_weight_dt(w: np.ndarray) -> str:
    """FINN's MVAU.minimize_weight_bit_width (matrixvectoractivation.py), transcribed."""
    w_min, w_max = w.min(), w.max()
    if w_min < 0:
        if abs(w_min) > w_max:
            return DataType.get_smallest_possible(w_min).name
        return DataType.get_smallest_possible(-w_max - 1).name
    return DataType.get_smallest_possible(w_max).name


def _finn_acc_dt(w: np.ndarray, idt: str, *, last: bool) -> str:
    """FINN's MVAU.minimize_accumulator_width without thresholds, transcribed."""
    acc_min, acc_max = calculate_matvec_accumulator_range(w, DataType[idt])
    if acc_min >= 0:
        adt = f"UINT{math.ceil(np.log2(acc_max + 1))}"
    else:
        adt = f"INT{math.ceil(np.log2(max(-acc_min, 1 + acc_max)) + 1)}"
    if last:
        bits = DataType[adt].bitwidth()
        adt = adt.replace(str(bits), str(-(-bits // 8) * 8))
    return adt


@given(st.integers(-(2**40), 2**40))
def test_smallest_possible_is_qonnx(value: int) -> None:
    assert smallest_possible(value) == DataType.get_smallest_possible(value).name


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 6),
    st.integers(1, 8),
    st.sampled_from(["UINT2", "UINT4", "UINT8", "INT4", "BIPOLAR", "BINARY"]),
    st.booleans(),
    st.integers(0, 2**31),
)
def test_mvau_minimisation_is_finns(
    mw: int, mh: int, wbits: int, idt: str, last: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    hi = max(1, 2 ** (wbits - 1) - 1)
    w = rng.integers(-hi, hi + 1, size=(mw, mh))
    graph = load_graph(
        {
            "name": "g",
            "layers": [
                {
                    "name": "m",
                    "op_type": "MVAU",
                    "inputs": [],
                    "MW": mw,
                    "MH": mh,
                    "inputDataType": idt,
                    "weightDataType": f"INT{wbits + 1}",
                    "outputDataType": "INT32",
                    "accDataType": "INT32",
                    "noActivation": 1,
                }
            ]
            + (
                []
                if last
                else [
                    {
                        "name": "ls",
                        "op_type": "LabelSelect",
                        "inputs": ["m"],
                        "Labels": mh,
                        "K": 1,
                        "inputDataType": "INT32",
                        "outputDataType": "UINT8",
                    }
                ]
            ),
        }
    )
    if not np.any(w):
        return  # FINN has no type for an all-zero accumulator
    out = minimize_bit_widths(graph, {"m": w})
    m = out.layers[0]
    assert m.attrs["weightDataType"] == _finn_weight_dt(w)
    assert m.attrs["accDataType"] == _finn_acc_dt(w, idt, last=last)
    assert m.attrs["outputDataType"] == m.attrs["accDataType"]
    if not last:  # InferDataTypes: the LabelSelect reads the new type
        assert out.layers[1].attrs["inputDataType"] == m.attrs["accDataType"]
    # the input graph is unchanged
    assert graph.layers[0].attrs["accDataType"] == "INT32"


def test_activation_mvau_keeps_its_output_and_xnor_weights_are_binary() -> None:
    w = np.array([[1, -1], [-1, -1], [1, 1]])
    graph = load_graph(
        {
            "name": "g",
            "layers": [
                {
                    "name": "x",
                    "op_type": "MVAU",
                    "inputs": [],
                    "MW": 3,
                    "MH": 2,
                    "inputDataType": "BINARY",
                    "weightDataType": "BINARY",
                    "outputDataType": "BINARY",
                    "accDataType": "UINT2",
                    "binaryXnorMode": 1,
                    "noActivation": 0,
                    "ActVal": 0,
                }
            ],
        }
    )
    m = minimize_bit_widths(graph, {"x": w}).layers[0]
    assert m.attrs["weightDataType"] == "BINARY"  # FINN stores XNOR weights as 0/1
    assert m.attrs["outputDataType"] == "BINARY"  # thresholds decide the output
    lo, hi = calculate_matvec_accumulator_range(w, DataType["BINARY"])
    assert m.attrs["accDataType"] == accumulator_datatype(int(lo), int(hi))  # consistency
    # by hand: bipolar weights times 0/1 inputs; column 0 (+1, -1, +1) spans -1..2, column 1
    # (-1, -1, +1) spans -2..1, so -2..2, and the smallest signed type holding it is INT3
    assert (int(lo), int(hi)) == (-2, 2) and m.attrs["accDataType"] == "INT3"
    assert weight_datatype(np.array([[-1, 0]])) == "BIPOLAR"  # qonnx's choice, kept


def test_bad_weights_are_refused() -> None:
    graph = load_graph(
        {
            "name": "g",
            "layers": [
                {
                    "name": "m",
                    "op_type": "MVAU",
                    "inputs": [],
                    "MW": 2,
                    "MH": 2,
                    "inputDataType": "UINT2",
                    "weightDataType": "INT2",
                    "outputDataType": "UINT2",
                    "accDataType": "INT8",
                },
            ],
        }
    )
    with pytest.raises(HwError, match=r"MW x MH is 2 x 2"):
        minimize_bit_widths(graph, {"m": np.zeros((3, 2), dtype=int)})
    with pytest.raises(HwError, match="must be integers"):
        minimize_bit_widths(graph, {"m": np.full((2, 2), 0.5)})
    with pytest.raises(HwError, match="not an MVAU"):
        minimize_bit_widths(graph, {"nope": np.ones((2, 2), dtype=int)})
