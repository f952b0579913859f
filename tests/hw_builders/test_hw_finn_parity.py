"""FINN parity wherever FINN goes: every board FINN's builder knows, Versal cost paths,
the sliding window's parallel-style legality and the VVAU BRAM ladder.

Hand-computed cases follow FINN main's sources (named per test); the properties check the
legality rules against the cost functions and against an independent transcription of
FINN's own rule (``ConvolutionInputGenerator_rtl.select_impl_style``).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hw_builders as hb
from hw_builders.graph import HwGraph, HwLayer

# finn/util/basic.py: pynq_part_map, alveo_part_map and part_map's Versal boards, verbatim
FINN_BOARD_PARTS = {
    "Ultra96": "xczu3eg-sbva484-1-e",
    "Ultra96-V2": "xczu3eg-sbva484-1-i",
    "Pynq-Z1": "xc7z020clg400-1",
    "Pynq-Z2": "xc7z020clg400-1",
    "ZCU102": "xczu9eg-ffvb1156-2-e",
    "ZCU104": "xczu7ev-ffvc1156-2-e",
    "ZCU111": "xczu28dr-ffvg1517-2-e",
    "RFSoC2x2": "xczu28dr-ffvg1517-2-e",
    "RFSoC4x2": "xczu48dr-ffvg1517-2-e",
    "KV260_SOM": "xck26-sfvc784-2LV-c",
    "U50": "xcu50-fsvh2104-2L-e",
    "U200": "xcu200-fsgd2104-2-e",
    "U250": "xcu250-figd2104-2L-e",
    "U280": "xcu280-fsvh2892-2L-e",
    "U55C": "xcu55c-fsvh2892-2L-e",
    "VEK280": "xcve2802-vsvh1760-2MP-e-S",
    "VCK190": "xcvc1902-vsva2197-2MP-e-S",
}


def _finn_is_versal(fpgapart: str) -> bool:
    """finn.util.basic.is_versal, transcribed."""
    return (
        fpgapart[0:4] in ["xcvc", "xcve", "xcvp", "xcvm", "xqvc", "xqvm"]
        or fpgapart[0:5] == "xqrvc"
    )


@pytest.mark.parametrize("board,part", sorted(FINN_BOARD_PARTS.items()))
def test_every_finn_board_is_in_the_catalogue(board: str, part: str) -> None:
    dev = hb.get_device(board=board)
    assert dev.part == part and dev.board == board
    assert dev.versal == _finn_is_versal(part)
    assert hb.get_device(part=part).versal == dev.versal
    r = dev.resources
    assert r["LUT"] > 0 and r["BRAM_18K"] > 0 and r["DSP"] > 0 and r["URAM"] >= 0
    assert r["BRAM_18K"] % 2 == 0  # two RAMB18 per 36 Kb block RAM
    assert 0 < dev.reconfig_time_s < 1.0 and dev.default_clk_ns > 0
    assert dev.power.static_w > 0
    assert dev.source  # every figure says where it comes from


def test_versal_parts_and_figures() -> None:
    vck = hb.get_device(board="VCK190")
    vek = hb.get_device(board="vek280")
    assert vck.versal and vek.versal
    # DS950 / DS958: LUT, BRAM (36 Kb blocks x 2), URAM, DSP58 engines
    assert dict(vck.resources) == {
        "LUT": 899_840,
        "FF": 1_799_680,
        "BRAM_18K": 2 * 967,
        "URAM": 463,
        "DSP": 1_968,
    }
    assert vek.resources["DSP"] == 1_312 and vek.resources["URAM"] == 264
    assert not hb.get_device(board="ZCU104").versal
    assert hb.get_device(board="KV260").board == "KV260_SOM"  # the old name still works


def test_mvau_rtl_dsp_follows_the_part() -> None:
    """rtl/matrixvectoractivation_rtl.py dsp_estimation: DSP58 packs 3 SIMD lanes per PE;
    DSP48 packs 4 PEs per SIMD lane."""
    layer = HwLayer(
        "m",
        "MVAU",
        [],
        dict(
            MW=64,
            MH=32,
            PE=8,
            SIMD=8,
            inputDataType="INT8",
            weightDataType="INT8",
            outputDataType="INT8",
            noActivation=1,
        ),
        "rtl",
    )
    versal = hb.layer_cost(layer, hb.get_device(part="xcvc1902-vsva2197-2MP-e-S"))
    zynq = hb.layer_cost(layer, hb.get_device(part="xczu7ev-ffvc1156-2-e"))
    assert versal.DSP == 8 * math.ceil(8 / 3) == 24
    assert zynq.DSP == math.ceil(8 / 4) * 8 == 16
    assert versal.LUT == zynq.LUT == 0
    g = HwGraph("g", [layer])
    rep = hb.estimate(g, part="xcve2802-vsvh1760-2MP-e-S")
    assert rep.total["DSP"] == 24
    assert rep.performance["max_cycles"] == (32 // 8) * (64 // 8)


def test_unknown_part_with_resources() -> None:
    with pytest.raises(hb.HwError, match="give its `resources`"):
        hb.get_device(part="xcvp1202-vsva2785-2MHP-e-S")
    dev = hb.get_device(
        part="xcvp1202-vsva2785-2MHP-e-S", resources="LUT=1000,BRAM_18K=20,URAM=2,DSP=30"
    )
    assert dev.versal and dev.board is None
    assert dict(dev.resources) == {
        "LUT": 1000,
        "FF": 2000,
        "BRAM_18K": 20,
        "URAM": 2,
        "DSP": 30,
    }
    # a catalogue part's figures can be overridden too; Versal-ness stays FINN's rule
    small = hb.get_device(
        part="xc7z020clg400-1", resources={"LUT": 10, "BRAM_18K": 1, "URAM": 0, "DSP": 1}
    )
    assert not small.versal and small.resources["LUT"] == 10
    for bad, msg in (
        ("LUT=1,BRAM_18K=1,DSP=1", "URAM missing"),
        ("LUT=1,BRAM=1,URAM=0,DSP=1", "unknown resource 'BRAM'"),
        ("LUT=x,BRAM_18K=1,URAM=0,DSP=1", "LUT='x' is not a whole number"),
        ("LUT", "is not KEY=VALUE"),
    ):
        with pytest.raises(hb.HwError, match=msg):
            hb.get_device(part="xcvp1202", resources=bad)
    with pytest.raises(hb.HwError, match="with a part"):
        hb.get_device(board="Pynq-Z1", resources="LUT=1,BRAM_18K=1,URAM=0,DSP=1")


# --- the sliding window's legality: FINN's select_impl_style ----------------------------
def _swg(simd: int, c: int, k: int, *, dw: int = 0, pw: int = 0, dim: int = 8) -> HwLayer:
    return HwLayer(
        "swg",
        "ConvolutionInputGenerator",
        [],
        dict(
            IFMChannels=c,
            IFMDim=[dim, dim],
            OFMDim=[dim - k + 1, dim - k + 1],
            ConvKernelDim=[k, k],
            SIMD=simd,
            depthwise=dw,
            parallel_window=pw,
            inputDataType="UINT4",
        ),
        "rtl",
    )


def test_swg_parallel_style_accepts_simd_below_channels_where_finn_does() -> None:
    # 1x1 kernel: FINN picks the parallel style by itself; SIMD only divides IFMChannels
    one = hb.layer_cost(_swg(4, 16, 1))
    assert one.cycles == 8 * 8 * (16 // 4) + 2
    # depthwise kxk with parallel_window: the VVAU takes SIMD < IFMChannels
    dwc = hb.layer_cost(_swg(4, 16, 3, dw=1, pw=1))
    assert dwc.cycles == 8 * 8 * (16 // 4) + 2
    # rtl parallel line buffers: (k-1) buffers of depth IFM_w - k, width SIMD*A = 16 bits;
    # distributed (default) -> LUT = 300 + width * ceil(buffer_depth/38) with the parallel
    # buffer depth ((k-1)*w + (k-1)) * CF + 2 = (2*8 + 2) * 4 + 2 = 74
    assert 300 + 16 * math.ceil(74 / 38) == dwc.LUT
    assert hb.legal_values(_swg(4, 16, 3, dw=1, pw=1)) == {"SIMD": [1, 2, 4, 8, 16]}
    # a plain kxk window in the parallel style still needs SIMD == IFMChannels
    with pytest.raises(hb.HwError, match="SIMD=4 must equal IFMChannels=16"):
        hb.layer_cost(_swg(4, 16, 3, pw=1))
    assert hb.legal_values(_swg(4, 16, 3, pw=1)) == {"SIMD": [16]}
    # the window must fit the feature map (FINN asserts it before anything else)
    with pytest.raises(hb.HwError, match="exceeds IFMDim 2x2"):
        hb.layer_cost(_swg(1, 4, 3, dim=2))


def _finn_swg_accepts(simd: int, c: int, k: int, dw: int, pw: int, dim: int) -> bool:
    """FINN's select_impl_style (M = 1, no dilation, stride 1), transcribed."""
    if not (k <= dim):
        return False
    if not pw and c % simd != 0:
        return False
    mmv_out = k * k if pw else 1
    if mmv_out > 1 or k == 1:
        if dw or k == 1:
            return c % simd == 0
        return c == simd
    return True


@settings(max_examples=300, deadline=None)
@given(
    c=st.sampled_from([1, 2, 3, 4, 6, 8, 12, 16, 24, 32]),
    simd=st.integers(1, 32),
    k=st.sampled_from([1, 2, 3, 5]),
    dw=st.integers(0, 1),
    pw=st.integers(0, 1),
    dim=st.sampled_from([1, 2, 3, 4, 7, 8]),
)
def test_swg_rtl_legality_is_finns(c: int, simd: int, k: int, dw: int, pw: int, dim: int) -> None:
    """No stricter and no looser than FINN; what the rule accepts always costs."""
    layer = _swg(simd, c, k, dw=dw, pw=pw, dim=max(dim, 1))
    layer.attrs["OFMDim"] = [max(dim - k + 1, 1)] * 2
    accepted = _finn_swg_accepts(simd, c, k, dw, pw, dim)
    if accepted:
        cost = hb.layer_cost(layer)
        assert cost.cycles > 0 and cost.LUT >= 300
        assert simd in hb.legal_values(layer)["SIMD"]
    else:
        with pytest.raises(hb.HwError):
            hb.layer_cost(layer)


# --- every op: what the legality rules offer always costs -------------------------------
_OPS = (
    [
        (
            "MVAU",
            impl,
            dict(MW=72, MH=48, inputDataType="INT4", weightDataType="INT2", outputDataType="UINT4"),
        )
        for impl in ("hls", "rtl")
    ]
    + [
        (
            "VVAU",
            impl,
            dict(
                Channels=24,
                Kernel=[3, 3],
                Dim=[5, 5],
                inputDataType="UINT4",
                weightDataType="INT3",
                outputDataType="UINT4",
            ),
        )
        for impl in ("hls", "rtl")
    ]
    + [
        (
            "ConvolutionInputGenerator",
            impl,
            dict(
                IFMChannels=24,
                IFMDim=[6, 6],
                OFMDim=[4, 4],
                ConvKernelDim=[3, 3],
                inputDataType="UINT4",
                depthwise=1,
                parallel_window=1,
            ),
        )
        for impl in ("rtl", "hls")
    ]
    + [
        (
            "Thresholding",
            impl,
            dict(
                NumChannels=48,
                numInputVectors=[1, 5, 5],
                inputDataType="INT8",
                weightDataType="INT8",
                outputDataType="UINT2",
                numSteps=3,
            ),
        )
        for impl in ("hls", "rtl")
    ]
    + [
        (
            "StreamingMaxPool",
            "hls",
            dict(NumChannels=32, ImgDim=[8, 8], PoolDim=[2, 2], dataType="UINT4"),
        ),
        ("LabelSelect", "hls", dict(Labels=100, inputDataType="INT16", K=1)),
        (
            "DuplicateStreams",
            "hls",
            dict(NumChannels=36, numInputVectors=[1, 4, 4], inputDataType="INT4"),
        ),
        (
            "AddStreams",
            "hls",
            dict(NumChannels=36, numInputVectors=[1, 4, 4], inputDataType="INT4"),
        ),
    ]
)


@settings(max_examples=200, deadline=None)
@given(case=st.sampled_from(_OPS), versal=st.booleans(), data=st.data())
def test_legal_values_always_cost(case, versal: bool, data) -> None:
    op_type, impl, attrs = case
    base = HwLayer("x", op_type, [], dict(attrs), impl)
    pick = {k: data.draw(st.sampled_from(v)) for k, v in hb.legal_values(base).items()}
    layer = HwLayer("x", op_type, [], {**attrs, **pick}, impl)
    dev = hb.get_device(board="VCK190" if versal else "ZCU104")
    cost = hb.layer_cost(layer, dev)
    for key in ("cycles", "LUT", "BRAM_18K", "URAM", "DSP"):
        value = getattr(cost, key)
        assert isinstance(value, int) and value >= 0, (key, value)


# --- VVAU BRAM: thresholds at widths 9 and 18, divisors 8/16/32 ------------------------
def test_vvau_bram_ladder_is_finns() -> None:
    """vectorvectoractivation.py bram_estimation: a 9-bit-wide memory takes the ``<= 9``
    branch, ceil(omega/2048) * ceil(9/8) = 2 (adapex once took the ``<= 16`` branch: 1)."""
    layer = HwLayer(
        "v",
        "VVAU",
        [],
        dict(
            Channels=1200,
            Kernel=[3, 3],
            Dim=[4, 4],
            PE=3,
            SIMD=3,
            inputDataType="UINT4",
            weightDataType="INT1",
            outputDataType="UINT4",
            ram_style="block",
        ),
        "hls",
    )
    # WMEM = (9*1200 // 3) // 3 = 1200, width = SIMD*W*PE = 9
    c = hb.layer_cost(layer)
    assert c.BRAM_18K == math.ceil(1200 / 2048) * math.ceil(9 / 8) == 2
    # width 17 -> the <= 18 branch: ceil(1200/1024) * ceil(17/16) = 2 * 2
    wide = HwLayer(
        "v", "VVAU", [], {**layer.attrs, "weightDataType": "INT17", "PE": 1, "SIMD": 1}, "hls"
    )
    # WMEM = 10800, width 17
    assert math.ceil(10800 / 1024) * math.ceil(17 / 16) == hb.layer_cost(wide).BRAM_18K
