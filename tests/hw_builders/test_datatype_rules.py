"""FINN's datatype rules, owned by hw_builders.datatypes and read by the lowering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hw_builders import HwError
from hw_builders.datatypes import (
    activation_datatype,
    datatype,
    dot_product_datatype,
    quantised_weight_datatype,
    range_datatype,
)
from hw_builders.registry import get_op

ints = st.integers(-(2**40), 2**40)


@given(ints, ints)
def test_range_datatype_is_the_smallest_that_holds_the_range(a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    dt = datatype(range_datatype(lo, hi))
    assert dt.min <= lo and hi <= dt.max
    assert dt.signed == (lo < 0)
    if dt.bitwidth > 1:  # one bit fewer of the same kind misses an end of the range
        smaller = datatype(f"{'INT' if dt.signed else 'UINT'}{dt.bitwidth - 1}")
        assert lo < smaller.min or hi > smaller.max


def test_range_datatype_by_hand_and_refuses_a_reversed_range() -> None:
    assert [range_datatype(0, v) for v in (0, 1, 2, 9)] == ["UINT1", "UINT1", "UINT2", "UINT4"]
    assert [range_datatype(lo, 0) for lo in (-1, -2, -3, -128, -129)] == [
        "INT1",
        "INT2",
        "INT3",
        "INT8",
        "INT9",
    ]
    assert range_datatype(-1, 128) == "INT9"
    with pytest.raises(HwError, match="lo=2 > hi=1"):
        range_datatype(2, 1)


@given(
    st.integers(1, 4096),
    st.sampled_from(["UINT2", "UINT4", "INT4", "BINARY", "BIPOLAR", "UINT8"]),
    st.sampled_from(["INT2", "INT4", "INT8", "BIPOLAR", "BINARY"]),
)
def test_a_dot_product_fits_its_accumulator(n: int, idt: str, wdt: str) -> None:
    i, w = datatype(idt), datatype(wdt)
    acc = datatype(dot_product_datatype(n, idt, wdt))
    extremes = [n * a * b for a in (i.min, i.max) for b in (w.min, w.max)]
    assert acc.min <= min(extremes) and max(extremes) <= acc.max


def test_one_bit_activations_and_weights_follow_finns_conversion() -> None:
    assert activation_datatype(1, xnor_consumer=False) == "BIPOLAR"
    assert activation_datatype(1, xnor_consumer=True) == "BINARY"
    assert activation_datatype(4, xnor_consumer=True) == "UINT4"
    assert quantised_weight_datatype(1, xnor=False) == "BIPOLAR"
    assert quantised_weight_datatype(1, xnor=True) == "BINARY"
    assert quantised_weight_datatype(2, xnor=True) == "INT2"


def test_the_mvau_owns_finns_specialize_layers_choice() -> None:
    mvau = get_op("MVAU")
    base = {"inputDataType": "UINT4", "weightDataType": "INT4", "noActivation": 1}
    assert mvau.impl_for(base) == "rtl"
    assert mvau.impl_for({**base, "noActivation": 0}) == "hls"  # thresholds embedded
    assert mvau.impl_for({**base, "weightDataType": "INT2"}) == "hls"
    assert mvau.impl_for({**base, "inputDataType": "INT9"}) == "rtl"
    assert mvau.impl_for({**base, "inputDataType": "UINT9"}) == "hls"
    # every other edge of specialize_layers.py's _mvu_rtl_possible
    assert mvau.impl_for({**base, "binaryXnorMode": 1}) == "hls"  # XNOR
    assert mvau.impl_for({k: v for k, v in base.items() if k != "noActivation"}) == "hls"
    assert mvau.impl_for({**base, "weightDataType": "UINT4"}) == "hls"  # unsigned weights
    assert mvau.impl_for({**base, "weightDataType": "INT3"}) == "hls"
    assert mvau.impl_for({**base, "weightDataType": "INT8"}) == "rtl"
    assert mvau.impl_for({**base, "weightDataType": "INT9"}) == "hls"
    assert mvau.impl_for({**base, "inputDataType": "UINT3"}) == "hls"
    assert mvau.impl_for({**base, "inputDataType": "INT4"}) == "rtl"
    assert mvau.impl_for({**base, "inputDataType": "UINT8"}) == "rtl"
    assert mvau.impl_for({**base, "inputDataType": "INT10"}) == "hls"
    assert get_op("ConvolutionInputGenerator").impl_for({}) == "rtl"
    assert get_op("StreamingMaxPool").impl_for({}) == "hls"


def test_the_lowering_names_layers_by_the_ops_choice() -> None:
    from search_spaces.lowering import GraphBuilder, mvau

    g = GraphBuilder("g")
    rtl = mvau(g, "in", mw=8, mh=4, nvec=[1], idt="UINT4", weight_bits=4, odt=None)
    hls = mvau(g, rtl, mw=4, mh=4, nvec=[1], idt="UINT4", weight_bits=4, odt="UINT4")
    assert (rtl, hls) == ("MVAU_rtl_0", "MVAU_hls_0")
    assert g.layers[0]["impl"] == "rtl" and "impl" not in g.layers[1]
    assert g.layers[0]["accDataType"] == dot_product_datatype(8, "UINT4", "INT4")
