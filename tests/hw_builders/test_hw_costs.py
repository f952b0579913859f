"""Every cost formula against values worked out by hand from FINN's source (docs/COST_MODEL.md)."""

from __future__ import annotations

import math

import pytest

import hw_builders as hb
from hw_builders.graph import HwLayer
from hw_builders.registry import fmt_divisors


def cost(op_type: str, impl: str | None = None, device: str | None = None, **attrs) -> hb.LayerCost:
    op = hb.get_op(op_type)
    layer = HwLayer("L", op_type, [], attrs, impl or op.default_impl)
    dev = hb.get_device(board=device) if device else None
    return hb.layer_cost(layer, dev)


MV = dict(inputDataType="INT4", weightDataType="INT4", outputDataType="UINT2")


def test_mvau_hls_block() -> None:
    c = cost("MVAU", MW=576, MH=64, PE=8, SIMD=16, numInputVectors=[1, 10, 10], **MV)
    assert c.cycles == (64 // 8) * (576 // 16) * 100  # 28800
    # BRAM: WMEM = 576*64/(8*16) = 288, width = 16*4*8 = 512 > 18 and WMEM <= 512
    #       -> ceil(288/512) * ceil(512/36) = 1 * 15
    assert c.BRAM_18K == 15
    assert c.BRAM_efficiency == pytest.approx(4 * 576 * 64 / (15 * 36 * 512))
    # LUT: W = A = 4; mult = 16*(2*ceil(8/6)-1)*8 = 16*3*8 = 384; adder = 8*31 = 248
    # acc: alpha = log2(576)+4+4-1-1 = 9.1699+6 = 15.1699; ceil(15.1699+log2(1+2^-15.17)+1) = 17
    #      min(32, 17) = 17; thresholds auto -> thr = cmp = 0; c2 = 0 (auto)
    alpha = math.log2(576) + 6
    acc = math.ceil(alpha + math.log2(1 + 2**-alpha) + 1)
    assert acc == 17
    assert int(300 + 1.1 * (8 * (384 + 248 + 17))) == c.LUT  # 6011
    assert (c.URAM, c.DSP) == (0, 0)


def test_mvau_hls_distributed_thresholds_and_c2() -> None:
    c = cost(
        "MVAU",
        MW=64,
        MH=32,
        PE=4,
        SIMD=8,
        ram_style="distributed",
        ram_style_thresholds="distributed",
        accDataType="INT12",
        **MV,
    )
    # WMEM = 64*32/32 = 64, TMEM = 8; c2 = P*Q*W*ceil(WMEM/64) = 4*8*4*1 = 128
    # mult = 8*3*8 = 192; adder = 8*15 = 120; acc = min(12, ceil(6+6 + ~0 + 1)=13) = 12
    # B = 2: thr = 3*12*ceil(8/64) = 36, cmp = 3*12 = 36
    assert c.BRAM_18K == 0
    assert int(300 + 1.1 * (4 * (192 + 120 + 12 + 36 + 36)) + 128) == c.LUT  # 2170


def test_mvau_dsp_and_xnor_quirk() -> None:
    c = cost("MVAU", MW=64, MH=32, PE=4, SIMD=8, resType="dsp", **MV)
    assert 4 * 8 * math.ceil(8 / 48) == c.DSP  # 32
    x = cost(
        "MVAU",
        MW=64,
        MH=32,
        PE=4,
        SIMD=8,
        resType="dsp",
        binaryXnorMode=1,
        inputDataType="BINARY",
        weightDataType="BINARY",
        outputDataType="BINARY",
    )
    assert x.DSP == 32  # FINN counts DSPs even in XNOR mode
    auto = cost("MVAU", MW=64, MH=32, PE=4, SIMD=8, resType="auto", **MV)
    assert auto.DSP == 0  # auto costs like lut


def test_mvau_rtl_dsp_and_lut() -> None:
    c = cost("MVAU", "rtl", MW=64, MH=32, PE=6 // 3 * 4, SIMD=8, **MV)  # PE=8
    assert c.LUT == 0
    assert math.ceil(8 / 4) * 8 == c.DSP  # 16 (DSP48)


def test_mvau_embedded_quirk_bram_and_uram() -> None:
    # internal_embedded, WMEM = 1024*256/(1*1) = 262144 > 128: BRAM and URAM both reported
    c = cost("MVAU", MW=1024, MH=256, PE=1, SIMD=1, mem_mode="internal_embedded", **MV)
    # width = 4 -> ceil(262144/4096)*ceil(4/4) = 64 BRAM; URAM ceil(4/72)*ceil(262144/4096) = 64
    assert (c.BRAM_18K, c.URAM) == (64, 64)
    u = cost("MVAU", MW=1024, MH=256, PE=1, SIMD=1, ram_style="ultra", **MV)
    assert (u.BRAM_18K, u.URAM) == (0, 64)
    assert u.URAM_efficiency == pytest.approx(4 * 1024 * 256 / (64 * 72 * 4096))


@pytest.mark.parametrize(
    ("pe", "simd", "wbits", "uram"),
    [
        # memory width PE*SIMD*W bits against URAM's 72: one block up to 72, two from 73
        (1, 18, "INT4", 1),  # 72 bits, depth 4096
        (1, 9, "INT8", 1),  # 72 bits
        (1, 73, "BIPOLAR", 2),  # 73 bits: the first width that needs two
        (2, 37, "INT1", 2),  # 74 bits
        (4, 9, "INT4", 2),  # 144 bits
        (4, 37, "INT1", 3),  # 148 bits
    ],
)
def test_mvau_uram_blocks_per_72_bits_of_width(pe: int, simd: int, wbits: str, uram: int) -> None:
    """FINN's MVAU uram_estimation (src/finn/custom_op/fpgadataflow/matrixvectoractivation.py
    at Xilinx/finn 39f0c9a): ceil(PE * SIMD * W / 72) blocks wide times ceil(WMEM / 4096)
    deep, for ram_style ultra with internal_decoupled weights."""
    mw, mh = simd * 64, pe * 64  # WMEM = 4096: one block deep
    attrs = dict(MV, weightDataType=wbits)
    c = cost("MVAU", MW=mw, MH=mh, PE=pe, SIMD=simd, ram_style="ultra", **attrs)
    width = pe * simd * hb.bitwidth(wbits)
    assert c.URAM == uram == math.ceil(width / 72)
    # twice as deep: twice the blocks
    deep = cost("MVAU", MW=mw * 2, MH=mh, PE=pe, SIMD=simd, ram_style="ultra", **attrs)
    assert 2 * uram == deep.URAM


@pytest.mark.parametrize(
    ("width", "depth", "expected"),
    [
        (1, 20000, 2),
        (2, 9000, 2),
        (3, 5000, 2),
        (8, 3000, 2),
        (16, 100, 1),
        (20, 600, 2),
        (40, 600, 3),
        (72, 512, 2),
    ],
)
def test_bram_ladder(width: int, depth: int, expected: int) -> None:
    from hw_builders.ops._common import bram_ladder

    # 1: ceil(20000/16384)=2; 2: ceil(9000/8192)=2; 3: ceil(5000/4096)*1=2; 8: ceil(3000/2048)*1=2
    # 16: ceil(100/1024)*1=1; 20 with depth 600>512: ceil(600/1024)*ceil(20/18)=2
    # 40 with 600: ceil(600/1024)*ceil(40/18)=3; 72 with 512: ceil(512/512)*ceil(72/36)=2
    got = bram_ladder(depth, width)
    assert got == expected and isinstance(got, int)


@pytest.mark.parametrize(
    ("width", "depth", "wide", "expected"),
    [
        # each side of every depth step: a block holds 16384 x 1, 8192 x 2, 4096 x 4,
        # 2048 x 9, 1024 x 18 or 512 x 36 bits
        (1, 16384, (9, 18, 36), 1),
        (1, 16385, (9, 18, 36), 2),
        (2, 8192, (9, 18, 36), 1),
        (2, 8193, (9, 18, 36), 2),
        (4, 4096, (9, 18, 36), 1),
        (4, 4097, (9, 18, 36), 2),  # ceil(4097/4096) * ceil(4/4)
        (9, 2049, (9, 18, 36), 2),  # ceil(2049/2048) * ceil(9/9)
        (9, 3000, (9, 18, 36), 2),  # width 9 is still the 2048 x 9 shape
        (10, 3000, (9, 18, 36), 3),  # width 10 is not: ceil(3000/1024) * ceil(10/18)
        (16, 1025, (9, 18, 36), 2),  # ceil(1025/1024) * ceil(16/18)
        (19, 100, (9, 18, 36), 1),  # shallow and wider than 18: ceil(100/512) * ceil(19/36)
        (40, 513, (9, 18, 36), 3),  # deeper than 512: ceil(513/1024) * ceil(40/18)
        (40, 512, (9, 18, 36), 2),  # not deeper: ceil(512/512) * ceil(40/36)
        # VVAU's divisors: width 18 is still the 1024-deep shape, two 16-bit columns
        (18, 100, (8, 16, 32), 2),  # ceil(100/1024) * ceil(18/16)
        (9, 100, (8, 16, 32), 2),  # ceil(100/2048) * ceil(9/8)
        (36, 100, (8, 16, 32), 2),  # ceil(100/512) * ceil(36/32)
    ],
)
def test_bram_ladder_at_every_step(width: int, depth: int, wide: tuple, expected: int) -> None:
    """Both sides of each step of FINN's RAMB18 ladder (MVAU.bram_estimation; VVAU divides
    by 8, 16 and 32), by hand."""
    from hw_builders.ops._common import bram_ladder

    got = bram_ladder(depth, width, wide=wide)
    assert got == expected and isinstance(got, int)


def test_vvau() -> None:
    a = dict(
        Channels=64,
        Kernel=[3, 3],
        Dim=[8, 8],
        PE=4,
        SIMD=3,
        ram_style="block",
        inputDataType="INT4",
        weightDataType="INT4",
        outputDataType="UINT2",
    )
    c = cost("VVAU", **a)
    assert c.cycles == (64 * 9 // 4 // 3) * 64  # 3072
    # WMEM = 9*64/12 = 48, width = 3*4*4 = 48 > 32 -> ceil(48/512)*ceil(48/32) = 2
    assert c.BRAM_18K == 2
    assert c.BRAM_efficiency == pytest.approx(4 * 4 * 48 / (2 * 36 * 512))  # no SIMD factor
    # LUT: mult = 3*3*8 = 72; adder = 8*5 = 40; alpha = log2(9)+4+4-1-1 = 9.1699 -> acc 11
    # TMEM = 16; thr = 3*11*16/64 = 8.25 (no rounding); cmp = 33
    alpha = math.log2(9) + 6
    acc = math.ceil(alpha + math.log2(1 + 2**-alpha) + 1)
    assert acc == 11
    assert int(300 + 1.1 * (4 * (72 + 40 + 11 + 8.25 + 33))) == c.LUT  # 1022
    auto = cost("VVAU", **{**a, "ram_style": "auto"})
    assert auto.BRAM_18K == 0  # auto with depth 48 <= 128
    dsp = cost("VVAU", **{**a, "resType": "dsp"})
    assert 4 * math.ceil(8 / 48) == dsp.DSP


def test_swg_rtl_default() -> None:
    a = dict(
        IFMChannels=64,
        IFMDim=[30, 30],
        OFMDim=[28, 28],
        ConvKernelDim=[3, 3],
        SIMD=16,
        inputDataType="INT2",
    )
    c = cost("ConvolutionInputGenerator", **a)
    # CF = 4; depth = (2*30 + 2 + 1)*4 = 252 (+ stride terms 0)
    # cycles = 252 + 28*max(28*9*4, 1*30*4) = 252 + 28*1008 = 28476
    assert c.cycles == 28476
    # LUT = 300 + 16*2*ceil(252/38) = 300 + 32*7 = 524
    assert c.LUT == 524 and c.BRAM_18K == 0
    b = cost("ConvolutionInputGenerator", **{**a, "ram_style": "auto"})
    # width 32, depth 252 <= 512 -> ram width 36 -> ceil(252/16384)*ceil(32/36) = 1
    assert (b.BRAM_18K, b.LUT) == (1, 300)
    u = cost("ConvolutionInputGenerator", **{**a, "ram_style": "ultra"})
    assert u.URAM == 1


@pytest.mark.parametrize(
    ("width", "bram"),
    [
        # buffer depth (W + 2) * CF with a 2x2 kernel, CF = 72 / 9 = 8; line width 9 * 4 = 36
        # bits. FINN's rtl ram width is 36/18/9/4/2/1 bits for depths up to
        # 512/1024/2048/4096/8192/more, and it needs ceil(36 / ram width) BRAM_18K
        (62, 1),  # depth 512: 36 bits wide
        (63, 2),  # 520: 18
        (126, 2),  # 1024: 18
        (127, 4),  # 1032: 9
        (254, 4),  # 2048: 9
        (255, 9),  # 2056: 4
        (510, 9),  # 4096: 4
        (511, 18),  # 4104: 2
        (1022, 18),  # 8192: 2
        (1023, 36),  # 8200: 1
    ],
)
def test_swg_rtl_bram_at_each_ram_width_step(width: int, bram: int) -> None:
    """finn rtl/convolutioninputgenerator_rtl.py bram_estimation, at and just past each
    depth where the BRAM's aspect ratio changes."""
    c = cost(
        "ConvolutionInputGenerator",
        IFMChannels=72,
        SIMD=9,
        IFMDim=[width, width],
        OFMDim=[width - 1, width - 1],
        ConvKernelDim=[2, 2],
        inputDataType="UINT4",
        ram_style="block",
    )
    assert bram == c.BRAM_18K


def test_a_1d_window_costs_the_same_as_a_row_or_a_column() -> None:
    """FINN normalises a 1-D window given as a column ([H, 1]) to a row ([1, H])
    (get_1d_conv_attrs_normalized): both spellings cost alike, rtl and hls."""
    row = dict(IFMDim=[1, 32], OFMDim=[1, 15], ConvKernelDim=[1, 3], Stride=[1, 2])
    col = dict(IFMDim=[32, 1], OFMDim=[15, 1], ConvKernelDim=[3, 1], Stride=[2, 1])
    base = dict(IFMChannels=8, SIMD=4, inputDataType="UINT4", ram_style="block")
    for impl in ("rtl", "hls"):
        a = cost("ConvolutionInputGenerator", impl, **base, **row)
        b = cost("ConvolutionInputGenerator", impl, **base, **col)
        assert (a.cycles, a.LUT, a.BRAM_18K) == (b.cycles, b.LUT, b.BRAM_18K), impl
    # by hand, hls: the plain 1-D variant, 1 + ow * kw * C / SIMD = 1 + 15 * 3 * 2 cycles
    assert cost("ConvolutionInputGenerator", "hls", **base, **col).cycles == 91


def test_swg_rtl_strided_parallel_1d_depthwise() -> None:
    s = dict(
        IFMChannels=8,
        IFMDim=[16, 16],
        OFMDim=[7, 7],
        ConvKernelDim=[3, 3],
        Stride=[2, 2],
        SIMD=8,
        inputDataType="INT4",
    )
    c = cost("ConvolutionInputGenerator", **s)
    # CF = 1; bmin = 2*16+2+1 = 35; extra: max(0, 1-9)=0, max(0, 16-9)*1 = 7 -> depth 42
    # cycles = 35 + 7*max(7*9, 2*16) = 35 + 441 = 476
    assert c.cycles == 476
    assert 300 + 32 * math.ceil(42 / 38) == c.LUT
    dw = cost("ConvolutionInputGenerator", **{**s, "SIMD": 4, "depthwise": 1})
    # CF = 2; bmin = 70; max(7*9*2, 2*16*2) = 126 + 7*(2-1)*(2-1) = 133; 70 + 7*133 + (2-1)*16*2
    assert dw.cycles == 70 + 7 * 133 + 32
    p = cost("ConvolutionInputGenerator", **{**s, "parallel_window": 1})
    assert p.cycles == 16 * 16 * 1 + 2
    one = cost(
        "ConvolutionInputGenerator",
        IFMChannels=4,
        IFMDim=[1, 32],
        OFMDim=[1, 30],
        ConvKernelDim=[1, 3],
        SIMD=2,
        inputDataType="INT4",
    )
    assert one.cycles == 30 * 3 * 2 + 2
    k1 = cost(
        "ConvolutionInputGenerator",
        IFMChannels=4,
        IFMDim=[5, 5],
        OFMDim=[5, 5],
        ConvKernelDim=[1, 1],
        SIMD=4,
        inputDataType="INT4",
    )
    assert k1.cycles == 25 + 2  # 1x1 kernel -> parallel style


def test_swg_hls_2d() -> None:
    c = cost(
        "ConvolutionInputGenerator",
        "hls",
        IFMChannels=64,
        IFMDim=[30, 30],
        OFMDim=[28, 28],
        ConvKernelDim=[3, 3],
        SIMD=32,
        inputDataType="BINARY",
    )
    # cycles = 30*3*1*2 + 28*max(28*9*2, 30*2) = 180 + 28*504 = 14292
    assert c.cycles == 14292
    # LUT (distributed) = 300 + (3+1)*(32*1*ceil(30*64/32/64)) = 300 + 4*32*1 = 428
    assert c.LUT == 428
    b = cost(
        "ConvolutionInputGenerator",
        "hls",
        IFMChannels=64,
        IFMDim=[30, 30],
        OFMDim=[28, 28],
        ConvKernelDim=[3, 3],
        SIMD=32,
        inputDataType="BINARY",
        ram_style="block",
    )
    # depth = 60 -> width 36; (3+1)*ceil(32/36)*ceil(60/60) = 4
    assert b.BRAM_18K == 4


SWG_1D = dict(
    IFMChannels=8,
    IFMDim=[1, 32],
    OFMDim=[1, 30],
    ConvKernelDim=[1, 3],
    inputDataType="UINT4",
    depthwise=0,
)


@pytest.mark.parametrize(
    ("attrs", "want"),
    [
        # 1D_parallel (parallel_window=1, SIMD = IFMChannels, no stride or dilation, not
        # depthwise, auto/distributed RAM): kw + ow = 3 + 30 cycles, no BRAM, and only with
        # ram_style distributed the window LUTs ceil(SIMD * A * (kw + 1) / 64) = 2
        ({"SIMD": 8, "parallel_window": 1, "ram_style": "distributed"}, (33, 302, 0)),
        ({"SIMD": 8, "parallel_window": 1, "ram_style": "auto"}, (33, 300, 0)),
        # every unmet condition falls back to the plain 1D variant: 1 + ow * kw * C / SIMD
        # cycles, a (kw - 1) * C / SIMD = 2 deep buffer in one BRAM (width 36 at depth <= 512)
        ({"SIMD": 8, "parallel_window": 0, "ram_style": "auto"}, (91, 300, 1)),
        ({"SIMD": 4, "parallel_window": 1, "ram_style": "auto"}, (181, 300, 1)),
        ({"SIMD": 8, "parallel_window": 1, "ram_style": "block"}, (91, 300, 1)),
        (
            {
                "SIMD": 8,
                "parallel_window": 1,
                "ram_style": "auto",
                "Stride": [1, 2],
                "OFMDim": [1, 15],
            },
            (1 + 15 * 3, 300, 1),
        ),
        (
            {
                "SIMD": 8,
                "parallel_window": 1,
                "ram_style": "auto",
                "Dilation": [1, 2],
                "OFMDim": [1, 28],
            },
            (1 + 28 * 3, 300, 1),
        ),
        # the plain 1D variant on distributed RAM: ceil(A * (kw - 1) * C / 64) = 1 LUT more
        ({"SIMD": 8, "parallel_window": 0, "ram_style": "distributed"}, (91, 301, 0)),
    ],
)
def test_swg_hls_1d_variants_by_hand(attrs: dict, want: tuple[int, int, int]) -> None:
    """FINN's ConvolutionInputGenerator_hls on a 1-D window (finn
    hls/convolutioninputgenerator_hls.py: use_parallel_window_output, get_exp_cycles,
    lut_estimation, bram_estimation), worked out by hand for C = 8, a 32-wide row, k = 3."""
    c = cost("ConvolutionInputGenerator", "hls", **{**SWG_1D, **attrs})
    assert (c.cycles, c.LUT, c.BRAM_18K) == want


def test_scalar_and_one_element_dims_mean_square() -> None:
    """FINN's 2-D attributes given as a scalar or a one-element list mean [v, v]: the
    sliding window of a 3x3 kernel on an 8x8 map costs the same in all three spellings."""
    base = dict(IFMChannels=16, SIMD=4, inputDataType="UINT4")
    square = cost(
        "ConvolutionInputGenerator", IFMDim=[8, 8], OFMDim=[6, 6], ConvKernelDim=[3, 3], **base
    )
    for dims in (
        {"IFMDim": 8, "OFMDim": 6, "ConvKernelDim": 3},
        {"IFMDim": [8], "OFMDim": [6], "ConvKernelDim": [3]},
    ):
        c = cost("ConvolutionInputGenerator", **dims, **base)
        assert (c.cycles, c.LUT, c.BRAM_18K) == (square.cycles, square.LUT, square.BRAM_18K)
    # and a non-square map is not the square one: [8, 12] has more columns to read
    wide = cost(
        "ConvolutionInputGenerator", IFMDim=[8, 12], OFMDim=[6, 10], ConvKernelDim=[3, 3], **base
    )
    assert wide.cycles > square.cycles


def test_thresholding() -> None:
    a = dict(
        NumChannels=64,
        PE=4,
        numInputVectors=[1, 8, 8],
        inputDataType="INT8",
        weightDataType="INT8",
        outputDataType="UINT2",
        numSteps=3,
    )
    h = cost("Thresholding", "hls", **a)
    assert h.cycles == 64 * 64 // 4  # 1024
    # TMEM = 16: LUT = 8*4 + 4*8*ceil(16/64) = 32 + 32
    assert (h.LUT, h.BRAM_18K) == (64, 0)
    hb_ = cost("Thresholding", "hls", **{**a, "ram_style": "block"})
    assert (32, math.ceil(32 / 16) * 1) == (hb_.LUT, hb_.BRAM_18K)
    r = cost("Thresholding", "rtl", **a)
    # memories (8 bits wide) of depth 16*2^0 = 16 and 16*2^1 = 32: LUTRAM 8*1 each (waste 384, 256
    # vs BRAM18_9x2048: 1*18432-128 ...) -> 8 + 8 = 16 per PE, times 4 PE
    assert (r.LUT, r.BRAM_18K, r.URAM) == (64, 0, 0)
    big = cost(
        "Thresholding",
        "rtl",
        NumChannels=4096,
        PE=1,
        inputDataType="INT16",
        weightDataType="INT16",
        outputDataType="UINT1",
        numSteps=1,
    )
    # one memory 16 x 4096: LUTRAM 1x64 fits exactly (16*64 = 1024 primitives, waste 0); the
    # URAM/BRAM shapes all waste bits -> 1024 LUTs
    assert (big.LUT, big.BRAM_18K, big.URAM) == (1024, 0, 0)
    tie = cost(
        "Thresholding",
        "rtl",
        NumChannels=1000,
        PE=1,
        inputDataType="INT16",
        weightDataType="INT18",
        outputDataType="UINT1",
        numSteps=1,
    )
    # 18 x 1000: BRAM18_18x1024 waste 18*24 = 432, LUTRAM 18*16 prims waste 18*24 = 432: tie,
    # BRAM18 is listed first -> filed under "BRAM18" -> counts nowhere
    assert (tie.LUT, tie.BRAM_18K, tie.URAM) == (0, 0, 0)
    ur = cost(
        "Thresholding",
        "rtl",
        NumChannels=4096,
        PE=1,
        inputDataType="INT8",
        weightDataType="INT9",
        outputDataType="UINT1",
        numSteps=1,
    )
    # 9 x 4096: URAM_9x32768 waste 9*28672; BRAM18_9x2048: 2 blocks, waste 0 -> BRAM18 again
    assert (ur.LUT, ur.URAM) == (0, 0)  # BRAM18_9x2048 x2 ties LUTRAM at 0 waste, comes first
    u2 = cost(
        "Thresholding",
        "rtl",
        NumChannels=32768,
        PE=1,
        inputDataType="INT8",
        weightDataType="INT9",
        outputDataType="UINT1",
        numSteps=1,
    )
    # 9 x 32768: URAM_9x32768 waste 0 (first of the zero-waste ties) -> 1 URAM
    assert u2.URAM == 1


def test_fifo() -> None:
    a = dict(depth=100, dataType="INT8", folded_shape=[1, 16, 4])
    r = cost("StreamingFIFO", "rtl", **a)
    # width = 8*4 = 32; LUT = 2*ceil(log2 100) + ceil(100/32)*ceil(32/2) = 14 + 4*16 = 78
    assert (r.cycles, r.LUT, r.BRAM_18K) == (0, 78, 0)
    big = cost("StreamingFIFO", "rtl", **{**a, "depth": 100000, "ram_style": "block"})
    assert big.BRAM_18K == 0  # rtl is always LUT only
    v = cost("StreamingFIFO", impl_style="vivado", **{**a, "ram_style": "block"})
    # depth -> 128; LUT = 2*7 = 14; BRAM: width 32 > 18, depth 128 <= 512 -> ceil(128/512)*ceil(32/36) = 1
    assert (v.LUT, v.BRAM_18K) == (14, 1)
    u = cost("StreamingFIFO", impl_style="vivado", **{**a, "depth": 5000, "ram_style": "ultra"})
    assert math.ceil(8192 / 4096) * 1 == u.URAM
    d = cost("StreamingFIFO", impl_style="vivado", **{**a, "ram_style": "distributed"})
    assert 14 + math.ceil(128 / 32) * 16 == d.LUT


# (depth, dataType, folded width, impl_style, ram_style) -> (LUT, BRAM_18K, BRAM_efficiency,
# URAM), each worked out by hand from FINN's streamingfifo.py (docs/COST_MODEL.md) as FINN states
# it: vivado rounds the depth up to a power of two; LUT = 2 * ceil(log2 depth) (0 for depth
# 1) plus ceil(depth / 32) * ceil(width / 2) where the data sit in LUTs (rtl, or vivado
# distributed); BRAM by FINN's RAMB18 ladder; URAM = ceil(depth / 4096) * ceil(width / 72);
# efficiency = depth * width / (BRAM * 36 * 512)
FIFO_BY_HAND = [
    ((1, "INT8", 4, "rtl", "auto"), (16, 0, 1, 0)),  # one deep: no control, 1 x 16 LUTs
    ((2, "INT8", 4, "rtl", "auto"), (2 + 16, 0, 1, 0)),
    ((32, "UINT2", 1, "rtl", "auto"), (10 + 1, 0, 1, 0)),  # 2 bits: ceil(2 / 2) = 1
    ((33, "UINT2", 1, "rtl", "auto"), (12 + 2, 0, 1, 0)),  # a second 32-deep column
    ((64, "INT8", 4, "vivado", "distributed"), (12 + 2 * 16, 0, 1, 0)),  # 64 stays 64
    ((65, "INT8", 4, "vivado", "distributed"), (14 + 4 * 16, 0, 1, 0)),  # 65 -> 128
    ((65, "INT8", 4, "vivado", "auto"), (14, 0, 1, 0)),  # vivado auto: control LUTs only
    ((1000, "INT8", 4, "vivado", "block"), (20, 2, 1024 * 32 / (2 * 36 * 512), 0)),
    ((600, "UINT1", 1, "vivado", "block"), (20, 1, 1024 / (36 * 512), 0)),  # 1 bit: /16384
    ((5000, "INT8", 10, "vivado", "ultra"), (26, 0, 1, 2 * 2)),  # 8192 deep, 80 bits wide
    ((4096, "INT8", 9, "vivado", "ultra"), (24, 0, 1, 1)),  # exactly one URAM
]


@pytest.mark.parametrize(("case", "want"), FIFO_BY_HAND)
def test_fifo_by_hand(case: tuple, want: tuple) -> None:
    depth, dt, width, style, ram = case
    c = cost(
        "StreamingFIFO",
        impl_style=style,
        depth=depth,
        dataType=dt,
        folded_shape=[1, width],
        ram_style=ram,
    )
    lut, bram, eff, uram = want
    assert (c.cycles, c.LUT, c.BRAM_18K, c.URAM) == (0, lut, bram, uram), case
    assert c.BRAM_efficiency == pytest.approx(eff), case


@pytest.mark.parametrize("depth", [0, -3, True, 2.5])
def test_fifo_depth_must_be_a_positive_integer(depth: object) -> None:
    layer = HwLayer(
        "L",
        "StreamingFIFO",
        [],
        {"depth": depth, "dataType": "INT8", "folded_shape": [1, 4]},
        "rtl",
    )
    problems = hb.get_op("StreamingFIFO").violations(layer.resolved_attrs(), "rtl")
    assert problems == [f"depth={depth} must be a positive integer; choose a depth >= 1"]


def test_small_ops() -> None:
    assert cost(
        "StreamingMaxPool", NumChannels=64, ImgDim=[28, 28], PoolDim=[2, 2], dataType="INT2"
    ).cycles == int(28 * 28 * (1 + 1 / 4))  # 980
    assert (
        cost(
            "StreamingMaxPool",
            NumChannels=64,
            ImgDim=[1, 28],
            PoolDim=[1, 2],
            PE=4,
            dataType="INT2",
        ).cycles
        == 14 * 16 * 3
    )
    assert cost("LabelSelect", Labels=10, PE=5, inputDataType="INT16").cycles == 2
    assert (
        cost(
            "DuplicateStreams",
            NumChannels=64,
            PE=8,
            numInputVectors=[1, 4, 4],
            inputDataType="INT2",
        ).cycles
        == 16 * 8
    )
    assert (
        cost(
            "AddStreams", NumChannels=64, PE=64, numInputVectors=[1, 4, 4], inputDataType="INT2"
        ).cycles
        == 16
    )
    f = cost(
        "FMPadding",
        ImgDim=[8, 8],
        Padding=[1, 1, 1, 1],
        NumChannels=32,
        SIMD=8,
        inputDataType="INT2",
    )
    assert (f.cycles, f.LUT, f.BRAM_18K) == (4 * 10 * 10, 0, 0)
    with pytest.raises(hb.HwError, match="SIMD=3 does not divide NumChannels=32"):
        cost(
            "FMPadding",
            ImgDim=[8, 8],
            Padding=[1, 1, 1, 1],
            NumChannels=32,
            SIMD=3,
            inputDataType="INT2",
        )


# StreamingMaxPool cycles by hand from FINN's streamingmaxpool.py get_exp_cycles: a 1-D
# pool (ImgDim [1, W] or [W, 1]) takes ow * (NumChannels / PE) * (k + 1) with
# ow = (W - k) // k + 1, or ceil((W - k) / k) + 1 with CeilMode; 2-D takes W * W * (1 + 1/k^2)
MAXPOOL_BY_HAND = [
    (dict(ImgDim=[1, 10], PoolDim=[1, 3], NumChannels=8, PE=2), 3 * 4 * 4),
    (dict(ImgDim=[1, 10], PoolDim=[1, 3], NumChannels=8, PE=2, CeilMode=1), 4 * 4 * 4),
    (dict(ImgDim=[10, 1], PoolDim=[3, 1], NumChannels=8, PE=2), 3 * 4 * 4),  # transposed
    (dict(ImgDim=[1, 9], PoolDim=[1, 3], NumChannels=6, PE=3, CeilMode=1), 3 * 2 * 4),  # exact
    (dict(ImgDim=[8, 8], PoolDim=[2, 2], NumChannels=8, PE=2), 80),  # 2-D: 64 * 1.25
]


@pytest.mark.parametrize(("attrs", "cycles"), MAXPOOL_BY_HAND)
def test_maxpool_cycles_by_hand(attrs: dict, cycles: int) -> None:
    c = cost("StreamingMaxPool", dataType="INT2", **attrs)
    assert c.cycles == cycles
    assert (c.LUT, c.BRAM_18K, c.URAM, c.DSP) == (0, 0, 0, 0)


def test_fmpadding_cycles_by_hand() -> None:
    """FINN fmpadding.py: (NumChannels / SIMD) * numInputVectors * output H * output W."""
    base = dict(ImgDim=[6, 6], Padding=[1, 1, 1, 1], NumChannels=16, inputDataType="UINT2")
    assert cost("FMPadding", SIMD=4, **base).cycles == 4 * 8 * 8
    assert cost("FMPadding", SIMD=4, numInputVectors=[2, 3], **base).cycles == 4 * 6 * 8 * 8
    assert cost("FMPadding", SIMD=16, numInputVectors=5, **base).cycles == 5 * 8 * 8
    uneven = {**base, "Padding": [0, 1, 2, 0], "ImgDim": [4, 5]}  # top, left, bottom, right
    assert cost("FMPadding", SIMD=1, **uneven).cycles == 16 * 6 * 6
    assert hb.get_op("FMPadding").legal_values(base)["SIMD"] == [1, 2, 4, 8, 16]
    assert hb.get_op("StreamingMaxPool").legal_values({"NumChannels": 6})["PE"] == [1, 2, 3, 6]


def test_clear_memos_makes_the_next_cost_a_fresh_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Layer costs are memoised by content; clear_memos (run before every test by
    tests/conftest.py) makes the op model compute again: a changed cost model is seen."""
    op = hb.get_op("StreamingFIFO")
    calls: list[int] = []
    original = type(op).cost

    def counted(self, attrs, impl, versal):  # noqa: ANN001, ANN202
        calls.append(1)
        return original(self, attrs, impl, versal)

    monkeypatch.setattr(type(op), "cost", counted)
    a = dict(depth=100, dataType="INT8", folded_shape=[1, 16, 4])
    first = cost("StreamingFIFO", "rtl", **a)
    assert cost("StreamingFIFO", "rtl", **a) == first and len(calls) == 1  # memoised
    hb.clear_memos()
    assert cost("StreamingFIFO", "rtl", **a) == first and len(calls) == 2


@pytest.mark.parametrize(
    ("op_type", "fold", "count", "attrs"),
    [
        ("LabelSelect", "PE", "Labels", dict(K=1, inputDataType="INT8", outputDataType="UINT8")),
        (
            "DuplicateStreams",
            "PE",
            "NumChannels",
            dict(inputDataType="UINT2", numInputVectors=[1, 4, 4]),
        ),
        ("AddStreams", "PE", "NumChannels", dict(inputDataType="UINT2", numInputVectors=[1, 4, 4])),
        ("StreamingMaxPool", "PE", "NumChannels", dict(ImgDim=[4, 4], PoolDim=[2, 2])),
        ("Thresholding", "PE", "NumChannels", dict(numSteps=3, inputDataType="INT8")),
        ("FMPadding", "SIMD", "NumChannels", dict(ImgDim=[4, 4], Padding=[1, 1, 1, 1])),
    ],
)
def test_a_pe_must_divide_what_it_folds(op_type: str, fold: str, count: str, attrs: dict) -> None:
    """Every divisor of the folded count is a legal PE (SIMD), and nothing else; an illegal
    one is one line naming both attributes and the divisors to choose from."""
    op = hb.get_op(op_type)
    for n in (10, 12, 7):
        a = {**attrs, count: n, "NumOutputStreams": 2}
        divisors = [d for d in range(1, n + 1) if n % d == 0]
        assert op.legal_values(a) == {fold: divisors}
        for pe in range(1, n + 2):
            found = op.violations({**a, fold: pe})
            if pe in divisors:
                assert found == []
            else:
                assert found == [
                    f"{fold}={pe} does not divide {count}={n}; choose a divisor of {count}: "
                    + fmt_divisors(n)
                ]


@pytest.mark.parametrize(
    ("op_type", "attrs", "pe_of", "simd_of"),
    [
        (
            "MVAU",
            dict(MW=12, MH=10, inputDataType="UINT2", weightDataType="INT2"),
            ("MH", 10),
            ("MW", 12),
        ),
        (
            "VVAU",
            dict(Channels=10, Kernel=[3, 3], Dim=[4, 4], inputDataType="UINT2"),
            ("Channels", 10),
            ("kernel size kh*kw", 9),
        ),
    ],
)
def test_pe_and_simd_must_divide_what_they_fold(
    op_type: str, attrs: dict, pe_of: tuple[str, int], simd_of: tuple[str, int]
) -> None:
    """PE folds one count and SIMD the other: every pair of divisors is legal, and each
    attribute that divides nothing is one line of its own, PE's first."""
    op = hb.get_op(op_type)

    def divisors(n: int) -> list[int]:
        return [d for d in range(1, n + 1) if n % d == 0]

    assert op.legal_values(attrs) == {"PE": divisors(pe_of[1]), "SIMD": divisors(simd_of[1])}

    def line(attr: str, v: int, of: tuple[str, int]) -> str:
        return f"{attr}={v} does not divide {of[0]}={of[1]}; choose a divisor of {of[0]}: " + (
            fmt_divisors(of[1])
        )

    for pe in range(1, pe_of[1] + 2):
        for simd in range(1, simd_of[1] + 2):
            want = []
            if pe not in divisors(pe_of[1]):
                want.append(line("PE", pe, pe_of))
            if simd not in divisors(simd_of[1]):
                want.append(line("SIMD", simd, simd_of))
            assert op.violations({**attrs, "PE": pe, "SIMD": simd}) == want


def test_a_sliding_window_refuses_a_simd_or_window_that_does_not_fit() -> None:
    """SIMD must divide IFMChannels; the rtl window (dilation included) and its stride must
    each fit the feature map in both dimensions: any one that does not is refused."""
    op = hb.get_op("ConvolutionInputGenerator")
    base = dict(
        op.defaults,
        IFMChannels=12,
        IFMDim=[8, 6],
        OFMDim=[6, 4],
        ConvKernelDim=[3, 3],
        Stride=[1, 1],
        Dilation=[1, 1],
        SIMD=4,
        inputDataType="UINT4",
        outputDataType="UINT4",
        depthwise=0,
    )
    assert op.violations(base, "rtl") == [] and op.violations(base, "hls") == []
    assert op.violations({**base, "SIMD": 5}, "rtl") == [
        "SIMD=5 does not divide IFMChannels=12; choose a divisor of IFMChannels: "
        + fmt_divisors(12)
    ]
    too_big = (
        {"ConvKernelDim": [9, 3]},  # taller than 8
        {"ConvKernelDim": [3, 7]},  # wider than 6
        {"Dilation": [4, 1]},  # (3-1)*4+1 = 9 rows
        {"Dilation": [1, 3]},  # (3-1)*3+1 = 7 columns
        {"Stride": [9, 1]},
        {"Stride": [1, 7]},
    )
    for change in too_big:
        a = {**base, **change}
        kh, kw = a["ConvKernelDim"]
        dh, dw = a["Dilation"]
        sh, sw = a["Stride"]
        assert op.violations(a, "rtl") == [
            f"kernel {kh}x{kw} (dilation {dh}x{dw}) or stride {sh}x{sw} exceeds IFMDim 8x6; "
            "choose a kernel and stride that fit the feature map"
        ], change
    # the exact fit is legal
    assert op.violations({**base, "ConvKernelDim": [8, 6], "Stride": [8, 6]}, "rtl") == []
