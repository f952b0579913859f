"""The legality module: what FINN's builder refuses, refused up front with one line.

The one rule so far is FINN's own assert in finn/custom_op/fpgadataflow/fmpadding.py
(``ret.allowed(0)``, "FMPadding_Batch DataType must support zero"): a BIPOLAR map cannot be
zero-padded. A FINN build of a cnv W2A1 (and W4A1) design on digits at 16x16 stopped there.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hw_builders as hb
from search_spaces import get_family


def pad(dtype: str) -> hb.HwGraph:
    return hb.load_graph(
        {
            "name": "p",
            "layers": [
                {
                    "name": "pad",
                    "op_type": "FMPadding",
                    "ImgDim": [8, 8],
                    "Padding": [1, 1, 1, 1],
                    "NumChannels": 4,
                    "inputDataType": dtype,
                }
            ],
        }
    )


@pytest.mark.parametrize("dtype", ["UINT2", "INT2", "INT8", "TERNARY"])
def test_a_type_holding_zero_is_padded(dtype: str) -> None:
    assert hb.refusals(pad(dtype)) == []
    hb.check_buildable(pad(dtype))


def test_w1a1_with_exits_builds_where_nothing_is_padded() -> None:
    """FINN builds a later stage's XNOR layer on its binary input stream (build.py's
    step_adapex_mark_binary_inputs; FINN 39f0c9a built cnv W1A1 at 32x32 with every exit
    subset, and tfc W1A1 with several exits): nothing is refused."""
    cnv = get_family("cnv")
    arch = cnv.default_arch((1, 32, 32), 10, width_mult=0.25, weight_bits=1, act_bits=1)
    for exits in ([0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2], []):
        assert hb.refusals(cnv.lower(arch, exits=exits)) == []
    tfc = get_family("tfc")
    flat = tfc.default_arch((1, 16, 16), 10, width_mult=0.25, weight_bits=1, act_bits=1)
    assert hb.refusals(tfc.lower(flat, exits=list(flat.exits))) == []


def test_a_padded_xnor_convolution_is_refused() -> None:
    """FINN pads a BINARY map with 0 bits, which its XNOR layer reads as -1; the network
    was trained with 0 padding: refused, with or without exits."""
    (r,) = hb.refusals(pad("BINARY"))
    assert (r.layer, r.rule) == ("pad", "xnor_pads_minus_one")
    cnv = get_family("cnv")
    arch = cnv.default_arch((1, 16, 16), 10, width_mult=0.25, weight_bits=1, act_bits=1)
    found = hb.refusals(cnv.lower(arch, exits=[]))
    assert found and {r.rule for r in found} == {"xnor_pads_minus_one"}
    with pytest.raises(hb.HwError) as exc:
        hb.check_buildable(cnv.lower(arch, exits=[1]), "model W1A1")
    line = str(exc.value)
    assert "\n" not in line and line.startswith("model W1A1: FINN cannot pad a 1-bit map")
    assert "use act_bits of 2 or more, or inputs of at least 32x32" in line


def test_a_bipolar_map_is_not_padded() -> None:
    (r,) = hb.refusals(pad("BIPOLAR"))
    assert (r.layer, r.rule) == ("pad", "pad_needs_zero")
    with pytest.raises(hb.HwError) as exc:
        hb.check_buildable(pad("BIPOLAR"), "model W2A1")
    line = str(exc.value)
    assert "\n" not in line and line.startswith("model W2A1: FINN cannot zero-pad a BIPOLAR")
    assert "use act_bits of 2 or more" in line


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    family=st.sampled_from(["cnv", "tfc"]),
    w=st.sampled_from([1, 2, 4, 8]),
    a=st.sampled_from([1, 2, 4, 8]),
    size=st.sampled_from([8, 16, 32]),
)
def test_every_bit_width_either_builds_or_is_refused_in_one_line(
    family: str, w: int, a: int, size: int
) -> None:
    """Both families, weights and activations at 1, 2, 4 and 8 bits, with and without
    padding, with every candidate exit: a design either passes, or is refused with one line
    naming it. Refused exactly where FINN stops or computes another network: a cnv with
    'same' padding (inputs below 32x32) after a 1-bit activation, BIPOLAR (weights above
    1 bit: FMPadding refuses it) or BINARY (W1A1, XNOR: the padded bit reads as -1). Every
    exit of W1A1 builds (a later stage's XNOR layer reads its binary input stream)."""
    fam = get_family(family)
    shape = (1, size, size)
    arch = fam.default_arch(shape, 10, width_mult=0.25, weight_bits=w, act_bits=a)
    graph = fam.lower(arch, exits=list(arch.exits))
    pad = family == "cnv" and size < 32 and a == 1
    found = hb.refusals(graph)
    rule = "xnor_pads_minus_one" if w == 1 else "pad_needs_zero"
    assert {r.rule for r in found} == ({rule} if pad else set()), (family, w, a, size, found)
    # the same network without exits: only the padding rule can apply
    assert bool(hb.refusals(fam.lower(arch, exits=[]))) == pad
    if found:
        with pytest.raises(hb.HwError) as exc:
            hb.check_buildable(graph, f"W{w}A{a}")
        assert "\n" not in str(exc.value) and str(exc.value).startswith(f"W{w}A{a}: FINN")
    else:
        hb.check_buildable(graph)
