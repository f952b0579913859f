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


@pytest.mark.parametrize("dtype", ["BINARY", "UINT2", "INT2", "INT8", "TERNARY"])
def test_a_type_holding_zero_is_padded(dtype: str) -> None:
    assert hb.refusals(pad(dtype)) == []
    hb.check_buildable(pad(dtype))


def test_a_w1a1_stage_that_starts_with_a_convolution_is_refused() -> None:
    cnv = get_family("cnv")
    arch = cnv.default_arch((1, 32, 32), 10, width_mult=0.25, weight_bits=1, act_bits=1)
    # FINN failed at exit 2 too: the feature map is reshaped before the fully connected layer
    at_2 = hb.refusals(cnv.lower(arch, exits=[2]))
    assert {r.rule for r in at_2} == {"xnor_conv_on_stage_input"}
    assert all(r.layer.startswith("MVAU") for r in at_2)
    assert hb.refusals(cnv.lower(arch, exits=[])) == []
    # a fully connected network's later stage reads its own input, never the one model's
    # first: refused too (FINN failed on tfc W1A1 with two exits); without exits it builds
    tfc = get_family("tfc")
    flat = tfc.default_arch((1, 16, 16), 10, width_mult=0.25, weight_bits=1, act_bits=1)
    assert {r.rule for r in hb.refusals(tfc.lower(flat, exits=list(flat.exits)))} == {
        "xnor_conv_on_stage_input"
    }
    assert hb.refusals(tfc.lower(flat, exits=[])) == []
    (r,) = hb.refusals(cnv.lower(arch, exits=[0]))
    assert r.rule == "xnor_conv_on_stage_input"
    assert r.layer.startswith("ConvolutionInputGenerator")
    with pytest.raises(hb.HwError) as exc:
        hb.check_buildable(cnv.lower(arch, exits=[1]), "model W1A1")
    line = str(exc.value)
    assert "\n" not in line and line.startswith("model W1A1: FINN cannot build stage 1")
    assert "use act_bits of 2 or more with weight_bits 1, or no exits" in line


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
    naming it. Refused exactly where FINN stopped:
    - a cnv with 'same' padding (inputs below 32x32) after a 1-bit activation that is
      BIPOLAR (weights above 1 bit; a W1A1 network is XNOR, its 1-bit maps are BINARY 0/1,
      which FMPadding accepts);
    - a W1A1 cnv with exits: the next stage's XNOR layer reads a 1-bit feature map from its
      graph input (FINN's ConvertBipolarMatMulToXnorPopcount fails there); a W1A1 tfc's
      features neither: a later stage reads its own input, not the model's first."""
    fam = get_family(family)
    shape = (1, size, size)
    arch = fam.default_arch(shape, 10, width_mult=0.25, weight_bits=w, act_bits=a)
    graph = fam.lower(arch, exits=list(arch.exits))
    pad = family == "cnv" and size < 32 and a == 1 and w > 1
    xnor_stage = a == 1 and w == 1
    found = hb.refusals(graph)
    assert {r.rule for r in found} == (
        ({"pad_needs_zero"} if pad else set())
        | ({"xnor_conv_on_stage_input"} if xnor_stage else set())
    ), (family, w, a, size, found)
    # the same network without exits: only the padding rule can apply
    assert bool(hb.refusals(fam.lower(arch, exits=[]))) == pad
    if found:
        with pytest.raises(hb.HwError) as exc:
            hb.check_buildable(graph, f"W{w}A{a}")
        assert "\n" not in str(exc.value) and str(exc.value).startswith(f"W{w}A{a}: FINN")
    else:
        hb.check_buildable(graph)
